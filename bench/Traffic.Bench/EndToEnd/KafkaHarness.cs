using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Testing;

namespace Traffic.Bench.EndToEnd;

/// <summary>
/// End-to-end harness through Kafka (the embedded mock cluster, in this process):
/// <c>dotnet run -c Release --project bench/Traffic.Bench -- kafka [minutes]</c>. Simulates the demo fleet
/// (2,030 vehicles) for the given minutes of traffic, fills the probes topic as fast as the producer goes,
/// then measures the engine draining it (vehicle stage and segment stage with every rule on), then kills the
/// engine mid-stream (its threads stopped without a checkpoint) and measures a new engine's recovery from the
/// checkpoints to caught up. Wall-clock figures: one run on a shared, noisy machine.
/// </summary>
internal static class KafkaHarness
{
    /// <summary>The <c>kafka</c> command.</summary>
    public static Command Command()
    {
        var minutes = new Argument<double>("minutes") { Description = "Minutes of simulated traffic to fill the probes topic with.", DefaultValueFactory = _ => 15 };
        var cmd = new Command("kafka", "The engine through Kafka (the embedded cluster): drain throughput, then recovery after a kill.") { minutes };
        cmd.SetAction(parse => Run(parse.GetValue(minutes)));
        return cmd;
    }

    private static void Run(double minutes)
    {
        var ci = CultureInfo.InvariantCulture;
        string dir = Path.Combine(Path.GetTempPath(), "traffic-kafka-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        string scenario = Path.Combine(SharedData.RepoRoot(), "docs", "examples", "demo-scenario.yaml");
        string probes = Path.Combine(dir, "probes.ndjson");
        var sim = new FleetSimulator(net, new SimulationOptions { DurationS = minutes * 60, Seed = 7, Scenario = Scenario.Load(scenario) }).Run(probes);
        long bytes = new FileInfo(probes).Length;
        Console.WriteLine(string.Create(ci, $"input: {sim.ProbeLines:N0} probe messages ({bytes / (double)sim.ProbeLines:N0} B each) of {sim.Vehicles:N0} vehicles, {minutes} min of traffic"));

        foreach (string phase in new[] { "throughput", "recovery" })
        {
            using var kafka = EmbeddedKafka.Start();
            var topics = new KafkaTopics();
            foreach (var (name, partitions) in topics.All()) kafka.CreateTopic(name, partitions);
            var connection = new KafkaConnection(kafka.BootstrapServers);
            string state = Path.Combine(dir, "state-" + phase);
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);

            var clock = Stopwatch.StartNew();
            using (var writer = new KafkaProbeWriter(connection, topics.Probes))
            using (var file = File.OpenRead(probes))
            {
                file.CopyTo(writer, 1 << 16);
                writer.Flush();
            }
            double produceS = clock.Elapsed.TotalSeconds;
            if (phase == "throughput")
                Console.WriteLine(string.Create(ci, $"produce: {sim.ProbeLines:N0} messages in {produceS:N2} s = {sim.ProbeLines / produceS:N0} msg/s"));

            if (phase == "throughput")
            {
                // The consumer alone: decode every probe, nothing else.
                var cfg = connection.Consumer("raw", "raw");
                var deserializer = new ProbeDeserializer(new VehicleIds());
                using var consumer = new Confluent.Kafka.ConsumerBuilder<Confluent.Kafka.Ignore, ProbeRecord>(cfg).SetValueDeserializer(deserializer).Build();
                consumer.Subscribe(topics.Probes);
                long n = 0;
                var raw = Stopwatch.StartNew();
                double firstAt = -1;
                while (n < sim.ProbeLines)
                {
                    var r = consumer.Consume(100);
                    if (r == null || r.IsPartitionEOF) continue;
                    if (n++ == 0) firstAt = raw.Elapsed.TotalSeconds;
                }
                double rawS = raw.Elapsed.TotalSeconds - firstAt;
                consumer.Close();
                Console.WriteLine(string.Create(ci, $"consumer alone (decode only): {sim.ProbeLines / rawS:N0} msg/s"));
            }

            var ids = new VehicleIds();
            var registry = VehicleRegistry.Load(Path.Combine(dir, "vehicles.ndjson"), ids);
            var zones = ZoneSet.Load(Path.Combine(dir, "zones.geojson"));
            var options = new KafkaEngineOptions { Topics = topics, StateDirectory = state, GroupId = "bench" };
            var engine = new KafkaEngine(connection, net, registry, zones, ids, options);
            using var stop = new CancellationTokenSource();
            clock.Restart();
            var run = engine.RunAsync(stop.Token);
            if (phase == "throughput")
            {
                double first = WaitFor(() => engine.Counters.Consumed > 0, run);
                double all = WaitFor(() => engine.Counters.Consumed >= sim.ProbeLines, run);
                stop.Cancel();
                run.GetAwaiter().GetResult();
                double drain = all - first;
                Console.WriteLine(string.Create(ci, $"engine: first record after {first:N2} s (group join), all {sim.ProbeLines:N0} consumed {drain:N2} s later = {sim.ProbeLines / drain:N0} probes/s; {engine.Counters.Matched:N0} matched, {engine.Counters.SegmentRows:N0} segment rows, {engine.Counters.AlertsOpened.Values.Sum():N0} alerts opened, {engine.Counters.Checkpoints:N0} checkpoints, {engine.Counters.LostRecords:N0} lost"));
            }
            else
            {
                // Half the input, then the engine dies without a last checkpoint.
                WaitFor(() => engine.Counters.Consumed >= sim.ProbeLines / 2, run);
                stop.Cancel();
                run.GetAwaiter().GetResult();
                long before = engine.Counters.Consumed;
                var restarted = new KafkaEngine(connection, net, VehicleRegistry.Load(Path.Combine(dir, "vehicles.ndjson"), ids = new VehicleIds()), zones, ids, options);
                using var stop2 = new CancellationTokenSource();
                clock.Restart();
                var run2 = restarted.RunAsync(stop2.Token);
                // Caught up: every record after the checkpoints read again (the replayed stretch included).
                long remaining = sim.ProbeLines - before;
                double caughtUp = WaitFor(() => restarted.Counters.Consumed >= remaining && restarted.Counters.ProbeLag == 0 && restarted.Counters.Consumed > 0, run2);
                stop2.Cancel();
                run2.GetAwaiter().GetResult();
                long replayed = restarted.Counters.Consumed - remaining;
                Console.WriteLine(string.Create(ci, $"recovery: killed after {before:N0} records; a new engine restored {restarted.Counters.Restored:N0} partition checkpoints, replayed {replayed:N0} records and caught up with the remaining {remaining:N0} in {caughtUp:N2} s (group join included)"));
            }
        }
        Directory.Delete(dir, recursive: true);
    }

    private static double WaitFor(Func<bool> condition, Task run)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (run.IsFaulted) run.GetAwaiter().GetResult();
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("the engine did not get there in 10 minutes");
            Thread.Sleep(5);
        }
        return clock.Elapsed.TotalSeconds;
    }
}
