using System.CommandLine;
using System.Globalization;
using Traffic.Engine;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;

namespace Traffic.Cli.Commands;

/// <summary><c>traffic replay</c>: the engine over a probe file.</summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var network = new Option<string>("--network") { Description = "Road network: " + NetworkImport.Formats + ".", Required = true };
        var input = new Option<string>("--input") { Description = "Probes: NDJSON (.ndjson, .jsonl), CSV (.csv) or binary records (.bin); formats in docs/probe-formats.md.", Required = true };
        var vehicles = new Option<string?>("--vehicles") { Description = "Vehicle registry (NDJSON)." };
        var zones = new Option<string?>("--zones") { Description = "Zones (GeoJSON FeatureCollection)." };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: alerts.ndjson and alerts/ (Arrow), segments.ndjson and segments/ (Arrow), segments-5m.ndjson and segments-5m/ (the sliding view, Arrow), tpi.ndjson (network index), matched/ (Arrow), dead-letter.ndjson, late.ndjson, summary.json.", Required = true };
        var sliding = SlidingMinutesOption();
        var lag = MatchLagOption();
        var lagSeconds = MatchLagSecondsOption();
        var timeZone = TimeZoneOption();
        var shards = new Option<int>("--shards") { Description = "Vehicle shards (threads); default: one per core.", DefaultValueFactory = _ => new ReplayOptions().VehicleShards };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors and the summary." };
        var order = new Option<InputOrder>("--order")
        {
            Description = "The order probes are replayed in. auto: as the file lists them, as a stream would bring them (probes behind the watermark are late), but a file with over a tenth of its records late (traces one after another) is replayed again sorted by time; file: as listed, whatever is late; time: sorted by event time.",
            DefaultValueFactory = _ => InputOrder.Auto,
        };
        var speed = new Option<double>("--speed")
        {
            Description = "Hand the probes on at the recorded speed times this (1: real time, 60: an hour a minute), as a live feed would bring them; 0: as fast as the engine takes them. Paced, auto keeps the file's order (a live feed cannot be sorted afterwards).",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("replay", "Run the engine over a probe file: map matching, segment speeds and congestion levels, speeding and zone alerts.")
        {
            network, input, vehicles, zones, output, shards, sliding, lag, lagSeconds, order, speed, timeZone, quiet,
        };
        command.SetAction(async (parse, cancel) =>
        {
            int shardCount = parse.GetValue(shards);
            if (shardCount < 1) throw new ArgumentException("--shards must be at least 1");
            int slidingWindows = SlidingWindows(parse.GetValue(sliding));
            double pace = parse.GetValue(speed);
            if (!(pace >= 0) || double.IsInfinity(pace)) throw new ArgumentException("--speed must be 0 (as fast as possible) or a positive factor of real time");
            var vehicleOptions = MatchLag(parse, lag, lagSeconds);
            string? zone = TimeZoneOf(parse, timeZone);
            var net = NetworkImport.Read(parse.GetValue(network)!, out _);
            var ids = new VehicleIds();
            VehicleRegistry? registry = parse.GetValue(vehicles) is { } v ? VehicleRegistry.Load(v, ids) : null;
            ZoneSet? zoneSet = parse.GetValue(zones) is { } z ? ZoneSet.Load(z) : null;
            WarnMissingCorridors(registry, zoneSet);
            WarnZonesOffNetwork(net, zoneSet);
            var engine = new ReplayEngine(net, registry, zoneSet, ids, new ReplayOptions { VehicleShards = shardCount, Vehicles = vehicleOptions, Segments = new SegmentOptions { SlidingWindows = slidingWindows }, Order = parse.GetValue(order), Speed = pace, TimeZone = zone });
            bool isQuiet = parse.GetValue(quiet);
            var progress = isQuiet || Console.IsErrorRedirected ? null : new Progress<long>(n => Console.Error.Write($"\r{n:N0} probes read"));
            var s = await engine.RunAsync(parse.GetValue(input)!, parse.GetValue(output)!, progress, cancel).ConfigureAwait(false);
            if (progress != null) Console.Error.WriteLine();
            var ci = CultureInfo.InvariantCulture;
            if (s.LateInFileOrder > 0)
                Console.WriteLine(string.Create(ci, $"the input is not in time order ({s.LateInFileOrder:N0} of {s.Read:N0} records behind the watermark as listed): replayed sorted by event time (--order file keeps the file's order)"));
            Console.WriteLine(string.Create(ci, $"read {s.Read:N0} records: {s.Accepted:N0} accepted, {s.Rejected:N0} rejected, {s.Late:N0} late, {s.Refused:N0} refused (duplicates, out of order)"));
            foreach (var (reason, n) in s.RejectedByReason.OrderByDescending(kv => kv.Value)) Console.WriteLine(string.Create(ci, $"  rejected {n:N0}: {reason}"));
            Console.WriteLine(string.Create(ci, $"matched {s.Matched:N0} probes ({s.Unmatched:N0} off the network, {s.NoFix:N0} without a fix not matched); {s.SegmentWindows:N0} segment windows published ({s.SegmentWindowsSuppressed:N0} below the minimum sample)"));
            if (s.LateTraversals > 0) Console.WriteLine(string.Create(ci, $"{s.LateTraversals:N0} traversals came after their window had passed their vehicle shard's watermark and were not aggregated"));
            if (s.SegmentViews + s.SegmentViewsSuppressed > 0) Console.WriteLine(string.Create(ci, $"{s.SegmentViews:N0} sliding views published ({s.SegmentViewsSuppressed:N0} below the minimum sample)"));
            if (s.Tpi.Windows > 0) Console.WriteLine(string.Create(ci, $"network traffic performance index (0-10): mean {s.Tpi.Mean:F2}, peak {s.Tpi.Peak:F2} at {s.Tpi.PeakWindowStart} over {s.Tpi.Windows:N0} windows"));
            Console.WriteLine($"local time: {s.TimeZone} for the night limits and the low-volume hours; zone hours UTC+8");
            Console.WriteLine("alerts: " + (s.AlertsByKind.Count == 0 ? "none" : string.Join(", ", s.AlertsByKind.Select(kv => $"{kv.Key} {kv.Value}"))));
            Console.WriteLine(string.Create(ci, $"{s.Seconds:N2} s, {s.ProbesPerSecond:N0} probes/s"));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Warns, on stderr, of corridors the registry assigns that the zones file lacks (the run goes on: those vehicles'
    /// corridor rule has nothing to judge by). Shared with <c>traffic engine</c>.
    /// </summary>
    internal static void WarnMissingCorridors(VehicleRegistry? registry, ZoneSet? zones)
    {
        if (registry == null) return;
        var missing = registry.MissingCorridors(zones);
        if (missing.Count == 0) return;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"warning: {missing.Sum(m => m.Vehicles):N0} vehicles are assigned corridors that {(zones == null ? "no zones file (--zones) gives" : "the zones file lacks as corridors")}, so hazmat_off_corridor cannot judge them: {string.Join(", ", missing.Take(10).Select(m => $"{m.Corridor} ({m.Vehicles})"))}{(missing.Count > 10 ? ", ..." : "")}"));
    }

    /// <summary>
    /// Warns, on stderr, of zones wholly outside the network (1 km round its bounds): no matched vehicle reaches them, and a
    /// zones file of another place, or in swapped or other coordinates, would otherwise be no zones, silently. Shared with
    /// <c>traffic engine</c>.
    /// </summary>
    internal static void WarnZonesOffNetwork(Traffic.Geo.Network.RoadNetwork net, ZoneSet? zones)
    {
        if (zones == null) return;
        if (zones.Zones.Count == 0)
        {
            Console.Error.WriteLine("warning: the zones file holds no zones (an empty FeatureCollection): no zone or corridor rule will raise anything");
            return;
        }
        var outside = zones.Outside(net.Bounds());
        if (outside.Count == 0) return;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"warning: {outside.Count:N0} of {zones.Zones.Count:N0} zones lie wholly outside the network, so no vehicle on it can enter them: {string.Join(", ", outside.Take(10))}{(outside.Count > 10 ? ", ..." : "")}"));
    }

    /// <summary>The <c>--sliding-minutes</c> option, shared with <c>traffic engine</c>.</summary>
    internal static Option<int> SlidingMinutesOption() => new("--sliding-minutes")
    {
        Description = "Span of the sliding view of each segment (segments-<N>m), in 1-minute windows; 0: none.",
        DefaultValueFactory = _ => new SegmentOptions().SlidingWindows,
    };

    /// <summary>The <c>--match-lag</c> option, shared with <c>traffic engine</c>.</summary>
    internal static Option<int?> MatchLagOption() => new("--match-lag")
    {
        Description = $"Decide each probe's road at most this many probes later (default {new MatcherOptions().LagProbes}); map-based alerts (speeding, zones) wait for the decision. Lower: sooner alerts, less accurate matches.",
    };

    /// <summary>The <c>--match-lag-seconds</c> option, shared with <c>traffic engine</c>.</summary>
    internal static Option<double?> MatchLagSecondsOption() => new("--match-lag-seconds")
    {
        Description = $"Decide each probe's road at most this many seconds (event time) later (default {new MatcherOptions().LagSeconds:0}).",
    };

    /// <summary>The vehicle stage's options with <c>--match-lag</c> and <c>--match-lag-seconds</c> applied.</summary>
    internal static VehicleStageOptions MatchLag(ParseResult parse, Option<int?> probes, Option<double?> seconds)
    {
        int? p = parse.GetValue(probes);
        double? s = parse.GetValue(seconds);
        if (p is < 1) throw new ArgumentException("--match-lag must be at least 1 probe");
        if (s is not null && !(s > 0)) throw new ArgumentException("--match-lag-seconds must be more than 0");
        return new VehicleStageOptions().WithMatchLag(p, s);
    }

    /// <summary>The <c>--timezone</c> option, shared with <c>traffic engine</c>.</summary>
    internal static Option<string?> TimeZoneOption() => new("--timezone")
    {
        Description = "The time zone (tz database id, e.g. Europe/Madrid) of the night limits and the low-volume hours free flow is learned in. Default: the network's own (China Standard Time in China, elsewhere the zone of the nearest principal place). Zone hours stay UTC+8.",
    };

    /// <summary>The <c>--timezone</c> given, checked against the tz database; null when none.</summary>
    internal static string? TimeZoneOf(ParseResult parse, Option<string?> option)
    {
        string? zone = parse.GetValue(option);
        if (zone != null && !LocalTime.IsZoneId(zone)) throw new ArgumentException($"--timezone: '{zone}' is not a time zone of the tz database (such as Europe/Madrid or Asia/Shanghai)");
        return zone;
    }

    /// <summary>Windows of the sliding view for <c>--sliding-minutes</c> (the tumbling window is a minute).</summary>
    internal static int SlidingWindows(int minutes) =>
        minutes is >= 0 and <= 60 ? minutes : throw new ArgumentException("--sliding-minutes must be from 0 (no sliding view) to 60");
}
