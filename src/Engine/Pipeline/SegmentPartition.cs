using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Rules;
using Traffic.Engine.Segments;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Engine.Pipeline;

/// <summary>What a <see cref="SegmentPartition"/> publishes, as it happens, in a deterministic order.</summary>
public interface ISegmentPartitionOutput
{
    /// <summary>A closed segment window with enough distinct vehicles (windows close in window order, then by edge).</summary>
    void Window(in SegmentStat window);

    /// <summary>A lifecycle event of a <c>congestion</c> or <c>incident</c> alert, right after the window that caused it.</summary>
    void Alert(AlertEvent alert);

    /// <summary>
    /// A sliding view of a segment (<see cref="SegmentOptions.SlidingWindows"/> windows up to a window end) with enough
    /// distinct vehicles over its span: by end, then edge, after the windows (and their alerts and network sums) that end
    /// with it and before those that end later.
    /// </summary>
    void View(in SegmentStat view);

    /// <summary>
    /// This partition's part of the network index of a window with published rows: its published segments summed per road
    /// grade, after that window's rows (windows in order). The network's index sums every partition's part of the window.
    /// </summary>
    void Network(in NetworkSums sums);
}

/// <summary>
/// The processor of one partition of the segment exchange (keyed by road: <see cref="RoadGroups.PartitionOf"/>, so
/// that one partition sees every segment of a road and can join them into runs): it owns the windows, the free-flow
/// learning and the congestion state of its segments and runs on one thread. It takes traversal and watermark
/// messages from any number of vehicle partitions (the sources, numbered 0 to <see cref="Sources"/> − 1), drops a
/// message whose sequence number it has already passed for that source (what a restored sender sends again), adds
/// traversals to their windows (<see cref="SegmentAggregator"/>), and when the least watermark of all sources moves
/// on, closes the windows behind it and publishes them with the congestion and incident alerts they raise
/// (<see cref="CongestionRule"/>). A source that has said it is idle (<see cref="OnIdle"/>) is left out of the least
/// watermark until it sends again.
/// <para>
/// Its outputs depend only on each source's messages in that source's order, not on how the sources interleave (as
/// long as no source goes idle: a source back from idle finds windows closed without it, and what it sends for them is
/// late);
/// <see cref="Save"/> and <see cref="Load"/> carry its whole state to another process, where replaying its input from
/// the checkpointed position continues exactly.
/// </para>
/// </summary>
public sealed class SegmentPartition
{
    private readonly RoadNetwork _network;
    private readonly SegmentAggregator _aggregator;
    private readonly CongestionRule _congestion;
    private readonly long[] _watermarks;      // per source: the newest watermark it sent
    private readonly long[] _sequences;       // per source: the sequence number of the last message taken from it
    private readonly bool[] _idle;            // per source: said it is idle, and has sent nothing since
    private readonly List<SegmentStat> _closed = [];
    private readonly List<SegmentStat> _views = [];
    private readonly List<AlertEvent> _alerts = [];
    private long _watermark = long.MinValue;  // the least of the sources' watermarks
    private long[]? _newNetworkFrom;           // per source, after a restore on another network: its sequence numbers below this name old edges
    private List<AlertEvent>? _restoredCloses; // alerts on segments a restore on another network no longer has, closed: handed on with the next call

    /// <param name="network">The road network.</param>
    /// <param name="partition">This partition's id.</param>
    /// <param name="sources">The number of vehicle partitions that send to it.</param>
    /// <param name="options">Window options; defaults when null.</param>
    /// <param name="congestion">Congestion alert options; defaults when null.</param>
    public SegmentPartition(RoadNetwork network, int partition, int sources, SegmentOptions? options = null, CongestionOptions? congestion = null)
        : this(new RoadGroups(network), partition, sources, options, congestion)
    {
    }

    /// <param name="roads">The network's roads: every segment of one road must be sent to the same partition (<see cref="RoadGroups.PartitionOf"/>).</param>
    /// <param name="partition">This partition's id.</param>
    /// <param name="sources">The number of vehicle partitions that send to it.</param>
    /// <param name="options">Window options; defaults when null.</param>
    /// <param name="congestion">Congestion alert options; defaults when null.</param>
    public SegmentPartition(RoadGroups roads, int partition, int sources, SegmentOptions? options = null, CongestionOptions? congestion = null)
    {
        ArgumentNullException.ThrowIfNull(roads);
        RoadNetwork network = roads.Network;
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(sources, 1);
        _network = network;
        Partition = partition;
        Sources = sources;
        _aggregator = new SegmentAggregator(network, options);
        WindowMs = (options ?? new SegmentOptions()).WindowMs;
        _congestion = new CongestionRule(roads, congestion);
        _watermarks = new long[sources];
        Array.Fill(_watermarks, long.MinValue);
        _sequences = new long[sources];
        _idle = new bool[sources];
    }

    /// <summary>This partition's id.</summary>
    public int Partition { get; }

    /// <summary>The number of vehicle partitions that send to it.</summary>
    public int Sources { get; }

    /// <summary>
    /// Restored from a checkpoint written on another road network (a rebuilt OSM extract): the state of each segment found
    /// again by its key (OSM way and ends) went on at its edge here, that of the others was dropped (docs/checkpoint.md).
    /// </summary>
    public bool NetworkChanged { get; private set; }

    /// <summary>Segments of such a checkpoint found again in this network.</summary>
    public int SegmentsCarried { get; private set; }

    /// <summary>Segments of such a checkpoint this network no longer has: their state was dropped.</summary>
    public int SegmentsDropped { get; private set; }

    /// <summary>
    /// <c>congestion</c> and <c>incident</c> alerts such a checkpoint held open on segments no longer there: closed at the
    /// restore with <c>network_changed: 1</c>, handed on with the next call (<see cref="HandRestoredCloses"/>).
    /// </summary>
    public int ClosedOnNetworkChange { get; private set; }

    /// <summary>The free-flow speed a segment's rows carry now, km/h: learned from its low-volume windows, else its limit's share.</summary>
    public double FreeFlowKmh(int edge) => _aggregator.FreeFlowKmh(edge);

    /// <summary>The least watermark of all sources not idle: every window that ends at or before it is closed.</summary>
    public long WatermarkMs => _watermark;

    /// <summary>
    /// Every alert the partition raises from now on is at or after this: congestion and incident events are at the start or
    /// the end of a window that closes later, one that ends after the watermark.
    /// </summary>
    public long AlertFloorMs => _watermark is long w && w != long.MinValue && w != long.MaxValue ? w - WindowMs : _watermark;

    /// <summary>Windows published.</summary>
    public long Windows { get; private set; }

    /// <summary>Windows closed without publishing (too few vehicles).</summary>
    public long Suppressed => _aggregator.Suppressed;

    /// <summary>Windows open now.</summary>
    public int OpenWindows => _aggregator.OpenWindows;

    /// <summary>Sliding views published.</summary>
    public long Views { get; private set; }

    /// <summary>Sliding views not published (too few distinct vehicles over the span).</summary>
    public long ViewsSuppressed => _aggregator.SlidingSuppressed;

    /// <summary>The window length (the network index's period).</summary>
    public long WindowMs { get; }

    /// <summary>
    /// Traversals dropped because their window had passed their own source's watermark, or had closed while their source
    /// was idle (see <see cref="OnTraversal"/>).
    /// </summary>
    public long LateTraversals { get; private set; }

    /// <summary>Sources idle now: left out of the least watermark (<see cref="OnIdle"/>).</summary>
    public int IdleSources => _idle.Count(i => i);

    /// <summary>Whether a source is idle now.</summary>
    public bool IsIdle(int source) => _idle[source];

    private long WindowEnd(long timeMs) => SegmentAggregator.WindowStart(timeMs, WindowMs) + WindowMs;

    /// <summary>
    /// Traversals dropped after a restore on another road network because their sender sent them on the old one (a sequence
    /// number of the sender's epoch before the change, <see cref="VehiclePartition.NetworkEpoch"/>): their edge ids are
    /// the old network's.
    /// </summary>
    public long OldNetworkTraversals { get; private set; }

    /// <summary>Messages dropped as already seen.</summary>
    public long Duplicates { get; private set; }

    /// <summary>The sequence number of the last message taken from a source (0: none yet).</summary>
    public long LastSequence(int source) => _sequences[source];

    /// <summary>Takes a traversal into its window (publishing waits for the watermark); false when it was dropped as already seen.</summary>
    public bool OnTraversal(in SegmentTraversal message) => OnTraversal(message.Source, message.Sequence, message.VehicleKey, message.Edge);

    /// <summary>
    /// <see cref="OnTraversal(in SegmentTraversal)"/> on a message's parts (a shard whose messages are stored in its own
    /// form hands them over without building a <see cref="SegmentTraversal"/>).
    /// </summary>
    public bool OnTraversal(int source, long sequence, int vehicleKey, in TraversedEdge t)
    {
        // An edge this network does not have is no message of a vehicle partition on it (but one sent on the network before a
        // restore on another, counted below): refused before it takes a sequence number.
        if (t.Edge < 0 || (_newNetworkFrom == null && (uint)t.Edge >= (uint)_network.EdgeCount)) ThrowEdge(t.Edge);
        if (!Fresh(source, sequence)) return false;
        // Sent before the network changed (read after the restore, or sent by the old run after the checkpoint): its edge
        // ids are the old network's, which this one numbers otherwise. Dropped and counted.
        if (_newNetworkFrom != null && (sequence < _newNetworkFrom[source] || (uint)t.Edge >= (uint)_network.EdgeCount))
        {
            OldNetworkTraversals++;
            return true;
        }
        // A traversal in a window its own source has already declared past (its exit at or before that source's last
        // watermark, e.g. a route filled in across a long gap in a vehicle's reports) is late. Whether that window is
        // still open here depends on how the other sources' messages interleaved, so taking it would make the rows
        // depend on timing; dropping it, counted, depends only on this source's own order.
        long sourceWatermark = _watermarks[source];
        // A source back from idle may also send for windows that closed without it: they were published already. (A source
        // never idle cannot: the least watermark is at or behind its own.)
        long end = WindowEnd(t.ExitTimeMs);
        if ((sourceWatermark != long.MinValue && end <= sourceWatermark) || end <= _watermark)
        {
            LateTraversals++;
            return true;
        }
        _aggregator.Add(vehicleKey, t.Edge, t.FromOffsetM, t.ToOffsetM, t.EnterTimeMs, t.ExitTimeMs);
        return true;
    }

    /// <summary>
    /// Asks for the state a traversal coming soon will update (<see cref="SegmentAggregator.Prefetch"/>), two messages
    /// ahead. Changes nothing.
    /// </summary>
    public void Prefetch(in SegmentTraversal message) => Prefetch(message.Edge);

    /// <summary><see cref="Prefetch(in SegmentTraversal)"/> on the traversed edge alone.</summary>
    public void Prefetch(in TraversedEdge edge) => _aggregator.Prefetch(edge.Edge, edge.ExitTimeMs);

    /// <summary>Takes a watermark; windows behind the least of all sources' close and are published. False when dropped as already seen.</summary>
    public bool OnWatermark<TOutput>(in SegmentWatermark message, TOutput output) where TOutput : ISegmentPartitionOutput
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        if (!Fresh(message.Source, message.Sequence)) return false;
        if (message.WatermarkMs <= _watermarks[message.Source]) return true;
        _watermarks[message.Source] = message.WatermarkMs;
        Advance(output);
        return true;
    }

    /// <summary>
    /// Takes a source's word that it is idle: until it sends again, its watermark no longer holds back the windows, and those
    /// the least watermark of the others has passed close and are published. Ignored (false) when the source has sent a
    /// message since (a sequence number newer than the word's has been taken).
    /// </summary>
    public bool OnIdle<TOutput>(in SegmentIdle message, TOutput output) where TOutput : ISegmentPartitionOutput
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        if ((uint)message.Source >= (uint)Sources) ThrowSource(message.Source);
        if (message.Sequence < _sequences[message.Source]) return false;
        if (_idle[message.Source]) return true;
        _idle[message.Source] = true;
        Advance(output);
        return true;
    }

    /// <summary>Publishes what the least watermark of the sources not idle has passed (nothing while every source is idle).</summary>
    private void Advance<TOutput>(TOutput output) where TOutput : ISegmentPartitionOutput
    {
        long least = long.MaxValue;
        bool any = false;
        for (int i = 0; i < _watermarks.Length; i++)
        {
            if (_idle[i]) continue;
            least = Math.Min(least, _watermarks[i]);
            any = true;
        }
        if (!any || least <= _watermark) return;
        _watermark = least;
        Publish(least, output);
    }

    /// <summary>The end of a finite input (a file): every window closes and is published.</summary>
    public void OnEndOfInput<TOutput>(TOutput output) where TOutput : ISegmentPartitionOutput
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        _watermark = long.MaxValue;
        Publish(long.MaxValue, output);
    }

    /// <summary>
    /// Writes the partition's whole state as a checkpoint (docs/checkpoint.md): every source's watermark, last
    /// sequence number and whether it is idle, the open windows, the free-flow samples, the congestion state with its open alerts, and the
    /// counters. The caller stores the input position with it.
    /// </summary>
    public void Save(Stream checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        using var w = new CheckpointWriter();
        BinaryWriter o = w.Out;
        o.Write(Partition);
        o.Write(Sources);
        o.Write(NetworkFingerprint.Of(_network));
        o.Write(_watermark);
        for (int i = 0; i < Sources; i++)
        {
            o.Write(_watermarks[i]);
            o.Write(_sequences[i]);
            o.Write(_idle[i]);
        }
        o.Write(Windows);
        o.Write(Duplicates);
        o.Write(Views);
        o.Write(LateTraversals);
        // The key of every edge the state names, so that a restore on a rebuilt network finds its segments again.
        var edges = new SortedSet<int>();
        _aggregator.CollectEdges(edges);
        _congestion.CollectEdges(edges);
        NetworkChange.WriteKeys(o, _network, edges);
        for (int i = 0; i < Sources; i++) o.Write(_newNetworkFrom?[i] ?? 0);
        o.Write(OldNetworkTraversals);
        _aggregator.Save(w);
        _congestion.Save(w);
        w.WriteTo(checkpoint, CheckpointKind.SegmentPartition);
    }

    /// <summary>
    /// Restores a partition from a checkpoint written by <see cref="Save"/>; the arguments are as for the constructor
    /// and describe the same configuration, but for the road network, which may have been rebuilt since
    /// (<see cref="NetworkChanged"/>). A foreign, corrupt or truncated checkpoint, one of another partition, for another
    /// number of sources or another window length is refused with a <see cref="CheckpointException"/>.
    /// </summary>
    public static SegmentPartition Load(RoadNetwork network, int partition, int sources, Stream checkpoint, SegmentOptions? options = null,
        CongestionOptions? congestion = null)
    {
        var p = new SegmentPartition(network, partition, sources, options, congestion);
        return CheckpointReader.Restore(checkpoint, CheckpointKind.SegmentPartition, r =>
        {
            BinaryReader i = r.In;
            int stored = i.ReadInt32();
            CheckpointReader.Check(stored == partition, $"checkpoint of segment partition {stored}; this is partition {partition}");
            int storedSources = i.ReadInt32();
            CheckpointReader.Check(storedSources == sources, $"checkpoint has {storedSources} source partitions; this partition has {sources}");
            // Another road network (a rebuilt OSM extract): each segment's state moves to the edge of the same key (OSM way and
            // ends), and that of a segment no longer there is dropped.
            bool networkChanged = p.NetworkChanged = i.ReadUInt64() != NetworkFingerprint.Of(network);
            p._watermark = i.ReadInt64();
            for (int k = 0; k < sources; k++)
            {
                p._watermarks[k] = i.ReadInt64();
                p._sequences[k] = i.ReadInt64();
                p._idle[k] = i.ReadBoolean();
            }
            p.Windows = i.ReadInt64();
            p.Duplicates = i.ReadInt64();
            p.Views = i.ReadInt64();
            p.LateTraversals = i.ReadInt64();
            CheckpointReader.Check(p.LateTraversals >= 0, "checkpoint malformed: a negative count of late traversals");
            var change = networkChanged ? new NetworkChange(p._watermark) : null;
            NetworkChange.ReadKeys(r, network, change);
            for (int k = 0; k < sources; k++)
            {
                long from = i.ReadInt64();
                // On another network: what each source sent before it moved to a new epoch of its sequence named old edges
                // (none for a source never heard from: a partition of the new run without a checkpoint numbers from 1).
                if (networkChanged) from = p._sequences[k] > 0 ? VehiclePartition.NetworkEpoch(p._sequences[k]) : 0;
                if (from != 0 || networkChanged) (p._newNetworkFrom ??= new long[sources])[k] = from;
            }
            p.OldNetworkTraversals = i.ReadInt64();
            p._aggregator.Load(r, change);
            p._congestion.Load(r, change);
            if (change != null)
            {
                p.SegmentsCarried = change.Carried;
                p.SegmentsDropped = change.Dropped;
                p.ClosedOnNetworkChange = change.Closes.Count;
                p._restoredCloses = change.Closes;
            }
            return p;
        });
    }

    /// <summary>
    /// Hands on the closes of the alerts a restore on another road network found open on segments it no longer has
    /// (<see cref="ClosedOnNetworkChange"/>), if not yet done: the next watermark, idle word or end of input does it, and a
    /// host calls it right after the restore.
    /// </summary>
    public void HandRestoredCloses<TOutput>(TOutput output) where TOutput : ISegmentPartitionOutput
    {
        if (_restoredCloses == null) return;
        foreach (var a in _restoredCloses) output.Alert(a);
        _restoredCloses = null;
    }

    /// <summary>Whether a message is new from its source (then it becomes the last seen), or one seen already.</summary>
    private bool Fresh(int source, long sequence)
    {
        if ((uint)source >= (uint)Sources) ThrowSource(source);
        if (sequence <= _sequences[source])
        {
            // A source numbering again from its start (its first message, or one of an epoch below that of what was taken)
            // is a partition of the new run without a checkpoint (one restored from a checkpoint on the new network numbers
            // from a new epoch): what it sends is of the new network. Any other duplicate (a message the old run's producer
            // sent twice) says nothing of that, and what follows it from the old run still names old edges.
            if (_newNetworkFrom != null && (sequence == 1 || sequence < EpochStart(_sequences[source]))) _newNetworkFrom[source] = 0;
            Duplicates++;
            return false;
        }
        _sequences[source] = sequence;
        _idle[source] = false;   // it speaks again: its watermark counts from here on
        return true;
    }

    /// <summary>The first sequence number of the epoch <paramref name="sequence"/> is in (<see cref="VehiclePartition.NetworkEpoch"/>).</summary>
    private static long EpochStart(long sequence) => sequence >> 40 << 40;

    private void Publish<TOutput>(long watermarkMs, TOutput output) where TOutput : ISegmentPartitionOutput
    {
        _closed.Clear();
        _views.Clear();
        _aggregator.Advance(watermarkMs, _closed, _views);
        // Closed windows, in window order, feed the congestion and incident alerts and the network sums. The views go
        // between them by time: those that end before a period's end ahead of its windows, those that end with it after
        // them (the same lines in the same order for any batching of the input).
        long period = long.MinValue;
        int view = 0;
        var network = default(NetworkSums);
        foreach (var w in _closed)
        {
            // The windows of a period are all out before the next period's first: its congestion runs are judged then,
            // whichever watermark closed them (the same alerts in the same place for any batching of the input).
            if (w.WindowStartMs != period)
            {
                if (period != long.MinValue) output.Network(in network);
                period = w.WindowStartMs;
                network = new NetworkSums(w.WindowStartMs, w.WindowEndMs);
                _congestion.EndOfWindows(_alerts);
                foreach (var a in _alerts) output.Alert(a);
                _alerts.Clear();
                for (; view < _views.Count && _views[view].WindowEndMs < w.WindowEndMs; view++) View(_views[view], output);
            }
            Windows++;
            output.Window(in w);
            network.Add(_network, in w);
            _congestion.OnWindow(in w, _alerts);
            foreach (var a in _alerts) output.Alert(a);
            _alerts.Clear();
        }
        if (period != long.MinValue) output.Network(in network);
        // Every window up to the watermark is out: the congestion runs of the last period are judged.
        _congestion.EndOfWindows(_alerts);
        foreach (var a in _alerts) output.Alert(a);
        _alerts.Clear();
        for (; view < _views.Count; view++) View(_views[view], output);
    }

    private void View<TOutput>(in SegmentStat view, TOutput output) where TOutput : ISegmentPartitionOutput
    {
        Views++;
        output.View(in view);
    }

    // A message naming what this partition does not have is foreign (another group's, a hand-made one): refused as data, which
    // a Kafka host reports and skips (InvalidDataException, as for a message that does not parse), never a crash.
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowSource(int source) =>
        throw new InvalidDataException($"exchange: a message from source partition {source}; this partition has sources 0 to {Sources - 1}");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowEdge(int edge) =>
        throw new InvalidDataException($"exchange: a traversal of edge {edge}; the road network has edges 0 to {_network.EdgeCount - 1}");
}
