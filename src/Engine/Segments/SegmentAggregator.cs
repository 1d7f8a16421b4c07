using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Traffic.Engine.Checkpoints;
using Traffic.Geo.Network;

namespace Traffic.Engine.Segments;

/// <summary>One published window of one directed segment (INTERFACES.md "Segment statistics").</summary>
public readonly record struct SegmentStat(
    int Edge, long WindowStartMs, long WindowEndMs, int Vehicles, double SpeedKmh, double FreeFlowKmh, double TravelTimeS, int Level)
{
    /// <summary>
    /// The median of the vehicles' own speeds in the window (the upper one of an even count), km/h; NaN when not known.
    /// The space-mean speed weighs each vehicle by the time it spent, so one vehicle standing on the segment (a taxi
    /// waiting for a fare, its fixes jittering round it) drags the window down; the median tells whether most
    /// vehicles were slow. Not published (the segment rows carry the space-mean speed); the congestion alerts use it.
    /// </summary>
    public double VehicleMedianKmh { get; init; } = double.NaN;

    /// <summary>
    /// The distance the window's traversals covered, in millimetres (probe vehicle-kilometres × 10⁶): an integer, so that
    /// sums over segments and partitions are the same in any order. Not published; the network index weighs by it.
    /// </summary>
    public long VehicleMm { get; init; }
}

/// <summary>Options of the per-segment stage.</summary>
public sealed record SegmentOptions
{
    /// <summary>
    /// The time zone (tz database id) of the day the low-volume hours of free flow are judged in; null: the network's own
    /// (<see cref="LocalTime.ZoneIdOf"/>), for a network astride a zone border or where its nearest principal place is another zone's.
    /// </summary>
    public string? TimeZone { get; init; }

    /// <summary>Tumbling window length.</summary>
    public long WindowMs { get; init; } = 60_000;

    /// <summary>Fewer distinct vehicles than this in a window: nothing is published (no single vehicle can be traced).</summary>
    public int MinVehicles { get; init; } = 3;

    /// <summary>
    /// A vehicle counts in a window of a segment (a distinct vehicle, its distance and time in the speed) when its
    /// traversals of the segment in that window cover at least this share of it, or <see cref="MinTraversalM"/>: summed,
    /// since a unit reporting every second or two sends a piece of a few metres per step.
    /// </summary>
    public double MinTraversalShare { get; init; } = 0.3;

    /// <summary>... or at least this many metres (<see cref="MinTraversalShare"/>).</summary>
    public double MinTraversalM { get; init; } = 50;

    /// <summary>
    /// ... or took at least this many seconds at <see cref="MinCrawlKmh"/> or more: a vehicle crawling in a queue (2 km/h
    /// is 33 m a minute) is measured over a long time, and it is the queue the window must show.
    /// </summary>
    public double MinTraversalS { get; init; } = 30;

    /// <summary>
    /// The slowest crawl <see cref="MinTraversalS"/> counts. Standing vehicles send nothing
    /// (<c>VehiclePartitionOptions.StandingKmh</c>), but a unit whose reported speed jitters above that while it stands
    /// sends the time the matcher holds it in place: pieces of no length, which must not make a jam.
    /// </summary>
    public double MinCrawlKmh { get; init; } = 1;

    /// <summary>
    /// A traversal faster than this is left out (counted in <see cref="SegmentAggregator.Ignored"/>): no vehicle drives it,
    /// and the engine calls a jump between fixes at such a speed a teleport. A taxi standing at the end of a street whose
    /// next fix lay 417 m away near its start was routed round a 700 m loop in 5 s, and eight such taxis published
    /// four streets at 500 km/h.
    /// </summary>
    public double MaxTraversalKmh { get; init; } = 200;

    /// <summary>Free flow falls back to the limit times this until enough low-volume speeds are seen.</summary>
    public double FreeFlowLimitFactor { get; init; } = 0.9;

    /// <summary>Speeds observed in low-volume hours before the learned 85th percentile replaces the fallback.</summary>
    public int FreeFlowMinSamples { get; init; } = 30;

    /// <summary>
    /// The sliding view spans this many tumbling windows (5 × 1 min by default) and slides by one window; 0: no view.
    /// </summary>
    public int SlidingWindows { get; init; } = 5;

    /// <summary>
    /// The name of the sliding view's outputs, after its span: <c>segments-5m</c> (whole minutes; else seconds,
    /// <c>segments-90s</c>): the folder, file stem and topic suffix (docs/outputs.md, docs/kafka.md).
    /// </summary>
    public string SlidingName
    {
        get
        {
            long span = WindowMs * SlidingWindows;
            return span % 60_000 == 0
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"segments-{span / 60_000}m")
                : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"segments-{span / 1000}s");
        }
    }

    /// <summary>Low-volume hours, local time UTC+8: from this hour …</summary>
    public int OffPeakFromHour { get; init; } = 21;

    /// <summary>… to this hour (exclusive), wrapping midnight.</summary>
    public int OffPeakToHour { get; init; } = 7;
}

/// <summary>
/// The per-segment stage for the segments one shard owns: space-mean speed per directed segment and
/// tumbling window from map-matched traversals (distance over time summed across vehicles, so slow
/// vehicles weigh as they should), distinct vehicles, the minimum sample, a free-flow speed learned per
/// segment (85th percentile of speeds in low-volume hours, the limit × a factor until enough exist) and
/// the GB/T 33171 level. Windows close on the event-time watermark, in order.
/// <para>
/// What a window publishes depends only on the traversals it holds, never on the order in which shards
/// delivered them: sums are integers, distinct vehicles are counted from the set of their keys, and a
/// window's low-volume speeds join its segment's free-flow sample when the window closes (not when they
/// arrive, which would let one shard's later traversals into another's earlier windows).
/// </para>
/// </summary>
public sealed class SegmentAggregator
{
    private const int MaxTrackedVehicles = 64;   // distinct vehicles counted exactly up to this per window, estimated beyond
    private const int SpeedBins = 200;           // 1 km/h bins for the free-flow percentile

    private readonly RoadNetwork _network;
    private readonly SegmentOptions _options;
    private readonly long _windowMs;                      // the options' window, kept here: every traversal divides by it
    private readonly OpenWindowTable _open;
    private readonly Dictionary<int, int[]> _offPeakSpeeds = [];
    private readonly Dictionary<int, double> _learned = [];   // per segment with enough low-volume speeds: their 85th percentile
    private readonly List<Closing> _closing = [];         // scratch: the windows to close
    private readonly Stack<Accumulator> _spare = new();   // closed windows' accumulators, reused: opening a window allocates nothing
    private readonly double[] _speeds = new double[MaxTrackedVehicles]; // scratch for a window's vehicle speeds

    // The sliding view: per segment with a closed window in the span, the span's windows (a ring of N slots).
    private readonly Dictionary<int, SlidingSegment> _sliding = [];
    private readonly Stack<SlidingSegment> _spareSliding = new();  // segments whose span emptied, reused
    private readonly List<int> _expired = [];                      // scratch: segments whose span emptied in this advance
    private readonly uint[] _union;                                // scratch: the span's smallest distinct vehicle keys
    private long _swept = long.MinValue;                           // the last window end the sliding views were swept to
    private readonly LocalDay _day;                                // the network's own civil day: its low-volume hours

    public SegmentAggregator(RoadNetwork network, SegmentOptions? options = null)
    {
        _network = network;
        _options = options ?? new SegmentOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.SlidingWindows);
        _windowMs = _options.WindowMs;
        _union = new uint[MaxTrackedVehicles + 1];
        _open = new OpenWindowTable(network.EdgeCount);
        _day = LocalDay.Of(network, _options.TimeZone);
    }

    /// <summary>Sliding views below the minimum sample, not published.</summary>
    public long SlidingSuppressed { get; private set; }

    /// <summary>Segments whose sliding span holds a closed window now.</summary>
    public int SlidingSegments => _sliding.Count;

    /// <summary>Windows below the minimum sample, closed without publishing.</summary>
    public long Suppressed { get; private set; }

    /// <summary>
    /// Traversals going back along the segment, taking no time (two fixes at one time) or faster than
    /// <see cref="SegmentOptions.MaxTraversalKmh"/>, not counted.
    /// </summary>
    public long Ignored { get; private set; }

    /// <summary>Vehicles left out of a closed window because their traversals in it covered too little of the segment (<see cref="SegmentOptions.MinTraversalShare"/>).</summary>
    public long Uncovered { get; private set; }

    /// <summary>
    /// Adds a vehicle's traversal of part of an edge, between entry and exit times. <paramref name="vehicle"/> is any key
    /// that tells vehicles apart, the same for a vehicle in every process (the exchange's vehicle key, a hash of its id).
    /// </summary>
    public void Add(int vehicle, int edge, double fromOffsetM, double toOffsetM, long enterMs, long exitMs)
    {
        // A piece of no length still took its time: a vehicle the matcher held in place for a step or two while it crawled
        // on (standing vehicles send nothing: VehiclePartition).
        double length = toOffsetM - fromOffsetM;
        if (length < 0 || exitMs <= enterMs || length * 3600 > _options.MaxTraversalKmh * (exitMs - enterMs))
        {
            Ignored++;
            return;
        }
        long window = WindowStart(exitMs, _windowMs);
        int slot = _open.Find(edge, window);
        Accumulator acc;
        if (slot >= 0) acc = _open.Acc(slot);
        else
        {
            acc = _spare.Count > 0 ? _spare.Pop() : Accumulator.Create();
            _open.Add(edge, window, acc);
        }
        acc.Add(vehicle, (long)Math.Round(length * 1000), exitMs - enterMs);
    }

    /// <summary>
    /// Asks for the accumulator a traversal of <paramref name="edge"/> leaving at <paramref name="exitMs"/> would go to, if
    /// its window is open (<see cref="Traffic.Geo.CacheHint"/>): its one array, found from the open windows' table
    /// without reading it (a shard does it two traversals ahead). Changes nothing.
    /// </summary>
    public void Prefetch(int edge, long exitMs)
    {
        if ((uint)edge >= (uint)_network.EdgeCount) return;
        int slot = _open.Find(edge, WindowStart(exitMs, _windowMs));
        if (slot >= 0) _open.Acc(slot).Prefetch();
    }

    /// <summary>Closes every window that ends at or before the watermark and returns the published ones, oldest first.</summary>
    public void Advance(long watermarkMs, List<SegmentStat> published) => Advance(watermarkMs, published, null);

    /// <summary>
    /// Closes every window that ends at or before the watermark and returns the published ones, oldest first (by window,
    /// then edge); with <paramref name="views"/>, also the sliding views that end at or before the watermark, ordered by
    /// their end, then edge (<see cref="SegmentOptions.SlidingWindows"/>: a view of a segment at every window end whose
    /// span holds one of its closed windows, published above the minimum sample of distinct vehicles over the span).
    /// </summary>
    public void Advance(long watermarkMs, List<SegmentStat> published, List<SegmentStat>? views)
    {
        long w = _options.WindowMs;
        int firstView = views?.Count ?? 0;
        _closing.Clear();
        long[] windows = _open.Windows;
        int[] edges = _open.Edges;
        for (int s = 0; s < _open.Slots; s++)
        {
            if (_open.Used(s) && windows[s] + w <= watermarkMs) _closing.Add(new Closing(windows[s], edges[s], s));
        }
        // A struct that compares itself: the span's sort calls its CompareTo directly, where List.Sort called a Comparison
        // delegate for every comparison.
        CollectionsMarshal.AsSpan(_closing).Sort();
        bool sliding = _options.SlidingWindows > 0;
        foreach (var key in _closing)
        {
            Accumulator acc = _open.Acc(key.Slot);
            _open.Remove(key.Slot);
            SlidingSegment? span = null;
            if (sliding)
            {
                // The views that end before this window are out first: they see the free flow learned from the
                // segment's earlier windows only, whichever watermark closed them (the same bytes for any batching).
                span = SlidingOf(key.Edge);
                EmitViews(key.Edge, span, key.Window, views);
            }
            // Each vehicle by what it covered in the window, all its pieces together; a low-volume window's vehicles' speeds
            // join the segment's free-flow sample.
            double coverM = Math.Min(_options.MinTraversalShare * _network.LengthM(key.Edge), _options.MinTraversalM);
            Uncovered += acc.KeepCovering((long)Math.Ceiling(coverM * 1000), (long)Math.Ceiling(_options.MinTraversalS * 1000), _options.MinCrawlKmh / 3.6);
            if (IsOffPeak(key.Window) && acc.Keys.Length > 0)
            {
                if (!_offPeakSpeeds.TryGetValue(key.Edge, out int[]? bins)) _offPeakSpeeds[key.Edge] = bins = new int[SpeedBins];
                acc.AddSpeeds(bins);
                Learn(key.Edge, bins);
            }
            span?.Push(key.Window, w, acc);
            int vehicles = acc.Vehicles;
            double speed = acc.Millimetres / (double)acc.Milliseconds * 3.6;
            long millimetres = acc.Millimetres;
            bool publish = vehicles >= _options.MinVehicles && millimetres > 0;
            double median = publish ? acc.MedianVehicleKmh(_speeds) : double.NaN;   // only a published row carries it
            acc.Clear();
            _spare.Push(acc);
            if (!publish)
            {
                Suppressed++;
                continue;
            }
            double free = FreeFlowKmh(key.Edge);
            published.Add(new SegmentStat(key.Edge, key.Window, key.Window + w, vehicles, speed, free,
                _network.LengthM(key.Edge) / (speed / 3.6), CongestionLevel.Of(speed, free)) { VehicleMedianKmh = median, VehicleMm = millimetres });
        }
        if (!sliding) return;
        // Every view that ends at or before the watermark: only when the watermark passed another window end or windows
        // closed (a watermark inside the window the last one reached has no view to add).
        long reached = watermarkMs == long.MaxValue ? long.MaxValue : WindowStart(watermarkMs, w);
        if (reached > _swept || _closing.Count > 0)
        {
            _swept = Math.Max(_swept, reached);
            _expired.Clear();
            foreach (var (edge, span) in _sliding)
            {
                EmitViews(edge, span, watermarkMs, views);
                if (span.NextEnd > span.NewestStart + (w * _options.SlidingWindows)) _expired.Add(edge);
            }
            foreach (int edge in _expired)
            {
                _sliding.Remove(edge, out SlidingSegment? span);
                span!.Clear();
                _spareSliding.Push(span);
            }
        }
        // Sorted as a span with a static comparison: List.Sort with a comparer wraps it in a new delegate every call.
        if (views != null && views.Count - firstView > 1)
            CollectionsMarshal.AsSpan(views)[firstView..].Sort(static (a, b) =>
                a.WindowEndMs != b.WindowEndMs ? a.WindowEndMs.CompareTo(b.WindowEndMs) : a.Edge.CompareTo(b.Edge));
    }

    /// <summary>
    /// A window to close: its start, edge and slot in the open table; ordered by start, then edge. A struct comparing
    /// itself: <see cref="MemoryExtensions.Sort{T}(Span{T})"/> calls its CompareTo directly. Keys are distinct (one open
    /// window per edge and start), so the order is total.
    /// </summary>
    private readonly record struct Closing(long Window, int Edge, int Slot) : IComparable<Closing>
    {
        public int CompareTo(Closing other) => Window != other.Window ? Window.CompareTo(other.Window) : Edge.CompareTo(other.Edge);
    }

    private SlidingSegment SlidingOf(int edge)
    {
        if (!_sliding.TryGetValue(edge, out SlidingSegment? span))
        {
            span = _spareSliding.Count > 0 ? _spareSliding.Pop() : new SlidingSegment(_options.SlidingWindows);
            _sliding.Add(edge, span);
        }
        return span;
    }

    /// <summary>Publishes the segment's views that end at or before <paramref name="limitMs"/> and still hold a window of it.</summary>
    private void EmitViews(int edge, SlidingSegment span, long limitMs, List<SegmentStat>? views)
    {
        if (span.NewestStart == long.MinValue) return;
        long w = _options.WindowMs;
        long spanMs = w * _options.SlidingWindows;
        long last = span.NewestStart + spanMs;     // the last view whose span holds the newest window
        while (span.NextEnd <= limitMs && span.NextEnd <= last)
        {
            long end = span.NextEnd;
            span.NextEnd += w;
            int vehicles = span.Sum(end - spanMs, end, _union, out long millimetres, out long milliseconds);
            if (milliseconds <= 0 || millimetres <= 0) continue;
            if (vehicles < _options.MinVehicles)
            {
                SlidingSuppressed++;
                continue;
            }
            double speed = millimetres / (double)milliseconds * 3.6;
            double free = FreeFlowKmh(edge);
            views?.Add(new SegmentStat(edge, end - spanMs, end, vehicles, speed, free, _network.LengthM(edge) / (speed / 3.6),
                CongestionLevel.Of(speed, free)) { VehicleMm = millimetres });
        }
    }

    /// <summary>The segment's free-flow speed: the learned 85th percentile of low-volume speeds, else the limit × factor.</summary>
    public double FreeFlowKmh(int edge) =>
        _learned.TryGetValue(edge, out double learned) ? learned : _network.SpeedLimitKmh(edge) * _options.FreeFlowLimitFactor;

    /// <summary>
    /// Updates the segment's learned free flow from its sample, when that changed (a window with low-volume speeds closed):
    /// every row and view asks for it, the sample changes once a window at most.
    /// </summary>
    private void Learn(int edge, int[] bins)
    {
        int total = 0;
        foreach (int n in bins) total += n;
        if (total < _options.FreeFlowMinSamples) return;
        int target = (int)Math.Ceiling(0.85 * total), seen = 0;
        for (int b = 0; b < bins.Length; b++)
        {
            seen += bins[b];
            if (seen < target) continue;
            _learned[edge] = b + 0.5;
            return;
        }
    }

    /// <summary>Windows open now (traversals added, not yet closed by the watermark).</summary>
    public int OpenWindows => _open.Count;

    /// <summary>Writes the open windows, the free-flow samples and the counters (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        BinaryWriter o = w.Out;
        o.Write(_options.WindowMs);
        o.Write(Suppressed);
        o.Write(Ignored);
        o.Write(Uncovered);
        o.Write(_open.Count);
        for (int s = 0; s < _open.Slots; s++)
        {
            if (!_open.Used(s)) continue;
            o.Write(_open.Edges[s]);
            o.Write(_open.Windows[s]);
            _open.Acc(s).Save(o);
        }
        o.Write(_offPeakSpeeds.Count);
        foreach (var (edge, bins) in _offPeakSpeeds)
        {
            o.Write(edge);
            o.Write(bins.Count(n => n != 0));
            for (int b = 0; b < bins.Length; b++)
            {
                if (bins[b] == 0) continue;
                o.Write((byte)b);
                o.Write(bins[b]);
            }
        }
        o.Write(_options.SlidingWindows);
        o.Write(SlidingSuppressed);
        o.Write(_sliding.Count);
        foreach (var (edge, span) in _sliding)
        {
            o.Write(edge);
            span.Save(o);
        }
    }

    /// <summary>Adds the edges the state names (open windows, free-flow samples, sliding views) to <paramref name="edges"/> (a checkpoint's edge keys).</summary>
    internal void CollectEdges(SortedSet<int> edges)
    {
        for (int s = 0; s < _open.Slots; s++)
        {
            if (_open.Used(s)) edges.Add(_open.Edges[s]);
        }
        foreach (int edge in _offPeakSpeeds.Keys) edges.Add(edge);
        foreach (int edge in _sliding.Keys) edges.Add(edge);
    }

    /// <summary>
    /// Restores what <see cref="Save"/> wrote into this fresh aggregator. Written on another road network
    /// (<paramref name="change"/>), each segment's state moves to the edge of the same key here, and the state of a segment
    /// this network no longer has is dropped.
    /// </summary>
    internal void Load(CheckpointReader r, NetworkChange? change = null)
    {
        BinaryReader i = r.In;
        int Edge() => change == null ? ReadEdge(i) : change.Map(i.ReadInt32());
        long windowMs = i.ReadInt64();
        CheckpointReader.Check(windowMs == _options.WindowMs, $"checkpoint has windows of {windowMs} ms; these options use {_options.WindowMs} ms");
        Suppressed = i.ReadInt64();
        Ignored = i.ReadInt64();
        Uncovered = i.ReadInt64();
        int n = r.Count();
        for (int k = 0; k < n; k++)
        {
            int edge = Edge();
            long window = i.ReadInt64();
            var acc = Accumulator.Create();
            acc.Load(i);
            if (edge < 0 || (change != null && _open.Find(edge, window) >= 0)) continue;
            CheckpointReader.Check(_open.Find(edge, window) < 0, "checkpoint malformed: a window twice");
            _open.Add(edge, window, acc);
        }
        n = r.Count();
        for (int k = 0; k < n; k++)
        {
            int edge = Edge();
            var bins = new int[SpeedBins];
            int used = r.Count();
            for (int b = 0; b < used; b++)
            {
                int bin = i.ReadByte();
                CheckpointReader.Check(bin < SpeedBins, "checkpoint malformed: a speed bin out of range");
                bins[bin] = i.ReadInt32();
            }
            if (edge < 0 || (change != null && _offPeakSpeeds.ContainsKey(edge))) continue;
            CheckpointReader.Check(_offPeakSpeeds.TryAdd(edge, bins), "checkpoint malformed: a segment's free-flow sample twice");
            Learn(edge, bins);
        }
        int sliding = i.ReadInt32();
        CheckpointReader.Check(sliding == _options.SlidingWindows,
            $"checkpoint has a sliding view of {sliding} windows; these options use {_options.SlidingWindows}");
        SlidingSuppressed = i.ReadInt64();
        n = r.Count();
        for (int k = 0; k < n; k++)
        {
            int edge = Edge();
            var span = new SlidingSegment(_options.SlidingWindows);
            span.Load(i);
            if (edge < 0 || (change != null && _sliding.ContainsKey(edge))) continue;
            CheckpointReader.Check(_sliding.TryAdd(edge, span), "checkpoint malformed: a segment's sliding view twice");
        }
    }

    private int ReadEdge(BinaryReader i)
    {
        int edge = i.ReadInt32();
        CheckpointReader.Check((uint)edge < (uint)_network.EdgeCount, "checkpoint malformed: a segment outside the network");
        return edge;
    }

    /// <summary>
    /// The start of the window that holds a time: the time less its remainder, the remainder of a time before 0 taken up
    /// to the window below (branch-free, one division; the remainder made non-negative by a second one was twice the work).
    /// </summary>
    internal static long WindowStart(long timeMs, long windowMs)
    {
        long r = timeMs % windowMs;
        return timeMs - r - (windowMs & (r >> 63));
    }

    /// <summary>
    /// How many of the first <paramref name="count"/> keys (ascending, distinct) lie below <paramref name="key"/>, which
    /// is the place of the first not below it: eight keys compared at a time and their bits counted, so that the work
    /// follows the count of keys, not where the key falls among them (the binary search's branches followed the data
    /// and were mispredicted half the time). <paramref name="keys"/> holds a multiple of eight keys (the kept 64);
    /// the keys past <paramref name="count"/> are read and masked off.
    /// </summary>
    internal static int CountBelow(ReadOnlySpan<uint> keys, int count, uint key)
    {
        if (keys.Length % Vector256<uint>.Count != 0 || (uint)count > (uint)keys.Length) ThrowKeys();
        ref uint first = ref MemoryMarshal.GetReference(keys);
        Vector256<uint> probe = Vector256.Create(key);
        int below = 0;
        for (int i = 0; i < count; i += Vector256<uint>.Count)
        {
            uint bits = Vector256.LessThan(Vector256.LoadUnsafe(ref first, (nuint)i), probe).ExtractMostSignificantBits();
            int left = count - i;
            bits &= left >= Vector256<uint>.Count ? 0xFFu : (1u << left) - 1;
            below += System.Numerics.BitOperations.PopCount(bits);
        }
        return below;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowKeys() => throw new ArgumentException("keys must be a multiple of eight, the count at most their number");

    /// <summary>
    /// <see cref="CountBelow"/> without vectors. Most windows keep a handful of vehicles: a scan of up to eight keys costs
    /// less than the call into the span's binary search, which a window of many vehicles still gets (by hand: the same
    /// search, without the generic comparison's call).
    /// </summary>
    internal static int LowerBoundScalar(ReadOnlySpan<uint> keys, int count, uint key)
    {
        int n = count;
        if (n <= 8)
        {
            int i = 0;
            while (i < n && keys[i] < key) i++;
            return i;
        }
        int lo = 0, hi = n;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (keys[mid] < key) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Distinct vehicles estimated from the 64th smallest of their 32-bit keys (a bottom-k sketch), beyond the 64 kept.</summary>
    private static int Estimated(uint kthSmallest) =>
        Math.Max(MaxTrackedVehicles + 1, (int)Math.Round((MaxTrackedVehicles - 1) * 4294967296.0 / (kthSmallest + 1.0)));

    private bool IsOffPeak(long timeMs) => LocalTime.InHours(_day.Hour(timeMs), _options.OffPeakFromHour, _options.OffPeakToHour);

    /// <summary>
    /// The open windows, found by edge: per edge the first of its open windows' slots, the slots of an edge chained (an
    /// edge has one or two open at a time), so that a traversal finds its window with a few array reads instead of
    /// hashing (edge, window). Slots are used as a <see cref="Dictionary{TKey,TValue}"/> uses its entries (a new window
    /// takes the most recently freed slot, else the next unused one) and visited in slot order, so the checkpoint lists
    /// the windows in the same order as the dictionary did: the same bytes.
    /// </summary>
    private sealed class OpenWindowTable
    {
        private readonly int[] _head;              // per edge: its first open window's slot, -1 when none
        private int[] _next = new int[64];         // per slot: the edge's next open window's slot, -1 at the end
        private long[]?[] _acc = new long[]?[64];   // per slot: its accumulator's array (Accumulator.Data), null when free
        private readonly Stack<int> _free = new(); // freed slots, the most recent on top
        public long[] Windows = new long[64];      // per slot: the window's start
        public int[] Edges = new int[64];          // per slot: the edge

        public OpenWindowTable(int edges)
        {
            _head = new int[edges];
            Array.Fill(_head, -1);
        }

        /// <summary>Slots ever used: the open windows are among 0 … Slots − 1.</summary>
        public int Slots { get; private set; }

        public int Count { get; private set; }

        public bool Used(int slot) => _acc[slot] != null;

        public Accumulator Acc(int slot) => Accumulator.Of(_acc[slot]!);

        /// <summary>The slot of the edge's window starting at <paramref name="window"/>; -1 when not open.</summary>
        public int Find(int edge, long window)
        {
            int s = _head[edge];
            while (s >= 0 && Windows[s] != window) s = _next[s];
            return s;
        }

        public void Add(int edge, long window, Accumulator acc)
        {
            int s;
            if (_free.Count > 0) s = _free.Pop();
            else
            {
                s = Slots++;
                if (s == _acc.Length)
                {
                    int size = _acc.Length * 2;
                    Array.Resize(ref _acc, size);
                    Array.Resize(ref _next, size);
                    Array.Resize(ref Windows, size);
                    Array.Resize(ref Edges, size);
                }
            }
            _acc[s] = acc.Data;
            Windows[s] = window;
            Edges[s] = edge;
            _next[s] = _head[edge];
            _head[edge] = s;
            Count++;
        }

        public void Remove(int slot)
        {
            int edge = Edges[slot];
            if (_head[edge] == slot) _head[edge] = _next[slot];
            else
            {
                int s = _head[edge];
                while (_next[s] != slot) s = _next[s];
                _next[s] = _next[slot];
            }
            _acc[slot] = null;
            _free.Push(slot);
            Count--;
        }
    }

    /// <summary>
    /// The closed windows of one segment inside the sliding span: a ring of one slot per window of the span, each with
    /// the window's integer sums and its kept vehicle keys (a bottom-64 set), so that a view sums the span's traversals
    /// exactly and counts distinct vehicles over the whole span from the union of the windows' keys (a vehicle seen in
    /// three windows counts once; the union of bottom-k sets is the bottom-k set of the union, so the estimate beyond 64
    /// holds too). Mutable state reused across segments: <see cref="Clear"/> keeps the arrays.
    /// </summary>
    private sealed class SlidingSegment
    {
        private readonly long[] _start;        // per slot: its window's start, long.MinValue when empty
        private readonly long[] _millimetres;  // per slot: the window's summed distance and time
        private readonly long[] _milliseconds;
        private readonly uint[][] _keys;       // per slot: kept vehicle keys, ascending, distinct
        private readonly int[] _count;         // per slot: keys kept
        private readonly bool[] _beyond;       // per slot: more keys were seen than kept

        public SlidingSegment(int windows)
        {
            _start = new long[windows];
            _millimetres = new long[windows];
            _milliseconds = new long[windows];
            _keys = new uint[windows][];
            for (int i = 0; i < windows; i++) _keys[i] = new uint[8];
            _count = new int[windows];
            _beyond = new bool[windows];
            Clear();
        }

        /// <summary>Start of the newest window pushed; long.MinValue when none.</summary>
        public long NewestStart { get; private set; } = long.MinValue;

        /// <summary>The end of the next view to publish.</summary>
        public long NextEnd { get; set; } = long.MinValue;

        public void Clear()
        {
            Array.Fill(_start, long.MinValue);
            NewestStart = long.MinValue;
            NextEnd = long.MinValue;
        }

        private int Slot(long start, long windowMs)
        {
            long index = start >= 0 ? start / windowMs : ((start + 1) / windowMs) - 1;
            int n = _start.Length;
            return (int)(((index % n) + n) % n);
        }

        /// <summary>Adds a closed window's sums and keys (a window closed twice, after a late traversal, adds up).</summary>
        public void Push(long start, long windowMs, Accumulator acc)
        {
            long spanMs = windowMs * _start.Length;
            if (start > NewestStart)
            {
                // A fresh span, or one whose every view is out: its views start with the first that holds this window.
                if (NewestStart == long.MinValue || NextEnd > NewestStart + spanMs) NextEnd = Math.Max(NextEnd, start + windowMs);
                NewestStart = start;
            }
            else if (start <= NewestStart - spanMs) return;   // older than any view still to come
            int slot = Slot(start, windowMs);
            if (_start[slot] != start)
            {
                _start[slot] = start;
                _millimetres[slot] = 0;
                _milliseconds[slot] = 0;
                _count[slot] = 0;
                _beyond[slot] = false;
            }
            _millimetres[slot] += acc.Millimetres;
            _milliseconds[slot] += acc.Milliseconds;
            _beyond[slot] |= acc.Beyond;
            ReadOnlySpan<uint> add = acc.Keys;
            int count = _count[slot];
            // Grown straight to the most a window keeps: the arrays pass from segment to segment, and grow once.
            if (count + add.Length > _keys[slot].Length) Array.Resize(ref _keys[slot], Math.Max(MaxTrackedVehicles, count + add.Length));
            add.CopyTo(_keys[slot].AsSpan(count));
            if (count > 0)
            {
                // Only a window closed twice merges: sort, drop repeats, keep the smallest 64.
                Span<uint> all = _keys[slot].AsSpan(0, count + add.Length);
                all.Sort();
                int distinct = 0;
                for (int i = 0; i < all.Length; i++)
                {
                    if (distinct == 0 || all[i] != all[distinct - 1]) all[distinct++] = all[i];
                }
                if (distinct > MaxTrackedVehicles)
                {
                    _beyond[slot] = true;
                    distinct = MaxTrackedVehicles;
                }
                _count[slot] = distinct;
            }
            else _count[slot] = add.Length;
        }

        /// <summary>
        /// Sums the windows that start in [<paramref name="fromMs"/>, <paramref name="toMs"/>): distance and time, and the
        /// distinct vehicles of their union (exact up to 64, estimated from the 64 smallest keys beyond).
        /// </summary>
        [System.Runtime.CompilerServices.SkipLocalsInit]
        public int Sum(long fromMs, long toMs, uint[] union, out long millimetres, out long milliseconds)
        {
            millimetres = 0;
            milliseconds = 0;
            bool beyond = false;
            // The slots' keys are sorted and distinct: each slot in the span is merged into the union so far, two lists at
            // a time (one comparison per key, where a merge of all the slots at once scans every slot per key), smallest
            // first, dropping repeats, up to one past the kept 64. The union is the same whatever the order of merging.
            Span<uint> other = stackalloc uint[MaxTrackedVehicles + 1];
            Span<uint> first = union.AsSpan(0, MaxTrackedVehicles + 1);
            bool inFirst = true;   // the union so far is in first, else in other: each merge writes to the other one
            int distinct = 0;
            for (int i = 0; i < _start.Length; i++)
            {
                if (_start[i] < fromMs || _start[i] >= toMs) continue;
                millimetres += _millimetres[i];
                milliseconds += _milliseconds[i];
                beyond |= _beyond[i];
                ReadOnlySpan<uint> keys = _keys[i].AsSpan(0, _count[i]);
                if (distinct == 0)
                {
                    keys.CopyTo(first);   // at most 64: the first slot is the union so far
                    distinct = keys.Length;
                    inFirst = true;
                    continue;
                }
                distinct = inFirst ? MergeDistinct(first[..distinct], keys, other) : MergeDistinct(other[..distinct], keys, first);
                inFirst = !inFirst;
            }
            if (!beyond && distinct <= MaxTrackedVehicles) return distinct;
            return Estimated(inFirst ? first[MaxTrackedVehicles - 1] : other[MaxTrackedVehicles - 1]);
        }

        /// <summary>
        /// Merges two ascending lists of distinct keys into <paramref name="into"/>, each key once, as many as it holds.
        /// Branch-free in the loop (the smaller key by a mask, each list's step by its comparison's bit): which list holds
        /// the next key follows the data, and its branches were mispredicted.
        /// </summary>
        private static int MergeDistinct(ReadOnlySpan<uint> a, ReadOnlySpan<uint> b, Span<uint> into)
        {
            int i = 0, j = 0, n = 0;
            while (i < a.Length && j < b.Length && n < into.Length)
            {
                uint x = a[i], y = b[j];
                int xFirst = Unsafe.BitCast<bool, byte>(x <= y);
                into[n++] = y ^ ((x ^ y) & (0u - (uint)xFirst));   // x when x <= y, else y
                i += xFirst;
                j += Unsafe.BitCast<bool, byte>(y <= x);
            }
            while (i < a.Length && n < into.Length) into[n++] = a[i++];
            while (j < b.Length && n < into.Length) into[n++] = b[j++];
            return n;
        }

        public void Save(BinaryWriter o)
        {
            o.Write(NewestStart);
            o.Write(NextEnd);
            for (int i = 0; i < _start.Length; i++)
            {
                o.Write(_start[i]);
                if (_start[i] == long.MinValue) continue;
                o.Write(_millimetres[i]);
                o.Write(_milliseconds[i]);
                o.Write(_beyond[i]);
                o.Write((byte)_count[i]);
                for (int k = 0; k < _count[i]; k++) o.Write(_keys[i][k]);
            }
        }

        public void Load(BinaryReader i)
        {
            NewestStart = i.ReadInt64();
            NextEnd = i.ReadInt64();
            for (int s = 0; s < _start.Length; s++)
            {
                _start[s] = i.ReadInt64();
                if (_start[s] == long.MinValue) continue;
                CheckpointReader.Check(_start[s] <= NewestStart, "checkpoint malformed: a sliding window after the newest");
                _millimetres[s] = i.ReadInt64();
                _milliseconds[s] = i.ReadInt64();
                _beyond[s] = i.ReadBoolean();
                int count = i.ReadByte();
                CheckpointReader.Check(count <= MaxTrackedVehicles && (!_beyond[s] || count == MaxTrackedVehicles), "checkpoint malformed: a sliding window's vehicles");
                if (_keys[s].Length < count) _keys[s] = new uint[count];
                for (int k = 0; k < count; k++)
                {
                    _keys[s][k] = i.ReadUInt32();
                    CheckpointReader.Check(k == 0 || _keys[s][k] > _keys[s][k - 1], "checkpoint malformed: a sliding window's vehicle keys out of order");
                }
                _count[s] = count;
            }
        }
    }

    /// <summary>
    /// Sums of one segment window. Distinct vehicles: the set of the smallest 64 vehicle keys seen (a bottom-k
    /// sketch): exact up to 64 vehicles, beyond that estimated from the 64th smallest key; in either case the
    /// same whatever order the traversals came in.
    /// <para>
    /// A view of one array that holds everything (the sums, the count, the keys, the per-vehicle sums), so that a
    /// traversal reads and writes one object, found straight from the open windows' table: no object in between whose
    /// fields must arrive before its arrays can be asked for.
    /// </para>
    /// </summary>
    private readonly struct Accumulator
    {
        private const int MillimetresAt = 0;   // integer sums: the same traversals give the same result in whatever order shards deliver them
        private const int MillisecondsAt = 1;
        private const int TrackedAt = 2;       // keys kept
        private const int BeyondAt = 3;        // 1: more distinct keys were seen than are kept
        private const int KeysAt = 4;          // the kept keys, sorted ascending, distinct, two to a long
        private const int PairsAt = KeysAt + (MaxTrackedVehicles / 2);   // per kept key side by side: its distance and time
        private const int Longs = PairsAt + (2 * MaxTrackedVehicles);

        private readonly long[] _data;

        private Accumulator(long[] data) => _data = data;

        /// <summary>
        /// A new, empty accumulator, made at the most it keeps (1.3 KB): accumulators are reused from window to window and
        /// segment to segment, so a long run allocates nothing for them once it has as many as it keeps windows open.
        /// </summary>
        public static Accumulator Create() => new(new long[Longs]);

        /// <summary>The accumulator whose array this is (<see cref="Data"/>).</summary>
        public static Accumulator Of(long[] data) => new(data);

        /// <summary>Its array, for the open windows' table to hold.</summary>
        public long[] Data => _data;

        public long Millimetres => _data[MillimetresAt];

        public long Milliseconds => _data[MillisecondsAt];

        private int Tracked => (int)_data[TrackedAt];

        public int Vehicles => !Beyond ? Tracked : Estimated(AllKeys[MaxTrackedVehicles - 1]);

        /// <summary>The kept vehicle keys, ascending (all of them unless <see cref="Beyond"/>).</summary>
        public ReadOnlySpan<uint> Keys => AllKeys[..Tracked];

        /// <summary>Room for the 64 keys kept (those past the tracked count are stale).</summary>
        private Span<uint> AllKeys => MemoryMarshal.Cast<long, uint>(_data.AsSpan(KeysAt, MaxTrackedVehicles / 2));

        /// <summary>More distinct keys were seen than are kept.</summary>
        public bool Beyond => _data[BeyondAt] != 0;

        /// <summary>
        /// Asks for what <see cref="Add"/> reads (<see cref="Traffic.Geo.CacheHint"/>): the sums, the kept keys and the
        /// start of the per-vehicle sums (a window keeps few vehicles, so an insertion moves few of them).
        /// </summary>
        public void Prefetch() => Traffic.Geo.CacheHint.Object(_data, 16 + (8 * PairsAt) + 128);

        /// <summary>Empties the accumulator for another window; its array keeps its size.</summary>
        public void Clear() => _data.AsSpan(0, KeysAt).Clear();

        public void Add(int vehicle, long millimetres, long milliseconds)
        {
            long[] d = _data;
            d[MillimetresAt] += millimetres;
            d[MillisecondsAt] += milliseconds;
            uint key = (uint)vehicle;
            int tracked = (int)d[TrackedAt];
            Span<uint> keys = AllKeys;
            int at = LowerBound(keys, tracked, key);
            if (at < tracked && keys[at] == key)
            {
                d[PairsAt + (2 * at)] += millimetres;
                d[PairsAt + (2 * at) + 1] += milliseconds;
                return;
            }
            if (tracked == MaxTrackedVehicles)
            {
                d[BeyondAt] = 1;
                if (at == MaxTrackedVehicles) return; // larger than every key kept
                tracked--;                             // the largest key kept makes room
            }
            int after = tracked - at;
            keys.Slice(at, after).CopyTo(keys[(at + 1)..]);
            d.AsSpan(PairsAt + (2 * at), 2 * after).CopyTo(d.AsSpan(PairsAt + (2 * (at + 1))));
            keys[at] = key;
            d[PairsAt + (2 * at)] = millimetres;
            d[PairsAt + (2 * at) + 1] = milliseconds;
            d[TrackedAt] = tracked + 1;
        }

        /// <summary>
        /// The place of the first kept key not below <paramref name="key"/>: with AVX2, how many kept keys lie below it,
        /// eight at a time (<see cref="CountBelow"/>); else a scan or a binary search (<see cref="LowerBoundScalar"/>).
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        private static int LowerBound(ReadOnlySpan<uint> keys, int tracked, uint key) =>
            Vector256.IsHardwareAccelerated ? CountBelow(keys, tracked, key) : LowerBoundScalar(keys, tracked, key);

        /// <summary>The upper median of the tracked vehicles' speeds (km/h), sorted in <paramref name="scratch"/>; NaN when none.</summary>
        public double MedianVehicleKmh(double[] scratch)
        {
            long[] d = _data;
            int n = 0, tracked = Tracked;
            for (int i = 0; i < tracked; i++)
            {
                long mm = d[PairsAt + (2 * i)], ms = d[PairsAt + (2 * i) + 1];
                if (ms > 0) scratch[n++] = mm / (double)ms * 3.6;
            }
            if (n == 0) return double.NaN;
            // An insertion sort: a window holds a few vehicles (64 at most), where Array.Sort went through its checks, a
            // pass for NaNs (there are none: every time is positive) and the introsort's calls to reach the same loop.
            for (int i = 1; i < n; i++)
            {
                double v = scratch[i];
                int j = i - 1;
                while (j >= 0 && scratch[j] > v)
                {
                    scratch[j + 1] = scratch[j];
                    j--;
                }
                scratch[j + 1] = v;
            }
            return scratch[n / 2];
        }

        /// <summary>
        /// Leaves out the vehicles whose distance falls short of <paramref name="minMillimetres"/>, unless they crawled on for
        /// <paramref name="minMilliseconds"/> at <paramref name="minMetresPerSecond"/> or more: their keys, and their
        /// distance and time from the sums. Returns how many. Exact while every vehicle is kept; past the 64 kept
        /// (<see cref="Beyond"/>) the sums hold vehicles not kept, so none is left out and the estimate stands.
        /// </summary>
        public int KeepCovering(long minMillimetres, long minMilliseconds, double minMetresPerSecond)
        {
            if (Beyond) return 0;
            long[] d = _data;
            Span<uint> keys = AllKeys;
            int kept = 0, tracked = Tracked;
            for (int i = 0; i < tracked; i++)
            {
                long mm = d[PairsAt + (2 * i)], ms = d[PairsAt + (2 * i) + 1];
                bool crawled = ms >= minMilliseconds && mm >= ms * minMetresPerSecond;
                if (mm < minMillimetres && !crawled)
                {
                    d[MillimetresAt] -= mm;
                    d[MillisecondsAt] -= ms;
                    continue;
                }
                keys[kept] = keys[i];
                d[PairsAt + (2 * kept)] = mm;
                d[PairsAt + (2 * kept) + 1] = ms;
                kept++;
            }
            d[TrackedAt] = kept;
            return tracked - kept;
        }

        /// <summary>Counts each kept vehicle's speed over the window (its distance over its time) into 1 km/h bins.</summary>
        public void AddSpeeds(int[] bins)
        {
            long[] d = _data;
            int tracked = Tracked;
            for (int i = 0; i < tracked; i++)
            {
                long mm = d[PairsAt + (2 * i)], ms = d[PairsAt + (2 * i) + 1];
                if (ms > 0) bins[(int)Math.Clamp(mm / (double)ms * 3.6, 0, SpeedBins - 1)]++;
            }
        }

        public void Save(BinaryWriter o)
        {
            long[] d = _data;
            int tracked = Tracked;
            o.Write(Millimetres);
            o.Write(Milliseconds);
            o.Write(Beyond);
            o.Write((byte)tracked);
            ReadOnlySpan<uint> keys = Keys;
            for (int i = 0; i < tracked; i++)
            {
                o.Write(keys[i]);
                o.Write(d[PairsAt + (2 * i)]);
                o.Write(d[PairsAt + (2 * i) + 1]);
            }
        }

        public void Load(BinaryReader i)
        {
            long[] d = _data;
            d[MillimetresAt] = i.ReadInt64();
            d[MillisecondsAt] = i.ReadInt64();
            bool beyond = i.ReadBoolean();
            int tracked = i.ReadByte();
            CheckpointReader.Check(tracked <= MaxTrackedVehicles && (!beyond || tracked == MaxTrackedVehicles), "checkpoint malformed: a window's vehicles");
            d[BeyondAt] = beyond ? 1 : 0;
            d[TrackedAt] = tracked;
            Span<uint> keys = AllKeys;
            for (int k = 0; k < tracked; k++)
            {
                keys[k] = i.ReadUInt32();
                CheckpointReader.Check(k == 0 || keys[k] > keys[k - 1], "checkpoint malformed: a window's vehicle keys out of order");
                d[PairsAt + (2 * k)] = i.ReadInt64();
                d[PairsAt + (2 * k) + 1] = i.ReadInt64();
            }
        }
    }
}
