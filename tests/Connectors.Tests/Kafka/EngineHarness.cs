using System.Collections.Concurrent;
using System.Text;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// A simulated input for the in-process engine tests: a morning fleet on the Shenzhen network for 15 minutes with
/// the example scenario's events and faults, plus malformed lines of our own (unkeyed ones too), built once.
/// </summary>
public sealed class SimulatedInput
{
    private static readonly Lazy<SimulatedInput> s_instance = new(Create);

    public static SimulatedInput Instance => s_instance.Value;

    /// <summary>The probe lines in the order they are produced.</summary>
    public required string[] Lines { get; init; }

    public required string Registry { get; init; }

    public required string Zones { get; init; }

    /// <summary>Probes placed more than a day ahead of their vehicle's partition (judged by the engine, not the decoder).</summary>
    public required int FutureProbes { get; init; }

    /// <summary>Probes of vehicles of their own, ten minutes behind their partition's watermark.</summary>
    public required int LateProbes { get; init; }

    /// <summary>Lines that the engine must dead-letter: those the decoder refuses, and <see cref="FutureProbes"/>.</summary>
    public int Malformed => Lines.Count(l => !Decodes(l)) + FutureProbes;

    public static bool Decodes(string line) => new ProbeJsonDecoder(new VehicleIds()) { TrackNewest = false }.TryDecode(Encoding.UTF8.GetBytes(line), out _, out _);

    private static SimulatedInput Create()
    {
        string dir = TestDirectory.New("conn-sim");
        Directory.CreateDirectory(dir);
        var scenario = Scenario.Load(Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml"));
        scenario.Fleet = new FleetMix { Taxis = 110, Buses = 14, Hazmat = 8 };
        scenario.Faults = new FaultRates { Drop = 0.01, Duplicate = 0.005, OutOfOrder = 0.005, Malformed = 0.004 };
        string probes = Path.Combine(dir, "probes.ndjson");
        new FleetSimulator(TestKafka.Shenzhen, new SimulationOptions { DurationS = 900, Seed = 5, Scenario = scenario }).Run(probes);
        var lines = File.ReadAllLines(probes).Where(l => l.Length > 0).ToList();
        // Our own refusals, spread through the input: lines no vehicle id can be read from (produced unkeyed), probes of a
        // real vehicle two days ahead of its partition's newest time, and probes ten minutes behind the watermark.
        int future = 0, late = 0;
        for (int i = lines.Count - 500; i > 300; i -= 1500)
        {
            lines.Insert(i, i % 2 == 0 ? $"garbage line {i}" : $$"""{"vehicle_id":{{i}},"time":1767571200000}""");
            string donor = lines[i - 7];
            if (!Decodes(donor)) continue;
            using var doc = System.Text.Json.JsonDocument.Parse(donor);
            string id = doc.RootElement.GetProperty("vehicle_id").GetString()!;
            long time = doc.RootElement.GetProperty("time").GetInt64() + 2 * 86_400_000L;
            lines.Insert(i, $$"""{"vehicle_id":"{{id}}","time":{{time}},"lon":113.93,"lat":22.52}""");
            future++;
            if (i < 2000) continue;
            lines.Insert(i, $$"""{"vehicle_id":"LATE{{i}}","time":{{time - 2 * 86_400_000L - 600_000}},"lon":113.93,"lat":22.52}""");
            late++;
        }
        return new SimulatedInput
        {
            Lines = [.. lines],
            Registry = Path.Combine(dir, "vehicles.ndjson"),
            Zones = Path.Combine(dir, "zones.geojson"),
            FutureProbes = future,
            LateProbes = late,
        };
    }
}

/// <summary>One in-process <see cref="KafkaEngine"/> on a test's cluster, with its log kept.</summary>
public sealed class EngineHarness : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;
    private readonly ManualResetEventSlim _stoppedWhen = new();

    public EngineHarness(TestKafka kafka, KafkaEngineOptions options, IReadOnlyDictionary<string, string>? properties = null, RoadNetwork? network = null)
    {
        Kafka = kafka;
        var input = SimulatedInput.Instance;
        var ids = Ids = new VehicleIds();
        var connection = properties == null ? kafka.Connection : new KafkaConnection(kafka.BootstrapServers, properties);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Engine = new KafkaEngine(connection, network ?? TestKafka.Shenzhen, VehicleRegistry.Load(input.Registry, ids), ZoneSet.Load(input.Zones), ids, options, line =>
        {
            Log.Enqueue($"[{clock.Elapsed.TotalSeconds:F2} s] {line}");
            if (StopWhen?.Invoke(line) != true || _stoppedWhen.IsSet) return;
            _stop.Cancel();
            _stoppedWhen.Set();
        });
        _running = Task.Run(() => Engine.RunAsync(_stop.Token));
    }

    /// <summary>
    /// The test's options: small partitions counts, frequent watermarks and checkpoints, everything flushed on stop, and no
    /// partition ever declared idle (a wall-clock decision: the tests compare runs' records byte for byte).
    /// </summary>
    public static KafkaEngineOptions Options(TestKafka kafka) => new()
    {
        Topics = kafka.Topics,
        StateDirectory = kafka.StateDirectory,
        ClientId = "test",
        CheckpointEvery = 2048,
        MatchedBatchEvery = 512,
        SegmentCheckpointInterval = TimeSpan.FromMilliseconds(150),
        FlushOnStop = true,
        IdlePartitionAfter = TimeSpan.Zero,
        Vehicles = new VehiclePartitionOptions { WatermarkEveryProbes = 256 },
    };

    public static KafkaTopics Topics(int probePartitions = 2) => new() { ProbePartitions = probePartitions, ExchangePartitions = 2 };

    /// <summary>A cluster with the engine's input, exchange and network-index parts topics; the output topics are auto-created (4 partitions).</summary>
    public static TestKafka Cluster(KafkaTopics topics, string? stateDirectory = null) =>
        new(topics, create: [topics.Probes, topics.Exchange, topics.TpiParts], stateDirectory: stateDirectory);

    public TestKafka Kafka { get; }

    public KafkaEngine Engine { get; }

    public EngineCounters Counters => Engine.Counters;

    /// <summary>The engine's vehicle ids (read them once it has stopped).</summary>
    public VehicleIds Ids { get; }

    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>
    /// Stops the engine the moment it logs a line that this accepts: on the stage's own thread, before the stage takes
    /// another record (a rebalance's "assigned" line, say). <see cref="Stop"/> then waits for it.
    /// </summary>
    public Func<string, bool>? StopWhen { get; set; }

    /// <summary>Produces lines to the probes topic (a connection of its own: the engine's may be throttled).</summary>
    public static long Produce(TestKafka kafka, IEnumerable<string> lines)
    {
        using var writer = new KafkaProbeWriter(new KafkaConnection(kafka.BootstrapServers), kafka.Topics.Probes);
        foreach (string line in lines) writer.Write(Encoding.UTF8.GetBytes(line + "\n"));
        writer.Flush();
        return writer.Produced;
    }

    /// <summary>
    /// Waits until the vehicle stage has consumed <paramref name="records"/> probes, the segment stage has taken every
    /// exchange message and the network-index stage every parts message (their checkpoints are at the topics' ends),
    /// unchanged over a few looks.
    /// </summary>
    public void WaitUntilProcessed(long records, TimeSpan? timeout = null) => WaitUntilProcessed([this], records, timeout);

    /// <summary>The same for engine processes that share the work: <paramref name="records"/> probes between them.</summary>
    public static void WaitUntilProcessed(IReadOnlyList<EngineHarness> engines, long records, TimeSpan? timeout = null)
    {
        var kafka = engines[0].Kafka;
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(40));
        var store = new CheckpointStore(kafka.StateDirectory);
        string last = "";
        int same = 0;
        while (true)
        {
            foreach (var engine in engines)
            {
                if (!engine._running.IsCompleted) continue;
                engine._running.GetAwaiter().GetResult();
                throw new InvalidOperationException("the engine stopped by itself:\n" + string.Join("\n", engine.Log));
            }
            long consumed = engines.Sum(e => e.Counters.Consumed);
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"consumed {consumed} of {records} probes; engine logs:\n{string.Join("\n", engines.SelectMany(e => e.Log))}");
            string now = "";
            bool done = true;
            var internalTopics = Enumerable.Range(0, kafka.Topics.ExchangePartitions).Select(p => (kafka.Topics.Exchange, p)).Append((kafka.Topics.TpiParts, 0));
            foreach (var (topic, p) in internalTopics)
            {
                long high = kafka.Watermarks(topic, p).High;
                long taken = store.TryLoad(topic, p, out long next, out _) ? next : 0;
                done &= taken == high;
                now += $"{high},";
            }
            now += $"{consumed},{engines.Sum(e => e.Counters.SegmentRows)},{engines.Sum(e => e.Counters.ExchangeRecords)}";
            if (consumed >= records && done && now == last) same++;
            else same = 0;
            if (same >= 3) return;
            last = now;
            Thread.Sleep(150);
        }
    }

    /// <summary>Waits until each engine's latest assignment in the vehicle and the segment stage is one partition of each topic.</summary>
    public static void WaitUntilShared(IReadOnlyList<EngineHarness> engines, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        static bool One(EngineHarness e, string stage) =>
            e.Log.LastOrDefault(l => l.Contains(stage + ": assigned", StringComparison.Ordinal)) is string line
            && System.Text.RegularExpressions.Regex.IsMatch(line, @"\[\d+\]$");
        while (!engines.All(e => One(e, "vehicle stage") && One(e, "segment stage")))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("the engines did not share the partitions; logs:\n" + string.Join("\n", engines.SelectMany(e => e.Log)));
            Thread.Sleep(100);
        }
    }

    /// <summary>Waits until <see cref="StopWhen"/> has accepted a line (the engine is stopping then).</summary>
    public void WaitUntilStoppedWhen(TimeSpan timeout)
    {
        if (!_stoppedWhen.Wait(timeout)) throw new TimeoutException("the line to stop at did not come; log:\n" + string.Join("\n", Log));
    }

    /// <summary>The exception the engine stopped with, by itself, within <paramref name="timeout"/>.</summary>
    public Exception Failure(TimeSpan timeout)
    {
        try
        {
            if (!_running.Wait(timeout)) throw new TimeoutException("the engine is still running; log:\n" + string.Join("\n", Log));
        }
        catch (AggregateException e)
        {
            return e.InnerException!;
        }
        throw new InvalidOperationException("the engine stopped without an error; log:\n" + string.Join("\n", Log));
    }

    /// <summary>Stops the engine (flushing what it holds) and waits for it.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _running.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        if (!_running.IsCompleted)
        {
            _stop.Cancel();
            try
            {
                _running.Wait(TimeSpan.FromSeconds(30));
            }
            catch (AggregateException)
            {
                // The test has failed already.
            }
        }
        _stop.Dispose();
        _stoppedWhen.Dispose();
    }
}

/// <summary>The keyed records of a run's output topics, as a consumer that dedupes by key sees them.</summary>
public sealed class EngineOutputs
{
    public static readonly string[] TopicNames = ["alerts", "segments", "segments-5m", "tpi", "matched", "dead-letter", "late"];

    /// <summary>Per topic: dedup key (the record key, plus <c>|event</c> for alerts) → the record.</summary>
    public Dictionary<string, Dictionary<string, TopicRecord>> Records { get; } = [];

    /// <summary>Keys seen more than once with different bytes (must never happen).</summary>
    public List<string> DifferentRepeats { get; } = [];

    public int Repeats { get; private set; }

    public static EngineOutputs Read(TestKafka kafka)
    {
        var result = new EngineOutputs();
        var topics = kafka.Topics;
        foreach (var (name, topic) in TopicNames.Zip([topics.Alerts, topics.Segments, topics.SegmentViews, topics.Tpi, topics.Matched, topics.DeadLetter, topics.Late]))
        {
            var records = new Dictionary<string, TopicRecord>(StringComparer.Ordinal);
            foreach (var r in kafka.Read(topic))
            {
                string key = TestKafka.Text(r.Key) + (r.Headers.TryGetValue("event", out var e) ? "|" + TestKafka.Text(e) : "");
                if (records.TryGetValue(key, out var first))
                {
                    result.Repeats++;
                    if (!first.Value.AsSpan().SequenceEqual(r.Value)) result.DifferentRepeats.Add($"{name}:{key}");
                }
                else records[key] = r;
            }
            result.Records[name] = records;
        }
        return result;
    }

    public string Describe() => string.Join(", ", Records.Select(kv => $"{kv.Value.Count} {kv.Key}"));

    /// <summary>Differences from another run's outputs (missing, extra, different bytes or headers), a few per topic.</summary>
    public List<string> Differences(EngineOutputs other)
    {
        var found = new List<string>();
        foreach (var (topic, records) in Records)
        {
            var theirs = other.Records[topic];
            found.AddRange(records.Keys.Where(k => !theirs.ContainsKey(k)).Take(3).Select(k => $"{topic}: {k} only in the first"));
            found.AddRange(theirs.Keys.Where(k => !records.ContainsKey(k)).Take(3).Select(k => $"{topic}: {k} only in the second"));
            found.AddRange(records.Where(kv => theirs.TryGetValue(kv.Key, out var t) && !Same(kv.Value, t)).Take(3).Select(kv => $"{topic}: {kv.Key} differs"));
        }
        return found;
    }

    private static bool Same(TopicRecord a, TopicRecord b) =>
        a.Value.AsSpan().SequenceEqual(b.Value) && a.Headers.Count == b.Headers.Count
        && a.Headers.All(h => b.Headers.TryGetValue(h.Key, out var v) && h.Value.AsSpan().SequenceEqual(v));
}
