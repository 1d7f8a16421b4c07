using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Encodings.Web;
using System.Text.Json;
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
    public int VehicleShards { get; init; } = Environment.ProcessorCount;

    /// <summary>Segment shards, one thread each (keyed by segment), fed through the exchange.</summary>
    public int SegmentShards { get; init; } = 1;

    /// <summary>The watermark trails the newest event time by this much; probes behind it are late.</summary>
    public long AllowedLatenessMs { get; init; } = 30_000;

    /// <summary>Messages each queue between stages holds at most (back-pressure), in batches of <see cref="BatchSize"/>.</summary>
    public int ChannelCapacity { get; init; } = 8192;

    /// <summary>Messages handed from one stage to the next at once (probes to a vehicle shard, traversals to a segment shard).</summary>
    public int BatchSize { get; init; } = 512;

    public VehicleStageOptions Vehicles { get; init; } = new();

    public SegmentOptions Segments { get; init; } = new();

    /// <summary>
    /// The time zone (tz database id) of the day the night limits and the low-volume hours are judged in, for the speeding
    /// rule and the segments alike; null: the network's own (<see cref="LocalTime.ZoneIdOf"/>).
    /// </summary>
    public string? TimeZone { get; init; }

    /// <summary>The order the file's probes are replayed in (<see cref="InputOrder"/>).</summary>
    public InputOrder Order { get; init; } = InputOrder.Auto;

    /// <summary>
    /// <see cref="InputOrder.Auto"/>: a file with more than this share of its records behind the watermark in file order
    /// was not written in time order (one vehicle's trace after another's) and is replayed again, sorted by event time.
    /// </summary>
    public double ReorderLateShare { get; init; } = 0.1;

    /// <summary>
    /// 0: read as fast as the engine takes the probes. Otherwise the recorded speed times this: a probe is handed on
    /// when its event time after the first probe's, divided by this, has passed (to the millisecond: a live feed, for
    /// latency measurements).
    /// </summary>
    public double Speed { get; init; }

    /// <summary>Sees every probe as it is read and every alert as it is handed to the output (measurements); null: none.</summary>
    public IReplayObserver? Observer { get; init; }
}

/// <summary>
/// Watches a replay from inside (the end-to-end harness measures latency with it). Called on the engine's threads:
/// <see cref="ProbeRead"/> on the reading thread, <see cref="AlertRaised"/> on the shard that raised the alert.
/// </summary>
public interface IReplayObserver
{
    /// <summary>A probe read and decoded, right before it is handed to its vehicle shard.</summary>
    void ProbeRead(in Probe probe, in RecordSource source);

    /// <summary>
    /// An alert event handed to the output. <paramref name="record"/> is the input record whose processing raised it,
    /// 0 when the watermark did (signal lost, idle vehicles' last matches, closed segment windows).
    /// </summary>
    void AlertRaised(AlertEvent alert, long record);
}

/// <summary>The order a replay hands a file's probes on in.</summary>
public enum InputOrder
{
    /// <summary>
    /// File order, as a stream would bring them (probes behind the watermark are late); but a file with more than
    /// <see cref="ReplayOptions.ReorderLateShare"/> of its records late is replayed again in <see cref="Time"/> order,
    /// unless the replay is paced (<see cref="ReplayOptions.Speed"/>): a live feed is not sorted afterwards.
    /// </summary>
    Auto,

    /// <summary>File order, whatever is late.</summary>
    File,

    /// <summary>Sorted by event time (ties in file order): every probe is held until the file is read.</summary>
    Time,
}

/// <summary>What a replay did, printed at the end and written as <c>summary.json</c>.</summary>
public sealed record ReplaySummary
{
    /// <summary>
    /// The time zone of the network's day (<see cref="LocalTime.ZoneIdOf"/>): the night limits and the low-volume hours.
    /// Zone <c>hours</c> are UTC+8 wherever the network lies.
    /// </summary>
    public string TimeZone { get; init; } = LocalTime.ChinaZoneId;

    public long Read { get; init; }
    public long Accepted { get; init; }
    public long Rejected { get; init; }
    public IReadOnlyDictionary<string, long> RejectedByReason { get; init; } = new Dictionary<string, long>();
    public long Late { get; init; }

    /// <summary>The probes were replayed sorted by event time (<see cref="InputOrder"/>).</summary>
    public bool SortedByTime { get; init; }

    /// <summary>When a file was replayed again sorted (<see cref="InputOrder.Auto"/>): its records behind the watermark in file order.</summary>
    public long LateInFileOrder { get; init; }

    public long Refused { get; init; }
    public long Matched { get; init; }
    public long Unmatched { get; init; }

    /// <summary>Probes without a fix (<c>fix: false</c>): judged by the rules on the vehicle's reports, not matched.</summary>
    public long NoFix { get; init; }
    public long SegmentWindows { get; init; }
    public long SegmentWindowsSuppressed { get; init; }

    /// <summary>Traversals that reached their segment after their own vehicle shard's watermark had passed their window (not aggregated).</summary>
    public long LateTraversals { get; init; }

    /// <summary>Sliding views published (<c>segments-5m</c>) and those below the minimum sample over their span.</summary>
    public long SegmentViews { get; init; }
    public long SegmentViewsSuppressed { get; init; }

    /// <summary>The network index over the run's windows (<c>tpi.ndjson</c>).</summary>
    public NetworkIndexSummary Tpi { get; init; } = new();
    public IReadOnlyDictionary<string, long> AlertsByKind { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// Alert events written after others they sort before (<c>alerts.ndjson</c> is written as the run goes, in order of
    /// time, alert id and state): 0 unless a shard raised an alert behind what it had said was final.
    /// </summary>
    public long AlertsOutOfOrder { get; init; }
    public double Seconds { get; init; }
    public double ProbesPerSecond => Seconds > 0 ? Read / Seconds : 0;
}

/// <summary>The network index over a run: windows with an index, their mean and the peak (the first window that reached it).</summary>
public sealed record NetworkIndexSummary
{
    public int Windows { get; init; }
    public double Mean { get; init; }
    public double Peak { get; init; }
    public string? PeakWindowStart { get; init; }

    public static NetworkIndexSummary Of(IReadOnlyList<NetworkIndexValue> series)
    {
        if (series.Count == 0) return new NetworkIndexSummary();
        NetworkIndexValue peak = series[0];
        double sum = 0;
        foreach (var v in series)
        {
            sum += v.Tpi;
            if (v.Tpi > peak.Tpi) peak = v;
        }
        return new NetworkIndexSummary { Windows = series.Count, Mean = Math.Round(sum / series.Count, 2), Peak = peak.Tpi, PeakWindowStart = AlertWriter.Rfc3339(peak.WindowStartMs) };
    }
}

/// <summary>
/// The engine over a file: decode (dead letters for bad records) → vehicle shards (one <see cref="VehiclePartition"/>
/// on a thread each, keyed by vehicle: map matching and the per-vehicle rules) → an exchange keyed by segment →
/// segment shards (one <see cref="SegmentPartition"/> each: windows, congestion level and alerts) → outputs. Stages are
/// joined by bounded queues that hand over batches of messages (<see cref="BatchQueue{T}"/>: back-pressure, nothing allocated
/// per message); the event-time watermark, moved by the reader from the whole input,
/// flows with the data. Outputs are deterministic for an input and the same for any number of shards: alerts, segment
/// rows and the network index are written as the run goes, as the shards make them final, in the order of a sort of the
/// whole run (<see cref="AlertMerge"/>, <see cref="SegmentRowMerge"/>, <see cref="NetworkIndexMerge"/>); matched probes
/// per shard in each vehicle's order; late probes by record (<see cref="LateMerge"/>: as the run goes for a file handed on in
/// its order, at the end for one sorted by time).
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
        _roads = new RoadGroups(network, _index);
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
        if (!File.Exists(input))
        {
            throw Directory.Exists(input)
                ? new FileNotFoundException($"input is a folder, not a probe file: {input}", input)
                : new FileNotFoundException($"input not found: {input}", input);
        }
        try
        {
            Directory.CreateDirectory(outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the output folder {outDir}: {e.Message}", e);
        }
        var clock = Stopwatch.StartNew();
        // A run into a folder an earlier run wrote: its rolling files would outlast this run's (more of them, or another
        // shard's), and a reader of matched/*/*.arrow would read both runs.
        ClearOutputs(outDir);
        var summary = await RunOnceAsync(input, outDir, _options.Order == InputOrder.Time, progress, cancel).ConfigureAwait(false);
        if (_options.Order == InputOrder.Auto && _options.Speed == 0 && summary.Late > summary.Read * _options.ReorderLateShare)
        {
            // Replayed as a stream, most of the file would be late: it lists traces one after another, not probes in time order.
            ClearOutputs(outDir);
            long lateAsListed = summary.Late;
            summary = await RunOnceAsync(input, outDir, sorted: true, progress, cancel).ConfigureAwait(false) with { LateInFileOrder = lateAsListed };
        }
        summary = summary with { Seconds = clock.Elapsed.TotalSeconds }; // both runs, when the file was replayed again
        await File.WriteAllTextAsync(Path.Combine(outDir, "summary.json"), JsonSerializer.Serialize(summary, s_json), cancel).ConfigureAwait(false);
        return summary;
    }

    /// <summary>
    /// Removes the rolling Arrow files a run wrote (its single files are written anew by the next): only files named as a
    /// run names them, in the folders it writes them to, so that an --out pointing at a folder of the user's own loses
    /// nothing else.
    /// </summary>
    private void ClearOutputs(string outDir)
    {
        // Each folder's files are named after it (matched/shard-0/matched-000001.arrow, segments/segments-000001.arrow).
        foreach (string folder in new[] { "matched", "segments", "alerts", _options.Segments.SlidingName })
        {
            string path = Path.Combine(outDir, folder);
            if (!Directory.Exists(path)) continue;
            foreach (string file in Directory.GetFiles(path, $"{folder}-*.arrow", SearchOption.AllDirectories)) File.Delete(file);
        }
    }

    private async Task<ReplaySummary> RunOnceAsync(string input, string outDir, bool sorted, IProgress<long>? progress, CancellationToken cancel)
    {
        Directory.CreateDirectory(outDir);
        int vs = _options.VehicleShards, ss = _options.SegmentShards;
        int batches = Math.Max(2, _options.ChannelCapacity / _options.BatchSize);
        var vehicleQueues = new BatchQueue<VehicleMessage>[vs];
        var segmentQueues = new BatchQueue<SegmentMessage>[ss];
        for (int i = 0; i < vs; i++) vehicleQueues[i] = new BatchQueue<VehicleMessage>(batches, _options.BatchSize);
        // Every vehicle shard sends to every segment shard: room for each to fill one batch while others wait.
        for (int i = 0; i < ss; i++) segmentQueues[i] = new BatchQueue<SegmentMessage>(Math.Max(batches, vs + 2), _options.BatchSize);

        // The reader moves one watermark for all vehicle shards (Router): their partitions do not move their own.
        var partitionOptions = new VehiclePartitionOptions
        {
            AllowedLatenessMs = _options.AllowedLatenessMs, WatermarkEveryProbes = 0, Vehicles = _options.Vehicles, SegmentWindowMs = _options.Segments.WindowMs,
            Speeding = new SpeedingOptions { TimeZone = _options.TimeZone },
        };
        var segmentOptions = _options.Segments with { TimeZone = _options.TimeZone ?? _options.Segments.TimeZone };
        // Alerts are written as every shard makes them final, in the order of a whole run's sort: vehicle shards 0 to vs - 1,
        // then the segment shards.
        using var alerts = new AlertMerge(vs + ss, outDir);
        // Late and refused probes by record: as the shards pass them when the file is handed on in its order.
        using var late = new LateMerge(vs, Path.Combine(outDir, "late.ndjson"), _ids, streaming: !sorted);
        var vehicleShards = new VehicleShard[vs];
        for (int i = 0; i < vs; i++)
        {
            vehicleShards[i] = new VehicleShard(new VehiclePartition(i, _index, _ids, _registry, _zones, partitionOptions),
                new MatchedProbeArrowWriter(Path.Combine(outDir, "matched", $"shard-{i}"), _network, _ids), segmentQueues, alerts, late, i, _options.Observer, _roads);
        }
        // Segment rows and views are written as the shards make them final, in the order of a whole run's sort.
        using var windowRows = new SegmentRowMerge(_network, ss, outDir, "segments");
        using var viewRows = _options.Segments.SlidingWindows > 0 ? new SegmentRowMerge(_network, ss, outDir, _options.Segments.SlidingName) : null;
        using var networkIndex = new NetworkIndexMerge(ss, Path.Combine(outDir, "tpi.ndjson"));
        var segmentShards = new SegmentShard[ss];
        for (int i = 0; i < ss; i++)
        {
            segmentShards[i] = new SegmentShard(new SegmentPartition(_roads, i, vs, segmentOptions), i, windowRows, viewRows, networkIndex, alerts, vs + i,
                _options.Observer);
        }

        // One thread per shard, each its own (not the thread pool's): a shard blocks while it waits for a batch.
        var vehicleTasks = vehicleShards.Select((s, i) => Dedicated(() => s.Run(vehicleQueues[i]), cancel)).ToArray();
        var segmentTasks = segmentShards.Select((s, i) => Dedicated(() => s.Run(segmentQueues[i]), cancel)).ToArray();

        // Read on this task: decode, dead-letter, route each probe to its vehicle's shard.
        ReadSummary read = default;
        Dictionary<string, long> rejectedByReason = [];
        bool readerStopped = false;
        try
        {
            await using var deadStream = new FileStream(Path.Combine(outDir, "dead-letter.ndjson"), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            using var dead = new DeadLetterWriter(deadStream, input);
            var router = new Router(vehicleQueues, dead, _options.AllowedLatenessMs, progress, FormatOf(input) == ProbeFormat.Binary, _options.Speed, _options.Observer, cancel);
            var timeOrder = sorted ? new TimeOrder(router) : null;
            IProbeHandler handler = timeOrder != null ? timeOrder : router;
            await using (var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            {
                ProbeFormat format = FormatOf(input);
                if (format == ProbeFormat.Csv) read = await Task.Run(() => new ProbeCsvReader(_ids).Read(stream, handler), cancel).ConfigureAwait(false);
                else read = await new ProbeStreamReader(format, _ids).ReadAsync(stream, handler, cancel).ConfigureAwait(false);
            }
            timeOrder?.Release();
            router.Complete();
            rejectedByReason = new Dictionary<string, long>(dead.ByReason);
        }
        catch (ConsumerFailedException)
        {
            readerStopped = true;   // a vehicle shard failed: its exception, thrown below, is the cause
        }
        finally
        {
            // Whatever happened to the reader, the shards end once they have drained their queues.
            foreach (var q in vehicleQueues) q.Complete();
        }
        try
        {
            await Task.WhenAll(vehicleTasks).ConfigureAwait(false);
        }
        catch (Exception) when (vehicleTasks.Any(t => t.IsFaulted))
        {
            // Observed below with the segment shards': a segment shard's failure stops the vehicle shards sending to it.
        }
        finally
        {
            foreach (var q in segmentQueues) q.Complete();
        }
        foreach (var shard in vehicleShards) shard.Dispose();
        try
        {
            await Task.WhenAll(segmentTasks).ConfigureAwait(false);
        }
        catch (Exception) when (segmentTasks.Any(t => t.IsFaulted))
        {
            // Thrown below, as the cause.
        }
        ThrowCause(segmentTasks, vehicleTasks);
        if (readerStopped) throw new InvalidOperationException("the reader stopped on a failed vehicle shard, but no shard failed");

        alerts.Dispose();   // every shard has said it is done: every alert is written
        // The other outputs, sorted so that the same input gives the same bytes whatever the threads did.
        networkIndex.Dispose();   // every segment shard is done: every window is written
        IReadOnlyList<NetworkIndexValue> tpi = networkIndex.Series;
        late.Dispose();   // what is left, by record

        var summary = new ReplaySummary
        {
            TimeZone = _options.TimeZone ?? LocalTime.ZoneIdOf(_network),
            Read = read.Records,
            Accepted = read.Accepted,
            Rejected = read.Rejected,
            RejectedByReason = rejectedByReason,
            Late = vehicleShards.Sum(s => s.Partition.Late),
            SortedByTime = sorted,
            Refused = vehicleShards.Sum(s => s.Partition.Refused),
            Matched = vehicleShards.Sum(s => s.Partition.Matched),
            Unmatched = vehicleShards.Sum(s => s.Partition.Unmatched),
            NoFix = vehicleShards.Sum(s => s.Partition.NoFix),
            SegmentWindows = windowRows.Rows,
            SegmentWindowsSuppressed = segmentShards.Sum(s => s.Partition.Suppressed),
            LateTraversals = segmentShards.Sum(s => s.Partition.LateTraversals),
            SegmentViews = viewRows?.Rows ?? 0,
            SegmentViewsSuppressed = segmentShards.Sum(s => s.Partition.ViewsSuppressed),
            Tpi = NetworkIndexSummary.Of(tpi),
            AlertsByKind = new Dictionary<string, long>(alerts.OpenedByKind),
            AlertsOutOfOrder = alerts.OutOfOrder,
        };
        return summary;
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// Holds every accepted probe of a file, then hands them on sorted by event time, ties in file order
    /// (<see cref="InputOrder.Time"/>); rejected records go straight on.
    /// </summary>
    private sealed class TimeOrder(IProbeHandler next) : IProbeHandler
    {
        private readonly List<(Probe Probe, RecordSource Source)> _held = [];

        public void OnProbe(in Probe probe, in RecordSource source) => _held.Add((probe, source));

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw) => next.OnRejected(in error, in source, raw);

        public void Release()
        {
            var held = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_held);
            held.Sort(static (a, b) => a.Probe.TimeMs != b.Probe.TimeMs ? a.Probe.TimeMs.CompareTo(b.Probe.TimeMs) : a.Source.Record.CompareTo(b.Source.Record));
            foreach (ref readonly var h in held) next.OnProbe(in h.Probe, in h.Source);
            _held.Clear();
        }
    }

    /// <summary>A probe or a watermark for a vehicle shard (fields, not properties: read in place by reference).</summary>
    private readonly struct VehicleMessage(Probe probe, RecordSource source, long watermark, bool isWatermark)
    {
        public readonly Probe Probe = probe;
        public readonly RecordSource Source = source;
        public readonly long Watermark = watermark;
        public readonly bool IsWatermark = isWatermark;
    }

    /// <summary>
    /// A traversal or a watermark for a segment shard, in 64 bytes: a watermark rides in a traversal's fields (its source
    /// and sequence in theirs, its time as the exit time). Fields written one by one straight into the batch, and read in
    /// place (a mutable struct: the vehicle shard fills it).
    /// </summary>
    private struct SegmentMessage
    {
        public int Source;
        public int VehicleKey;
        public long Sequence;
        public TraversedEdge Edge;
        public bool IsWatermark;

        public readonly SegmentWatermark Watermark => new(Source, Sequence, Edge.ExitTimeMs);
    }

    /// <summary>
    /// Throws the first failure that is a cause, not a consequence: a stage fails, its queue aborts, and the stages feeding it
    /// stop with <see cref="ConsumerFailedException"/>, so the deepest stage's own exception is the one to report
    /// (segment shards first, then vehicle shards).
    /// </summary>
    private static void ThrowCause(params Task[][] stages)
    {
        Exception? consequence = null;
        foreach (Task[] tasks in stages)
        {
            foreach (Task t in tasks)
            {
                if (t.Exception is not { } failure) continue;
                foreach (Exception e in failure.Flatten().InnerExceptions)
                {
                    if (e is not ConsumerFailedException) ExceptionDispatchInfo.Throw(e);
                    consequence ??= e;
                }
            }
        }
        if (consequence != null) ExceptionDispatchInfo.Throw(consequence);
    }

    /// <summary>Runs a shard's loop on a thread of its own; the task ends with it.</summary>
    private static Task Dedicated(Action loop, CancellationToken cancel) =>
        Task.Factory.StartNew(loop, cancel, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);

    /// <summary>
    /// The reading side: routes probes to vehicle shards in batches, dead-letters bad records, and moves one watermark
    /// for all shards from the whole input (so the outputs are the same for any number of shards).
    /// </summary>
    private sealed class Router : IProbeHandler
    {
        private const int WatermarkEvery = 1024;

        private readonly BatchQueue<VehicleMessage>[] _shards;
        private readonly Batch<VehicleMessage>[] _filling;  // per shard: the batch being filled
        private readonly DeadLetterWriter _dead;
        private readonly IProgress<long>? _progress;
        private readonly bool _binary;
        private readonly double _speed;
        private readonly IReplayObserver? _observer;
        private readonly EventTimeWatermark _clock;
        private long _firstEventMs = long.MinValue;  // paced replay: the first probe's event time …
        private long _firstWall;                     // … and when it was read (Stopwatch ticks)
        private readonly CancellationToken _cancel;  // a paced replay's waits end on it

        public Router(BatchQueue<VehicleMessage>[] shards, DeadLetterWriter dead, long lateness, IProgress<long>? progress, bool binary,
            double speed, IReplayObserver? observer, CancellationToken cancel)
        {
            _cancel = cancel;
            _shards = shards;
            _filling = [.. shards.Select(s => s.Rent())];
            _dead = dead;
            _progress = progress;
            _binary = binary;
            _speed = speed;
            _observer = observer;
            _clock = new EventTimeWatermark(lateness, WatermarkEvery);
        }

        public void OnProbe(in Probe probe, in RecordSource source)
        {
            if (_speed > 0) Pace(probe.TimeMs);
            _observer?.ProbeRead(in probe, in source);
            bool due = _clock.Observe(probe.Vehicle, probe.TimeMs, out long watermark);
            Add(probe.Vehicle % _shards.Length, new VehicleMessage(probe, source, 0, false));
            if (!due) return;
            // Stamped with the record read last: a shard past it has every probe up to it (late.ndjson's order).
            for (int i = 0; i < _shards.Length; i++) Add(i, new VehicleMessage(default, source, watermark, true));
            _progress?.Report(_clock.Probes);
        }

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw) => _dead.Write(in error, in source, raw, _binary);

        /// <summary>
        /// The end of the input: the watermark its newest time allows (what went silent long enough before the end is
        /// judged, as it would be had the input gone on), then the final one, to every shard, and the last batches sent.
        /// </summary>
        public void Complete()
        {
            long last = _clock.WatermarkMs;
            for (int i = 0; i < _shards.Length; i++)
            {
                if (last != long.MinValue) Add(i, new VehicleMessage(default, default, last, true));
                _filling[i].Add(new VehicleMessage(default, default, long.MaxValue, true));
                _shards[i].Send(_filling[i]);
                _filling[i] = null!;
            }
        }

        private void Add(int shard, in VehicleMessage message)
        {
            Batch<VehicleMessage> batch = _filling[shard];
            batch.Add(in message);
            if (!batch.IsFull) return;
            _shards[shard].Send(batch);
            _filling[shard] = _shards[shard].Rent();
        }

        /// <summary>Sends the batches being filled as they are (before the reader waits: nothing read stays behind).</summary>
        private void Flush()
        {
            for (int i = 0; i < _shards.Length; i++)
            {
                if (_filling[i].Count == 0) continue;
                _shards[i].Send(_filling[i]);
                _filling[i] = _shards[i].Rent();
            }
        }

        /// <summary>Waits until a probe's event time, relative to the first probe's and divided by the speed, has passed on the wall clock.</summary>
        private void Pace(long timeMs)
        {
            if (_firstEventMs == long.MinValue)
            {
                _firstEventMs = timeMs;
                _firstWall = Stopwatch.GetTimestamp();
                return;
            }
            long due = _firstWall + (long)((timeMs - _firstEventMs) / _speed * Stopwatch.Frequency / 1000);
            if (due <= Stopwatch.GetTimestamp()) return;
            Flush();
            // Sleeps, never spins (a spinning reader would take a core from the shards): a probe may be handed on up to
            // a millisecond before its time. A cancellation (Ctrl+C, SIGTERM) ends the wait: an hour-long paced replay
            // otherwise slept through it until its next probe's time.
            while (true)
            {
                long earlyMs = (due - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                if (earlyMs < 1) return;
                if (_cancel.WaitHandle.WaitOne((int)Math.Min(earlyMs, 1000))) _cancel.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>
    /// One vehicle shard: a <see cref="VehiclePartition"/> on its own thread, its outputs to the files and the exchange.
    /// Traversals and watermarks for the segment shards are batched too, and what a batch of probes caused is sent
    /// when that batch is done, so nothing waits for a batch to fill.
    /// </summary>
    private sealed class VehicleShard(VehiclePartition partition, MatchedProbeArrowWriter matched, BatchQueue<SegmentMessage>[] segments, AlertMerge alerts,
        LateMerge late, int index, IReplayObserver? observer, RoadGroups roads)
        : IVehiclePartitionOutput, IDisposable
    {
        private readonly Batch<SegmentMessage>?[] _filling = new Batch<SegmentMessage>?[segments.Length]; // per segment shard
        private long _record;   // the input record being processed (0: a watermark), for the observer

        private long _through;  // the last input record handed to this shard (a probe's, or the one a watermark was sent after)

        public VehiclePartition Partition { get; } = partition;

        public void Run(BatchQueue<VehicleMessage> input)
        {
            try
            {
                while (input.TryTake(out var batch))
                {
                    ReadOnlySpan<VehicleMessage> messages = batch.Messages;
                    for (int i = 0; i < messages.Length; i++)
                    {
                        // The state of the vehicles two probes and one probe ahead, so that its cache misses overlap this probe's work.
                        if (i + 2 < messages.Length && !messages[i + 2].IsWatermark) Partition.PrefetchState(messages[i + 2].Probe.Vehicle);
                        if (i + 1 < messages.Length && !messages[i + 1].IsWatermark) Partition.PrefetchStateContents(messages[i + 1].Probe.Vehicle);
                        ref readonly VehicleMessage m = ref messages[i];
                        _record = m.IsWatermark ? 0 : m.Source.Record;
                        if (m.Source.Record > _through) _through = m.Source.Record;
                        if (!m.IsWatermark) Partition.OnProbe(in m.Probe, in m.Source, this);
                        else if (m.Watermark == long.MaxValue) Partition.OnEndOfInput(this);
                        else Partition.AdvanceWatermark(m.Watermark, this);
                    }
                    input.Return(batch);
                    Flush();
                    alerts.Through(index, Partition.AlertFloorMs);
                    late.Through(index, _through);
                }
                matched.Flush();
                alerts.Through(index, long.MaxValue);
                late.Through(index, long.MaxValue);
            }
            catch
            {
                input.Abort();
                throw;
            }
        }

        public void Dispose() => matched.Dispose();

        public void Alert(AlertEvent alert)
        {
            alerts.Add(index, alert);
            observer?.AlertRaised(alert, _record);
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => matched.Append(vehicle, in match);

        public void Traversal(in SegmentTraversal traversal) => Traversal(traversal.Source, traversal.Sequence, traversal.VehicleKey, traversal.Edge);

        public void Traversal(int source, long sequence, int vehicleKey, in TraversedEdge edge)
        {
            // One segment shard (the default) takes every traversal: no look-up of the segment's road.
            int shard = segments.Length == 1 ? 0 : roads.PartitionOf(edge.Edge, segments.Length);
            ref SegmentMessage m = ref Next(shard);
            m.Source = source;
            m.VehicleKey = vehicleKey;
            m.Sequence = sequence;
            m.Edge = edge;
            m.IsWatermark = false;
            Sent(shard);
        }

        public void Watermark(in SegmentWatermark watermark)
        {
            for (int i = 0; i < segments.Length; i++)
            {
                ref SegmentMessage m = ref Next(i);
                m.Source = watermark.Source;
                m.VehicleKey = 0;
                m.Sequence = watermark.Sequence;
                m.Edge = new TraversedEdge(-1, 0, 0, 0, watermark.WatermarkMs);
                m.IsWatermark = true;
                Sent(i);
            }
        }

        public void Late(in Probe probe, in RecordSource source) => late.Add(index, source.Record, in probe, PushResult.Accepted);

        public void Refused(in Probe probe, in RecordSource source, PushResult reason) => late.Add(index, source.Record, in probe, reason);

        /// <summary>The next message of a shard's batch, to be filled in place; <see cref="Sent"/> counts it.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        private ref SegmentMessage Next(int shard)
        {
            Batch<SegmentMessage> batch = _filling[shard] ??= segments[shard].Rent();
            return ref batch.Items[batch.Count];
        }

        /// <summary>Counts the message <see cref="Next"/> gave and filled; a full batch is sent.</summary>
        private void Sent(int shard)
        {
            Batch<SegmentMessage> batch = _filling[shard]!;
            if (++batch.Count < batch.Items.Length) return;
            segments[shard].Send(batch);
            _filling[shard] = null;
        }

        private void Flush()
        {
            for (int i = 0; i < segments.Length; i++)
            {
                if (_filling[i] is not { } batch) continue;
                segments[i].Send(batch);
                _filling[i] = null;
            }
        }
    }

    /// <summary>
    /// One segment shard: a <see cref="SegmentPartition"/> on its own thread. Its windows and views go to the merges as they
    /// are published, and are handed over after each batch of messages, as are its alerts and its parts of the network index.
    /// </summary>
    private sealed class SegmentShard(SegmentPartition partition, int index, SegmentRowMerge windows, SegmentRowMerge? views, NetworkIndexMerge networkIndex,
        AlertMerge alerts, int alertShard, IReplayObserver? observer)
        : ISegmentPartitionOutput
    {
        public SegmentPartition Partition { get; } = partition;

        public void Run(BatchQueue<SegmentMessage> input)
        {
            try
            {
                while (input.TryTake(out var batch))
                {
                    ReadOnlySpan<SegmentMessage> messages = batch.Messages;
                    for (int i = 0; i < messages.Length; i++)
                    {
                        // The window of the traversal two ahead, so that its cache misses overlap the work on this one and the next.
                        if (i + 2 < messages.Length && !messages[i + 2].IsWatermark) Partition.Prefetch(in messages[i + 2].Edge);
                        ref readonly SegmentMessage m = ref messages[i];
                        if (m.IsWatermark) Partition.OnWatermark(m.Watermark, this);
                        else Partition.OnTraversal(m.Source, m.Sequence, m.VehicleKey, in m.Edge);
                    }
                    input.Return(batch);
                    Through(Partition.WatermarkMs);
                    alerts.Through(alertShard, Partition.AlertFloorMs);
                }
                Partition.OnEndOfInput(this);
                Through(long.MaxValue);
                alerts.Through(alertShard, long.MaxValue);
            }
            catch
            {
                input.Abort();
                throw;
            }
        }

        private void Through(long watermarkMs)
        {
            windows.Through(index, watermarkMs);
            views?.Through(index, watermarkMs);
            networkIndex.Through(index, watermarkMs);
        }

        public void Window(in SegmentStat window) => windows.Add(index, in window);

        public void View(in SegmentStat view) => views?.Add(index, in view);

        public void Network(in NetworkSums sums) => networkIndex.Add(index, in sums);

        public void Alert(AlertEvent alert)
        {
            alerts.Add(alertShard, alert);
            observer?.AlertRaised(alert, 0);
        }
    }
}
