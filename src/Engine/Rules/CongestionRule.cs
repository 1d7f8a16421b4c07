using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Segments;
using Traffic.Geo.Network;

namespace Traffic.Engine.Rules;

/// <summary>Options of the congestion and incident alerts.</summary>
public sealed record CongestionOptions
{
    /// <summary>Level (GB/T 33171) at or above which a window counts as congested: 4, moderate.</summary>
    public int OpenLevel { get; init; } = 4;

    /// <summary>Periods in a row in which a run's windows, taken together, are congested before its alert opens (periods without a window on it skipped).</summary>
    public int OpenAfterWindows { get; init; } = 3;

    /// <summary>
    /// A run shorter than this opens no alert until it grows: a junction's stub of 22 m that turning vehicles take at 20
    /// km/h is how they turn, not a jam (shorter than a queue of seven cars). A simulated jam on 南京西路 in Shanghai also
    /// raised one on the 22 m of 成都北路 where it meets it. Measured over the congested segments themselves, not the
    /// unseen road bridged between them: cars of a hand-written scenario in Shanghai, positions only from 10 m units,
    /// parked one after another for 2.5 minutes at the end of 河南中路, and their scatter crawled at 4–7 km/h over the two
    /// 11 m segments of 天津路 across the junction, which with the 144 m bridged beyond made a run of 178 m and an alert.
    /// </summary>
    public double MinRunM { get; init; } = 50;

    /// <summary>Level at or below which a window counts as clear (hysteresis: between the two, the segment holds its state).</summary>
    public int CloseLevel { get; init; } = 2;

    /// <summary>Clear windows of a congested segment before it counts as clear again.</summary>
    public int CloseAfterWindows { get; init; } = 2;

    /// <summary>
    /// A congested segment that publishes no window (too few vehicles) stays congested this many windows after its last
    /// congested one: a queue that thins out below the minimum sample has not cleared; then it lapses.
    /// </summary>
    public int HoldWindows { get; init; } = 5;

    /// <summary>
    /// Congested segments of one road join one run across up to this many metres of the road's segments in between that
    /// show no clear window (their vehicles were too few to publish: unseen, not free-flowing).
    /// </summary>
    public double JoinGapM { get; init; } = 300;

    /// <summary>
    /// A segment shorter than this (a junction's stub) is not judged on its own windows where they would split a run or
    /// open an incident: a window that reads it clear does not end the search for the run's next congested segment, and
    /// its windows are no collapse. Its speed is the share of a second that a vehicle's matched steps happen to spend on
    /// it: in hand-written scenarios of cars crawling at 5–12 km/h along 高新南一道 and 科技中三路 (fixes every second, 3 m
    /// units), their stubs of 7–14 m read 30–77 km/h, level 1, in a window now and then, which split one queue into two
    /// alerts (and two incidents), and a stub whose windows had read 60 km/h "collapsed" to 5 inside a jam that had built
    /// up over 20 minutes. At free flow the same stubs read from 0.7 to 1.9 times the speed driven, segments of 27 m and
    /// more within 0.85–1.2 times.
    /// </summary>
    public double StubM { get; init; } = 20;

    /// <summary><c>incident</c>: speed below this share of the segment's recent level …</summary>
    public double IncidentDropShare { get; init; } = 0.5;

    /// <summary>
    /// … and below it by at least this share of the free-flow speed: a collapse from flowing traffic, not a jam deepening
    /// (a road slowing from 45 to 5 km/h over 20 minutes read 5 against a recent 12, below half of it).
    /// </summary>
    public double IncidentDropOfFreeFlow { get; init; } = 0.25;

    /// <summary>… where the recent level is the mean speed of up to this many published windows before (at least 3).</summary>
    public int IncidentHistoryWindows { get; init; } = 5;

    /// <summary>An incident needs this many distinct vehicles in the collapsed window (a few slow vehicles are no incident).</summary>
    public int IncidentMinVehicles { get; init; } = 5;

    /// <summary>Consecutive collapsed windows before an incident opens (debounce).</summary>
    public int IncidentAfterWindows { get; init; } = 2;
}

/// <summary>
/// Congestion alerts per connected run of one road, from the published segment windows (in window order).
/// <para>
/// A window's level is judged robustly: from the higher of its space-mean speed and its median vehicle's speed, so that
/// one vehicle standing on a segment among moving ones (a taxi waiting for a fare, a bus at its stop) is not a
/// congested road. A segment becomes congested with a window at moderate (level 4) or worse and clears after 2 windows
/// at basically smooth or better (hysteresis); windows in between, and missing windows for up to
/// <see cref="CongestionOptions.HoldWindows"/>, hold its state.
/// </para>
/// <para>
/// The congested segments of one road (<see cref="RoadGroups"/>: same name, or same way) that connect head to tail,
/// directly or across up to <see cref="CongestionOptions.JoinGapM"/> of the road's segments without a clear window, form
/// a run: one <c>congestion</c> alert per run, not per segment. It opens when the run stays moderate or worse: its
/// windows of a period over its whole extent, taken together, at level 4 or worse in 3 periods in a row (periods
/// without a window on the run neither count nor break the row); it updates when its level rises and closes when all
/// its segments have cleared. Runs that merge keep the older alert (of two as old, the longer run's; the other
/// closes); a run that splits keeps its alert on the part that holds most of it. Severity is the run's GB/T 33171
/// level (its length-weighted travel speed over free flow); the evidence names the road's ways and the run's length.
/// The alert's way is the run's most congested segment's when it opened.
/// </para>
/// <para>
/// <c>incident</c> opens when a segment's speed collapses below half of its recent level into a congested window for 2
/// windows in a row (a possible accident): one per run, the segments that collapse after it in the same run joining
/// it; it closes when the last of them has cleared.
/// </para>
/// The runs are evaluated for each window period once all its windows are in (<see cref="EndOfWindows"/>), road by road,
/// and only for roads with a window in that period: a partition must own every segment of a road
/// (<see cref="RoadGroups.PartitionOf"/>), and what it publishes does not depend on the other roads it owns. One
/// instance per segment partition.
/// </summary>
public sealed class CongestionRule
{
    private readonly RoadNetwork _network;
    private readonly RoadGroups _roadGroups;
    private readonly CongestionOptions _options;
    private readonly Dictionary<int, SegmentState> _segments = [];
    private readonly Dictionary<int, RoadState> _roads = [];
    private readonly List<int> _pendingRoads = [];      // roads with a window in the period being taken in
    private long _pendingPeriod = long.MinValue;        // window start of that period
    private long _windowMs;                             // window length, from the windows
    private readonly List<int> _hot = [];               // scratch: a road's congested segments
    private readonly Dictionary<int, int> _parent = []; // scratch: union-find over them
    private readonly List<(int From, int Edge)> _bridges = []; // scratch: segments bridged between congested ones
    private readonly Queue<(int Edge, double Gap)> _queue = new();
    private readonly Dictionary<int, int> _cameFrom = [];   // scratch: the search's tree

    /// <param name="roads">The roads of the network (which segments form one road).</param>
    /// <param name="options">Options; defaults when null.</param>
    public CongestionRule(RoadGroups roads, CongestionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(roads);
        _roadGroups = roads;
        _network = roads.Network;
        _options = options ?? new CongestionOptions();
    }

    /// <summary>A rule with road groups of its own (tests; partitions share the engine's).</summary>
    public CongestionRule(RoadNetwork network, CongestionOptions? options = null) : this(new RoadGroups(network), options)
    {
    }

    /// <summary>Takes one published window (windows come in window order, then by edge).</summary>
    public void OnWindow(in SegmentStat w, List<AlertEvent> alerts)
    {
        if (w.WindowStartMs != _pendingPeriod)
        {
            EndOfWindows(alerts);
            _pendingPeriod = w.WindowStartMs;
        }
        _windowMs = w.WindowEndMs - w.WindowStartMs;
        if (!_segments.TryGetValue(w.Edge, out SegmentState? s)) _segments[w.Edge] = s = new SegmentState(_options.IncidentHistoryWindows);
        int road = _roadGroups.Key(w.Edge);
        if (!_roads.TryGetValue(road, out RoadState? r)) _roads[road] = r = new RoadState();
        if (r.PendingPeriod != w.WindowStartMs)
        {
            r.PendingPeriod = w.WindowStartMs;
            _pendingRoads.Add(road);
        }

        // A congested segment silent for too long lapsed: this window starts afresh, not as part of the old run.
        if (s.Hot && w.WindowStartMs - s.LastCongestedStart >= _options.HoldWindows * _windowMs)
        {
            s.Hot = false;
            r.RunOf.Remove(w.Edge);
        }
        bool consecutive = s.LastWindowEnd == w.WindowStartMs;
        s.LastWindowEnd = w.WindowEndMs;
        double speed = RobustSpeed(in w);
        int level = CongestionLevel.Of(speed, w.FreeFlowKmh);
        s.LastLevel = level;
        s.LastSpeedKmh = speed;
        s.LastFreeFlowKmh = w.FreeFlowKmh;

        // Incident: a collapse below half the recent speed into a congested window, held for the debounce.
        double recent = s.RecentSpeed();
        bool collapse = _network.LengthM(w.Edge) >= _options.StubM
            && !double.IsNaN(recent) && speed < recent * _options.IncidentDropShare && level >= _options.OpenLevel
            && recent - speed >= w.FreeFlowKmh * _options.IncidentDropOfFreeFlow && w.Vehicles >= _options.IncidentMinVehicles;
        if (collapse)
        {
            if (s.Collapsed == 0 || !consecutive)
            {
                s.Collapsed = 0;
                s.CollapseStart = w.WindowStartMs;
                s.CollapseFrom = recent;
            }
            s.Collapsed++;
        }
        else if (s.IncidentId == null) s.Collapsed = 0;
        if (!collapse) s.Remember(speed); // the recent level is the level before the collapse (the incident opens with the runs)

        if (level >= _options.OpenLevel)
        {
            if (!s.Hot)
            {
                s.Hot = true;
                s.HotSince = w.WindowStartMs;
            }
            s.Clear = 0;
            s.LastCongestedStart = w.WindowStartMs;
            s.LastCongestedEnd = w.WindowEndMs;
            s.Level = level;
            s.SpeedKmh = speed;
            s.FreeFlowKmh = w.FreeFlowKmh;
            s.Vehicles = w.Vehicles;
        }
        else if (level <= _options.CloseLevel && s.Hot && ++s.Clear >= _options.CloseAfterWindows)
        {
            s.Hot = false;
        }
    }

    /// <summary>
    /// The windows of the latest period are all in (the partition published every window up to its watermark): the runs
    /// of the roads that had a window in it are found and their alerts opened, updated or closed.
    /// </summary>
    public void EndOfWindows(List<AlertEvent> alerts)
    {
        if (_pendingRoads.Count == 0) return;
        _pendingRoads.Sort();
        foreach (int road in _pendingRoads) Evaluate(road, _roads[road], _pendingPeriod, alerts);
        _pendingRoads.Clear();
    }

    /// <summary>The speed a window's level is judged by: the higher of its space-mean speed and its median vehicle's.</summary>
    private static double RobustSpeed(in SegmentStat w) =>
        double.IsNaN(w.VehicleMedianKmh) ? w.SpeedKmh : Math.Max(w.SpeedKmh, w.VehicleMedianKmh);

    private void Evaluate(int roadKey, RoadState road, long period, List<AlertEvent> alerts)
    {
        long hold = _options.HoldWindows * _windowMs;
        // The road's congested segments; those silent too long lapse, and their incidents close with them.
        _hot.Clear();
        foreach (int e in _roadGroups.Edges(roadKey))
        {
            if (!_segments.TryGetValue(e, out SegmentState? s)) continue;
            if (s.Hot && period - s.LastCongestedStart >= hold) s.Hot = false;
            if (s.Hot) _hot.Add(e);
            else if (s.IncidentId is { } incident)
            {
                // The segment cleared; the incident closes with the last of its segments.
                s.IncidentId = null;
                s.Collapsed = 0;
                if (!HeldOnRoad(roadKey, incident)) alerts.Add(IncidentEvent(incident, s, e, AlertState.Close, period, s.LastCongestedEnd));
            }
        }

        // A free-flowing road without runs (the common case) has nothing to join, open or close: no work, no allocation.
        if (_hot.Count == 0 && road.Runs.Count == 0) return;

        // Runs: congested segments joined head to tail along the road, across gaps that show no clear window.
        _parent.Clear();
        _bridges.Clear();
        foreach (int e in _hot) _parent[e] = e;
        foreach (int e in _hot) JoinForward(e, roadKey, period);

        // The runs, in order of their first segment. A previous run goes on in the run that holds most of its segments;
        // a run that holds several previous ones (they merged) goes on as the oldest of them.
        var components = new SortedDictionary<int, List<int>>();
        foreach (int e in _hot)
        {
            int root = Find(e);
            if (!components.TryGetValue(root, out var members)) components[root] = members = [];
            members.Add(e);
        }
        var ordered = components.Values.OrderBy(m => m[0]).ToList();
        var assigned = new Dictionary<Run, (int Component, int Shared)>();
        for (int c = 0; c < ordered.Count; c++)
        {
            var shared = new Dictionary<Run, int>();
            foreach (int e in ordered[c])
            {
                if (road.RunOf.TryGetValue(e, out Run? previous)) shared[previous] = shared.GetValueOrDefault(previous) + 1;
            }
            foreach (var (previous, count) in shared)
            {
                if (!assigned.TryGetValue(previous, out var a) || count > a.Shared) assigned[previous] = (c, count);
            }
        }
        var taken = new HashSet<Run>();
        var next = new List<Run>();
        for (int c = 0; c < ordered.Count; c++)
        {
            List<int> members = ordered[c];
            Run? best = null;
            foreach (var (previous, a) in assigned)
            {
                if (a.Component != c) continue;
                if (best == null || Older(previous, best)) best = previous;
            }
            Run run;
            if (best != null)
            {
                run = best;
                taken.Add(best);
            }
            else
            {
                run = new Run { StartMs = long.MaxValue, FirstEdge = members[0] };
                foreach (int e in members) run.StartMs = Math.Min(run.StartMs, _segments[e].HotSince);
                // The part a run left when it split (its alert went on with another part) is a run from now: begun as
                // its segments' congestion, it took the id of the alert it split from when it held the segment that alert
                // is named after (the same way, edge and start), and one alert_id opened and closed twice.
                foreach (int e in members)
                {
                    if (road.RunOf.ContainsKey(e)) run.StartMs = Math.Max(run.StartMs, period);
                }
            }
            run.Edges = members;
            int root = Find(members[0]);
            var extent = new SortedSet<int>(members);
            foreach (var (a, x) in _bridges)
            {
                if (Find(a) == root) extent.Add(x);
            }
            run.Extent = [.. extent];
            // Does the run stay congested? Its windows of this period, over its whole extent, judged together.
            if (PeriodLevel(run.Extent, period) is int level)
            {
                if (level >= _options.OpenLevel) run.Windows++;
                else if (run.OpenId == null) run.Windows = 0;
            }
            next.Add(run);
        }

        // Runs gone or merged into an older one: their alerts close.
        foreach (Run old in road.Runs)
        {
            if (taken.Contains(old) || old.OpenId == null) continue;
            alerts.Add(RunEvent(old, AlertState.Close, period, old.LastEndMs));
        }
        road.Runs = next;
        road.RunOf.Clear();
        foreach (Run run in next)
        {
            foreach (int e in run.Edges) road.RunOf[e] = run;
            Measure(run);
            if (run.OpenId == null)
            {
                if (run.Windows < _options.OpenAfterWindows || run.CongestedM < _options.MinRunM) continue;
                int principal = run.Principal;
                run.OpenId = $"congestion:{_network.WayId(principal)}:{_network.Direction(principal)}:{principal}:{run.StartMs}";
                run.WayEdge = principal;
                run.Reported = run.Level;
                alerts.Add(RunEvent(run, AlertState.Open, period, null));
            }
            else if (run.Level > run.Reported)
            {
                run.Reported = run.Level;
                alerts.Add(RunEvent(run, AlertState.Update, period, null));
            }
        }
        foreach (Run run in next) Incident(run, period, alerts);
    }

    /// <summary>
    /// One incident per run, however many of its segments collapse: a crash collapses the segment it is on and then, as
    /// the queue grows, one segment behind it after another. The first to collapse opens it (the earliest collapse, of
    /// two as early the first in the run); the others join it; it closes when the last of them has cleared.
    /// </summary>
    private void Incident(Run run, long period, List<AlertEvent> alerts)
    {
        string? id = null;
        long start = 0;
        int first = -1;
        foreach (int e in run.Edges)
        {
            SegmentState s = _segments[e];
            if (s.IncidentId != null)
            {
                if (id == null) (id, start) = (s.IncidentId, s.IncidentStart);
            }
            else if (Collapsed(s, period) && (first < 0 || s.CollapseStart < _segments[first].CollapseStart)) first = e;
        }
        if (id == null)
        {
            if (first < 0) return;
            SegmentState f = _segments[first];
            id = $"incident:{_network.WayId(first)}:{_network.Direction(first)}:{first}:{f.CollapseStart}";
            start = f.CollapseStart;
            f.IncidentId = id;
            f.IncidentStart = start;
            alerts.Add(IncidentEvent(id, f, first, AlertState.Open, period + _windowMs, null));
        }
        foreach (int e in run.Edges)
        {
            SegmentState s = _segments[e];
            if (s.IncidentId == null && Collapsed(s, period)) (s.IncidentId, s.IncidentStart) = (id, start);
        }
    }

    /// <summary>The segment's window of this period is the last of enough collapsed ones in a row.</summary>
    private bool Collapsed(SegmentState s, long period) =>
        s.Collapsed >= _options.IncidentAfterWindows && s.LastWindowEnd - _windowMs == period;

    /// <summary>Whether a segment of the road still holds the incident.</summary>
    private bool HeldOnRoad(int roadKey, string incident)
    {
        foreach (int e in _roadGroups.Edges(roadKey))
        {
            if (_segments.TryGetValue(e, out SegmentState? s) && s.IncidentId == incident) return true;
        }
        return false;
    }

    /// <summary>
    /// The level of a run's windows of one period taken together (the length-weighted travel speed of the segments with a
    /// window in it over their free flow), or null when none of its segments published one.
    /// </summary>
    private int? PeriodLevel(int[] extent, long period)
    {
        double length = 0, time = 0, freeTime = 0;
        foreach (int e in extent)
        {
            if (!_segments.TryGetValue(e, out SegmentState? s) || s.LastWindowEnd - _windowMs != period) continue;
            double l = _network.LengthM(e);
            length += l;
            time += l / Math.Max(s.LastSpeedKmh, 0.1);
            freeTime += l / Math.Max(s.LastFreeFlowKmh, 0.1);
        }
        return length > 0 ? CongestionLevel.Of(length / time, length / freeTime) : null;
    }

    /// <summary>Which of two runs goes on when they merge: the one that began first; of two that began together, the longer.</summary>
    private static bool Older(Run a, Run b) =>
        a.StartMs != b.StartMs ? a.StartMs < b.StartMs : a.Edges.Count != b.Edges.Count ? a.Edges.Count > b.Edges.Count : a.FirstEdge < b.FirstEdge;

    /// <summary>
    /// From a congested segment, along the road's successors: joins the congested segments reached within the gap, and
    /// notes the segments bridged on the way to each (the run's extent between its congested segments).
    /// </summary>
    private void JoinForward(int from, int roadKey, long period)
    {
        _queue.Clear();
        _cameFrom.Clear();
        _queue.Enqueue((from, 0));
        _cameFrom[from] = -1;
        while (_queue.Count > 0)
        {
            var (e, gap) = _queue.Dequeue();
            int node = _network.To(e);
            for (int f = _network.FirstOutEdge(node); f < _network.EndOutEdge(node); f++)
            {
                if (f == _network.Twin(e) || _roadGroups.Key(f) != roadKey || !_cameFrom.TryAdd(f, e)) continue;
                if (_parent.ContainsKey(f))
                {
                    int a = Find(from), b = Find(f);
                    if (a == b) continue;
                    _parent[Math.Max(a, b)] = Math.Min(a, b);
                    for (int x = e; x != from; x = _cameFrom[x]) _bridges.Add((from, x));
                    continue;
                }
                // A segment seen clear lately (within the hysteresis) ends the search; one unseen, seen clear longer ago
                // or between the levels may be bridged.
                if (_network.LengthM(f) >= _options.StubM && _segments.TryGetValue(f, out SegmentState? s) && s.LastLevel <= _options.CloseLevel
                    && period - (s.LastWindowEnd - _windowMs) < _options.CloseAfterWindows * _windowMs) continue;
                double g = gap + _network.LengthM(f);
                if (g <= _options.JoinGapM) _queue.Enqueue((f, g));
            }
        }
    }

    private int Find(int e)
    {
        while (_parent[e] != e) e = _parent[e];
        return e;
    }

    /// <summary>The run's level and evidence from its segments' latest congested windows.</summary>
    private void Measure(Run run)
    {
        double length = 0, time = 0, freeTime = 0;
        int vehicles = 0, principal = run.Edges[0], worst = -1;
        long end = long.MinValue;
        foreach (int e in run.Edges)
        {
            SegmentState s = _segments[e];
            double l = _network.LengthM(e);
            length += l;
            time += l / Math.Max(s.SpeedKmh, 0.1);
            freeTime += l / Math.Max(s.FreeFlowKmh, 0.1);
            vehicles = Math.Max(vehicles, s.Vehicles);
            end = Math.Max(end, s.LastCongestedEnd);
            if (s.Level > worst)
            {
                worst = s.Level;
                principal = e;
            }
        }
        run.SpeedKmh = length / time;
        run.FreeFlowKmh = length / freeTime;
        run.Level = CongestionLevel.Of(run.SpeedKmh, run.FreeFlowKmh);
        run.CongestedM = length;
        foreach (int e in run.Extent)
        {
            if (!_segments.TryGetValue(e, out SegmentState? s) || !s.Hot) length += _network.LengthM(e);
        }
        run.LengthM = length;
        run.Vehicles = vehicles;
        run.LastEndMs = end;
        run.Principal = principal;
    }

    /// <summary>Writes every segment's state, the roads' runs and the alerts open (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        BinaryWriter o = w.Out;
        o.Write(_options.IncidentHistoryWindows);
        o.Write(_windowMs);
        o.Write(_pendingPeriod);
        o.Write(_pendingRoads.Count);
        foreach (int road in _pendingRoads) o.Write(road);
        o.Write(_segments.Count);
        foreach (var (edge, s) in _segments.OrderBy(kv => kv.Key))
        {
            o.Write(edge);
            s.Save(w);
        }
        o.Write(_roads.Count);
        foreach (var (key, road) in _roads.OrderBy(kv => kv.Key))
        {
            o.Write(key);
            o.Write(road.PendingPeriod);
            o.Write(road.Runs.Count);
            foreach (Run run in road.Runs) run.Save(w);
        }
    }

    /// <summary>Adds the edges the state names (segments, runs) to <paramref name="edges"/> (a checkpoint's edge keys).</summary>
    internal void CollectEdges(SortedSet<int> edges)
    {
        foreach (int edge in _segments.Keys) edges.Add(edge);
        foreach (RoadState road in _roads.Values)
        {
            foreach (Run run in road.Runs)
            {
                edges.Add(run.FirstEdge);
                edges.Add(run.WayEdge);
                edges.Add(run.Principal);
                foreach (int e in run.Edges) edges.Add(e);
                foreach (int e in run.Extent) edges.Add(e);
            }
        }
    }

    /// <summary>
    /// Restores what <see cref="Save"/> wrote into this fresh rule. Written on another road network
    /// (<paramref name="change"/>), each segment's state moves to the edge of the same key here, and a run whose segments
    /// all do, on one road here, goes on; a segment this network no longer has is dropped, and so is a run that held one
    /// (or whose segments now lie on different roads): their open <c>incident</c> and <c>congestion</c> alerts close
    /// (<see cref="NetworkChange.Closes"/>).
    /// </summary>
    internal void Load(CheckpointReader r, NetworkChange? change = null)
    {
        BinaryReader i = r.In;
        int history = i.ReadInt32();
        CheckpointReader.Check(history == _options.IncidentHistoryWindows,
            $"checkpoint kept {history} windows of incident history; these options keep {_options.IncidentHistoryWindows}");
        _windowMs = i.ReadInt64();
        _pendingPeriod = i.ReadInt64();
        int n = r.Count();
        // Road keys are this network's: those of another are not carried (none are pending between two messages anyway:
        // every batch of windows ends with their evaluation).
        for (int k = 0; k < n; k++)
        {
            int pending = i.ReadInt32();
            if (change == null) _pendingRoads.Add(pending);
        }
        n = r.Count();
        var gone = change == null ? null : new List<(int Edge, SegmentState State)>();
        for (int k = 0; k < n; k++)
        {
            int stored = change == null ? ReadEdge(i) : i.ReadInt32();
            int edge = change == null ? stored : change.Map(stored);
            var s = new SegmentState(history);
            s.Load(r);
            if (edge >= 0 && !_segments.ContainsKey(edge)) _segments[edge] = s;
            else if (change != null) gone!.Add((stored, s));
            else _segments[edge] = s;
        }
        n = r.Count();
        for (int k = 0; k < n; k++)
        {
            int key = i.ReadInt32();
            var road = new RoadState { PendingPeriod = i.ReadInt64() };
            int runs = r.Count();
            for (int j = 0; j < runs; j++)
            {
                var run = Run.Load(r, change == null ? ReadEdge : reader => reader.ReadInt32());
                if (change != null)
                {
                    CarryOver(run, road.PendingPeriod, change);
                    continue;
                }
                road.Runs.Add(run);
                foreach (int e in run.Edges) road.RunOf[e] = run;
            }
            if (change == null) _roads[key] = road;
        }
        if (change == null) return;
        // An incident on a segment no longer given closes, unless a segment still given holds the same alert.
        var held = _segments.Values.Select(s => s.IncidentId).Where(id => id != null).ToHashSet();
        foreach (var (edge, s) in gone!)
        {
            if (s.IncidentId is not { } id || !held.Add(id)) continue;
            EdgeKey key = change.KeyOf(edge);
            var (lon, lat) = key.Middle;
            var evidence = IncidentEvidence(s);
            evidence["network_changed"] = 1;
            change.Closes.Add(new AlertEvent
            {
                AlertId = id,
                Kind = "incident",
                State = AlertState.Close,
                TimeMs = Math.Max(change.TimeMs, s.LastCongestedEnd),
                StartMs = s.IncidentStart,
                EndMs = s.LastCongestedEnd,
                WayId = key.WayId,
                Lon = lon,
                Lat = lat,
                Severity = s.Level,
                Evidence = evidence,
            });
        }
    }

    /// <summary>
    /// A run of a checkpoint of another road network: it goes on under this network's edges and road when every segment
    /// it names is here and on one road; else it is dropped, and its open alert closes.
    /// </summary>
    private void CarryOver(Run run, long pendingPeriod, NetworkChange change)
    {
        int Map(int e) => change.Map(e);
        bool whole = Map(run.FirstEdge) >= 0 && Map(run.WayEdge) >= 0 && Map(run.Principal) >= 0
            && run.Edges.All(e => Map(e) >= 0) && run.Extent.All(e => Map(e) >= 0);
        int roadKey = whole ? _roadGroups.Key(Map(run.WayEdge)) : 0;
        if (whole && run.Edges.All(e => _roadGroups.Key(Map(e)) == roadKey))
        {
            var carried = new Run
            {
                StartMs = run.StartMs, FirstEdge = Map(run.FirstEdge), Windows = run.Windows, OpenId = run.OpenId, Reported = run.Reported,
                WayEdge = Map(run.WayEdge), Edges = [.. run.Edges.Select(Map).Order()], Extent = [.. run.Extent.Select(Map).Order()],
                Principal = Map(run.Principal), Level = run.Level, SpeedKmh = run.SpeedKmh, FreeFlowKmh = run.FreeFlowKmh,
                LengthM = run.LengthM, CongestedM = run.CongestedM, Vehicles = run.Vehicles, LastEndMs = run.LastEndMs,
            };
            if (!_roads.TryGetValue(roadKey, out RoadState? road)) _roads[roadKey] = road = new RoadState { PendingPeriod = pendingPeriod };
            if (carried.Edges.All(e => !road.RunOf.ContainsKey(e)))
            {
                road.Runs.Add(carried);
                road.Runs.Sort((a, b) => (a.Edges.Count > 0 ? a.Edges[0] : a.FirstEdge).CompareTo(b.Edges.Count > 0 ? b.Edges[0] : b.FirstEdge));
                foreach (int e in carried.Edges) road.RunOf[e] = carried;
                return;
            }
        }
        // Its segments still here start afresh: congested again, they make a run of their own, with an alert of its own
        // (the same start and a segment of the same id would make the closed alert's id again).
        foreach (int e in run.Edges)
        {
            if (Map(e) is int now && now >= 0 && _segments.TryGetValue(now, out SegmentState? s)) s.Hot = false;
        }
        if (run.OpenId == null) return;
        EdgeKey way = change.KeyOf(run.WayEdge);
        var (lon, lat) = change.KeyOf(run.Principal).Middle;
        var evidence = RunEvidence(run, run.Edges.Select(e => change.KeyOf(e).WayId));
        evidence["network_changed"] = 1;
        change.Closes.Add(new AlertEvent
        {
            AlertId = run.OpenId,
            Kind = "congestion",
            State = AlertState.Close,
            TimeMs = Math.Max(change.TimeMs, run.LastEndMs),
            StartMs = run.StartMs,
            EndMs = run.LastEndMs,
            WayId = way.WayId,
            Lon = lon,
            Lat = lat,
            Severity = run.Level,
            Evidence = evidence,
        });
    }

    private int ReadEdge(BinaryReader i)
    {
        int edge = i.ReadInt32();
        CheckpointReader.Check((uint)edge < (uint)_network.EdgeCount, "checkpoint malformed: a congestion segment outside the network");
        return edge;
    }

    private AlertEvent RunEvent(Run run, AlertState state, long period, long? end)
    {
        int e = run.WayEdge;
        // The road's name: an unnamed segment that belongs to a named road (beside it, or its slip road) is that road.
        int key = _roadGroups.Key(e);
        string road = key > 0 ? _network.Names[key] : _network.Name(e);
        var (lon, lat) = _network.PointAt(run.Principal, _network.LengthM(run.Principal) / 2);
        var evidence = RunEvidence(run, run.Edges.Select(_network.WayId));
        return new AlertEvent
        {
            AlertId = run.OpenId!,
            Kind = "congestion",
            State = state,
            TimeMs = period + _windowMs,
            StartMs = run.StartMs,
            EndMs = end,
            Road = road.Length == 0 ? null : road,
            WayId = _network.WayId(e),
            Direction = _network.Direction(e),
            Lon = lon,
            Lat = lat,
            Severity = run.Level,
            Evidence = evidence,
        };
    }

    /// <summary>
    /// A run's evidence: its speeds, vehicles, level, segments and length, then its OSM ways in ascending order
    /// (<c>way_id_1</c>, <c>way_id_2</c>, …; way ids are integers: exact in a double).
    /// </summary>
    private static Dictionary<string, double> RunEvidence(Run run, IEnumerable<long> ways)
    {
        var evidence = new Dictionary<string, double>
        {
            ["speed_kmh"] = run.SpeedKmh,
            ["free_flow_kmh"] = run.FreeFlowKmh,
            ["vehicles"] = run.Vehicles,
            ["level"] = run.Level,
            ["segments"] = run.Edges.Count,
            ["length_m"] = run.LengthM,
        };
        int k = 1;
        foreach (long way in ways.Order().Distinct()) evidence[$"way_id_{k++}"] = way;
        return evidence;
    }

    /// <summary>An incident's evidence: the values of the segment's last congested window and the speed it collapsed from.</summary>
    private static Dictionary<string, double> IncidentEvidence(SegmentState s) => new()
    {
        ["speed_kmh"] = s.SpeedKmh,
        ["free_flow_kmh"] = s.FreeFlowKmh,
        ["vehicles"] = s.Vehicles,
        ["level"] = s.Level,
        ["recent_speed_kmh"] = s.CollapseFrom,
    };

    /// <summary>An incident's event, with the values of the segment's last congested window.</summary>
    private AlertEvent IncidentEvent(string id, SegmentState s, int edge, AlertState state, long timeMs, long? end)
    {
        string road = _network.Name(edge);
        var (lon, lat) = _network.PointAt(edge, _network.LengthM(edge) / 2);
        return new AlertEvent
        {
            AlertId = id,
            Kind = "incident",
            State = state,
            TimeMs = timeMs,
            StartMs = s.IncidentStart,
            EndMs = end,
            Road = road.Length == 0 ? null : road,
            WayId = _network.WayId(edge),
            Direction = _network.Direction(edge),
            Lon = lon,
            Lat = lat,
            Severity = s.Level,
            Evidence = IncidentEvidence(s),
        };
    }

    /// <summary>A road's runs and the period it was last listed for evaluation in.</summary>
    private sealed class RoadState
    {
        public long PendingPeriod = long.MinValue;
        public List<Run> Runs = [];                      // its runs after the last evaluation, in order
        public readonly Dictionary<int, Run> RunOf = []; // segment → run
    }

    /// <summary>A connected run of congested segments of one road, and its alert.</summary>
    private sealed class Run
    {
        public long StartMs;            // the first congested window's start
        public int FirstEdge;           // its first segment when it began (a tie-break between runs of one start)
        public int Windows;             // periods in a row in which the run's windows were congested (not reset once open)
        public string? OpenId;
        public int Reported;            // the level last reported
        public int WayEdge;             // the segment whose way the alert names (the principal one at the open)
        public List<int> Edges = [];    // its congested segments, in edge order
        public int[] Extent = [];       // those and the segments bridged between them, in edge order
        // Measured at each evaluation:
        public int Principal;
        public int Level;
        public double SpeedKmh;
        public double FreeFlowKmh;
        public double LengthM;
        public double CongestedM;       // of its congested segments alone (LengthM adds those bridged)
        public int Vehicles;
        public long LastEndMs;

        public void Save(CheckpointWriter w)
        {
            BinaryWriter o = w.Out;
            o.Write(StartMs);
            o.Write(FirstEdge);
            o.Write(Windows);
            w.String(OpenId);
            o.Write(Reported);
            o.Write(WayEdge);
            o.Write(Edges.Count);
            foreach (int e in Edges) o.Write(e);
            o.Write(Extent.Length);
            foreach (int e in Extent) o.Write(e);
            o.Write(Principal);
            o.Write(Level);
            o.Write(SpeedKmh);
            o.Write(FreeFlowKmh);
            o.Write(LengthM);
            o.Write(Vehicles);
            o.Write(LastEndMs);
        }

        public static Run Load(CheckpointReader r, Func<BinaryReader, int> edge)
        {
            BinaryReader i = r.In;
            var run = new Run
            {
                StartMs = i.ReadInt64(),
                FirstEdge = edge(i),
                Windows = i.ReadInt32(),
                OpenId = r.String(),
                Reported = i.ReadInt32(),
                WayEdge = edge(i),
            };
            int n = r.Count();
            for (int k = 0; k < n; k++) run.Edges.Add(edge(i));
            n = r.Count();
            run.Extent = new int[n];
            for (int k = 0; k < n; k++) run.Extent[k] = edge(i);
            run.Principal = edge(i);
            run.Level = i.ReadInt32();
            run.SpeedKmh = i.ReadDouble();
            run.FreeFlowKmh = i.ReadDouble();
            run.LengthM = i.ReadDouble();
            run.Vehicles = i.ReadInt32();
            run.LastEndMs = i.ReadInt64();
            return run;
        }
    }

    private sealed class SegmentState(int history)
    {
        private readonly double[] _speeds = new double[history];
        private int _count;
        private int _next;

        public long LastWindowEnd = long.MinValue;
        public int LastLevel;               // level of its last window, from its speed judged robustly
        public double LastSpeedKmh;
        public double LastFreeFlowKmh;
        public bool Hot;                    // congested (with hysteresis)
        public long HotSince;               // start of the first congested window of this spell
        public long LastCongestedStart = long.MinValue;
        public long LastCongestedEnd = long.MinValue;
        public int Clear;                   // clear windows since the last congested one
        public int Level;                   // of the last congested window, with its speeds and vehicles
        public double SpeedKmh;
        public double FreeFlowKmh;
        public int Vehicles;
        public int Collapsed;               // consecutive collapsed windows
        public long CollapseStart;
        public double CollapseFrom;         // the recent speed the collapse fell from
        public string? IncidentId;
        public long IncidentStart;

        public void Save(CheckpointWriter w)
        {
            BinaryWriter o = w.Out;
            o.Write(_count);
            o.Write(_next);
            foreach (double v in _speeds) o.Write(v);
            o.Write(LastWindowEnd);
            o.Write(LastLevel);
            o.Write(LastSpeedKmh);
            o.Write(LastFreeFlowKmh);
            o.Write(Hot);
            o.Write(HotSince);
            o.Write(LastCongestedStart);
            o.Write(LastCongestedEnd);
            o.Write(Clear);
            o.Write(Level);
            o.Write(SpeedKmh);
            o.Write(FreeFlowKmh);
            o.Write(Vehicles);
            o.Write(Collapsed);
            o.Write(CollapseStart);
            o.Write(CollapseFrom);
            w.String(IncidentId);
            o.Write(IncidentStart);
        }

        public void Load(CheckpointReader r)
        {
            BinaryReader i = r.In;
            _count = i.ReadInt32();
            _next = i.ReadInt32();
            CheckpointReader.Check(_count >= 0 && _count <= _speeds.Length && _next >= 0 && _next < _speeds.Length, "checkpoint malformed: incident history out of range");
            for (int k = 0; k < _speeds.Length; k++) _speeds[k] = i.ReadDouble();
            LastWindowEnd = i.ReadInt64();
            LastLevel = i.ReadInt32();
            LastSpeedKmh = i.ReadDouble();
            LastFreeFlowKmh = i.ReadDouble();
            Hot = i.ReadBoolean();
            HotSince = i.ReadInt64();
            LastCongestedStart = i.ReadInt64();
            LastCongestedEnd = i.ReadInt64();
            Clear = i.ReadInt32();
            Level = i.ReadInt32();
            SpeedKmh = i.ReadDouble();
            FreeFlowKmh = i.ReadDouble();
            Vehicles = i.ReadInt32();
            Collapsed = i.ReadInt32();
            CollapseStart = i.ReadInt64();
            CollapseFrom = i.ReadDouble();
            IncidentId = r.String();
            IncidentStart = i.ReadInt64();
        }

        public void Remember(double speed)
        {
            _speeds[_next] = speed;
            _next = (_next + 1) % _speeds.Length;
            if (_count < _speeds.Length) _count++;
        }

        public double RecentSpeed()
        {
            if (_count < 3) return double.NaN;
            double sum = 0;
            for (int i = 0; i < _count; i++) sum += _speeds[i];
            return sum / _count;
        }
    }
}
