using Traffic.Geo.Network;

namespace Traffic.Engine.Segments;

/// <summary>One published window of one directed segment (INTERFACES.md "Segment statistics").</summary>
public readonly record struct SegmentStat(
    int Edge, long WindowStartMs, long WindowEndMs, int Vehicles, double SpeedKmh, double FreeFlowKmh, double TravelTimeS, int Level);

/// <summary>Options of the per-segment stage.</summary>
public sealed record SegmentOptions
{
    /// <summary>Tumbling window length.</summary>
    public long WindowMs { get; init; } = 60_000;

    /// <summary>Fewer distinct vehicles than this in a window: nothing is published (no single vehicle can be traced).</summary>
    public int MinVehicles { get; init; } = 3;

    /// <summary>A traversal counts when it covers at least this share of the edge, or <see cref="MinTraversalM"/>.</summary>
    public double MinTraversalShare { get; init; } = 0.3;

    public double MinTraversalM { get; init; } = 50;

    /// <summary>Free flow falls back to the limit times this until enough low-volume speeds are seen.</summary>
    public double FreeFlowLimitFactor { get; init; } = 0.9;

    /// <summary>Speeds observed in low-volume hours before the learned 85th percentile replaces the fallback.</summary>
    public int FreeFlowMinSamples { get; init; } = 30;

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
/// </summary>
public sealed class SegmentAggregator
{
    private const int MaxTrackedVehicles = 64;   // distinct vehicles counted exactly up to this per window
    private const int SpeedBins = 200;           // 1 km/h bins for the free-flow percentile

    private readonly RoadNetwork _network;
    private readonly SegmentOptions _options;
    private readonly Dictionary<(int Edge, long Window), Accumulator> _open = [];
    private readonly Dictionary<int, int[]> _offPeakSpeeds = [];
    private readonly List<(int Edge, long Window)> _closing = [];

    public SegmentAggregator(RoadNetwork network, SegmentOptions? options = null)
    {
        _network = network;
        _options = options ?? new SegmentOptions();
    }

    /// <summary>Windows below the minimum sample, closed without publishing.</summary>
    public long Suppressed { get; private set; }

    /// <summary>Traversals too short to count.</summary>
    public long Ignored { get; private set; }

    /// <summary>Adds a vehicle's traversal of part of an edge, between entry and exit times.</summary>
    public void Add(int vehicle, int edge, double fromOffsetM, double toOffsetM, long enterMs, long exitMs)
    {
        double length = toOffsetM - fromOffsetM;
        double seconds = (exitMs - enterMs) / 1000.0;
        double edgeLength = _network.LengthM(edge);
        if (length <= 0 || seconds <= 0 || (length < _options.MinTraversalShare * edgeLength && length < _options.MinTraversalM))
        {
            Ignored++;
            return;
        }
        long window = exitMs - (((exitMs % _options.WindowMs) + _options.WindowMs) % _options.WindowMs);
        if (!_open.TryGetValue((edge, window), out Accumulator? acc))
        {
            acc = new Accumulator();
            _open.Add((edge, window), acc);
        }
        acc.Add(vehicle, (long)Math.Round(length * 1000), exitMs - enterMs);

        if (IsOffPeak(exitMs))
        {
            if (!_offPeakSpeeds.TryGetValue(edge, out int[]? bins)) _offPeakSpeeds[edge] = bins = new int[SpeedBins];
            int bin = (int)Math.Clamp(length / seconds * 3.6, 0, SpeedBins - 1);
            bins[bin]++;
        }
    }

    /// <summary>Closes every window that ends at or before the watermark and returns the published ones, oldest first.</summary>
    public void Advance(long watermarkMs, List<SegmentStat> published)
    {
        _closing.Clear();
        foreach (var key in _open.Keys)
        {
            if (key.Window + _options.WindowMs <= watermarkMs) _closing.Add(key);
        }
        _closing.Sort((a, b) => a.Window != b.Window ? a.Window.CompareTo(b.Window) : a.Edge.CompareTo(b.Edge));
        foreach (var key in _closing)
        {
            Accumulator acc = _open[key];
            _open.Remove(key);
            if (acc.Vehicles < _options.MinVehicles)
            {
                Suppressed++;
                continue;
            }
            double speed = acc.Millimetres / (double)acc.Milliseconds * 3.6;
            double free = FreeFlowKmh(key.Edge);
            published.Add(new SegmentStat(key.Edge, key.Window, key.Window + _options.WindowMs, acc.Vehicles, speed, free,
                _network.LengthM(key.Edge) / (speed / 3.6), CongestionLevel.Of(speed, free)));
        }
    }

    /// <summary>The segment's free-flow speed: the learned 85th percentile of low-volume speeds, else the limit × factor.</summary>
    public double FreeFlowKmh(int edge)
    {
        double fallback = _network.SpeedLimitKmh(edge) * _options.FreeFlowLimitFactor;
        if (!_offPeakSpeeds.TryGetValue(edge, out int[]? bins)) return fallback;
        int total = 0;
        foreach (int n in bins) total += n;
        if (total < _options.FreeFlowMinSamples) return fallback;
        int target = (int)Math.Ceiling(0.85 * total), seen = 0;
        for (int b = 0; b < bins.Length; b++)
        {
            seen += bins[b];
            if (seen >= target) return b + 0.5;
        }
        return fallback;
    }

    private bool IsOffPeak(long timeMs) => LocalTime.InHours(LocalTime.Hour(timeMs), _options.OffPeakFromHour, _options.OffPeakToHour);

    /// <summary>Sums of one segment window; distinct vehicles counted exactly up to 64, then approximately.</summary>
    private sealed class Accumulator
    {
        private readonly int[] _vehicles = new int[8];
        private int[] _more = [];
        private int _distinct;

        // Integer sums: the same traversals give the same result in whatever order shards deliver them.
        public long Millimetres;
        public long Milliseconds;

        public int Vehicles => _distinct;

        public void Add(int vehicle, long millimetres, long milliseconds)
        {
            Millimetres += millimetres;
            Milliseconds += milliseconds;
            int known = Math.Min(_distinct, MaxTrackedVehicles);
            for (int i = 0; i < known; i++)
            {
                if ((i < _vehicles.Length ? _vehicles[i] : _more[i - _vehicles.Length]) == vehicle) return;
            }
            if (_distinct < MaxTrackedVehicles)
            {
                if (_distinct < _vehicles.Length) _vehicles[_distinct] = vehicle;
                else
                {
                    if (_more.Length <= _distinct - _vehicles.Length) Array.Resize(ref _more, Math.Max(8, _more.Length * 2));
                    _more[_distinct - _vehicles.Length] = vehicle;
                }
            }
            _distinct++;
        }
    }
}
