using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Geo;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Rules;

/// <summary>Options of the wrong-way rule.</summary>
public sealed record WrongWayOptions
{
    internal static readonly WrongWayOptions Default = new();

    /// <summary>A one-way road counts when it is this close to the fix.</summary>
    public double NearM { get; init; } = 20;

    /// <summary>Course against the road's direction by more than this many degrees.</summary>
    public double AgainstDeg { get; init; } = 135;

    /// <summary>A road within <see cref="AlongM"/> running within this many degrees of the course explains the fix: no wrong way.</summary>
    public double AlongDeg { get; init; } = 45;

    public double AlongM { get; init; } = 35;

    /// <summary>Only while moving faster than this.</summary>
    public double MinSpeedKmh { get; init; } = 10;

    /// <summary>The condition must hold this long from its first fix (and over two fixes) before the alert opens.</summary>
    public double OpenAfterS { get; init; } = 8;

    public double CloseAfterS { get; init; } = 10;
}

/// <summary>
/// Wrong-way driving on one-way roads, from each vehicle's own course (the reported heading, else the
/// direction between its last two fixes): the fix lies on a one-way road, the course runs against that road
/// and no road near the fix runs along it. Judged on the fixes, not the map match, because the matcher
/// keeps to the roads' directions and cannot follow a vehicle driving against one. One instance per shard.
/// </summary>
public sealed class WrongWayRule(EdgeIndex index, VehicleIds ids, WrongWayOptions? options = null)
{
    private readonly WrongWayOptions _options = options ?? WrongWayOptions.Default;
    private readonly RoadNetwork _network = index.Network;
    // The roads within AlongM of a fix, the nearest 8; the map matcher's candidate search fills it for the same fix.
    private readonly NearbySearch _nearby = new(index, (options ?? WrongWayOptions.Default).AlongM, 8);
    private readonly PerVehicle<State> _states = new(() => new State(new ConditionTracker(
        (long)((options ?? WrongWayOptions.Default).OpenAfterS * 1000), (long)((options ?? WrongWayOptions.Default).CloseAfterS * 1000))));

    /// <summary>The rule's search for the roads around a fix, which a map matcher's candidate search may fill for it.</summary>
    public NearbySearch Nearby => _nearby;

    /// <summary>Asks for a vehicle's state ahead of its probe (<see cref="Traffic.Geo.CacheHint"/>); changes nothing.</summary>
    public void Prefetch(int vehicle) => _states.Prefetch(vehicle, 96);

    public void OnProbe(in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        State s = _states[p.Vehicle];
        if (s.LastMs != long.MinValue && p.TimeMs < s.LastMs) return;

        // The course: the reported heading, else the direction from where the vehicle was 15 m or more ago.
        double course = double.NaN;
        if (!float.IsNaN(p.Heading)) course = p.Heading;
        else if (s.AnchorMs != long.MinValue && p.TimeMs - s.AnchorMs <= 30_000)
        {
            if (GeoMath.Distance(s.AnchorLon, s.AnchorLat, p.Lon, p.Lat) >= 15)
            {
                s.Course = GeoMath.Bearing(s.AnchorLon, s.AnchorLat, p.Lon, p.Lat);
                s.AnchorMs = long.MinValue;
            }
            course = s.Course;
        }
        if (s.AnchorMs == long.MinValue || p.TimeMs - s.AnchorMs > 30_000)
        {
            s.AnchorMs = p.TimeMs;
            s.AnchorLon = p.Lon;
            s.AnchorLat = p.Lat;
        }
        bool moving = !float.IsNaN(p.SpeedKmh) ? p.SpeedKmh > _options.MinSpeedKmh : !double.IsNaN(course);

        int against = -1;
        if (moving && !double.IsNaN(course) && p.Fix)
        {
            // The nearest road must be a one-way road driven against, and no road a little further may run
            // along the course (a dual carriageway's other half lies a GPS error away).
            // The nearest first, its cheap tests before its bearing: most fixes are near no one-way road driven against,
            // and then the roads further away need no bearing at all.
            ReadOnlySpan<EdgeCandidate> near = _nearby.Within(p.Lon, p.Lat);
            if (near.Length > 0 && near[0].DistanceM <= _options.NearM && IsStrictOneWay(near[0].Edge))
            {
                double diff = GeoMath.BearingDifference(course, _network.BearingAt(near[0].Edge, near[0].OffsetM));
                if (diff > _options.AlongDeg && diff >= _options.AgainstDeg) against = near[0].Edge;
                for (int i = 0; i < near.Length && against >= 0; i++)
                {
                    if (RunsAlong(near[i].Edge, p.Lon, p.Lat, course)) against = -1;
                }
            }
        }
        bool active = against >= 0;
        if (active)
        {
            s.Edge = against;
            if (s.Fixes++ == 0) s.FirstMs = p.TimeMs;
        }
        else s.Fixes = 0;
        // Two fixes against the road confirm the drive from the first of them: at 15 s a unit's second fix opens it.
        AlertState? t = s.Condition.Update(active && s.Fixes >= 2, p.TimeMs, s.FirstMs);
        if (t is AlertState state)
        {
            int e = s.Edge;
            string road = _network.Name(e);
            alerts.Add(new AlertEvent
            {
                AlertId = $"wrong_way:{ids.Name(p.Vehicle)}:{s.Condition.StartMs}",
                Kind = "wrong_way",
                State = state,
                TimeMs = p.TimeMs,
                StartMs = s.Condition.StartMs,
                EndMs = state == AlertState.Close ? s.Condition.EndMs : null,
                VehicleId = ids.Name(p.Vehicle),
                Class = ProbeRules.ClassName(cls),
                Hazmat = ProbeRules.HazmatText(hazmat),
                Road = road.Length == 0 ? null : road,
                WayId = _network.WayId(e),
                Direction = _network.Direction(e),
                Lon = p.Lon,
                Lat = p.Lat,
                Severity = 3,
                Evidence = new Dictionary<string, double>
                {
                    ["course_deg"] = double.IsNaN(course) ? -1 : course,
                    ["road_bearing_deg"] = _network.BearingAt(e, 0),
                    ["speed_kmh"] = float.IsNaN(p.SpeedKmh) ? -1 : p.SpeedKmh,
                },
            });
            if (state == AlertState.Close) s.Condition.Clear();
        }
        s.LastMs = p.TimeMs;
    }

    /// <summary>Writes every vehicle's state, open alerts included (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_states.Vehicles.Length);
        foreach (int v in _states.Vehicles)
        {
            w.Vehicle(v);
            _states.Existing(v).Save(w.Out);
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this fresh rule.</summary>
    internal void Load(CheckpointReader r)
    {
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            State s = _states[r.Vehicle()];
            s.Load(r.In);
            CheckpointReader.Check((uint)s.Edge < (uint)_network.EdgeCount, "checkpoint malformed: a wrong-way edge outside the network");
        }
    }

    /// <summary>
    /// Whether any part of the edge within <see cref="WrongWayOptions.AlongM"/> of the fix runs along the course. The
    /// search gives each road's nearest point only, and a winding road (a hairpin, a loop, a ramp that turns back) can
    /// pass the fix twice: the nearest part running against the course, and the part the vehicle drives a little further.
    /// </summary>
    private bool RunsAlong(int edge, double lon, double lat, double course)
    {
        ReadOnlySpan<double> lons = _network.ShapeLons(edge), lats = _network.ShapeLats(edge);
        double kx = GeoMath.MetresPerDegreeLon(lat);
        for (int k = 0; k + 1 < lons.Length; k++)
        {
            if (GeoMath.ProjectOnSegment(lon, lat, lons[k], lats[k], lons[k + 1], lats[k + 1], kx, out _) > _options.AlongM) continue;
            if (GeoMath.BearingDifference(course, GeoMath.Bearing(lons[k], lats[k], lons[k + 1], lats[k + 1])) <= _options.AlongDeg) return true;
        }
        return false;
    }

    private bool IsStrictOneWay(int edge) =>
        _network.Twin(edge) < 0 && (_network.Flags(edge) & (EdgeFlags.OneWay | EdgeFlags.Reversible)) == EdgeFlags.OneWay;

    private sealed class State(ConditionTracker condition)
    {
        public readonly ConditionTracker Condition = condition;
        public long LastMs = long.MinValue;
        public int Edge;
        public int Fixes;
        public long FirstMs;                    // the first fix of the run of fixes against the road
        public long AnchorMs = long.MinValue;   // where the course from positions is measured from
        public double AnchorLon;
        public double AnchorLat;
        public double Course = double.NaN;

        public void Save(BinaryWriter o)
        {
            Condition.Save(o);
            o.Write(LastMs);
            o.Write(Edge);
            o.Write(Fixes);
            o.Write(FirstMs);
            o.Write(AnchorMs);
            o.Write(AnchorLon);
            o.Write(AnchorLat);
            o.Write(Course);
        }

        public void Load(BinaryReader i)
        {
            Condition.Load(i);
            LastMs = i.ReadInt64();
            Edge = i.ReadInt32();
            Fixes = i.ReadInt32();
            FirstMs = i.ReadInt64();
            AnchorMs = i.ReadInt64();
            AnchorLon = i.ReadDouble();
            AnchorLat = i.ReadDouble();
            Course = i.ReadDouble();
        }
    }
}
