using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Rules;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Pipeline;

/// <summary>Options of a replay run.</summary>
public sealed record ReplayOptions
{
    /// <summary>Vehicle shards, one thread each (keyed by vehicle).</summary>
    public int VehicleShards { get; init; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>Segment shards, one thread each (keyed by segment), fed through the exchange.</summary>
    public int SegmentShards { get; init; } = 1;

    /// <summary>The watermark trails the newest event time by this much; probes behind it are late.</summary>
    public long AllowedLatenessMs { get; init; } = 30_000;

    /// <summary>Bound of each channel between stages (back-pressure).</summary>
    public int ChannelCapacity { get; init; } = 8192;

    public VehicleStageOptions Vehicles { get; init; } = new();

    public SegmentOptions Segments { get; init; } = new();
}

/// <summary>What a replay did, printed at the end and written as <c>summary.json</c>.</summary>
public sealed record ReplaySummary
{
    public long Read { get; init; }
    public long Accepted { get; init; }
    public long Rejected { get; init; }
    public IReadOnlyDictionary<string, long> RejectedByReason { get; init; } = new Dictionary<string, long>();
    public long Late { get; init; }
    public long Refused { get; init; }
    public long Matched { get; init; }
    public long Unmatched { get; init; }
    public long SegmentWindows { get; init; }
    public long SegmentWindowsSuppressed { get; init; }
    public IReadOnlyDictionary<string, long> AlertsByKind { get; init; } = new Dictionary<string, long>();
    public double Seconds { get; init; }
    public double ProbesPerSecond => Seconds > 0 ? Read / Seconds : 0;
}

/// <summary>
/// The engine over a file: decode (dead letters for bad records) → vehicle shards (one thread each, keyed
/// by vehicle; map matching, speeding and zone rules) → an exchange keyed by segment → segment shards
/// (windows, congestion level) → outputs. Stages are joined by bounded channels (back-pressure); the
/// event-time watermark flows with the data. Outputs are deterministic for an input: alerts and segment
/// rows are written sorted, matched probes per shard in each vehicle's order.
/// </summary>
public sealed class ReplayEngine
{
    private readonly RoadNetwork _network;
    private readonly VehicleRegistry? _registry;
    private readonly ZoneSet? _zones;
    private readonly VehicleIds _ids;
    private readonly ReplayOptions _options;
    private readonly EdgeIndex _index;

    /// <param name="ids">The vehicle ids the registry was loaded with (the decoders intern into the same table).</param>
    public ReplayEngine(RoadNetwork network, VehicleRegistry? registry, ZoneSet? zones, VehicleIds ids, ReplayOptions? options = null)
    {
        _network = network;
        _registry = registry;
        _zones = zones;
        _ids = ids;
        _options = options ?? new ReplayOptions();
        _index = new EdgeIndex(network);
    }

    public static ProbeFormat FormatOf(string path)
    {
        string lower = path.ToLowerInvariant();
        if (lower.EndsWith(".csv", StringComparison.Ordinal)) return ProbeFormat.Csv;
        if (lower.EndsWith(".bin", StringComparison.Ordinal) || lower.EndsWith(".probes", StringComparison.Ordinal)) return ProbeFormat.Binary;
        return ProbeFormat.NdJson;
    }

    public async Task<ReplaySummary> RunAsync(string input, string outDir, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        if (!File.Exists(input)) throw new FileNotFoundException($"input not found: {input}", input);
        Directory.CreateDirectory(outDir);
        var clock = Stopwatch.StartNew();
        int vs = _options.VehicleShards, ss = _options.SegmentShards;
        var vehicleChannels = new Channel<VehicleMessage>[vs];
        var segmentChannels = new Channel<SegmentMessage>[ss];
        for (int i = 0; i < vs; i++) vehicleChannels[i] = Channel.CreateBounded<VehicleMessage>(new BoundedChannelOptions(_options.ChannelCapacity) { SingleReader = true, SingleWriter = true });
        for (int i = 0; i < ss; i++) segmentChannels[i] = Channel.CreateBounded<SegmentMessage>(new BoundedChannelOptions(_options.ChannelCapacity) { SingleReader = true, SingleWriter = false });

        var vehicleShards = new VehicleShard[vs];
        for (int i = 0; i < vs; i++)
            vehicleShards[i] = new VehicleShard(this, i, Path.Combine(outDir, "matched", $"shard-{i}"), segmentChannels);
        var segmentShards = new SegmentShard[ss];
        for (int i = 0; i < ss; i++) segmentShards[i] = new SegmentShard(_network, _options.Segments, vs);

        var vehicleTasks = vehicleShards.Select((s, i) => Task.Run(() => s.RunAsync(vehicleChannels[i].Reader), cancel)).ToArray();
        var segmentTasks = segmentShards.Select((s, i) => Task.Run(() => s.RunAsync(segmentChannels[i].Reader), cancel)).ToArray();

        // Read on this task: decode, dead-letter, route each probe to its vehicle's shard.
        ReadSummary read;
        Dictionary<string, long> rejectedByReason;
        await using (var deadStream = new FileStream(Path.Combine(outDir, "dead-letter.ndjson"), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16))
        {
            using var dead = new DeadLetterWriter(deadStream, input);
            var router = new Router(vehicleChannels, dead, _options.AllowedLatenessMs, progress, FormatOf(input) == ProbeFormat.Binary);
            await using (var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            {
                ProbeFormat format = FormatOf(input);
                if (format == ProbeFormat.Csv) read = await Task.Run(() => new ProbeCsvReader(_ids).Read(stream, router), cancel).ConfigureAwait(false);
                else read = await new ProbeStreamReader(format, _ids).ReadAsync(stream, router, cancel).ConfigureAwait(false);
            }
            await router.CompleteAsync().ConfigureAwait(false);
            rejectedByReason = new Dictionary<string, long>(dead.ByReason);
        }
        await Task.WhenAll(vehicleTasks).ConfigureAwait(false);
        foreach (var shard in vehicleShards) shard.Dispose();
        foreach (var c in segmentChannels) c.Writer.Complete();
        await Task.WhenAll(segmentTasks).ConfigureAwait(false);

        // Outputs, sorted so that the same input gives the same bytes whatever the threads did.
        var alerts = vehicleShards.SelectMany(s => s.Alerts).Concat(segmentShards.SelectMany(s => s.Alerts)).OrderBy(a => a.TimeMs).ThenBy(a => a.AlertId, StringComparer.Ordinal).ThenBy(a => a.State).ToList();
        await using (var alertStream = new FileStream(Path.Combine(outDir, "alerts.ndjson"), FileMode.Create, FileAccess.Write))
        {
            using var writer = new AlertWriter(alertStream);
            foreach (var a in alerts) writer.Write(a);
        }
        using (var arrow = new AlertArrowWriter(Path.Combine(outDir, "alerts"))) foreach (var a in alerts) arrow.Append(a);
        var segments = segmentShards.SelectMany(s => s.Published).OrderBy(s => s.WindowStartMs).ThenBy(s => s.Edge).ToList();
        WriteSegments(Path.Combine(outDir, "segments.ndjson"), segments);
        using (var arrow = new SegmentArrowWriter(Path.Combine(outDir, "segments"), _network)) foreach (var s in segments) arrow.Append(s);
        WriteLate(Path.Combine(outDir, "late.ndjson"), vehicleShards.SelectMany(s => s.LateProbes).OrderBy(l => l.Record));

        var summary = new ReplaySummary
        {
            Read = read.Records,
            Accepted = read.Accepted,
            Rejected = read.Rejected,
            RejectedByReason = rejectedByReason,
            Late = vehicleShards.Sum(s => s.Stage.LateCount),
            Refused = vehicleShards.Sum(s => s.Stage.RefusedCount),
            Matched = vehicleShards.Sum(s => s.MatchedCount),
            Unmatched = vehicleShards.Sum(s => s.UnmatchedCount),
            SegmentWindows = segments.Count,
            SegmentWindowsSuppressed = segmentShards.Sum(s => s.Aggregator.Suppressed),
            AlertsByKind = alerts.Where(a => a.State == AlertState.Open).GroupBy(a => a.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (long)g.Count()),
            Seconds = clock.Elapsed.TotalSeconds,
        };
        await File.WriteAllTextAsync(Path.Combine(outDir, "summary.json"), JsonSerializer.Serialize(summary, s_json), cancel).ConfigureAwait(false);
        return summary;
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private void WriteSegments(string path, List<SegmentStat> segments)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var lines = new NdjsonWriter(stream);
        foreach (var s in segments)
        {
            SegmentRow.WriteFields(lines.Begin(), _network, in s);
            lines.End();
        }
    }

    private void WriteLate(string path, IEnumerable<(long Record, Probe Probe)> late)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var lines = new NdjsonWriter(stream);
        foreach (var (record, p) in late)
        {
            var w = lines.Begin();
            w.WriteString("vehicle_id"u8, _ids.Name(p.Vehicle));
            w.WriteNumber("time"u8, p.TimeMs);
            w.WriteNumber("lon"u8, p.Lon);
            w.WriteNumber("lat"u8, p.Lat);
            w.WriteNumber("record"u8, record);
            lines.End();
        }
    }

    private readonly record struct VehicleMessage(Probe Probe, RecordSource Source, long Watermark, bool IsWatermark);

    private readonly record struct SegmentMessage(int FromShard, int Vehicle, TraversedEdge Traversal, long Watermark, bool IsWatermark);

    /// <summary>The reading side: routes probes to vehicle shards, dead-letters bad records, advances the watermark.</summary>
    private sealed class Router(Channel<VehicleMessage>[] shards, DeadLetterWriter dead, long lateness, IProgress<long>? progress, bool binary) : IProbeHandler
    {
        private long _maxTime = long.MinValue;
        private long _count;

        public void OnProbe(in Probe probe, in RecordSource source)
        {
            if (probe.TimeMs > _maxTime) _maxTime = probe.TimeMs;
            Write(shards[probe.Vehicle % shards.Length], new VehicleMessage(probe, source, 0, false));
            if (++_count % 1024 == 0)
            {
                long watermark = _maxTime - lateness;
                foreach (var s in shards) Write(s, new VehicleMessage(default, default, watermark, true));
                progress?.Report(_count);
            }
        }

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw) => dead.Write(in error, in source, raw, binary);

        public async Task CompleteAsync()
        {
            foreach (var s in shards)
            {
                await s.Writer.WriteAsync(new VehicleMessage(default, default, long.MaxValue, true)).ConfigureAwait(false);
                s.Writer.Complete();
            }
        }

        // The reader is synchronous: wait for room when a shard's channel is full (back-pressure).
        private void Write(Channel<VehicleMessage> channel, VehicleMessage message)
        {
            if (channel.Writer.TryWrite(message)) return;
            channel.Writer.WriteAsync(message).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>One vehicle shard: matching and per-vehicle rules for the vehicles keyed to it, on one thread.</summary>
    private sealed class VehicleShard : IVehicleStageOutput, IDisposable
    {
        private readonly ReplayEngine _engine;
        private readonly int _index;
        private readonly Channel<SegmentMessage>[] _segments;
        private readonly MatchedProbeArrowWriter _matched;
        private readonly SpeedingRule _speeding;
        private readonly ZoneRule? _zones;
        private readonly VehicleConditionRules _conditions;
        private readonly WrongWayRule _wrongWay;
        private readonly long _matchDelayMs;
        private ushort[] _hazmat = new ushort[256];   // per vehicle: the dangerous goods it last reported (or the registry's)
        private readonly List<AlertEvent> _scratch = [];

        public VehicleShard(ReplayEngine engine, int index, string matchedDir, Channel<SegmentMessage>[] segments)
        {
            _engine = engine;
            _index = index;
            _segments = segments;
            Stage = new VehicleStage(engine._index, engine._options.Vehicles);
            // Matches trail the watermark by up to the matcher's lag and the idle flush: segment windows wait for them.
            _matchDelayMs = engine._options.Vehicles.IdleFlushMs + (long)(engine._options.Vehicles.MatcherByClass.Max(o => o?.LagSeconds ?? new MatcherOptions().LagSeconds) * 1000);
            _matched = new MatchedProbeArrowWriter(matchedDir, engine._network, engine._ids);
            _speeding = new SpeedingRule(engine._network, engine._ids);
            _zones = engine._zones is { Zones.Count: > 0 } z ? new ZoneRule(z, engine._ids, engine._registry) : null;
            _conditions = new VehicleConditionRules(engine._ids, engine._zones);
            _wrongWay = new WrongWayRule(engine._index, engine._ids);
        }

        public VehicleStage Stage { get; }
        public List<AlertEvent> Alerts { get; } = [];
        public List<(long Record, Probe Probe)> LateProbes { get; } = [];
        public long MatchedCount { get; private set; }
        public long UnmatchedCount { get; private set; }

        public async Task RunAsync(ChannelReader<VehicleMessage> reader)
        {
            await foreach (var m in reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (!m.IsWatermark)
                {
                    var (cls, hazmat) = VehicleRegistry.Resolve(_engine._registry, m.Probe);
                    // Set before the stage runs: its matches (this probe's or earlier ones') reach the rules at once.
                    if (m.Probe.Vehicle >= _hazmat.Length) Array.Resize(ref _hazmat, Math.Max(m.Probe.Vehicle + 1, _hazmat.Length * 2));
                    _hazmat[m.Probe.Vehicle] = hazmat;
                    // A late probe goes to the late output only: the rules judge what the stage takes.
                    if (!Stage.Accept(m.Probe, cls, m.Source, this)) continue;
                    _conditions.OnProbe(m.Probe, cls, hazmat, Alerts);
                    _wrongWay.OnProbe(m.Probe, cls, hazmat, Alerts);
                    continue;
                }
                if (m.Watermark == long.MaxValue) Stage.Complete(this);
                else
                {
                    Stage.AdvanceWatermark(m.Watermark, this);
                    _conditions.OnWatermark(m.Watermark, Alerts);
                }
                long forward = m.Watermark == long.MaxValue ? long.MaxValue : m.Watermark - _matchDelayMs;
                foreach (var s in _segments) await s.Writer.WriteAsync(new SegmentMessage(_index, 0, default, forward, true)).ConfigureAwait(false);
            }
            _matched.Flush();
        }

        public void Dispose() => _matched.Dispose();

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            _matched.Append(vehicle, in match);
            if (match.Edge < 0)
            {
                UnmatchedCount++;
                return;
            }
            MatchedCount++;
            ushort hazmat = vehicle < _hazmat.Length ? _hazmat[vehicle] : (ushort)0;
            _scratch.Clear();
            _speeding.OnMatched(vehicle, vehicleClass, hazmat, in match, _scratch);
            if (!match.Outlier) _zones?.OnPosition(vehicle, vehicleClass, hazmat, match.TimeMs, match.Lon, match.Lat, _scratch);
            Alerts.AddRange(_scratch);
            foreach (var t in route)
            {
                var channel = _segments[t.Edge % _segments.Length];
                var msg = new SegmentMessage(_index, vehicle, t, 0, false);
                if (!channel.Writer.TryWrite(msg)) channel.Writer.WriteAsync(msg).AsTask().GetAwaiter().GetResult();
            }
        }

        public void Late(in Probe probe, in RecordSource source) => LateProbes.Add((source.Record, probe));

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }

    /// <summary>One segment shard: windows for the segments keyed to it; its watermark is the least of the vehicle shards'.</summary>
    private sealed class SegmentShard(RoadNetwork network, SegmentOptions options, int vehicleShards)
    {
        private readonly long[] _watermarks = Enumerable.Repeat(long.MinValue, vehicleShards).ToArray();

        private readonly CongestionRule _congestion = new(network);
        private int _judged;

        public SegmentAggregator Aggregator { get; } = new(network, options);
        public List<SegmentStat> Published { get; } = [];
        public List<AlertEvent> Alerts { get; } = [];

        public async Task RunAsync(ChannelReader<SegmentMessage> reader)
        {
            await foreach (var m in reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (!m.IsWatermark)
                {
                    var t = m.Traversal;
                    Aggregator.Add(m.Vehicle, t.Edge, t.FromOffsetM, t.ToOffsetM, t.EnterTimeMs, t.ExitTimeMs);
                    continue;
                }
                _watermarks[m.FromShard] = Math.Max(_watermarks[m.FromShard], m.Watermark);
                Aggregator.Advance(_watermarks.Min(), Published);
                Judge();
            }
            Aggregator.Advance(long.MaxValue, Published);
            Judge();
        }

        // Closed windows, in window order, feed the congestion and incident alerts.
        private void Judge()
        {
            for (; _judged < Published.Count; _judged++) _congestion.OnWindow(Published[_judged], Alerts);
        }
    }
}
