using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
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
/// The engine over a file: decode (dead letters for bad records) → vehicle shards (one <see cref="VehiclePartition"/>
/// on a thread each, keyed by vehicle: map matching and the per-vehicle rules) → an exchange keyed by segment →
/// segment shards (one <see cref="SegmentPartition"/> each: windows, congestion level and alerts) → outputs. Stages are
/// joined by bounded channels (back-pressure); the event-time watermark, moved by the reader from the whole input,
/// flows with the data. Outputs are deterministic for an input and the same for any number of shards: alerts and
/// segment rows are written sorted, matched probes per shard in each vehicle's order.
/// </summary>
public sealed class ReplayEngine
{
    private readonly RoadNetwork _network;
    private readonly VehicleRegistry? _registry;
    private readonly ZoneSet? _zones;
    private readonly VehicleIds _ids;
    private readonly ReplayOptions _options;
    private readonly EdgeIndex _index;
    private readonly RoadGroups _roads;     // the exchange routes by road: a road's segments meet in one partition

    /// <param name="ids">The vehicle ids the registry was loaded with (the decoders intern into the same table).</param>
    public ReplayEngine(RoadNetwork network, VehicleRegistry? registry, ZoneSet? zones, VehicleIds ids, ReplayOptions? options = null)
    {
        _network = network;
        _registry = registry;
        _zones = zones;
        _ids = ids;
        _options = options ?? new ReplayOptions();
        _index = new EdgeIndex(network);
        _roads = new RoadGroups(network);
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

        // The reader moves one watermark for all vehicle shards (Router): their partitions do not move their own.
        var partitionOptions = new VehiclePartitionOptions { AllowedLatenessMs = _options.AllowedLatenessMs, WatermarkEveryProbes = 0, Vehicles = _options.Vehicles };
        var vehicleShards = new VehicleShard[vs];
        for (int i = 0; i < vs; i++)
        {
            vehicleShards[i] = new VehicleShard(new VehiclePartition(i, _index, _ids, _registry, _zones, partitionOptions),
                new MatchedProbeArrowWriter(Path.Combine(outDir, "matched", $"shard-{i}"), _network, _ids), segmentChannels, _roads);
        }
        var segmentShards = new SegmentShard[ss];
        for (int i = 0; i < ss; i++) segmentShards[i] = new SegmentShard(new SegmentPartition(_roads, i, vs, _options.Segments));

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
            Late = vehicleShards.Sum(s => s.Partition.Late),
            Refused = vehicleShards.Sum(s => s.Partition.Refused),
            Matched = vehicleShards.Sum(s => s.Partition.Matched),
            Unmatched = vehicleShards.Sum(s => s.Partition.Unmatched),
            SegmentWindows = segments.Count,
            SegmentWindowsSuppressed = segmentShards.Sum(s => s.Partition.Suppressed),
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

    private readonly record struct SegmentMessage(SegmentTraversal Traversal, SegmentWatermark Watermark, bool IsWatermark);

    /// <summary>Waits for room when a channel is full (back-pressure) from the synchronous reader and partitions.</summary>
    private static void Write<T>(Channel<T> channel, T message)
    {
        if (channel.Writer.TryWrite(message)) return;
        channel.Writer.WriteAsync(message).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// The reading side: routes probes to vehicle shards, dead-letters bad records, and moves one watermark for all
    /// shards from the whole input (so the outputs are the same for any number of shards).
    /// </summary>
    private sealed class Router(Channel<VehicleMessage>[] shards, DeadLetterWriter dead, long lateness, IProgress<long>? progress, bool binary) : IProbeHandler
    {
        private const int WatermarkEvery = 1024;

        private readonly EventTimeWatermark _clock = new(lateness, WatermarkEvery);

        public void OnProbe(in Probe probe, in RecordSource source)
        {
            bool due = _clock.Observe(probe.TimeMs, out long watermark);
            Write(shards[probe.Vehicle % shards.Length], new VehicleMessage(probe, source, 0, false));
            if (!due) return;
            foreach (var s in shards) Write(s, new VehicleMessage(default, default, watermark, true));
            progress?.Report(_clock.Probes);
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
    }

    /// <summary>One vehicle shard: a <see cref="VehiclePartition"/> on its own thread, its outputs to the files and the exchange.</summary>
    private sealed class VehicleShard(VehiclePartition partition, MatchedProbeArrowWriter matched, Channel<SegmentMessage>[] segments, RoadGroups roads)
        : IVehiclePartitionOutput, IDisposable
    {
        public VehiclePartition Partition { get; } = partition;
        public List<AlertEvent> Alerts { get; } = [];
        public List<(long Record, Probe Probe)> LateProbes { get; } = [];

        public async Task RunAsync(ChannelReader<VehicleMessage> reader)
        {
            await foreach (var m in reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (!m.IsWatermark) Partition.OnProbe(m.Probe, m.Source, this);
                else if (m.Watermark == long.MaxValue) Partition.OnEndOfInput(this);
                else Partition.AdvanceWatermark(m.Watermark, this);
            }
            matched.Flush();
        }

        public void Dispose() => matched.Dispose();

        public void Alert(AlertEvent alert) => Alerts.Add(alert);

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => matched.Append(vehicle, in match);

        public void Traversal(in SegmentTraversal traversal) =>
            Write(segments[roads.PartitionOf(traversal.Edge.Edge, segments.Length)], new SegmentMessage(traversal, default, false));

        public void Watermark(in SegmentWatermark watermark)
        {
            foreach (var s in segments) Write(s, new SegmentMessage(default, watermark, true));
        }

        public void Late(in Probe probe, in RecordSource source) => LateProbes.Add((source.Record, probe));

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }

    /// <summary>One segment shard: a <see cref="SegmentPartition"/> on its own thread, its windows and alerts kept for the files.</summary>
    private sealed class SegmentShard(SegmentPartition partition) : ISegmentPartitionOutput
    {
        public SegmentPartition Partition { get; } = partition;
        public List<SegmentStat> Published { get; } = [];
        public List<AlertEvent> Alerts { get; } = [];

        public async Task RunAsync(ChannelReader<SegmentMessage> reader)
        {
            await foreach (var m in reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (m.IsWatermark) Partition.OnWatermark(m.Watermark, this);
                else Partition.OnTraversal(m.Traversal);
            }
            Partition.OnEndOfInput(this);
        }

        public void Window(in SegmentStat window) => Published.Add(window);

        public void Alert(AlertEvent alert) => Alerts.Add(alert);
    }
}
