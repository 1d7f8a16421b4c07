using System.CommandLine;
using System.Runtime.InteropServices;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Bench.EndToEnd;

/// <summary>
/// The end-to-end harness: the replay engine in this process over a probe file, timed as a whole (not under
/// BenchmarkDotNet: one run takes seconds and writes files). Modes:
/// <list type="bullet">
/// <item><c>throughput</c>: probes per second for each shard count and input format (NDJSON, and the same probes
/// as binary records), in interleaved rounds so that the machine's noise hits every configuration alike; bytes
/// allocated per probe, whole run and steady state (the difference between the whole input and its first quarter,
/// over the probes between them); GC counts and pauses; the outputs of every run compared byte for byte.</item>
/// <item><c>latency</c>: the input replayed at its recorded speed × a factor, so the engine is not saturated; for
/// each alert opened, the wall time from the read of the probe that raised it to its hand-off to the output.</item>
/// <item><c>stages</c>: each stage alone on one thread over the whole input (read and decode, vehicle partition
/// after a warm-up on the first 100,000 probes, segment partition, matched-probe writer, the segment partition's rows
/// written as NDJSON and Arrow), wall and process CPU time per probe, for profiling.</item>
/// <item><c>state</c>: what the vehicle partitions hold, for each count of them (<c>--shards</c>): the GC heap after
/// a full collection with the partitions new, and again after the input's first <c>--minutes</c> (default 40) of probes,
/// each vehicle's to one partition by its key; the difference over the vehicles seen is the state a vehicle costs in all
/// (the matcher, the rules, the partition's tables), the first the partitions' fixed part.</item>
/// </list>
/// </summary>
internal static class E2eHarness
{
    /// <summary>The <c>e2e</c> command: <c>dotnet run -c Release --project bench/Traffic.Bench -- e2e --help</c>.</summary>
    public static Command Command()
    {
        var mode = new Argument<string>("mode") { Description = "throughput, latency, stages or state." };
        mode.AcceptOnlyFromAmong("throughput", "latency", "stages", "state");
        var network = new Option<string>("--network") { Description = "The road network (.tnet or OSM).", Required = true };
        var input = new Option<string>("--input") { Description = "Probes, NDJSON.", Required = true };
        var vehicles = new Option<string?>("--vehicles") { Description = "Vehicle registry." };
        var zones = new Option<string?>("--zones") { Description = "Zones, GeoJSON." };
        var shards = CommaList<int>("--shards", "Vehicle shard counts (throughput; latency and stages: the first).", [1, 2]);
        var formats = CommaList<string>("--formats", "Input formats, ndjson and bin; bin is converted once from the NDJSON input (throughput).", ["ndjson"]);
        formats.Validators.Add(r =>
        {
            foreach (string f in r.GetValueOrDefault<string[]>() ?? []) if (f is not ("ndjson" or "bin")) r.AddError($"--formats: '{f}' is neither ndjson nor bin");
        });
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds (throughput).", DefaultValueFactory = _ => 3 };
        var steady = new Option<bool>("--steady") { Description = "Also measure steady-state allocation per probe (throughput)." };
        var steadyBase = new Option<double>("--steady-base") { Description = "... as the whole input less this leading share of it.", DefaultValueFactory = _ => 0.25 };
        var allocations = new Option<bool>("--allocations") { Description = "What the timed runs allocate, by type (GC allocation ticks; throughput)." };
        var speed = new Option<double>("--speed") { Description = "Replay at the recorded speed times this (latency).", DefaultValueFactory = _ => 10 };
        var minutes = new Option<double?>("--minutes") { Description = "Only the input's first minutes of event time (latency)." };
        var matchLag = new Option<int?>("--match-lag") { Description = "The matcher decides a probe at most this many probes later (default 8)." };
        var matchLagSeconds = new Option<double?>("--match-lag-seconds") { Description = "... or this many seconds of event time later (default 60)." };
        var output = new Option<string?>("--out") { Description = "Where runs write their outputs and are kept (default: under the temporary folder, where throughput runs delete theirs)." };
        var cmd = new Command("e2e", "The replay engine in this process over a probe file, timed as a whole.")
        {
            mode, network, input, vehicles, zones, shards, formats, rounds, steady, steadyBase, allocations, speed, minutes, matchLag, matchLagSeconds, output,
        };
        cmd.SetAction(parse =>
        {
            string? outDir = parse.GetValue(output);
            var o = new Options
            {
                Network = parse.GetValue(network)!,
                Input = parse.GetValue(input)!,
                Vehicles = parse.GetValue(vehicles),
                Zones = parse.GetValue(zones),
                Shards = parse.GetValue(shards)!,
                Formats = parse.GetValue(formats)!,
                Rounds = parse.GetValue(rounds),
                Steady = parse.GetValue(steady),
                SteadyBase = parse.GetValue(steadyBase),
                Allocations = parse.GetValue(allocations),
                Speed = parse.GetValue(speed),
                Minutes = parse.GetValue(minutes) ?? double.PositiveInfinity,
                MatchLag = parse.GetValue(matchLag),
                MatchLagSeconds = parse.GetValue(matchLagSeconds),
                Out = outDir ?? Path.Combine(Path.GetTempPath(), "traffic-e2e"),
                OutGiven = outDir != null,
            };
            return parse.GetValue(mode) switch
            {
                "throughput" => Throughput(o),
                "latency" => Latency(o),
                "state" => State(o),
                _ => Stages(o),
            };
        });
        return cmd;
    }

    /// <summary>An option taking a list, written either comma-separated (<c>--shards 1,2</c>) or as separate values.</summary>
    private static Option<T[]> CommaList<T>(string name, string description, T[] defaults) where T : IParsable<T>
    {
        return new Option<T[]>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaults,
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                var values = new List<T>();
                foreach (var token in result.Tokens)
                {
                    foreach (string part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (T.TryParse(part, CultureInfo.InvariantCulture, out T? v)) values.Add(v);
                        else result.AddError($"{name}: '{part}' is not a valid value");
                    }
                }
                return [.. values];
            },
        };
    }

    private sealed class Options
    {
        public required string Network;
        public required string Input;
        public string? Vehicles;
        public string? Zones;
        public required int[] Shards;
        public required string[] Formats;
        public int Rounds;
        public bool Steady;
        public double SteadyBase;
        public bool Allocations;
        public double Speed;
        public double Minutes;
        public int? MatchLag;
        public double? MatchLagSeconds;
        public required string Out;
        public bool OutGiven;   // --out named: the runs' outputs are kept there
    }

    /// <summary>What one replay run measured.</summary>
    private readonly record struct RunResult(ReplaySummary Summary, double Seconds, double CpuSeconds, long Allocated, int Gen0, int Gen1, int Gen2, TimeSpan Pause, string Digest, TimeSpan Jit, long JitMethods)
    {
        public double ProbesPerSecond => Summary.Read / Seconds;

        /// <summary>CPU time of the whole process (every thread) per probe.</summary>
        public double CpuMicrosecondsPerProbe => CpuSeconds * 1e6 / Summary.Read;
    }

    private static RunResult Replay(RoadNetwork network, Options o, string input, int shards, string outDir, IReplayObserver? observer = null, double speed = 0)
    {
        var ids = new VehicleIds();
        VehicleRegistry? registry = o.Vehicles != null ? VehicleRegistry.Load(o.Vehicles, ids) : null;
        ZoneSet? zones = o.Zones != null ? ZoneSet.Load(o.Zones) : null;
        var engine = new ReplayEngine(network, registry, zones, ids, new ReplayOptions
        {
            VehicleShards = shards,
            Speed = speed,
            Observer = observer,
            Vehicles = new VehicleStageOptions().WithMatchLag(o.MatchLag, o.MatchLagSeconds),
        });
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        TimeSpan pause = GC.GetTotalPauseDuration();
        TimeSpan jit = System.Runtime.JitInfo.GetCompilationTime();
        long jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        ReplaySummary summary = engine.RunAsync(input, outDir).GetAwaiter().GetResult();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        return new RunResult(summary, seconds, cpuSeconds, allocated, GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2,
            GC.GetTotalPauseDuration() - pause, Digest(outDir), System.Runtime.JitInfo.GetCompilationTime() - jit,
            System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethods);
    }

    /// <summary>A hash of the outputs that must not depend on shards, format or speed: alerts, segments, late probes, dead letters.</summary>
    private static string Digest(string outDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string name in (string[])["alerts.ndjson", "segments.ndjson", "late.ndjson"])
            sha.AppendData(File.ReadAllBytes(Path.Combine(outDir, name)));
        // Dead letters name the input file (NDJSON or its binary copy): only their count and reasons are compared.
        sha.AppendData(Encoding.UTF8.GetBytes(File.ReadAllLines(Path.Combine(outDir, "dead-letter.ndjson")).Length.ToString(CultureInfo.InvariantCulture)));
        return Convert.ToHexString(sha.GetHashAndReset())[..16];
    }

    // ---- throughput ----

    private static int Throughput(Options o)
    {
        var network = NetworkImport.Read(o.Network, out _);
        var inputs = o.Formats.ToDictionary(f => f, f => InputIn(o.Input, f, o.Out));
        var results = new Dictionary<(string Format, int Shards), List<RunResult>>();
        Console.WriteLine($"# {DateTime.UtcNow:ddd MMM dd HH:mm} UTC {DateTime.UtcNow:yyyy}, {Environment.ProcessorCount} cores, load {LoadAverage()}, input {o.Input}");
        // A warm-up replay of the input's first 100,000 records in every format, untimed: the timed runs measure the
        // engine's code compiled and tiered, not the JIT (a run lasts seconds; its first one would carry the compilation).
        // The runs write into a folder of this process's own: harness processes of other builds (or other people) on the
        // same machine share the default --out, and a run whose files another process overwrites hashes differently.
        // The binary copy of the input stays shared (made once).
        string own = o.OutGiven ? o.Out : Path.Combine(o.Out, $"process-{Environment.ProcessId}");
        Directory.CreateDirectory(own);
        string warmup = Path.Combine(own, "warmup-" + Path.GetFileName(o.Input));
        File.WriteAllLines(warmup, File.ReadLines(o.Input).Take(100_000));
        foreach (string format in o.Formats) Replay(network, o, InputIn(warmup, format, own), o.Shards.Max(), Path.Combine(own, "warmup"));
        using AllocationTicks? ticks = o.Allocations ? new AllocationTicks() : null;
        for (int round = 1; round <= o.Rounds; round++)
        {
            foreach (string format in o.Formats)
            {
                foreach (int shards in o.Shards)
                {
                    var r = Replay(network, o, inputs[format], shards, Path.Combine(own, $"run-{format}-{shards}"));
                    (results.TryGetValue((format, shards), out var list) ? list : results[(format, shards)] = []).Add(r);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round} {format,-6} shards {shards}: {r.Seconds,6:F2} s, {r.ProbesPerSecond,9:N0} probes/s, CPU {r.CpuSeconds,6:F2} s ({r.CpuMicrosecondsPerProbe:F2} µs/probe), {r.Allocated / (double)r.Summary.Read,7:F1} B/probe allocated, GC {r.Gen0}/{r.Gen1}/{r.Gen2} pause {r.Pause.TotalMilliseconds:F0} ms, JIT {r.Jit.TotalMilliseconds:F0} ms ({r.JitMethods} methods), outputs {r.Digest}, load {LoadAverage()}"));
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine("| format | vehicle shards | median wall | probes/s (median) | best | CPU per probe (median) | allocated per probe | GC gen0/1/2 | outputs |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
        foreach (var ((format, shards), runs) in results)
        {
            var sorted = runs.OrderBy(r => r.Seconds).ToList();
            var median = sorted[sorted.Count / 2];
            double cpu = runs.Select(r => r.CpuMicrosecondsPerProbe).Order().ElementAt(runs.Count / 2);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {format} | {shards} | {median.Seconds:F2} s | {median.ProbesPerSecond:N0} | {sorted[0].ProbesPerSecond:N0} | {cpu:F2} µs | {median.Allocated / (double)median.Summary.Read:F1} B | {median.Gen0}/{median.Gen1}/{median.Gen2} | {string.Join(",", runs.Select(r => r.Digest).Distinct())} |"));
        }
        if (!o.OutGiven) Directory.Delete(own, recursive: true);
        if (results.Values.SelectMany(r => r).Select(r => r.Digest).Distinct().Count() > 1)
        {
            Console.WriteLine("outputs DIFFER between configurations");
            return 1;
        }
        ticks?.Print(Console.Out);
        if (o.Steady) SteadyAllocation(network, o);
        return 0;
    }

    /// <summary>
    /// Allocation per probe in steady state: the whole input less its first quarter (<c>--steady-base</c>), over the
    /// probes between them, so what a run allocates once (network index, shards, channels, writers, first-time vehicle
    /// and segment state) cancels out.
    /// </summary>
    private static void SteadyAllocation(RoadNetwork network, Options o)
    {
        if (!(o.SteadyBase > 0 && o.SteadyBase < 1)) throw new ArgumentException("--steady-base is a share of the input between 0 and 1");
        string quarter = Path.Combine(o.Out, "quarter-" + Path.GetFileName(o.Input));
        string[] lines = File.ReadAllLines(o.Input);
        File.WriteAllLines(quarter, lines.Take((int)(lines.Length * o.SteadyBase)));
        foreach (int shards in o.Shards)
        {
            var small = Replay(network, o, quarter, shards, Path.Combine(o.Out, "steady-quarter"));
            var whole = Replay(network, o, o.Input, shards, Path.Combine(o.Out, "steady-whole"));
            double perProbe = (whole.Allocated - small.Allocated) / (double)(whole.Summary.Read - small.Summary.Read);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"steady state, shards {shards}: {perProbe:F1} B/probe ({small.Allocated / 1e6:F1} MB for {small.Summary.Read:N0} probes, {whole.Allocated / 1e6:F1} MB for {whole.Summary.Read:N0})"));
        }
    }

    /// <summary>The input in a format: the NDJSON file itself, or binary records converted from it once.</summary>
    private static string InputIn(string ndjson, string format, string outDir)
    {
        if (format == "ndjson") return ndjson;
        if (format != "bin") throw new ArgumentException($"unknown format '{format}' (ndjson, bin)");
        Directory.CreateDirectory(outDir);
        string bin = Path.Combine(outDir, Path.GetFileNameWithoutExtension(ndjson) + ".bin");
        if (File.Exists(bin) && File.GetLastWriteTimeUtc(bin) >= File.GetLastWriteTimeUtc(ndjson)) return bin;
        var ids = new VehicleIds();
        var decoder = new ProbeJsonDecoder(ids);
        byte[] record = new byte[ProbeBinaryRecord.Size];
        using var output = new FileStream(bin, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        foreach (string line in File.ReadLines(ndjson))
        {
            if (line.Length == 0) continue;
            if (!decoder.TryDecode(Encoding.UTF8.GetBytes(line), out Probe p, out DecodeError e)) throw new InvalidDataException($"input record rejected ({e}): the binary copy would not hold the same records");
            ProbeBinaryRecord.TryWrite(in p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), record);
            output.Write(record);
        }
        return bin;
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    // ---- latency ----

    private static int Latency(Options o)
    {
        var network = NetworkImport.Read(o.Network, out _);
        string input = o.Input;
        // Every probe's record number by vehicle and time, to find the probe an alert is about.
        var ids = new VehicleIds();
        var decoder = new ProbeJsonDecoder(ids);
        var recordOf = new Dictionary<(int Vehicle, long TimeMs), long>();
        var lines = new List<string>();
        long first = long.MinValue;
        foreach (string line in File.ReadLines(o.Input))
        {
            if (decoder.TryDecode(Encoding.UTF8.GetBytes(line), out Probe p, out _))
            {
                if (first == long.MinValue) first = p.TimeMs;
                if (p.TimeMs - first >= o.Minutes * 60_000) break;
                recordOf.TryAdd((p.Vehicle, p.TimeMs), lines.Count + 1);
            }
            lines.Add(line);
        }
        if (double.IsFinite(o.Minutes))
        {
            Directory.CreateDirectory(o.Out);
            input = Path.Combine(o.Out, string.Create(CultureInfo.InvariantCulture, $"first-{o.Minutes}-min-{Path.GetFileName(o.Input)}"));
            File.WriteAllLines(input, lines);
        }
        var observer = new LatencyObserver(lines.Count);
        int shards = o.Shards[0];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# {DateTime.UtcNow:ddd MMM dd HH:mm} UTC {DateTime.UtcNow:yyyy}, {Environment.ProcessorCount} cores, load {LoadAverage()}, input {input} at {o.Speed}x recorded speed, {shards} vehicle shard(s)"));
        var r = Replay(network, o, input, shards, Path.Combine(o.Out, "latency"), observer, o.Speed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Summary.Read:N0} probes in {r.Seconds:F1} s ({r.Summary.Read / r.Seconds:N0} probes/s offered and taken, CPU {r.CpuSeconds / r.Seconds * 100:F0} % of one core), outputs {r.Digest}"));

        var rows = new List<(string Group, string Kind, double FromEmitting, double FromSubject, double FromDue)>();
        foreach (var (alert, record, at) in observer.Alerts)
        {
            if (alert.State != AlertState.Open) continue;
            double fromEmitting = record > 0 ? Stopwatch.GetElapsedTime(observer.ReadAt[record], at).TotalMilliseconds : double.NaN;
            double fromSubject = double.NaN;
            if (record > 0 && alert.VehicleId != null && ids.TryGet(alert.VehicleId, out int v) && recordOf.TryGetValue((v, alert.TimeMs), out long subject))
                fromSubject = Stopwatch.GetElapsedTime(observer.ReadAt[subject], at).TotalMilliseconds;
            // When the input's event time first reached the alert's time: the earliest moment it could be known.
            long due = observer.FirstRecordReaching(alert.TimeMs);
            double fromDue = due > 0 ? Stopwatch.GetElapsedTime(observer.ReadAt[due], at).TotalMilliseconds : double.NaN;
            rows.Add((record > 0 ? "probe-driven" : "watermark-driven", alert.Kind, fromEmitting, fromSubject, fromDue));
        }
        Console.WriteLine();
        Console.WriteLine("| alerts | opened | from the probe that raised it: p50 | p99 | max | from the probe it is about: p50 | p99 | from the input reaching the alert's time: p50 | p99 |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var g in rows.GroupBy(x => x.Group).OrderBy(g => g.Key, StringComparer.Ordinal)
                     .SelectMany(g => new[] { (Name: g.Key, Rows: g.ToList()) }.Concat(g.GroupBy(x => x.Kind).OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => (Name: "  " + k.Key, Rows: k.ToList())))))
        {
            var emitting = g.Rows.Select(x => x.FromEmitting).Where(double.IsFinite).Order().ToArray();
            var subject = g.Rows.Select(x => x.FromSubject).Where(double.IsFinite).Order().ToArray();
            var fromDue = g.Rows.Select(x => x.FromDue).Where(double.IsFinite).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {g.Name} | {g.Rows.Count} | {Ms(Percentile(emitting, 0.5))} | {Ms(Percentile(emitting, 0.99))} | {Ms(emitting.LastOrDefault(double.NaN))} | {Ms(Percentile(subject, 0.5))} | {Ms(Percentile(subject, 0.99))} | {Ms(Percentile(fromDue, 0.5))} | {Ms(Percentile(fromDue, 0.99))} |"));
        }
        return 0;
    }

    private static string Ms(double ms) => double.IsNaN(ms) ? "–" : ms >= 1000 ? string.Create(CultureInfo.InvariantCulture, $"{ms / 1000:F1} s") : string.Create(CultureInfo.InvariantCulture, $"{ms:F1} ms");

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>Read times by record number (one preallocated array, nothing allocated per probe) and alerts with their hand-off times.</summary>
    private sealed class LatencyObserver(long records) : IReplayObserver
    {
        public long[] ReadAt { get; } = new long[records + 1];
        private readonly long[] _newestAt = new long[records + 1];   // the newest event time read up to each record
        private long _newest = long.MinValue;
        public List<(AlertEvent Alert, long Record, long At)> Alerts { get; } = new(4096);
        private readonly Lock _lock = new();

        private long _last;                                          // the last record seen (rejected ones in between are filled in)

        public void ProbeRead(in Probe probe, in RecordSource source)
        {
            long now = Stopwatch.GetTimestamp();
            for (long r = _last + 1; r < source.Record; r++)
            {
                ReadAt[r] = now;
                _newestAt[r] = _newest;
            }
            _last = source.Record;
            ReadAt[source.Record] = now;
            if (probe.TimeMs > _newest) _newest = probe.TimeMs;
            _newestAt[source.Record] = _newest;
        }

        /// <summary>The first record by which the input's newest event time had reached <paramref name="timeMs"/>; 0: never.</summary>
        public long FirstRecordReaching(long timeMs)
        {
            int lo = 1, hi = _newestAt.Length - 1;
            if (hi < 1 || _newestAt[hi] < timeMs) return 0;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (_newestAt[mid] >= timeMs) hi = mid;
                else lo = mid + 1;
            }
            return lo;
        }

        public void AlertRaised(AlertEvent alert, long record)
        {
            long at = Stopwatch.GetTimestamp();
            lock (_lock) Alerts.Add((alert, record, at));
        }
    }

    /// <summary>What the state and stages modes build before their partitions: the network, its index, the ids, registry and zones.</summary>
    private sealed record Setup(RoadNetwork Network, EdgeIndex Index, VehicleIds Ids, VehicleRegistry? Registry, ZoneSet? Zones)
    {
        public static Setup Of(Options o)
        {
            var network = NetworkImport.Read(o.Network, out _);
            var ids = new VehicleIds();
            return new Setup(network, new EdgeIndex(network), ids,
                o.Vehicles != null ? VehicleRegistry.Load(o.Vehicles, ids) : null, o.Zones != null ? ZoneSet.Load(o.Zones) : null);
        }
    }

    // ---- state ----

    private static int State(Options o)
    {
        var (_, index, ids, registry, zones) = Setup.Of(o);
        var collect = new Collect();
        using (var stream = File.OpenRead(o.Input)) new ProbeStreamReader(ProbeFormat.NdJson, ids).ReadAsync(stream, collect).AsTask().GetAwaiter().GetResult();
        double minutes = double.IsPositiveInfinity(o.Minutes) ? 40 : o.Minutes;
        var all = CollectionsMarshal.AsSpan(collect.Probes);
        long until = all.IsEmpty ? 0 : all[0].Probe.TimeMs + (long)(minutes * 60_000);
        int taken = 0;
        while (taken < all.Length && all[taken].Probe.TimeMs <= until) taken++;
        var window = all[..taken];
        var seen = new bool[ids.Count];
        int vehicles = 0;
        foreach (ref readonly var x in window)
        {
            ref bool s = ref seen[x.Probe.Vehicle];
            if (!s) (s, vehicles) = (true, vehicles + 1);
        }
        var keys = new int[ids.Count];
        for (int v = 0; v < keys.Length; v++) keys[v] = VehicleKey.Of(ids.Name(v));
        var discard = new Discard();
        // Warm: the first 100,000 probes through a partition that is then dropped (code tiered up, lazy statics made).
        var warm = new VehiclePartition(0, index, ids, registry, zones);
        foreach (ref readonly var x in window[..Math.Min(100_000, taken)]) warm.OnProbe(x.Probe, x.Source, discard);
        Console.WriteLine($"# {DateTime.UtcNow:ddd MMM dd HH:mm} UTC {DateTime.UtcNow:yyyy}, input {o.Input}: its first {minutes:0.#} minutes, {taken:N0} probes of {vehicles:N0} vehicles");
        Console.WriteLine("| partitions | fixed, all partitions | a vehicle |");
        Console.WriteLine("| ---: | ---: | ---: |");
        foreach (int count in o.Shards)
        {
            long before = GC.GetTotalMemory(forceFullCollection: true);
            var parts = new VehiclePartition[count];
            for (int p = 0; p < count; p++) parts[p] = new VehiclePartition(p, index, ids, registry, zones);
            long empty = GC.GetTotalMemory(forceFullCollection: true);
            foreach (ref readonly var x in window) parts[(int)((uint)keys[x.Probe.Vehicle] % (uint)count)].OnProbe(x.Probe, x.Source, discard);
            long after = GC.GetTotalMemory(forceFullCollection: true);
            GC.KeepAlive(parts);
            Console.WriteLine($"| {count} | {(empty - before) / 1024.0:N0} KiB | {(double)(after - empty) / vehicles:N0} B |");
        }
        GC.KeepAlive(collect);
        return 0;
    }

    // ---- stages ----

    private static int Stages(Options o)
    {
        var (network, index, ids, registry, zones) = Setup.Of(o);
        Console.WriteLine($"# {DateTime.UtcNow:ddd MMM dd HH:mm} UTC {DateTime.UtcNow:yyyy}, load {LoadAverage()}, input {o.Input}, one thread per stage in turn");

        var collect = new Collect();
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long t = Stopwatch.GetTimestamp();
        using (var stream = File.OpenRead(o.Input)) new ProbeStreamReader(ProbeFormat.NdJson, ids).ReadAsync(stream, collect).AsTask().GetAwaiter().GetResult();
        Report("read and decode (NDJSON)", t, collect.Probes.Count, collect.Probes.Count);

        var probes = collect.Probes;
        // The input's first 100,000 probes through a partition that is then dropped, so that the timed one runs
        // tiered-up code (as the throughput mode warms up).
        var warm = new VehiclePartition(0, index, ids, registry, zones);
        var discard = new Discard();
        for (int i = 0; i < Math.Min(100_000, probes.Count); i++) warm.OnProbe(probes[i].Probe, probes[i].Source, discard);
        var recorded = new Recorded();
        var partition = new VehiclePartition(0, index, ids, registry, zones);
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
        t = Stopwatch.GetTimestamp();
        for (int i = 0; i < probes.Count; i++)
        {
            // As a vehicle shard drives it: the state of the vehicles of the probes two and one ahead is asked for first.
            if (i + 2 < probes.Count) partition.PrefetchState(probes[i + 2].Probe.Vehicle);
            if (i + 1 < probes.Count) partition.PrefetchStateContents(probes[i + 1].Probe.Vehicle);
            partition.OnProbe(probes[i].Probe, probes[i].Source, recorded);
        }
        partition.OnEndOfInput(recorded);
        Report("vehicle partition (matching, rules, exchange)", t, probes.Count, probes.Count);

        var segments = new SegmentPartition(network, 0, 1);
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
        t = Stopwatch.GetTimestamp();
        var messages = CollectionsMarshal.AsSpan(recorded.Messages);
        for (int i = 0; i < messages.Length; i++)
        {
            // As a segment shard drives it: the window of the traversal two ahead is asked for first.
            if (i + 2 < messages.Length && !messages[i + 2].IsWatermark) segments.Prefetch(in messages[i + 2].Traversal);
            ref var m = ref messages[i];
            if (m.IsWatermark) segments.OnWatermark(m.Watermark, recorded);
            else segments.OnTraversal(m.Traversal);
        }
        segments.OnEndOfInput(recorded);
        Report($"segment partition ({recorded.Messages.Count:N0} messages)", t, probes.Count, recorded.Messages.Count);

        string dir = Path.Combine(o.Out, "stages-matched");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
        t = Stopwatch.GetTimestamp();
        using (var writer = new MatchedProbeArrowWriter(dir, network, ids))
        {
            foreach (var (vehicle, m) in recorded.Matches) writer.Append(vehicle, in m);
        }
        Report("matched-probe Arrow files", t, probes.Count, recorded.Matches.Count);

        // The rows the segment partition published, written as a replay writes them (segments and segments-5m, NDJSON and
        // Arrow), handed over window by window as a shard's watermarks pass them. After the matched-probe files, whose
        // figure would otherwise lose the JIT of the Arrow file writer to this stage.
        string rowsDir = Path.Combine(o.Out, "stages-rows");
        if (Directory.Exists(rowsDir)) Directory.Delete(rowsDir, recursive: true);
        Directory.CreateDirectory(rowsDir);
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
        t = Stopwatch.GetTimestamp();
        WriteRows(network, recorded.Windows, rowsDir, "segments");
        WriteRows(network, recorded.Views, rowsDir, "segments-5m");
        Report($"segment rows, NDJSON and Arrow ({recorded.Windows.Count + recorded.Views.Count:N0} rows)", t, probes.Count, recorded.Windows.Count + recorded.Views.Count);
        return 0;
    }

    private static void WriteRows(RoadNetwork network, List<SegmentStat> rows, string dir, string name)
    {
        using var merge = new SegmentRowMerge(network, 1, dir, name);
        for (int i = 0; i < rows.Count; i++)
        {
            if (i > 0 && rows[i].WindowStartMs != rows[i - 1].WindowStartMs) merge.Through(0, rows[i - 1].WindowEndMs);
            merge.Add(0, rows[i]);
        }
        merge.Through(0, long.MaxValue);
    }

    private static long s_allocated;
    private static TimeSpan s_cpu = Process.GetCurrentProcess().TotalProcessorTime;

    // Wall time, and the process's CPU time (the stage's thread, the JIT's and the GC's): on a shared machine the
    // wall time counts the time other processes held the core, the CPU time does not.
    private static void Report(string stage, long start, int probes, int items)
    {
        double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - s_cpu).TotalSeconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{stage,-50} {s,7:F2} s  {s * 1e9 / probes,8:F0} ns/probe  CPU {cpu * 1e9 / probes,8:F0} ns/probe  {(allocated - s_allocated) / (double)probes,7:F1} B/probe  ({items:N0} items)"));
        s_allocated = GC.GetAllocatedBytesForCurrentThread();
        s_cpu = Process.GetCurrentProcess().TotalProcessorTime;
    }

    private sealed class Collect : IProbeHandler
    {
        public List<(Probe Probe, RecordSource Source)> Probes { get; } = new(1 << 20);

        public void OnProbe(in Probe probe, in RecordSource source) => Probes.Add((probe, source));

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
        }
    }

    private sealed class Discard : IVehiclePartitionOutput
    {
        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match)
        {
        }

        public void Traversal(in SegmentTraversal traversal)
        {
        }

        public void Watermark(in SegmentWatermark watermark)
        {
        }

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }

    private sealed class Recorded : IVehiclePartitionOutput, ISegmentPartitionOutput
    {
        public List<(SegmentTraversal Traversal, SegmentWatermark Watermark, bool IsWatermark)> Messages { get; } = new(1 << 22);
        public List<(int Vehicle, MatchedProbe Match)> Matches { get; } = new(1 << 20);

        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => Matches.Add((vehicle, match));

        public void Traversal(in SegmentTraversal traversal) => Messages.Add((traversal, default, false));

        public void Watermark(in SegmentWatermark watermark) => Messages.Add((default, watermark, true));

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }

        // Made large enough for a big input's rows up front: their growth (and its page faults) would count in the
        // segment partition's time.
        public List<SegmentStat> Windows { get; } = new(1 << 17);

        public List<SegmentStat> Views { get; } = new(1 << 18);

        public void Window(in SegmentStat window) => Windows.Add(window);

        public void View(in SegmentStat view) => Views.Add(view);

        public void Network(in NetworkSums sums)
        {
        }
    }
}
