using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Geo;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Rules;

/// <summary>Options of the speeding rule.</summary>
public sealed record SpeedingOptions
{
    /// <summary>
    /// The time zone (tz database id) of the day the night limits are judged in; null: the network's own
    /// (<see cref="LocalTime.ZoneIdOf"/>), for a network astride a zone border or where its nearest principal place is another zone's.
    /// </summary>
    public string? TimeZone { get; init; }

    /// <summary>Speeding is a speed above the applicable limit × (1 + this).</summary>
    public double Tolerance { get; init; } = 0.1;

    /// <summary>The speed must stay above for this long before an alert opens (debounce).</summary>
    public double MinDurationS { get; init; } = 10;

    /// <summary>
    /// The speed must stay at or below for this long before the alert closes (hysteresis), the close's end when it fell: a
    /// speeder slowing for a turn, or stopping at a red light, keeps one alert (10 s split the 3 speeders of a simulated hour
    /// in Monaco into 17 alerts, 30 s into 9; the gaps were 15–50 s).
    /// </summary>
    public double CloseAfterS { get; init; } = 60;

    /// <summary>Speed is measured over at least this much time of the vehicle's route (per-probe speeds are noisy).</summary>
    public double SpeedWindowS { get; init; } = 5;

    /// <summary>
    /// … and over as much of its last 8 matches as lies within this (the longer, the less the fixes' errors weigh: at
    /// 1 Hz, 7 s instead of 5).
    /// </summary>
    public double SpeedWindowMaxS { get; init; } = 30;

    /// <summary>
    /// A probe whose match is less certain than this says nothing about speeding: the limit of a road the
    /// vehicle may not be on (a service road beside an arterial) is no evidence.
    /// </summary>
    public double MinConfidence { get; init; } = 0.9;

    /// <summary>
    /// Benefit of the doubt: a fix is judged against the highest limit of the roads within this distance of it (its
    /// matched road among them). A GPS fix cannot tell a service road from the arterial beside it, nor the side road a
    /// vehicle is leaving from the faster road it has already turned onto. 3.5 σ of a fleet unit's error (10 m). The
    /// most: a unit shown to be more precise gets <see cref="AmbiguitySigmas"/> of its own error.
    /// </summary>
    public double AmbiguityM { get; init; } = 35;

    /// <summary>
    /// The distance of <see cref="AmbiguityM"/> for a unit whose error is known: this many times its error σ, estimated
    /// from its recent fixes' distances to their matched roads (mean distance × √(π/2)), at least
    /// <see cref="AmbiguityMinM"/>. A unit of 3 m error beside a faster road 30 m away is on its own road.
    /// </summary>
    public double AmbiguitySigmas { get; init; } = 3.5;

    /// <summary>The least distance of the benefit of the doubt, however precise the unit.</summary>
    public double AmbiguityMinM { get; init; } = 10;

    /// <summary>Matched fixes a unit has sent before its error is estimated from them (until then: <see cref="AmbiguityM"/>).</summary>
    public int ErrorMinFixes { get; init; } = 10;

    /// <summary>A unit's error σ until its fixes have shown its own: a fleet unit's.</summary>
    public double FleetErrorM { get; init; } = 10;

    /// <summary>A fix farther than this from its matched road is not judged: the match does not explain it.</summary>
    public double MaxMatchDistanceM { get; init; } = 50;

    /// <summary>
    /// A fix that repeats the previous one's position exactly while the unit reports a speed above this is stale (a
    /// unit without a fix repeats its last position): its position says nothing about the road the vehicle is on.
    /// </summary>
    public double StaleAboveKmh { get; init; } = 5;

    /// <summary>Passenger vehicles (buses, taxis) at night, 22:00–06:00 local time: the limit × this.</summary>
    public double NightFactor { get; init; } = 0.8;

    /// <summary>Dangerous-goods vehicles: at most this on motorways and trunk roads …</summary>
    public double HazmatMotorwayKmh { get; init; } = 80;

    /// <summary>… and this elsewhere (China's rules for dangerous-goods transport).</summary>
    public double HazmatOtherKmh { get; init; } = 60;

    /// <summary>
    /// An open alert of a vehicle that has sent nothing for this long closes, its end the last fix seen over the limit:
    /// a silent vehicle cannot be judged, and a console should not show it speeding until it reports again (a trace that
    /// ends while speeding left the alert open for good). Judged on the event-time watermark, past the matcher's delay.
    /// </summary>
    public double SilentCloseS { get; init; } = 300;
}

/// <summary>
/// Speeding, per vehicle: the speed the unit reports or, without one, the vehicle's speed along its matched route
/// (distance over time across the last few probes, never a single noisy fix) above the limit that applies to it ×
/// (1 + tolerance) for at least the debounce time opens an alert; a higher severity updates it; staying within the
/// limit for the hysteresis time closes it. Severity: 1 up to 20 % over the limit, 2 up to 50 %, 3 beyond.
/// <para>
/// The limit is that of the road the vehicle is on, given the benefit of the doubt: the highest of the matched road's
/// and every road within <see cref="SpeedingOptions.AmbiguityM"/> of the fix; a speed measured along the route is
/// judged against the limits of the edges the route drove, weighted by length (the time the stretch takes at its
/// limits), so a vehicle leaving a 20 km/h service road for a 60 km/h road is not judged by the service road alone.
/// A fix that is not judged (unsure match, far from its road, a stale repeated position) neither opens nor closes.
/// </para>
/// One instance per shard (state per vehicle, no locks).
/// </summary>
public sealed class SpeedingRule
{
    private readonly RoadNetwork _network;
    private readonly EdgeIndex _index;
    private readonly IVehicleNames _ids;
    private readonly SpeedingOptions _options;
    private readonly LocalDay _day;         // the network's own civil day: when night falls
    private readonly PerVehicleStructs<VehicleTrack> _tracks = new(() => new VehicleTrack());
    private readonly EdgeCandidate[] _near = new EdgeCandidate[16];
    private readonly SparseVehicleClock _openSeen = new();   // the last match of a vehicle with an open alert
    private readonly List<int> _due = [];   // scratch: the vehicles a watermark finds silent

    public SpeedingRule(EdgeIndex index, IVehicleNames ids, SpeedingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(ids);
        _index = index;
        _network = index.Network;
        _ids = ids;
        _options = options ?? new SpeedingOptions();
        _day = LocalDay.Of(_network, _options.TimeZone);
    }

    /// <summary>A rule with its own edge index of <paramref name="network"/> (tests; the engine shares the partition's).</summary>
    public SpeedingRule(RoadNetwork network, VehicleIds ids, SpeedingOptions? options = null) : this(new EdgeIndex(network), ids, options)
    {
    }

    /// <summary>Asks for a vehicle's track ahead of its matches (<see cref="Traffic.Geo.CacheHint"/>); changes nothing.</summary>
    public void Prefetch(int vehicle) => _tracks.Prefetch(vehicle);

    /// <summary>
    /// Feeds one decided match of a vehicle and the edges its route drove since the previous match (empty at a chain
    /// start); alert events go to <paramref name="alerts"/>.
    /// </summary>
    public void OnMatched(int vehicle, VehicleClass cls, ushort hazmat, in MatchedProbe m, List<AlertEvent> alerts, ReadOnlySpan<TraversedEdge> route = default)
    {
        ref VehicleTrack t = ref _tracks[vehicle];
        Judge(vehicle, ref t, cls, hazmat, in m, alerts, route);
        t.Class = cls;
        t.Hazmat = hazmat;
        t.SeenMs = m.TimeMs;
        Watch(vehicle, ref t);
    }

    /// <summary>
    /// The watermark moved on: the open alerts of vehicles silent for <see cref="SpeedingOptions.SilentCloseS"/> close, in
    /// the order the vehicles came (the same alerts in the same order after a restore).
    /// </summary>
    public void OnWatermark(long watermarkMs, List<AlertEvent> alerts)
    {
        long silentMs = (long)(_options.SilentCloseS * 1000);
        _openSeen.TakeElapsed(_tracks.Vehicles, watermarkMs, silentMs, _due);
        foreach (int v in _due)
        {
            ref VehicleTrack t = ref _tracks.Existing(v);
            alerts.Add(Event(ref t, v, t.Class, t.Hazmat, t.OverEdge, watermarkMs, t.OverLon, t.OverLat, AlertState.Close, t.OverLimit,
                t.OverLimit * (1 + _options.Tolerance), t.OverMs));
            t.Opened.End();
        }
    }

    /// <summary>
    /// The partition forgets these vehicles (silent for <see cref="Pipeline.VehiclePartitionOptions.ForgetAfterMs"/>): an
    /// alert still open closes as a silent vehicle's does, and their tracks are dropped.
    /// </summary>
    internal void Forget(ReadOnlySpan<int> vehicles, long timeMs, List<AlertEvent> alerts)
    {
        foreach (int v in vehicles)
        {
            ref VehicleTrack t = ref _tracks.Find(v);
            if (Unsafe.IsNullRef(ref t) || t.OpenId == null) continue;
            alerts.Add(Event(ref t, v, t.Class, t.Hazmat, t.OverEdge, timeMs, t.OverLon, t.OverLat, AlertState.Close, t.OverLimit,
                t.OverLimit * (1 + _options.Tolerance), t.OverMs));
        }
        _tracks.Forget(vehicles);
        _openSeen.Forget(vehicles);
    }

    /// <summary>Keeps <see cref="_openSeen"/> in step with a vehicle's track: at each match and each restore.</summary>
    private void Watch(int vehicle, ref VehicleTrack t) => _openSeen.Set(vehicle, t.OpenId != null ? t.SeenMs : long.MinValue);

    private void Judge(int vehicle, ref VehicleTrack t, VehicleClass cls, ushort hazmat, in MatchedProbe m, List<AlertEvent> alerts, ReadOnlySpan<TraversedEdge> route)
    {
        if (m.Break != ChainBreak.None) t.Reset();
        bool reported = !double.IsNaN(m.ReportedSpeedKmh);
        bool hasFix = m.ProbeLon != 0 || m.ProbeLat != 0;
        bool stale = hasFix && t.HasLast && m.ProbeLon == t.LastLon && m.ProbeLat == t.LastLat
            && !double.IsNaN(m.ReportedSpeedKmh) && m.ReportedSpeedKmh > _options.StaleAboveKmh;
        double stepM = m.RouteDistanceM;
        // A route that turns back on its own road within the step (an edge, then its twin): where the vehicle turned is
        // unknown, and the matcher turned at the node beyond, as far on as the fixes allowed. Counted as the line between
        // the two fixes, the least the vehicle drove (a taxi driving a road to and fro, a 8 m unit every 10 s: the step
        // of its U-turn read 63 km/h, 176 m where the fixes lay 118 m apart and it drove 97, and opened speeding at 56
        // on a road of 40).
        if (hasFix && t.HasLast && double.IsNaN(m.ReportedSpeedKmh) && TurnsBack(route)) // only speeds from positions use it
            stepM = Math.Min(stepM, GeoMath.Distance(t.LastLon, t.LastLat, m.ProbeLon, m.ProbeLat));
        if (hasFix)
        {
            t.HasLast = true;
            t.LastLon = m.ProbeLon;
            t.LastLat = m.ProbeLat;
        }
        if (m.Edge < 0 || m.Outlier) return;
        // The route history is read only for a speed from positions: kept from the chain's first probe without a reported
        // speed on (most units report one at every probe, and never need it).
        RouteHistory? h = reported ? t.History : t.Recording;
        h?.Add(m.TimeMs, stepM, RouteLimitSeconds(in m, route, cls, hazmat) * (m.RouteDistanceM > 0 ? stepM / m.RouteDistanceM : 1),
            hasFix ? m.ProbeLon : double.NaN, m.ProbeLat);
        if (hasFix && !stale) t.Error.Add(m.DistanceM);
        // The unit's own speed (Doppler) is better than positions can give: use it when the probe has one.
        int back = -1;
        bool shortened = false;
        double speed = reported ? m.ReportedSpeedKmh : h!.Speed(_options.SpeedWindowS, _options.SpeedWindowMaxS, out back);
        if (double.IsNaN(speed)) return;
        if (!reported)
        {
            // A route far longer than the fixes moved: the match jumped, not the vehicle. Or the road bends back on itself
            // (a hairpin: 313 m driven, 70 m between the ends of 15 s): a shorter stretch of the window, no shorter than
            // SpeedWindowS, may still be judged; only for speeding, for what a shorter stretch leaves under the limit is
            // what its lower bound takes off (20 km/h over 5 s from a 10 m unit), not a slower vehicle.
            while (!Plausible(ref t, h!, back))
            {
                shortened = true;
                back = h!.Later(back);
                if (back < 0 || h.SecondsSince(back) < _options.SpeedWindowS) return;
                speed = h.SpeedSince(back);
            }
            speed = LowerBound(ref t, h!, back, speed);
        }
        if (m.Confidence < _options.MinConfidence || stale || !(m.DistanceM <= _options.MaxMatchDistanceM)) return; // unsure of the road: neither over nor under

        double limit = Limit(m.Edge, cls, hazmat, m.TimeMs);
        if (!reported && h!.RouteLimit(back) is double along && along > limit) limit = along;
        // Over the road's limit: give the benefit of the doubt to any faster road the fix may lie on.
        if (speed > limit * (1 + _options.Tolerance)) limit = Math.Max(limit, NearbyLimit(in m, hasFix, cls, hazmat, Ambiguity(ref t)));
        double allowed = limit * (1 + _options.Tolerance);
        if (shortened && !(speed > allowed)) return;
        if (speed > allowed)
        {
            VehicleTrack.Spell over = t.Opened;
            over.UnderSinceMs = long.MinValue;
            // A speed from positions is the stretch's mean: over the limit since the stretch began, not since the fix that
            // measured it (the alert's start). A reported speed, or one over a stretch shortened because its route failed
            // the test, is the moment's.
            if (over.OverSinceMs == long.MinValue)
            {
                over.OverFirstMs = m.TimeMs;
                over.OverSinceMs = reported || shortened ? m.TimeMs : m.TimeMs - (long)(h!.SecondsSince(back) * 1000);
            }
            over.MaxSpeed = Math.Max(over.MaxSpeed, speed);
            (over.OverMs, over.OverEdge, over.OverLon, over.OverLat, over.OverLimit) = (m.TimeMs, m.Edge, m.Lon, m.Lat, limit);
            int severity = Severity(over.MaxSpeed, limit);
            if (over.OpenId == null)
            {
                if (!LongEnough(ref t, in m, reported, shortened, reported ? 0 : h!.SecondsSince(back))) return;
                over.OpenId = $"speeding:{_ids.Name(vehicle)}:{over.OverSinceMs}";
                over.Severity = severity;
                alerts.Add(Event(ref t, vehicle, cls, hazmat, in m, AlertState.Open, limit, allowed, null));
            }
            else if (severity > over.Severity)
            {
                over.Severity = severity;
                alerts.Add(Event(ref t, vehicle, cls, hazmat, in m, AlertState.Update, limit, allowed, null));
            }
            return;
        }
        if (t.Current is not { OpenId: not null } spell)
        {
            // Under the limit with no alert open: a spell over it too short to open one is over.
            if (t.Current is { } brief) (brief.OverSinceMs, brief.MaxSpeed) = (long.MinValue, 0);
            return;
        }
        if (spell.UnderSinceMs == long.MinValue) spell.UnderSinceMs = m.TimeMs;
        if ((m.TimeMs - spell.UnderSinceMs) / 1000.0 >= _options.CloseAfterS)
        {
            alerts.Add(Event(ref t, vehicle, cls, hazmat, in m, AlertState.Close, limit, allowed, spell.UnderSinceMs));
            spell.End();
        }
    }

    /// <summary>
    /// Whether the vehicle has been over the limit long enough to open the alert: its speeds over the limit span
    /// <see cref="SpeedingOptions.MinDurationS"/>; or, from positions, this speed is the mean of a stretch that long (a
    /// stretch's mean over the limit is the vehicle over it on average for the whole stretch, as a section-control camera
    /// judges it). The latter only at a second speed over the limit in a row (one route that a match stretched is no
    /// drive: a fix 140 m from the one before took a control taxi's matched route off its road, and its 30 s read 56 km/h
    /// against 34 there), and not over a stretch shortened for failing the route test (the one after that fix read 214
    /// km/h).
    /// </summary>
    private bool LongEnough(ref VehicleTrack t, in MatchedProbe m, bool reported, bool shortened, double stretchS)
    {
        if ((m.TimeMs - t.OverFirstMs) / 1000.0 >= _options.MinDurationS) return true;
        return !reported && !shortened && m.TimeMs != t.OverFirstMs && stretchS >= _options.MinDurationS;
    }

    /// <summary>Writes every vehicle's state, open alerts included (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_tracks.Vehicles.Length);
        foreach (int v in _tracks.Vehicles)
        {
            w.Vehicle(v);
            _tracks.Existing(v).Save(w);
        }
    }

    /// <summary>
    /// Restores what <see cref="Save"/> wrote into this fresh rule. Written on another road network
    /// (<paramref name="networkChanged"/>), its edges are not checked against this one: <see cref="CloseOnNetworkChange"/> follows.
    /// </summary>
    internal void Load(CheckpointReader r, bool networkChanged = false)
    {
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            int v = r.Vehicle();
            ref VehicleTrack t = ref _tracks[v];
            t.Load(r);
            CheckpointReader.Check(networkChanged || (uint)t.OverEdge < (uint)_network.EdgeCount || t.OpenId == null, "checkpoint malformed: a speeding edge outside the network");
            Watch(v, ref t);
        }
    }

    /// <summary>
    /// After a restore of state matched on another road network: what depends on the network goes (each track's route
    /// history, measured along the old roads, and the condition, judged against their limits), and an open alert closes
    /// (<c>time</c> <paramref name="timeMs"/>, <c>end</c> its last speed over the limit, at that match's position, with
    /// <c>network_changed: 1</c>; no road: its edge was the old network's). Kept: the unit's error, its last fix, class and
    /// dangerous goods. Returns the alerts closed.
    /// </summary>
    internal int CloseOnNetworkChange(long timeMs, List<AlertEvent> alerts)
    {
        int closed = 0;
        foreach (int v in _tracks.Vehicles)
        {
            ref VehicleTrack t = ref _tracks.Existing(v);
            if (t.OpenId != null)
            {
                long end = Math.Max(t.OverSinceMs, Math.Min(t.OverMs, timeMs));
                alerts.Add(Event(ref t, v, t.Class, t.Hazmat, NoEdge, timeMs, t.OverLon, t.OverLat, AlertState.Close, t.OverLimit,
                    t.OverLimit * (1 + _options.Tolerance), end));
                closed++;
            }
            // The route history and the condition go: measured along the old roads, judged against their limits.
            t.Reset();
            t.ForgetSpell();
            Watch(v, ref t);
        }
        return closed;
    }

    /// <summary>
    /// The limit that applies to a vehicle on an edge at a time, km/h; infinite where the network knows none
    /// (<see cref="RoadNetwork.HasKnownLimit"/>: a Kubicka graph's arcs, <c>maxspeed=none</c>), but for dangerous goods.
    /// </summary>
    public double Limit(int edge, VehicleClass cls, ushort hazmat, long timeMs)
    {
        double limit = _network.HasKnownLimit(edge) ? _network.SpeedLimitKmh(edge) : double.PositiveInfinity;
        if (hazmat != 0 || cls == VehicleClass.Hazmat)
        {
            RoadClass rc = _network.Class(edge);
            bool fast = rc is RoadClass.Motorway or RoadClass.MotorwayLink or RoadClass.Trunk or RoadClass.TrunkLink;
            limit = Math.Min(limit, fast ? _options.HazmatMotorwayKmh : _options.HazmatOtherKmh);
        }
        if (cls is VehicleClass.Bus or VehicleClass.Taxi && IsNight(timeMs)) limit *= _options.NightFactor;
        return limit;
    }

    /// <summary>
    /// Whether the route the matches drove since sample <paramref name="back"/> is one the fixes could have driven: no
    /// longer than 1.5 times the straight line between the two fixes (bends: a right-angle turn halfway drives √2 times
    /// it), nor than that line and what two of the unit's fixes may stray (3.5 σ √2). A standing vehicle's matches that
    /// jump 170 m to another road in 2 s read as 305 km/h; its fixes moved 30 m. Where fixes lie between, the same
    /// against the line through them, which follows the bends but within a step: 1.3 times it. A 10 m unit's matches
    /// that stayed on a side street while it waited at a light, then rejoined its road as it drove off, made a route
    /// 1.44 times the line through four fixes 10 s apart on a straight road: 60 km/h on a road of 40 for a car doing 40.
    /// (Against that line alone, a standing unit's scatter would lengthen it by 1.8 σ a step.)
    /// </summary>
    private bool Plausible(ref VehicleTrack t, RouteHistory h, int back)
    {
        double route = h.RouteSince(back), stray = 3.5 * Math.Sqrt(2) * UnitSigma(ref t);
        double path = h.PathSince(back, out double chord, out int steps);
        if (double.IsNaN(path)) return true;
        return route <= Math.Max(1.5 * chord, chord + stray) && (steps < 2 || route <= Math.Max(1.3 * path, path + stray));
    }

    /// <summary>
    /// A speed measured along the route, less what the unit's error can add to it: each end of the stretch lies up to
    /// σ along the road from where the vehicle was, so the stretch may read 2 √2 σ too long (20 km/h over 5 s from a
    /// 10 m unit, 6 km/h from a 3 m one). Judged by this, a car crawling at 45 km/h in a 50 zone whose 15 m unit read
    /// 67 km/h over 5 s is not speeding; one doing 90 in a 60 zone is, from a 10 m unit or better.
    /// </summary>
    private double LowerBound(ref VehicleTrack t, RouteHistory h, int back, double speedKmh) =>
        Math.Max(0, speedKmh - (2 * Math.Sqrt(2) * UnitSigma(ref t) / h.SecondsSince(back) * 3.6));

    /// <summary>The unit's error σ once its fixes have shown it, else <see cref="SpeedingOptions.FleetErrorM"/>.</summary>
    private double UnitSigma(ref VehicleTrack t) => t.Error.SigmaOr(_options.ErrorMinFixes, _options.FleetErrorM);

    /// <summary>How far from a fix of this vehicle's unit another road may be the one it is on (<see cref="SpeedingOptions.AmbiguitySigmas"/>).</summary>
    private double Ambiguity(ref VehicleTrack t) =>
        t.Error.Radius(_options.ErrorMinFixes, _options.AmbiguitySigmas, _options.AmbiguityMinM, _options.AmbiguityM);

    /// <summary>The highest limit applying to the vehicle on any road within <paramref name="radiusM"/> of the fix.</summary>
    private double NearbyLimit(in MatchedProbe m, bool hasFix, VehicleClass cls, ushort hazmat, double radiusM)
    {
        double lon = hasFix ? m.ProbeLon : m.Lon, lat = hasFix ? m.ProbeLat : m.Lat;
        int n = _index.Within(lon, lat, radiusM, _near);
        double best = 0;
        for (int i = 0; i < n; i++) best = Math.Max(best, Limit(_near[i].Edge, cls, hazmat, m.TimeMs));
        return best;
    }

    /// <summary>Whether a step's route drives an edge and then its twin: a U-turn on the road.</summary>
    private bool TurnsBack(ReadOnlySpan<TraversedEdge> route)
    {
        for (int i = 1; i < route.Length; i++)
        {
            if (route[i].Edge == _network.Twin(route[i - 1].Edge)) return true;
        }
        return false;
    }

    /// <summary>Seconds the route's stretch since the previous match takes at the limits of the edges it drove.</summary>
    private double RouteLimitSeconds(in MatchedProbe m, ReadOnlySpan<TraversedEdge> route, VehicleClass cls, ushort hazmat)
    {
        if (route.IsEmpty) return m.RouteDistanceM / (Limit(m.Edge, cls, hazmat, m.TimeMs) / 3.6);
        double seconds = 0;
        foreach (var e in route)
        {
            double length = e.ToOffsetM - e.FromOffsetM;
            if (length > 0) seconds += length / (Limit(e.Edge, cls, hazmat, m.TimeMs) / 3.6);
        }
        return seconds;
    }

    private bool IsNight(long timeMs) => IsNightHour(_day.Hour(timeMs));

    /// <summary>Whether a local hour is night, 22:00–06:00, when buses and taxis keep to <see cref="SpeedingOptions.NightFactor"/> of the limit.</summary>
    public static bool IsNightHour(int hour) => LocalTime.InHours(hour, 22, 6);

    private static int Severity(double speed, double limit) => speed <= limit * 1.2 ? 1 : speed <= limit * 1.5 ? 2 : 3;

    private AlertEvent Event(ref VehicleTrack t, int vehicle, VehicleClass cls, ushort hazmat, in MatchedProbe m, AlertState state, double limit, double allowed, long? end) =>
        Event(ref t, vehicle, cls, hazmat, m.Edge, m.TimeMs, m.Lon, m.Lat, state, limit, allowed, end);

    // The edge of an alert closed on a road network no longer run (CloseOnNetworkChange): no road, and network_changed: 1.
    private const int NoEdge = -1;

    private AlertEvent Event(ref VehicleTrack t, int vehicle, VehicleClass cls, ushort hazmat, int edge, long timeMs, double lon, double lat,
        AlertState state, double limit, double allowed, long? end)
    {
        string road = edge == NoEdge ? "" : _network.Name(edge);
        var evidence = new Dictionary<string, double>
        {
            ["max_speed_kmh"] = t.MaxSpeed,
            ["limit_kmh"] = limit,
            ["allowed_kmh"] = allowed,
            ["duration_s"] = ((end ?? timeMs) - t.OverSinceMs) / 1000.0,
        };
        if (edge == NoEdge) evidence["network_changed"] = 1;
        return new AlertEvent
        {
            AlertId = t.OpenId!,
            Kind = "speeding",
            State = state,
            TimeMs = timeMs,
            StartMs = t.OverSinceMs,
            EndMs = end,
            VehicleId = _ids.Name(vehicle),
            Class = ProbeRules.ClassName(cls),
            Hazmat = ProbeRules.HazmatText(hazmat),
            Road = road.Length == 0 ? null : road,
            WayId = edge == NoEdge ? null : _network.WayId(edge),
            Direction = edge == NoEdge ? null : _network.Direction(edge),
            Lon = lon,
            Lat = lat,
            Severity = t.Severity,
            Evidence = evidence,
        };
    }

    /// <summary>
    /// One vehicle's recent route progress and its speeding condition: a struct held inline in the rule's pages
    /// (<see cref="PerVehicleStructs{T}"/>), reached by reference, never copied: 48 bytes.
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private struct VehicleTrack
    {
        // The route history, from the chain's first probe without a reported speed on (the only probes that read it).
        private RouteHistory? _history;

        // The speeding condition, from the vehicle's first speed over the limit on: most vehicles never have one, and
        // read the defaults without it. A write of a default makes none (every match under the limit writes some).
        private Spell? _spell;

        public bool HasLast;      // the last fix's own position, to see a unit repeat it
        public double LastLon;
        public double LastLat;
        public UnitError Error;   // the unit's error, from its fixes' distances to their matched roads
        public VehicleClass Class;
        public ushort Hazmat;

        /// <summary>When the condition began (the alert's start).</summary>
        public long OverSinceMs => _spell?.OverSinceMs ?? long.MinValue;

        /// <summary>The condition's first speed over the limit.</summary>
        public long OverFirstMs => _spell?.OverFirstMs ?? 0;

        public long UnderSinceMs => _spell?.UnderSinceMs ?? long.MinValue;

        public double MaxSpeed => _spell?.MaxSpeed ?? 0;

        public string? OpenId => _spell?.OpenId;

        public int Severity => _spell?.Severity ?? 0;

        /// <summary>Its last match over the limit: when, where (<see cref="OverEdge"/>, <see cref="OverLon"/>, <see cref="OverLat"/>), and the limit there.</summary>
        public long OverMs => _spell?.OverMs ?? 0;

        public int OverEdge => _spell?.OverEdge ?? 0;

        public double OverLon => _spell?.OverLon ?? 0;

        public double OverLat => _spell?.OverLat ?? 0;

        public double OverLimit => _spell?.OverLimit ?? 0;

        /// <summary>
        /// Its last match, kept with the condition (none without one: long.MinValue): read only while an alert is open, to
        /// close it once the vehicle is silent. Kept for every vehicle, it cost each 8 bytes.
        /// </summary>
        public long SeenMs
        {
            readonly get => _spell?.SeenMs ?? long.MinValue;
            set
            {
                if (_spell != null) _spell.SeenMs = value;
            }
        }

        /// <summary>The condition, made at the first speed over the limit and kept from then on.</summary>
        public Spell Opened => _spell ??= new Spell();

        /// <summary>The condition, or null while the vehicle has never been over the limit (its fields then read as defaults).</summary>
        public Spell? Current => _spell;

        /// <summary>The condition goes with all it held (its road was of a network no longer run): the track reads the defaults.</summary>
        public void ForgetSpell() => _spell = null;

        /// <summary>The route history, or null while the chain has had no probe without a reported speed.</summary>
        public RouteHistory? History => _history;

        /// <summary>The route history, made at the chain's first probe without a reported speed.</summary>
        public RouteHistory Recording => _history ??= new RouteHistory();


        public void Save(CheckpointWriter w)
        {
            BinaryWriter o = w.Out;
            RouteHistory.Save(_history, o);
            o.Write(OverSinceMs);
            o.Write(OverFirstMs);
            o.Write(UnderSinceMs);
            o.Write(MaxSpeed);
            w.String(OpenId);
            o.Write(Severity);
            o.Write(HasLast);
            o.Write(LastLon);
            o.Write(LastLat);
            Error.Save(o);
            o.Write(SeenMs);
            o.Write((byte)Class);
            o.Write(Hazmat);
            o.Write(OverMs);
            o.Write(OverEdge);
            o.Write(OverLon);
            o.Write(OverLat);
            o.Write(OverLimit);
        }

        public void Load(CheckpointReader r)
        {
            BinaryReader i = r.In;
            _history = RouteHistory.Load(i);
            var spell = new Spell
            {
                OverSinceMs = i.ReadInt64(),
                OverFirstMs = i.ReadInt64(),
                UnderSinceMs = i.ReadInt64(),
                MaxSpeed = i.ReadDouble(),
                OpenId = r.String(),
                Severity = i.ReadInt32(),
            };
            HasLast = i.ReadBoolean();
            LastLon = i.ReadDouble();
            LastLat = i.ReadDouble();
            Error.Load(i);
            spell.SeenMs = i.ReadInt64();
            Class = (VehicleClass)i.ReadByte();
            Hazmat = i.ReadUInt16();
            spell.OverMs = i.ReadInt64();
            spell.OverEdge = i.ReadInt32();
            spell.OverLon = i.ReadDouble();
            spell.OverLat = i.ReadDouble();
            spell.OverLimit = i.ReadDouble();
            _spell = spell.IsDefault ? null : spell;
        }

        /// <summary>A chain break: the route history goes (the next probe without a reported speed begins another).</summary>
        public void Reset() => _history = null;

        /// <summary>A vehicle's speeding condition: created at its first speed over the limit, and kept (no allocation per spell).</summary>
        public sealed class Spell
        {
            public long OverSinceMs = long.MinValue;
            public long OverFirstMs;
            public long UnderSinceMs = long.MinValue;
            public double MaxSpeed;
            public string? OpenId;
            public int Severity;
            public long OverMs;
            public int OverEdge;
            public double OverLon;
            public double OverLat;
            public double OverLimit;
            public long SeenMs = long.MinValue;   // the vehicle's last match (VehicleTrack.SeenMs)

            /// <summary>Every field of the condition as a vehicle never over the limit has it (a restore keeps no spell for such a one).</summary>
            public bool IsDefault => OverSinceMs == long.MinValue && OverFirstMs == 0 && UnderSinceMs == long.MinValue
                && BitConverter.DoubleToInt64Bits(MaxSpeed) == 0 && OpenId == null && Severity == 0 && OverMs == 0 && OverEdge == 0
                && BitConverter.DoubleToInt64Bits(OverLon) == 0 && BitConverter.DoubleToInt64Bits(OverLat) == 0
                && BitConverter.DoubleToInt64Bits(OverLimit) == 0;

            /// <summary>The condition is over (its alert closed): the next speed over the limit begins another.</summary>
            public void End()
            {
                OpenId = null;
                OverSinceMs = long.MinValue;
                UnderSinceMs = long.MinValue;
                MaxSpeed = 0;
            }
        }
    }

    /// <summary>
    /// One vehicle's last <see cref="Length"/> matches along its route (time, cumulative route distance and time at the
    /// limits, the fix), from which a speed is measured from positions: a ring inside this object, so that a probe reads and
    /// writes one cache line or two, not arrays of their own.
    /// </summary>
    private sealed class RouteHistory
    {
        public const int Length = 8;

        private Samples _samples;   // mutable struct: don't make this readonly
        private int _count;
        private int _next;
        private double _total;
        private double _totalAtLimit;

        /// <summary>Writes a history, or a vehicle's none as an empty one (the layout of a history that is always there).</summary>
        public static void Save(RouteHistory? h, BinaryWriter o)
        {
            o.Write(h?._count ?? 0);
            o.Write(h?._next ?? 0);
            o.Write(h?._total ?? 0);
            o.Write(h?._totalAtLimit ?? 0);
            for (int i = 0; i < Length; i++)
            {
                Sample s = h != null ? h._samples[i] : default;
                o.Write(s.Time);
                o.Write(s.Distance);
                o.Write(s.AtLimit);
                o.Write(s.Lon);
                o.Write(s.Lat);
            }
        }

        /// <summary>Reads what <see cref="Save"/> wrote: null for an empty history (the next probe without a reported speed makes one).</summary>
        public static RouteHistory? Load(BinaryReader i)
        {
            var h = new RouteHistory { _count = i.ReadInt32(), _next = i.ReadInt32() };
            CheckpointReader.Check(h._count is >= 0 and <= Length && h._next is >= 0 and < Length, "checkpoint malformed: speeding history out of range");
            h._total = i.ReadDouble();
            h._totalAtLimit = i.ReadDouble();
            for (int k = 0; k < Length; k++)
            {
                h._samples[k].Time = i.ReadInt64();
                h._samples[k].Distance = i.ReadDouble();
                h._samples[k].AtLimit = i.ReadDouble();
                h._samples[k].Lon = i.ReadDouble();
                h._samples[k].Lat = i.ReadDouble();
            }
            return h._count > 0 ? h : null;
        }

        public void Add(long timeMs, double routeDistanceM, double atLimitS, double fixLon, double fixLat)
        {
            _total += routeDistanceM;
            _totalAtLimit += atLimitS;
            _samples[_next].Time = timeMs;
            _samples[_next].Distance = _total;
            _samples[_next].AtLimit = _totalAtLimit;
            _samples[_next].Lon = fixLon;
            _samples[_next].Lat = fixLat;
            _next = (_next + 1) % Length;
            if (_count < Length) _count++;
        }

        /// <summary>
        /// Distance over time from the newest sample back to the oldest one at most <paramref name="maxS"/> older, which
        /// must be at least <paramref name="minS"/> older; NaN (and <paramref name="back"/> -1) when none is.
        /// </summary>
        public double Speed(double minS, double maxS, out int back)
        {
            int newest = (_next - 1 + Length) % Length;
            back = -1;
            for (int k = 1; k < _count; k++)
            {
                int i = (newest - k + Length) % Length;
                double dt = (_samples[newest].Time - _samples[i].Time) / 1000.0;
                if (dt > maxS) break;
                if (dt >= minS) back = i;
            }
            return back < 0 ? double.NaN : SpeedSince(back);
        }

        /// <summary>The speed along the route from sample <paramref name="back"/> to the newest, km/h.</summary>
        public double SpeedSince(int back) => RouteSince(back) / SecondsSince(back) * 3.6;

        /// <summary>The sample after <paramref name="i"/>, or -1 when that is the newest.</summary>
        public int Later(int i)
        {
            int next = (i + 1) % Length;
            return next == (_next - 1 + Length) % Length ? -1 : next;
        }

        /// <summary>The time from sample <paramref name="back"/> to the newest, seconds.</summary>
        public double SecondsSince(int back) => (_samples[(_next - 1 + Length) % Length].Time - _samples[back].Time) / 1000.0;

        /// <summary>The route distance from sample <paramref name="back"/> to the newest, metres.</summary>
        public double RouteSince(int back) => _samples[(_next - 1 + Length) % Length].Distance - _samples[back].Distance;

        /// <summary>
        /// The line through the fixes from sample <paramref name="back"/>'s to the newest's, metres, in
        /// <paramref name="steps"/> steps (samples without a fix skipped), and the straight line between those two
        /// fixes; NaN when either end had none.
        /// </summary>
        public double PathSince(int back, out double chord, out int steps)
        {
            int newest = (_next - 1 + Length) % Length;
            (chord, steps) = (double.NaN, 0);
            if (double.IsNaN(_samples[back].Lon) || double.IsNaN(_samples[newest].Lon)) return double.NaN;
            chord = GeoMath.Distance(_samples[back].Lon, _samples[back].Lat, _samples[newest].Lon, _samples[newest].Lat);
            double path = 0;
            int from = back;
            for (int i = back; i != newest;)
            {
                i = (i + 1) % Length;
                if (double.IsNaN(_samples[i].Lon)) continue;
                path += GeoMath.Distance(_samples[from].Lon, _samples[from].Lat, _samples[i].Lon, _samples[i].Lat);
                from = i;
                steps++;
            }
            return path;
        }

        /// <summary>
        /// The limit of the stretch from sample <paramref name="back"/>, weighted by length: its distance over the time it
        /// takes at the limits of its edges (km/h); null when there is no such stretch or it has no length.
        /// </summary>
        public double? RouteLimit(int back)
        {
            if (back < 0) return null;
            int newest = (_next - 1 + Length) % Length;
            double d = _samples[newest].Distance - _samples[back].Distance, s = _samples[newest].AtLimit - _samples[back].AtLimit;
            // Rounded: over one edge it is that edge's limit, not a hair above it from the sums' rounding.
            return d > 0 && s > 0 ? Math.Round(d / s * 3.6, 3) : null;
        }


        private struct Sample
        {
            public long Time;
            public double Distance;   // cumulative route distance, metres
            public double AtLimit;    // cumulative seconds the route takes at its limits
            public double Lon;        // the unit's own fix (NaN: none), to check the route against
            public double Lat;
        }

        [System.Runtime.CompilerServices.InlineArray(Length)]
        private struct Samples
        {
            private Sample _element;
        }
    }
}
