using System.CommandLine;
using System.Globalization;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Rules;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;

namespace Traffic.Cli.Commands;

/// <summary>
/// <c>traffic engine</c>: one engine process on Kafka. Start several with the same options and they share the
/// partitions (one consumer group); kill one and the others resume its partitions from their checkpoints.
/// </summary>
internal static class EngineCommand
{
    public static Command Create()
    {
        var network = new Option<string>("--network") { Description = "Road network: " + NetworkImport.Formats + ".", Required = true };
        var vehicles = new Option<string?>("--vehicles") { Description = "Vehicle registry (NDJSON)." };
        var zones = new Option<string?>("--zones") { Description = "Zones (GeoJSON FeatureCollection)." };
        var state = new Option<string>("--state-dir") { Description = "Checkpoint directory, shared by every engine process of the group (a local or shared volume).", Required = true };
        var group = new Option<string>("--group") { Description = "Consumer group of the engine processes.", DefaultValueFactory = _ => "traffic-engine" };
        var checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Checkpoint a probes partition every this many records (a multiple of 2048).", DefaultValueFactory = _ => 8192 };
        var idleAfter = new Option<double>("--idle-partition-after")
        {
            Description = "Seconds without a record after which a probes partition read to its end is idle: the segment windows close without it until it has a record again (0: never; the keyed outputs then do not depend on timing).",
            DefaultValueFactory = _ => 30,
        };
        var startAt = new Option<string>("--start-at")
        {
            Description = "Where a probes partition without a checkpoint starts: earliest (every retained record), latest (what comes from now on), or a time with its offset (2026-11-28T08:00:00+08:00: the first record produced then or later). A partition with a checkpoint resumes from it.",
            DefaultValueFactory = _ => "earliest",
        };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var sliding = ReplayCommand.SlidingMinutesOption();
        var lag = ReplayCommand.MatchLagOption();
        var lagSeconds = ReplayCommand.MatchLagSecondsOption();
        var timeZone = ReplayCommand.TimeZoneOption();
        var kafka = new KafkaOptions();
        var command = new Command("engine", "Run one engine process on Kafka: probes topic in; alerts, segment speeds, matched probes, dead letters out. Runs until stopped (Ctrl+C, SIGTERM).")
        {
            network, vehicles, zones, state, group, checkpointEvery, idleAfter, startAt, sliding, lag, lagSeconds, timeZone, quiet,
        };
        kafka.AddTo(command);
        command.SetAction(async (parse, cancel) =>
        {
            string bootstrap = kafka.BootstrapOf(parse) ?? throw new ArgumentException("traffic engine needs --bootstrap-servers (start the embedded cluster with 'traffic broker', or run 'traffic demo')");
            if (parse.GetValue(checkpointEvery) is var every && (every < 2048 || every % 2048 != 0)) throw new ArgumentException("--checkpoint-every must be a multiple of 2048");
            if (parse.GetValue(idleAfter) is var idle && !(idle >= 0 && idle <= 86_400)) throw new ArgumentException("--idle-partition-after must be 0 to 86400 seconds");
            var start = StartPosition.Parse(parse.GetValue(startAt)!);
            var vehicleOptions = ReplayCommand.MatchLag(parse, lag, lagSeconds);
            string? zone = ReplayCommand.TimeZoneOf(parse, timeZone);
            var segments = new SegmentOptions { SlidingWindows = ReplayCommand.SlidingWindows(parse.GetValue(sliding)), TimeZone = zone };
            var net = NetworkImport.Read(parse.GetValue(network)!, out _);
            var ids = new VehicleIds();
            VehicleRegistry? registry = parse.GetValue(vehicles) is { } v ? VehicleRegistry.Load(v, ids) : null;
            ZoneSet? zoneSet = parse.GetValue(zones) is { } z ? ZoneSet.Load(z) : null;
            ReplayCommand.WarnMissingCorridors(registry, zoneSet);
            ReplayCommand.WarnZonesOffNetwork(net, zoneSet);
            var connection = kafka.Connect(parse, bootstrap);
            var topics = new KafkaTopics { Prefix = parse.GetValue(kafka.Prefix)!, SegmentViewsName = segments.SlidingName };
            await connection.EnsureTopicsAsync(topics.All()).ConfigureAwait(false);
            bool loud = !parse.GetValue(quiet);
            var options = new KafkaEngineOptions
            {
                Topics = topics,
                GroupId = parse.GetValue(group)!,
                StateDirectory = parse.GetValue(state)!,
                CheckpointEvery = every,
                IdlePartitionAfter = TimeSpan.FromSeconds(idle),
                StartAt = start,
                Segments = segments,
                Vehicles = new VehiclePartitionOptions { Vehicles = vehicleOptions, Speeding = new SpeedingOptions { TimeZone = zone } },
            };
            var engine = new KafkaEngine(connection, net, registry, zoneSet, ids, options, line => { if (loud) Console.Error.WriteLine(line); });
            using var status = loud ? new Timer(_ => Console.Error.WriteLine(Status(engine.Counters)), null, 5000, 5000) : null;
            await engine.RunAsync(cancel).ConfigureAwait(false);
            Console.Out.WriteLine(Status(engine.Counters));
            return 0;
        });
        return command;
    }

    private static string Status(EngineCounters c) => string.Create(CultureInfo.InvariantCulture,
        $"consumed {c.Consumed:N0}: {c.Accepted:N0} accepted, {c.Rejected:N0} rejected, {c.Late:N0} late; matched {c.Matched:N0}; {c.SegmentRows:N0} segment rows, {c.SegmentViews:N0} sliding views, network index {c.NetworkIndex.Tpi:F1}; lag {c.ProbeLag:N0}; checkpoints {c.Checkpoints:N0}; lost {c.LostRecords:N0}{(c.IdleDeclared > 0 ? $"; partitions declared idle {c.IdleDeclared:N0}, late traversals {c.LateTraversals:N0}" : "")}{(c.OldNetworkTraversals > 0 ? $"; old-network traversals {c.OldNetworkTraversals:N0}" : "")}{(c.ForeignExchangeMessages > 0 ? $"; foreign exchange messages {c.ForeignExchangeMessages:N0}" : "")}{(c.ReleasedIds > 0 ? $"; vehicle ids released {c.ReleasedIds:N0}" : "")}");
}
