using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Geo.Network;

namespace Traffic.Cli.Commands;

/// <summary>
/// <c>traffic demo</c>: the whole system in one command on a fresh machine. The embedded Kafka, a simulated
/// city fleet on the Shenzhen network streamed into the probes topic, the engine consuming it, a live view,
/// and at the end the outputs collected from their topics and scored against the simulator's ground truth.
/// </summary>
internal static class DemoCommand
{
    private const string DefaultNetwork = "shared/data/osm/shenzhen-nanshan.osm";

    public static Command Create()
    {
        var network = new Option<string?>("--network") { Description = $"Road network (default: ../{DefaultNetwork}, looked up from the working directory and the executable's)." };
        var scenario = new Option<string?>("--scenario") { Description = "A scenario file (default: the embedded demo scenario: 2,030 vehicles, congestion on 深南大道 and every kind of violation)." };
        var duration = new Option<double>("--duration") { Description = "Simulated seconds (the fatigue alert needs over 4 h of driving).", DefaultValueFactory = _ => 16_200 };
        var speed = new Option<double>("--speed") { Description = "Real time × this factor (0: as fast as possible; the embedded cluster keeps only about 5 MiB per partition, so an engine far behind would lose probes).", DefaultValueFactory = _ => 200 };
        var seed = new Option<int>("--seed") { Description = "Random seed of the simulation.", DefaultValueFactory = _ => 7 };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: the simulation, the engine's state and outputs, summary.json.", DefaultValueFactory = _ => "demo-out" };
        var plain = new Option<bool>("--plain") { Description = "No live view: a status line every few seconds (also when output is redirected)." };
        var kafka = new KafkaOptions();
        var command = new Command("demo", "The one-command demonstration: embedded Kafka, a simulated fleet on the Shenzhen network, the engine, a live view, and alerts scored against the ground truth.")
        {
            network, scenario, duration, speed, seed, output, plain,
        };
        kafka.AddTo(command);
        command.SetAction(async (parse, cancel) =>
        {
            double seconds = parse.GetValue(duration);
            if (!(seconds > 0)) throw new ArgumentException("--duration must be a positive number of seconds");
            if (parse.GetValue(speed) < 0) throw new ArgumentException("--speed must not be negative");
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
            Directory.CreateDirectory(outDir);
            var options = new DemoRun(
                NetworkPath: parse.GetValue(network) ?? FindDefaultNetwork(),
                ScenarioPath: parse.GetValue(scenario) ?? WriteEmbeddedScenario(Path.Combine(outDir, "scenario")),
                DurationS: seconds,
                Speed: parse.GetValue(speed),
                Seed: parse.GetValue(seed),
                OutDir: outDir,
                Live: !parse.GetValue(plain) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive,
                Bootstrap: kafka.BootstrapOf(parse),
                Properties: KafkaConnection.ParseProperties(parse.GetValue(kafka.Properties) ?? []),
                Prefix: parse.GetValue(kafka.Prefix)!);
            return await Demo.RunAsync(options, cancel).ConfigureAwait(false);
        });
        return command;
    }

    private static string FindDefaultNetwork()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, DefaultNetwork);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new FileNotFoundException($"the demo's network ../{DefaultNetwork} was not found beside the repository; give one with --network");
    }

    private static string WriteEmbeddedScenario(string dir)
    {
        Directory.CreateDirectory(dir);
        var assembly = Assembly.GetExecutingAssembly();
        foreach (string name in new[] { "demo-scenario.yaml", "zones.geojson" })
        {
            using var from = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"the embedded {name} is missing from this build");
            using var to = File.Create(Path.Combine(dir, name));
            from.CopyTo(to);
        }
        return Path.Combine(dir, "demo-scenario.yaml");
    }
}

/// <summary>What one demo run is given.</summary>
internal sealed record DemoRun(string NetworkPath, string ScenarioPath, double DurationS, double Speed, int Seed, string OutDir, bool Live,
    string? Bootstrap, IReadOnlyDictionary<string, string> Properties, string Prefix);

/// <summary>The demo's steps: simulate, stream, run the engine, watch, collect, score.</summary>
internal static class Demo
{
    // Probes the engine may be behind the producer: about 14 MB of messages over 8 partitions, well inside the embedded
    // cluster's 5 MiB a partition.
    private const long DemoMaxAhead = 100_000;

    public static async Task<int> RunAsync(DemoRun run, CancellationToken cancel)
    {
        var ci = CultureInfo.InvariantCulture;
        var clock = Stopwatch.StartNew();
        void Say(string text) => Console.Out.WriteLine(text);

        RoadNetwork net = NetworkImport.Read(run.NetworkPath, out _);
        Say(string.Create(ci, $"network {Path.GetFileName(run.NetworkPath)}: {net.NodeCount:N0} nodes, {net.EdgeCount:N0} edges"));

        // 1. The fleet, simulated to a file first (much faster than real time), then streamed at the chosen pace.
        string simDir = Path.Combine(run.OutDir, "sim");
        string probesPath = Path.Combine(simDir, "probes.ndjson");
        var sim = new FleetSimulator(net, new SimulationOptions { DurationS = run.DurationS, Seed = run.Seed, Scenario = Scenario.Load(run.ScenarioPath) });
        var simSummary = sim.Run(probesPath);
        Say(string.Create(ci, $"simulated {simSummary.Vehicles:N0} vehicles for {run.DurationS / 3600:0.#} h: {simSummary.ProbeLines:N0} probe messages, {simSummary.Events:N0} injected events"));

        // 2. Kafka: the embedded cluster unless brokers were given.
        var topics = new KafkaTopics { Prefix = run.Prefix };
        using EmbeddedKafka? embedded = run.Bootstrap == null ? EmbeddedKafka.Start() : null;
        var connection = new KafkaConnection(run.Bootstrap ?? embedded!.BootstrapServers, run.Properties);
        if (embedded != null)
        {
            foreach (var (name, partitions) in topics.All()) embedded.CreateTopic(name, partitions);
            Say($"embedded Kafka (librdkafka mock cluster) at {embedded.BootstrapServers}");
        }
        else await connection.EnsureTopicsAsync(topics.All()).ConfigureAwait(false);

        // 3. The engine, in this process, on its own threads.
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(Path.Combine(simDir, "vehicles.ndjson"), ids);
        string zonesPath = Path.Combine(simDir, "zones.geojson");
        ZoneSet? zones = File.Exists(zonesPath) ? ZoneSet.Load(zonesPath) : null;
        var log = new List<string>();
        var engine = new KafkaEngine(connection, net, registry, zones, ids,
            new KafkaEngineOptions { Topics = topics, StateDirectory = Path.Combine(run.OutDir, "state"), FlushOnStop = true },
            line => { lock (log) log.Add(line); });
        string runDir = Path.Combine(run.OutDir, "run");
        using var outputs = new DemoOutputs(connection, topics, runDir);
        using var stopEngine = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        Task engineTask = engine.RunAsync(stopEngine.Token);

        // 4. The probes into Kafka at real time × speed.
        var streamed = Stopwatch.StartNew();
        Task<(long Produced, long HeldMs)> producer = Task.Run(() =>
        {
            // Held back while the engine is far behind (a busy host): the embedded cluster's retention would drop probes.
            using var writer = new KafkaProbeWriter(connection, topics.Probes, run.Speed, cancel)
            {
                Taken = () => engine.Counters.Consumed + engine.Counters.LostRecords,
                MaxAhead = DemoMaxAhead,
            };
            using (var file = File.OpenRead(probesPath)) file.CopyTo(writer, 1 << 16);
            writer.Flush();
            return (writer.Produced, writer.HeldMs);
        }, cancel);

        // 5. Watch until every probe is produced and the engine has caught up.
        var view = new DemoView(engine.Counters);
        await view.WatchAsync(run.Live, producer, engineTask, simSummary.ProbeLines, cancel).ConfigureAwait(false);
        double streamSeconds = streamed.Elapsed.TotalSeconds;
        await stopEngine.CancelAsync().ConfigureAwait(false);
        await engineTask.ConfigureAwait(false);
        var (produced, heldMs) = await producer.ConfigureAwait(false);

        // 6. Outputs back from their topics into files, then scored against the truth.
        var collected = outputs.Finish();
        Say(string.Create(ci, $"streamed {produced:N0} probes in {streamSeconds:N1} s ({produced / Math.Max(streamSeconds, 1e-9):N0} probes/s through Kafka); engine: {engine.Counters.Accepted:N0} accepted, {engine.Counters.Rejected:N0} rejected, {engine.Counters.Late:N0} late, {engine.Counters.Matched:N0} matched"));
        if (heldMs > 0) Say(string.Create(ci, $"the probes waited {heldMs / 1000.0:N1} s in all for the engine to catch up (more than {DemoMaxAhead:N0} probes behind), so that the embedded cluster's retention drops none"));
        Say(string.Create(ci, $"outputs in {runDir}: {collected.Alerts:N0} alert events, {collected.Segments:N0} segment rows, {collected.SegmentViews:N0} 5-minute views, {collected.NetworkIndex:N0} windows of the network index, {collected.MatchedRows:N0} matched probes, {collected.DeadLetters:N0} dead letters"));
        var (indexWindows, indexMean, indexPeak) = engine.Counters.NetworkIndexSummary;
        if (indexWindows > 0) Say(string.Create(ci, $"network traffic performance index (0-10): mean {indexMean:F2}, peak {indexPeak:F2} over {indexWindows:N0} windows"));
        if (engine.Counters.LateTraversals > 0) Say(string.Create(ci, $"{engine.Counters.LateTraversals:N0} traversals came after their window had passed their sender's watermark and were not aggregated"));
        if (engine.Counters.OffsetJumps > 0) Say(string.Create(ci, $"WARNING: {engine.Counters.LostRecords:N0} input records were lost to the embedded cluster's retention before the engine read them"));
        long unaccounted = simSummary.ProbeLines - engine.Counters.Consumed - engine.Counters.LostRecords;
        if (unaccounted > 0) Say(string.Create(ci, $"WARNING: {unaccounted:N0} of the {simSummary.ProbeLines:N0} probe messages never reached the engine (the embedded cluster's retention, at a --speed the engine could not keep up with)"));
        if (collected.Lost > 0) Say(string.Create(ci, $"WARNING: {collected.Lost:N0} output records were lost to the embedded cluster's retention before they were collected"));
        int status = DemoScore.Print(simDir, runDir, run.OutDir);
        Say(string.Create(ci, $"demo done in {clock.Elapsed.TotalSeconds:N0} s"));
        return status;
    }
}
