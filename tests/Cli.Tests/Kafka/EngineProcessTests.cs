using System.Diagnostics;
using System.Text;
using Traffic.Connectors.Kafka;
using Traffic.Testing;
using Xunit.Abstractions;

namespace Traffic.Cli.Tests.Kafka;

/// <summary>
/// Engine processes (<c>traffic engine</c>) on the embedded Kafka, hosted by the test: several processes give
/// the outputs of one; a process killed with SIGKILL mid-stream and restarted, or a second process joining and
/// leaving, loses nothing and repeats only byte-identical records. Outputs are compared as sets of keyed records.
/// </summary>
[Collection(KafkaProcesses.Name)]
[Trait("Category", "Slow")]
public sealed class EngineProcessTests(KafkaRunFixture fixture, ITestOutputHelper output) : IClassFixture<KafkaRunFixture>
{
    [Fact]
    public void Two_processes_give_the_outputs_of_one()
    {
        var two = fixture.Run(output, cluster =>
        {
            cluster.StartEngine();
            cluster.StartEngine();
            cluster.Produce();
        });
        AssertSame(fixture.Reference(output), two);
    }

    [Fact]
    public void A_process_killed_mid_stream_and_restarted_loses_nothing_and_repeats_exactly()
    {
        var killed = fixture.Run(output, cluster =>
        {
            var first = cluster.StartEngine();
            var producing = cluster.ProduceAsync();
            cluster.WaitForCheckpoints(2);
            first.Kill();
            output.WriteLine($"killed the engine with SIGKILL after {cluster.Elapsed.TotalSeconds:N1} s");
            var restart = Stopwatch.StartNew();
            cluster.StartEngine();
            producing.GetAwaiter().GetResult();
            cluster.RecoveryClock = restart;
        });
        Assert.True(killed.Repeats > 0, "the restart repeated no record: the kill came after everything was done, the test proves nothing");
        AssertSame(fixture.Reference(output), killed);
    }

    [Fact]
    public void A_second_process_joining_and_leaving_mid_stream_changes_nothing()
    {
        var rebalanced = fixture.Run(output, cluster =>
        {
            cluster.StartEngine();
            var producing = cluster.ProduceAsync();
            cluster.WaitForCheckpoints(1);
            var second = cluster.StartEngine();
            cluster.WaitForCheckpoints(4);
            second.Stop();
            producing.GetAwaiter().GetResult();
        });
        AssertSame(fixture.Reference(output), rebalanced);
    }

    private void AssertSame(KafkaRunOutputs expected, KafkaRunOutputs actual)
    {
        output.WriteLine($"expected: {expected.Describe()}; actual: {actual.Describe()}, {actual.Repeats} repeats");
        Assert.Empty(actual.DifferentRepeats);
        // The lifecycle records of the alerts of the first 15 minutes: the injected events' and the few the fleet really
        // causes (its drivers keep the zones' rules), 8 on this seed.
        Assert.True(expected.Records["alerts"].Count >= 6, "too few alerts to compare");
        Assert.True(expected.Records["segments"].Count > 100, "too few segment rows to compare");
        foreach (var (topic, records) in expected.Records)
        {
            var got = actual.Records[topic];
            var missing = records.Keys.Where(k => !got.ContainsKey(k)).Take(5).ToList();
            var extra = got.Keys.Where(k => !records.ContainsKey(k)).Take(5).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0,
                $"{topic}: {records.Count} records expected, {got.Count} got; missing e.g. [{string.Join(", ", missing)}], extra e.g. [{string.Join(", ", extra)}]");
            foreach (var (key, value) in records)
                Assert.True(value.AsSpan().SequenceEqual(got[key]), $"{topic}: record {key} differs from the uninterrupted run's");
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KafkaProcesses
{
    public const string Name = "Kafka engine processes";
}

/// <summary>The keyed records of a run's output topics.</summary>
public sealed class KafkaRunOutputs
{
    /// <summary>Per topic (alerts, segments, matched, dead-letter, late): dedup key → bytes.</summary>
    public Dictionary<string, Dictionary<string, byte[]>> Records { get; } = [];

    /// <summary>Records seen more than once.</summary>
    public int Repeats { get; set; }

    /// <summary>Keys seen more than once with different bytes (must never happen).</summary>
    public List<string> DifferentRepeats { get; } = [];

    public string Describe() => string.Join(", ", Records.Select(kv => $"{kv.Value.Count} {kv.Key}"));
}

/// <summary>The simulated input (built once) and runs of engine processes on a fresh embedded cluster each.</summary>
public sealed class KafkaRunFixture : IDisposable
{
    private readonly string _dir = TestDirectory.New("kafka");
    private readonly Lazy<string[]> _input;
    private KafkaRunOutputs? _reference;

    public KafkaRunFixture()
    {
        Directory.CreateDirectory(_dir);
        _input = new Lazy<string[]>(Prepare);
    }

    public string Network => Path.Combine(_dir, "net.tnet");
    public string SimDir => Path.Combine(_dir, "sim");

    /// <summary>The uninterrupted single-process run that the others are compared with.</summary>
    public KafkaRunOutputs Reference(ITestOutputHelper log) => _reference ??= Run(log, cluster =>
    {
        cluster.StartEngine();
        cluster.Produce();
    });

    public KafkaRunOutputs Run(ITestOutputHelper log, Action<KafkaTestCluster> script)
    {
        string[] lines = _input.Value;
        using var cluster = new KafkaTestCluster(this, lines, log);
        script(cluster);
        cluster.WaitUntilQuiet();
        if (cluster.RecoveryClock is { } clock) log.WriteLine($"restart to caught-up: {clock.Elapsed.TotalSeconds:N1} s");
        return cluster.Collect();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string[] Prepare()
    {
        var build = CliRunner.Run("network", "build", SharedData.Path("osm", "shenzhen-nanshan.osm"), "-o", Network, "-q");
        Assert.True(build.Exit == 0, build.Err);
        // The demo's fleet (2,030 vehicles) for 15 minutes: about 130,000 probes, 16,000 per input partition.
        string scenario = Path.Combine(SharedData.RepoRoot(), "docs", "examples", "demo-scenario.yaml");
        var sim = CliRunner.Run("simulate", "--network", Network, "--scenario", scenario, "--duration", "900", "--seed", "3", "--out", Path.Combine(SimDir, "probes.ndjson"), "-q");
        Assert.True(sim.Exit == 0, sim.Err);
        return File.ReadAllLines(Path.Combine(SimDir, "probes.ndjson"));
    }
}

/// <summary>One embedded cluster with Traffic's topics, the engine processes started on it, and the input producer.</summary>
public sealed class KafkaTestCluster : IDisposable
{
    private readonly KafkaRunFixture _fixture;
    private readonly string[] _input;
    private readonly ITestOutputHelper _log;
    private readonly EmbeddedKafka _kafka = EmbeddedKafka.Start();
    private readonly KafkaTopics _topics = new();
    private readonly List<EngineProcess> _engines = [];
    private readonly string _state;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public KafkaTestCluster(KafkaRunFixture fixture, string[] input, ITestOutputHelper log)
    {
        _fixture = fixture;
        _input = input;
        _log = log;
        foreach (var (name, partitions) in _topics.All()) _kafka.CreateTopic(name, partitions);
        Connection = new KafkaConnection(_kafka.BootstrapServers);
        _state = TestDirectory.New("state");
    }

    public KafkaConnection Connection { get; }

    public TimeSpan Elapsed => _clock.Elapsed;

    public Stopwatch? RecoveryClock { get; set; }

    public EngineProcess StartEngine()
    {
        var e = new EngineProcess(_log, _engines.Count + 1, "engine", "--network", _fixture.Network,
            "--vehicles", Path.Combine(_fixture.SimDir, "vehicles.ndjson"), "--zones", Path.Combine(_fixture.SimDir, "zones.geojson"),
            "--state-dir", _state, "--checkpoint-every", "2048", "-b", _kafka.BootstrapServers);
        _engines.Add(e);
        return e;
    }

    /// <summary>Streams the input into the probes topic over about ten seconds.</summary>
    public Task ProduceAsync() => Task.Run(Produce);

    public void Produce()
    {
        using var writer = new KafkaProbeWriter(Connection, _topics.Probes);
        byte[] newline = "\n"u8.ToArray();
        for (int i = 0; i < _input.Length; i++)
        {
            writer.Write(Encoding.UTF8.GetBytes(_input[i]));
            writer.Write(newline);
            if (i % 2000 == 1999) Thread.Sleep(200);
        }
        writer.Flush();
    }

    /// <summary>Waits until the vehicle stage has written this many checkpoint files.</summary>
    public void WaitForCheckpoints(int files)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (Directory.Exists(_state) && Directory.GetFiles(_state, _topics.Probes + "-*.ckpt").Length >= files) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"no {files} checkpoints after 60 s");
    }

    /// <summary>Waits until the output topics stop growing (all input processed).</summary>
    public void WaitUntilQuiet()
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        long last = -1;
        var still = Stopwatch.StartNew();
        // Every full matched batch of every input partition is out once the vehicle stage has read all input.
        long batches = 0;
        for (int p = 0; p < _topics.ProbePartitions; p++) batches += EndOffset(_topics.Probes, p) / 2048;
        while (DateTime.UtcNow < deadline)
        {
            long total = Outputs().Sum(t => EndOffsets(t.Topic));
            if (EndOffsets(_topics.Matched) < batches) still.Restart();
            else if (total != last)
            {
                last = total;
                still.Restart();
            }
            else if (still.Elapsed > TimeSpan.FromSeconds(6)) return;
            Thread.Sleep(250);
        }
        throw new TimeoutException("the outputs were still growing after 120 s");
    }

    public KafkaRunOutputs Collect()
    {
        var result = new KafkaRunOutputs();
        foreach (var (name, topic) in Outputs())
        {
            var records = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var r in TopicReader.ReadAll(Connection, topic))
            {
                string key = (r.Key == null ? "" : Encoding.UTF8.GetString(r.Key))
                    + (r.Headers.TryGetValue("event", out var e) ? "|" + Encoding.UTF8.GetString(e) : "");
                if (records.TryGetValue(key, out var first))
                {
                    result.Repeats++;
                    if (!first.AsSpan().SequenceEqual(r.Value)) result.DifferentRepeats.Add($"{name}:{key}");
                }
                else records[key] = r.Value ?? [];
            }
            result.Records[name] = records;
        }
        return result;
    }

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        _probe?.Dispose();
        _kafka.Dispose();
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private IEnumerable<(string Name, string Topic)> Outputs() =>
    [
        ("alerts", _topics.Alerts), ("segments", _topics.Segments), ("matched", _topics.Matched),
        ("dead-letter", _topics.DeadLetter), ("late", _topics.Late),
    ];

    private long EndOffsets(string topic)
    {
        long sum = 0;
        for (int p = 0; p < _topics.OutputPartitions; p++) sum += EndOffset(topic, p);
        return sum;
    }

    private long EndOffset(string topic, int partition)
    {
        _probe ??= new Confluent.Kafka.ConsumerBuilder<byte[], byte[]>(Connection.Consumer("traffic-test-probe", "traffic-test")).Build();
        return _probe.QueryWatermarkOffsets(new Confluent.Kafka.TopicPartition(topic, partition), TimeSpan.FromSeconds(5)).High.Value;
    }

    private Confluent.Kafka.IConsumer<byte[], byte[]>? _probe;
}

/// <summary>A <c>traffic</c> child process whose output goes to the test log.</summary>
public sealed class EngineProcess : IDisposable
{
    private readonly Process _process;

    public EngineProcess(ITestOutputHelper log, int number, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "traffic.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        void Log(string? line)
        {
            if (line == null) return;
            try
            {
                log.WriteLine($"[engine {number}] {line}");
            }
            catch (InvalidOperationException)
            {
                // The test has ended.
            }
        }
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: no cleanup of any kind.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM: the process leaves the group cleanly.</summary>
    public void Stop()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (!_process.WaitForExit(30_000)) _process.Kill();
    }

    public void Dispose()
    {
        if (!_process.HasExited) Stop();
        _process.Dispose();
    }
}
