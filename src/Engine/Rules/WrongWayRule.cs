using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    /// <summary>
    /// The most: 3.5 σ of a fleet unit's 10 m error, within which another road running along the course may be the one
    /// the vehicle is on. A unit shown to be more precise gets <see cref="AlongSigmas"/> of its own error.
    /// </summary>
    public double AlongM { get; init; } = 35;

    /// <summary>
    /// The distance of <see cref="AlongM"/> for a unit whose error is known: this many times its error σ, at least
    /// <see cref="AlongMinM"/>. The error is the larger of two estimates from the unit's own fixes: the moving fixes'
    /// distance to the nearest road, and every fix's distance off the line through the fixes before and after (which
    /// needs no map, so a vehicle on the wrong carriageway, nearer the other, does not make its unit look worse than it is).
    /// </summary>
    public double AlongSigmas { get; init; } = 3.5;

    /// <summary>The least distance of <see cref="AlongM"/>, however precise the unit.</summary>
    public double AlongMinM { get; init; } = 10;

    /// <summary>Samples of each estimate of a unit's error before it is used (until then: <see cref="AlongM"/>).</summary>
    public int ErrorMinFixes { get; init; } = 10;

    /// <summary>Only while moving faster than this.</summary>
    public double MinSpeedKmh { get; init; } = 10;

    /// <summary>
    /// A unit reporting its speed but no heading: a fix whose course is held from an earlier displacement is judged only
    /// while that displacement ended at most this long before (a car turns through a junction or a U-turn bay in about
    /// 10 s; a course held longer may point the way it came).
    /// </summary>
    public double HeldCourseMaxS { get; init; } = 10;

    /// <summary>
    /// A unit reporting its speed but no heading: a course from a displacement shorter than this share of the road its
    /// reported speed covered in the time (less 2 √2 of a fleet unit's error) is a bend's chord, not the vehicle's course.
    /// </summary>
    public double StraightRatio { get; init; } = 0.8;

    /// <summary>The condition must hold this long from its first fix (and over two fixes) before the alert opens.</summary>
    public double OpenAfterS { get; init; } = 8;

    /// <summary>
    /// The condition must have ended this long before the alert closes (hysteresis), its end when it ended: a drive against
    /// the road whose fixes leave it for a few seconds (a junction, a bend, fixes that stray) keeps one alert.
    /// </summary>
    public double CloseAfterS { get; init; } = 30;

    /// <summary>
    /// An open alert of a vehicle that has sent nothing for this long closes, its end the vehicle's last fix: a silent
    /// vehicle cannot be judged (a trace that ends on the wrong road left the alert open for good).
    /// </summary>
    public double SilentCloseS { get; init; } = 300;

    /// <summary>
    /// The evidence, in nats, that opens an alert where a fix alone cannot: a vehicle driving against one half of a dual
    /// carriageway whose other half, running along its course, lies within the doubt (3.5 σ) of each fix. The recent fixes
    /// (<see cref="ErrorCorrelationS"/>) together are that much likelier on the road driven against than on the nearest road
    /// running along the course: for a fix a metres from the one and l from the other, D = a + l apart, its position past
    /// their midpoint is u = (l − a) / 2, and n fixes with mean u and D are D u / (s² + σ² / n) nats of evidence, σ the
    /// unit's error and s the slow part of it that they share (<see cref="SlowErrorM"/>).
    /// </summary>
    public double OpenNats { get; init; } = 20;

    /// <summary>An alert opened on the evidence holds while it stays above this (hysteresis: a noisy fix or two does not split it).</summary>
    public double HoldNats { get; init; } = 10;

    /// <summary>
    /// The slow part of any unit's error, and of the map's, in metres: an offset that fixes a few seconds apart share, so
    /// that no number of them tells two roads apart by more than D² / 2s² nats (two halves 8 m apart: 14, never enough;
    /// 15 m: 50). With 2, drives against a carriageway 16–20 m from the other half by 5 and 8 m units every second were
    /// caught 7 and 5 times of 8 instead of 8 and 8 (bench/RESULTS.md).
    /// </summary>
    public double SlowErrorM { get; init; } = 1.5;

    /// <summary>How long fixes count towards the evidence: each weighs e^(−age / this).</summary>
    public double ErrorCorrelationS { get; init; } = 30;

    /// <summary>
    /// Fixes add up as evidence only from a unit whose error shows no slow part beyond <see cref="SlowErrorM"/>: the error
    /// estimated from their distance to the road at most this many times the one from their scatter about their neighbours.
    /// </summary>
    public double WhiteRatio { get; init; } = 1.3;
}

/// <summary>
/// Wrong-way driving on one-way roads, from each vehicle's own course (the reported heading, else the
/// direction between its last two fixes): the fix lies on a one-way road, the course runs against that road
/// and no road near the fix runs along it. Judged on the fixes, not the map match, because the matcher
/// keeps to the roads' directions and cannot follow a vehicle driving against one. One instance per shard.
/// </summary>
public sealed class WrongWayRule(EdgeIndex index, IVehicleNames ids, WrongWayOptions? options = null)
{
    private readonly WrongWayOptions _options = options ?? WrongWayOptions.Default;
    private readonly RoadNetwork _network = index.Network;
    // The roads within AlongM of a fix, the nearest 8; the map matcher's candidate search fills it for the same fix.
    // The nearest 16 edges within 35 m: at a junction of many one-way links more lie there than 8, and the nearest 8 left
    // out the road a taxi turning through one in Monaco drove along (a link the other way 2 m off made it a wrong-way driver).
    private readonly NearbySearch _nearby = new(index, (options ?? WrongWayOptions.Default).AlongM, 16);
    private readonly SparseVehicleClock _openSeen = new();   // the last probe of a vehicle with an open alert
    private readonly List<int> _due = [];   // scratch: the vehicles a watermark finds silent
    private readonly PerVehicleStructs<State> _states = new(() => new State());
    private readonly Debounce _debounce = new(
        (long)((options ?? WrongWayOptions.Default).OpenAfterS * 1000), (long)((options ?? WrongWayOptions.Default).CloseAfterS * 1000));

    /// <summary>The rule's search for the roads around a fix, which a map matcher's candidate search may fill for it.</summary>
    public NearbySearch Nearby => _nearby;

    /// <summary>Asks for a vehicle's state ahead of its probe (<see cref="Traffic.Geo.CacheHint"/>); changes nothing.</summary>
    public void Prefetch(int vehicle) => _states.Prefetch(vehicle);

    public void OnProbe(in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        ref State s = ref _states[p.Vehicle];
        if (s.LastMs != long.MinValue && p.TimeMs < s.LastMs) return;
        Judge(ref s, in p, cls, hazmat, alerts);
        (s.Class, s.Hazmat) = (cls, hazmat);
        Watch(p.Vehicle, ref s);
    }

    /// <summary>
    /// The watermark moved on: the open alerts of vehicles silent for <see cref="WrongWayOptions.SilentCloseS"/> close, in
    /// the order the vehicles came (the same alerts in the same order after a restore).
    /// </summary>
    public void OnWatermark(long watermarkMs, List<AlertEvent> alerts)
    {
        long silentMs = (long)(_options.SilentCloseS * 1000);
        _openSeen.TakeElapsed(_states.Vehicles, watermarkMs, silentMs, _due);
        foreach (int v in _due)
        {
            ref State s = ref _states.Existing(v);
            alerts.Add(Event(ref s, v, s.Class, s.Hazmat, AlertState.Close, watermarkMs, s.LastMs, s.Line1Lon, s.Line1Lat, double.NaN, float.NaN));
            s.Condition.Close();
            s.Fixes = 0;
            s.EvidenceNats = s.EvidenceWeight = s.EvidencePassed = s.EvidenceApart = 0;
        }
    }

    /// <summary>
    /// The partition forgets these vehicles (silent for <see cref="Pipeline.VehiclePartitionOptions.ForgetAfterMs"/>): an
    /// alert still open closes as a silent vehicle's does, and their state is dropped.
    /// </summary>
    internal void Forget(ReadOnlySpan<int> vehicles, long timeMs, List<AlertEvent> alerts)
    {
        foreach (int v in vehicles)
        {
            ref State s = ref _states.Find(v);
            if (Unsafe.IsNullRef(ref s) || !s.Condition.IsOpen) continue;
            alerts.Add(Event(ref s, v, s.Class, s.Hazmat, AlertState.Close, timeMs, s.LastMs, s.Line1Lon, s.Line1Lat, double.NaN, float.NaN));
            s.Condition.Close();
        }
        _states.Forget(vehicles);
        _openSeen.Forget(vehicles);
    }

    /// <summary>
    /// A vehicle's unit error σ per axis from its fixes' distances off the line through their neighbours (standing or
    /// driving; bends add to it) once enough fixes have shown it, else NaN.
    /// </summary>
    public double UnitScatterM(int vehicle)
    {
        ref State s = ref _states.Find(vehicle);
        return !Unsafe.IsNullRef(ref s) && s.OffLine.Known(_options.ErrorMinFixes) ? s.OffLine.SigmaM : double.NaN;
    }

    /// <summary>Keeps <see cref="_openSeen"/> in step with a vehicle's state: at each probe and each restore.</summary>
    private void Watch(int vehicle, ref State s) => _openSeen.Set(vehicle, s.Condition.IsOpen ? s.LastMs : long.MinValue);

    private void Judge(ref State s, in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        // The scatter of the unit's fixes, from every fix: a standing unit's scatter off the line through its neighbours is
        // its error as much as a moving one's.
        if (p.Fix) s.Wiggle(p.Lon, p.Lat, p.TimeMs);
        double course = Course(ref s, in p, out bool ownCourse, out long heldMs, out bool bent);
        // Without a reported speed, only a displacement beyond the scatter shows that the vehicle moves; a fix between two
        // such displacements (its course an earlier fix's) is looked at for the unit's error but not judged: it neither
        // confirms a drive against the road nor clears one.
        // With a reported speed but no heading, a moving vehicle's course held for longer than HeldCourseMaxS is stale too:
        // it is where the vehicle headed at its last displacement, and it may have turned since (a car every 15 s turning back
        // through a U-turn bay beside 深南大道, its unit's scatter inflated by the bends of its 150 m steps, had its fixes
        // after the turn judged with the course from before it, "against" the one-way link it drove along). Such a fix is
        // looked at but not judged either; a standing one still is.
        bool reported = !float.IsNaN(p.SpeedKmh);
        bool moving = reported ? p.SpeedKmh > _options.MinSpeedKmh : ownCourse;
        // A fix whose displacement was a bend's chord is not judged either.
        bool judged = !bent && (ownCourse || double.IsNaN(course) || (reported && (!moving || heldMs <= 1000 * _options.HeldCourseMaxS)));
        double sigma = UnitSigma(ref s);

        int against = -1;
        bool doubt = false;   // driven against the nearest road, but a road along the course lies within the doubt
        double passed = double.NaN, apart = 0;   // this fix's u and D (PastMidpoint), when it is judged on the evidence
        int evidenceEdge = -1;
        if ((moving || !judged) && !double.IsNaN(course) && p.Fix)
        {
            // The nearest road must be a one-way road driven against, and no road a little further may run
            // along the course (a dual carriageway's other half lies a GPS error away).
            // The nearest first, its cheap tests before its bearing: most fixes are near no one-way road driven against,
            // and then the roads further away need no bearing at all.
            ReadOnlySpan<EdgeCandidate> near = _nearby.Within(p.Lon, p.Lat);
            if (near.Length > 0) s.Nearest.Add(near[0].DistanceM);
            if (judged && near.Length > 0 && near[0].DistanceM <= _options.NearM && IsStrictOneWay(near[0].Edge))
            {
                double diff = GeoMath.BearingDifference(course, _network.BearingAt(near[0].Edge, near[0].OffsetM));
                if (diff > _options.AlongDeg && diff >= _options.AgainstDeg) against = near[0].Edge;
                // A road along the course within the doubt explains the fix. When none of them may be the road driven against's
                // other half (OtherHalf), the fix is only in doubt: it neither confirms the drive nor clears it. In dense
                // streets some side street runs along the course within 35 m of most fixes (Rue Grimaldi in Monaco, fixes
                // every 5 s: 9 of 12, and 2 against), and such a fix ended the count of fixes against.
                if (against >= 0 && AnyAlong(ref s, near, p.Lon, p.Lat, course, AlongM(sigma), against, out bool otherHalf))
                    (against, doubt) = (-1, !otherHalf);
            }
            if (against < 0 && !doubt && judged && s.Fixes > 0 && near.Length > 0 && near[0].DistanceM <= _options.NearM)
                doubt = Crossing(ref s, near, p.Lon, p.Lat, course, sigma);
            if (judged && moving && WhiteError(ref s)) passed = PastMidpoint(ref s, near, p.Lon, p.Lat, course, out apart, out evidenceEdge);
        }
        if (!judged)
        {
            s.LastMs = p.TimeMs;
            return;
        }
        if (!double.IsNaN(passed))
        {
            // The recent fixes' u and D, each weighed by its age; restarted after 30 s without a judged fix.
            double decay = s.EvidenceMs == long.MinValue || p.TimeMs - s.EvidenceMs > 30_000
                ? 0 : Math.Exp(-(p.TimeMs - s.EvidenceMs) / (1000 * _options.ErrorCorrelationS));
            if (s.EvidenceWeight * decay < 1e-9 || s.EvidenceNats <= 0) s.EvidenceSinceMs = p.TimeMs;
            s.EvidenceWeight = (s.EvidenceWeight * decay) + 1;
            s.EvidencePassed = (s.EvidencePassed * decay) + passed;
            s.EvidenceApart = (s.EvidenceApart * decay) + apart;
            s.EvidenceMs = p.TimeMs;
            double n = s.EvidenceWeight, slow = _options.SlowErrorM, sg = Math.Max(sigma, _options.AlongMinM / _options.AlongSigmas);
            s.EvidenceNats = s.EvidenceApart / n * (s.EvidencePassed / n) / ((slow * slow) + (sg * sg / n));
            if (passed > 0 && against < 0 && s.Condition.StartMs == long.MinValue) s.Edge = evidenceEdge;
        }
        bool active = against >= 0;
        if (active)
        {
            // The second fix against the road must come within 30 s of the first to confirm it.
            if (s.Fixes > 0 && p.TimeMs - s.FirstMs > 30_000 && s.Condition.StartMs == long.MinValue) s.Fixes = 0;
            s.Edge = against;
            if (s.Fixes == 0) s.FirstMs = p.TimeMs;
            s.Fixes++;
            s.Clear = 0;
        }
        else if (!doubt)
        {
            s.Fixes = 0;
            s.Clear++;
        }
        // Two fixes against the road confirm the drive from the first of them: at 15 s a unit's second fix opens it. Two
        // that are not, in a row, end it: one fix at a junction, or across a bend, is no end of a drive against the road.
        // Or the evidence of the fixes together: open above OpenNats, held above HoldNats.
        bool open = s.Condition.StartMs != long.MinValue;
        // Only a moving fix judged on the evidence keeps it: one standing, or off the roads, counts towards a close as before.
        bool weighed = !double.IsNaN(passed);
        bool byFixes = active && s.Fixes >= 2, byEvidence = weighed && s.EvidenceNats >= _options.OpenNats && s.EvidenceWeight >= 2;
        bool held = open && (s.Clear < 2 || (weighed && s.EvidenceNats > _options.HoldNats));
        AlertState? t = s.Condition.Update(byFixes || byEvidence || held, p.TimeMs, byFixes || !byEvidence ? s.FirstMs : s.EvidenceSinceMs, _debounce);
        if (t is AlertState state)
        {
            alerts.Add(Event(ref s, p.Vehicle, cls, hazmat, state, p.TimeMs, state == AlertState.Close ? s.Condition.EndMs : null, p.Lon, p.Lat, course, p.SpeedKmh));
            if (state == AlertState.Close) s.Condition.Clear();
        }
        s.LastMs = p.TimeMs;
    }

    /// <param name="oldNetwork">
    /// The road driven against was of a network no longer run (<see cref="CloseOnNetworkChange"/>): no road, no bearing or
    /// speed, and <c>network_changed: 1</c>.
    /// </param>
    private AlertEvent Event(ref State s, int vehicle, VehicleClass cls, ushort hazmat, AlertState state, long timeMs, long? endMs, double lon, double lat,
        double course, float speedKmh, bool oldNetwork = false)
    {
        int e = s.Edge;
        string road = oldNetwork ? "" : _network.Name(e);
        var evidence = new Dictionary<string, double> { ["course_deg"] = double.IsNaN(course) ? -1 : course };
        if (oldNetwork)
        {
            evidence["network_changed"] = 1;
        }
        else
        {
            evidence["road_bearing_deg"] = _network.BearingAt(e, 0);
            evidence["speed_kmh"] = float.IsNaN(speedKmh) ? -1 : speedKmh;
        }
        return new AlertEvent
        {
            AlertId = $"wrong_way:{ids.Name(vehicle)}:{s.Condition.StartMs}",
            Kind = "wrong_way",
            State = state,
            TimeMs = timeMs,
            StartMs = s.Condition.StartMs,
            EndMs = endMs,
            VehicleId = ids.Name(vehicle),
            Class = ProbeRules.ClassName(cls),
            Hazmat = ProbeRules.HazmatText(hazmat),
            Road = road.Length == 0 ? null : road,
            WayId = oldNetwork ? null : _network.WayId(e),
            Direction = oldNetwork ? null : _network.Direction(e),
            Lon = lon,
            Lat = lat,
            Severity = 3,
            Evidence = evidence,
        };
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
            ref State s = ref _states[v];
            s.Load(r.In);
            CheckpointReader.Check(networkChanged || (uint)s.Edge < (uint)_network.EdgeCount, "checkpoint malformed: a wrong-way edge outside the network");
            Watch(v, ref s);
        }
    }

    /// <summary>
    /// After a restore of state judged on another road network: what names its roads goes (the road driven against, the
    /// fixes against it, the evidence for it, the condition), and an open alert closes (<c>time</c>
    /// <paramref name="timeMs"/>, <c>end</c> when it stopped holding, else the vehicle's last fix, at that fix, with
    /// <c>network_changed: 1</c>; no road: its edge was the old network's). Kept: the course and its anchor, the unit's
    /// error estimates and its recent fixes (positions), its class and dangerous goods. Returns the alerts closed.
    /// </summary>
    internal int CloseOnNetworkChange(long timeMs, List<AlertEvent> alerts)
    {
        int closed = 0;
        foreach (int v in _states.Vehicles)
        {
            ref State s = ref _states.Existing(v);
            if (s.Condition.IsOpen)
            {
                long start = s.Condition.StartMs, end = s.Condition.EndMs != long.MinValue ? s.Condition.EndMs : Math.Max(start, Math.Min(s.LastMs, timeMs));
                alerts.Add(Event(ref s, v, s.Class, s.Hazmat, AlertState.Close, timeMs, end, s.Line1Lon, s.Line1Lat, s.Course, float.NaN, oldNetwork: true));
                closed++;
            }
            s.ResetNetwork();
            Watch(v, ref s);
        }
        return closed;
    }

    /// <summary>
    /// How far from the fix the nearest part of the edge within <paramref name="alongM"/> that runs along the course lies;
    /// infinity when none. The search gives each road's nearest point only, and a winding road (a hairpin, a loop, a ramp
    /// that turns back) can pass the fix twice: the nearest part running against the course, and the part the vehicle
    /// drives a little further.
    /// </summary>
    private double AlongDistance(int edge, double lon, double lat, double kx, double course, double alongM)
    {
        ReadOnlySpan<double> lons = _network.ShapeLons(edge), lats = _network.ShapeLats(edge);
        // The segments' bearings as the network keeps them: the same GeoMath.Bearing of the same points, without its three
        // sines, four cosines and atan2 a segment near the fix.
        ReadOnlySpan<double> bearings = _network.ShapeBearings(edge);
        double nearest = double.PositiveInfinity;
        for (int k = 0; k + 1 < lons.Length; k++)
        {
            // The bearing first, now the cheaper test: a segment counts only when it runs along the course and lies nearer,
            // and most segments near a fix (a twin, a crossing street) do not run along it, so they need no projection.
            if (!(GeoMath.BearingDifference(course, bearings[k]) <= _options.AlongDeg)) continue;
            double d = GeoMath.ProjectOnSegment(lon, lat, lons[k], lats[k], lons[k + 1], lats[k + 1], kx, out _);
            if (d > alongM || d >= nearest) continue;
            nearest = d;
        }
        return nearest;
    }

    /// <summary>
    /// How far past the midpoint between the nearest road running along the course (within <see cref="WrongWayOptions.AlongM"/>,
    /// that distance when none) and the nearest one-way road it could be driving against (within
    /// <see cref="WrongWayOptions.NearM"/>) the fix lies, towards the latter: u = (l − a) / 2, and <paramref name="apart"/>
    /// D = l + a. Near no one-way road driven against, a fix counts as on a road along its course with the nearest such
    /// road beyond <see cref="WrongWayOptions.NearM"/>: u = −D / 2, D that distance.
    /// </summary>
    private double PastMidpoint(ref State s, ReadOnlySpan<EdgeCandidate> near, double lon, double lat, double course, out double apart, out int edge)
    {
        edge = -1;
        double against = 0;
        for (int i = 0; i < near.Length && near[i].DistanceM <= _options.NearM; i++)
        {
            if (!IsStrictOneWay(near[i].Edge)) continue;
            if (GeoMath.BearingDifference(course, _network.BearingAt(near[i].Edge, near[i].OffsetM)) < _options.AgainstDeg) continue;
            (edge, against) = (near[i].Edge, near[i].DistanceM);
            break;
        }
        if (edge < 0)
        {
            apart = _options.NearM;
            return -apart / 2;
        }
        double along = _options.AlongM;
        double kx = GeoMath.MetresPerDegreeLon(lat);
        for (int i = 0; i < near.Length && near[i].DistanceM < along; i++) along = Math.Min(along, AlongDistance(near[i].Edge, lon, lat, kx, course, along));
        apart = along + against;
        return (along - against) / 2;
    }

    /// <summary>
    /// The vehicle's course: the reported heading, else the direction from where it was 15 m or more ago, and further
    /// than two of its unit's fixes stray from each other (3.5 σ √2 of its scatter: 49 m from a 10 m unit), or a standing
    /// vehicle's scattered fixes give it random courses and, without a reported speed, make it look as if it moved.
    /// <paramref name="own"/>: the course is this fix's own (its heading, or a displacement it completed), not an
    /// earlier fix's held on; <paramref name="heldMs"/>: how long ago a held course's displacement ended;
    /// <paramref name="bent"/>: the displacement this fix completed is a bend's chord (no course).
    /// </summary>
    private double Course(ref State s, in Probe p, out bool own, out long heldMs, out bool bent)
    {
        own = false;
        bent = false;
        // How long ago the held course's displacement ended: the anchor is set where it ended (or, 30 s on without one,
        // moved on, when the course is older still).
        heldMs = s.AnchorMs == long.MinValue ? long.MaxValue : p.TimeMs - s.AnchorMs;
        double course = double.NaN;
        if (!float.IsNaN(p.Heading)) (course, own) = (p.Heading, true);
        else if (s.AnchorMs != long.MinValue && p.TimeMs - s.AnchorMs <= 30_000)
        {
            double scatter = s.OffLine.SigmaOr(_options.ErrorMinFixes, FleetSigma);
            double moved = GeoMath.Distance(s.AnchorLon, s.AnchorLat, p.Lon, p.Lat);
            if (moved >= Math.Max(15, _options.AlongSigmas * Math.Sqrt(2) * scatter))
            {
                // With a reported speed, a displacement much shorter than the road the speed covered in the time (the mean of
                // the speeds at its two ends: a vehicle speeding up from a stop covers half what its speed at the end would)
                // is the chord of a bend: its direction is not the vehicle's at the fix (a taxi every 10 s through the loops
                // of an interchange: a chord over 20 s of a ramp bending back on itself, "against" the ramp beside it). Less
                // 2 √2 of a fleet unit's error, which the displacement may lack.
                float kmh = float.IsNaN(s.AnchorKmh) ? p.SpeedKmh : (p.SpeedKmh + s.AnchorKmh) / 2;
                double covered = kmh / 3.6 * (p.TimeMs - s.AnchorMs) / 1000;
                bent = !float.IsNaN(p.SpeedKmh) && moved < (_options.StraightRatio * covered) - (2 * Math.Sqrt(2) * FleetSigma);
                s.Course = bent ? double.NaN : GeoMath.Bearing(s.AnchorLon, s.AnchorLat, p.Lon, p.Lat);
                s.AnchorMs = long.MinValue;
                own = !bent;
            }
            course = s.Course;
        }
        if (s.AnchorMs == long.MinValue || p.TimeMs - s.AnchorMs > 30_000)
        {
            s.AnchorMs = p.TimeMs;
            s.AnchorLon = p.Lon;
            s.AnchorLat = p.Lat;
            s.AnchorKmh = p.SpeedKmh;
        }
        return course;
    }

    /// <summary>
    /// The unit's error σ: the larger of its two estimates once both are known, else a fleet unit's
    /// (<see cref="WrongWayOptions.AlongM"/> over <see cref="WrongWayOptions.AlongSigmas"/>: 10 m).
    /// </summary>
    private double UnitSigma(ref State s) =>
        s.Nearest.Known(_options.ErrorMinFixes) && s.OffLine.Known(_options.ErrorMinFixes)
            ? Math.Max(s.Nearest.SigmaM, s.OffLine.SigmaM)
            : FleetSigma;

    /// <summary>
    /// Whether the unit's error is known and shows no slow part: its fixes lie no further from their roads than they stray
    /// from the line through their neighbours (within <see cref="WrongWayOptions.WhiteRatio"/>). Only then are its fixes'
    /// errors independent enough to add up as evidence: a unit whose position wanders off the road and stays off for a
    /// minute (multipath in a street canyon, a lane far from the road's line) shows the same few metres in fix after fix,
    /// and a sum of them would make a legal car on one half of a dual carriageway look as if it drove the other.
    /// </summary>
    private bool WhiteError(ref State s) =>
        s.Nearest.Known(_options.ErrorMinFixes) && s.OffLine.Known(_options.ErrorMinFixes)
        && s.Nearest.SigmaM <= _options.WhiteRatio * s.OffLine.SigmaM;

    /// <summary>A fleet unit's error, the unit's until its own is known: <see cref="WrongWayOptions.AlongM"/> over <see cref="WrongWayOptions.AlongSigmas"/> (10 m).</summary>
    private double FleetSigma => _options.AlongM / _options.AlongSigmas;

    /// <summary>
    /// Whether a fix amid a run of fixes against a road is in doubt at a junction: the nearest road crosses the course
    /// (neither along nor against it), the road driven against lies within <see cref="WrongWayOptions.NearM"/> and is still
    /// driven against, and no road within the doubt runs along the course. A fix in a crossing street's mouth (宁海东路 at
    /// 云南南路 in Shanghai, fixes every 5 s) says nothing either way about the road it is crossing on.
    /// </summary>
    private bool Crossing(ref State s, ReadOnlySpan<EdgeCandidate> near, double lon, double lat, double course, double sigma)
    {
        double diff0 = GeoMath.BearingDifference(course, _network.BearingAt(near[0].Edge, near[0].OffsetM));
        if (diff0 <= _options.AlongDeg || diff0 >= _options.AgainstDeg) return false;
        bool driven = false;
        for (int i = 0; i < near.Length && near[i].DistanceM <= _options.NearM && !driven; i++)
        {
            driven = MayBeRoadDriven(near[i].Edge, s.Edge) && IsStrictOneWay(near[i].Edge)
                && GeoMath.BearingDifference(course, _network.BearingAt(near[i].Edge, near[i].OffsetM)) >= _options.AgainstDeg;
        }
        return driven && !AnyAlong(ref s, near, lon, lat, course, AlongM(sigma), near[0].Edge, out _);
    }

    /// <summary>The doubt a unit of error <paramref name="sigma"/> gets: <see cref="WrongWayOptions.AlongSigmas"/> σ within the bounds.</summary>
    private double AlongM(double sigma) => Math.Clamp(_options.AlongSigmas * sigma, _options.AlongMinM, _options.AlongM);

    /// <summary>
    /// Whether a road within <paramref name="alongM"/> of the fix runs along the course; <paramref name="otherHalf"/>: one
    /// of them may be the other half of <paramref name="against"/> (<see cref="OtherHalf"/>).
    /// </summary>
    private bool AnyAlong(ref State s, ReadOnlySpan<EdgeCandidate> near, double lon, double lat, double course, double alongM, int against, out bool otherHalf)
    {
        bool any = false;
        otherHalf = false;
        double kx = GeoMath.MetresPerDegreeLon(lat);
        for (int i = 0; i < near.Length && near[i].DistanceM <= alongM; i++)
        {
            if (AlongDistance(near[i].Edge, lon, lat, kx, course, alongM) > alongM) continue;
            any = true;
            otherHalf |= OtherHalf(near[i].Edge, against);
        }
        return any;
    }

    /// <summary>
    /// Whether <paramref name="edge"/> may be the road a vehicle has been driving against, <paramref name="driven"/> its last
    /// edge against: the same named road, or, when neither has a name, any road without one (the map's unnamed one-way
    /// carriageways and links cannot be told apart by their names, as in <see cref="OtherHalf"/>). By name alone, a taxi
    /// reporting every 15 s against an unnamed one-way road beside 深南大道, whose fixes lay nearest two unnamed one-way ways
    /// in turn and once nearest 科苑北路 crossing its course, had its row of fixes against the road broken there and raised
    /// nothing in 90 s of driving against it.
    /// </summary>
    private bool MayBeRoadDriven(int edge, int driven) =>
        SameRoad(edge, driven) || (_network.Name(edge).Length == 0 && _network.Name(driven).Length == 0);

    /// <summary>Two edges of one named road (the halves of a dual carriageway share the name).</summary>
    private bool SameRoad(int a, int b) => _network.NameIndex(a) == _network.NameIndex(b) && _network.Name(a).Length > 0;

    /// <summary>
    /// Whether <paramref name="along"/>, a road running along the course near a fix, may be the other half of the road
    /// <paramref name="against"/> it lies on: the same named road, or a one-way road without a name (a carriageway whose
    /// name the map leaves out cannot be told from a side street by its name).
    /// </summary>
    private bool OtherHalf(int along, int against) =>
        SameRoad(along, against) || (_network.Name(along).Length == 0 && IsStrictOneWay(along));

    private bool IsStrictOneWay(int edge) =>
        _network.Twin(edge) < 0 && (_network.Flags(edge) & (EdgeFlags.OneWay | EdgeFlags.Reversible)) == EdgeFlags.OneWay;

    /// <summary>
    /// A vehicle's state: a struct held inline in the rule's pages (<see cref="PerVehicleStructs{T}"/>), reached by
    /// reference, never copied; laid out by the runtime, widest fields first: 168 bytes, its times as offsets from a base
    /// of its own (<see cref="CompactTimes"/>), its small fields in the bits of one <see cref="ushort"/> (<see cref="StateBits"/>).
    /// The counters of fixes in a row saturate at 3 (the rule asks only whether they reach 2).
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private struct State
    {
        public State()
        {
            (FirstMs, EvidenceSinceMs, Line1Ms) = (0, 0, 0);
        }

        [InlineArray(6)]
        private struct Six
        {
            private int _first;
        }

        public ConditionTracker Condition = new();   // mutable struct: don't make it readonly
        public UnitError Nearest;               // the unit's error, from the distances to the nearest road of the fixes looked at
        public UnitError OffLine;               // … from each fix's distance off the line through its neighbours
        private TimeSlots<Six> _times = new();  // after the structs of odd sizes, which the runtime then lays out first: no padding

        public long LastMs { readonly get => _times[0]; set => _times.Set(0, value); }

        /// <summary>The first fix of the run of fixes against the road.</summary>
        public long FirstMs { readonly get => _times[1]; set => _times.Set(1, value); }

        /// <summary>Where the course from positions is measured from (none: long.MinValue).</summary>
        public long AnchorMs { readonly get => _times[2]; set => _times.Set(2, value); }

        /// <summary>When the evidence below last rose above 0.</summary>
        public long EvidenceSinceMs { readonly get => _times[3]; set => _times.Set(3, value); }

        /// <summary>The last fix the evidence took (none: long.MinValue).</summary>
        public long EvidenceMs { readonly get => _times[4]; set => _times.Set(4, value); }

        /// <summary>The last fix of the line (see <see cref="Wiggle"/>).</summary>
        public long Line1Ms { readonly get => _times[5]; set => _times.Set(5, value); }

        // The class, the dangerous goods, Line, Clear and Fixes (StateBits): two bytes, where they took five and padding.
        private ushort _bits;

        public VehicleClass Class { readonly get => StateBits.Class(_bits); set => StateBits.SetClass(ref _bits, value); }

        public ushort Hazmat { readonly get => StateBits.Hazmat(_bits); set => StateBits.SetHazmat(ref _bits, value); }

        /// <summary>Fixes in a row held below (0–2), the last in Line1.</summary>
        public int Line
        {
            readonly get => StateBits.Get(_bits, StateBits.FreeShift, 2);
            set => StateBits.Set(ref _bits, StateBits.FreeShift, 2, value);
        }

        /// <summary>Judged fixes in a row not against the road, saturating at 3 (the rule asks only whether they reach 2).</summary>
        public int Clear
        {
            readonly get => StateBits.Get(_bits, StateBits.FreeShift + 2, 2);
            set => StateBits.Set(ref _bits, StateBits.FreeShift + 2, 2, Math.Min(value, 3));
        }

        /// <summary>Judged fixes in a row against the road, saturating at 3 (the rule asks only whether there are any, and 2).</summary>
        public int Fixes
        {
            readonly get => StateBits.Get(_bits, StateBits.FreeShift + 4, 2);
            set => StateBits.Set(ref _bits, StateBits.FreeShift + 4, 2, Math.Min(value, 3));
        }

        public int Edge;
        public double AnchorLon;
        public double AnchorLat;
        public float AnchorKmh = float.NaN;     // the speed reported at the anchor (NaN: none)
        public double Course = double.NaN;
        public double EvidenceNats;             // the recent fixes' evidence for driving against a one-way road
        public double EvidenceWeight;           // their weights summed (n), and their u and D weighed
        public double EvidencePassed;
        public double EvidenceApart;
        public double Line0Lon, Line0Lat, Line1Lon, Line1Lat;

        /// <summary>
        /// Takes a fix C: the fix B before it lies off the line from the fix A before that to C by B's error, on
        /// top of A's and C's share of theirs, for a vehicle going straight: σ²(1 + t² + (1 − t)²) across the line, with B
        /// at t of the way from A to C. Scaled to one fix's, it is a sample of the unit's error. Bends only add to it.
        /// </summary>

        public void Wiggle(double lon, double lat, long timeMs)
        {
            if (Line > 0 && timeMs - Line1Ms > 30_000) Line = 0;
            if (Line == 2)
            {
                double kx = GeoMath.MetresPerDegreeLon(lat), ky = GeoMath.MetresPerDegree;   // a cache of it cost every vehicle 16 bytes
                double ax = (Line0Lon - lon) * kx, ay = (Line0Lat - lat) * ky, bx = (Line1Lon - lon) * kx, by = (Line1Lat - lat) * ky;
                double len2 = (ax * ax) + (ay * ay);
                if (len2 >= 100) // A and C 10 m apart or more: C is the origin, A at (ax, ay)
                {
                    double t = 1 - (((ax * bx) + (ay * by)) / len2), across = Math.Abs((ax * by) - (ay * bx)) / Math.Sqrt(len2);
                    if (t is > 0.1 and < 0.9) OffLine.Add(across / Math.Sqrt(1 + (t * t) + ((1 - t) * (1 - t))));
                }
            }
            if (Line == 2 || Line == 1)
            {
                Line0Lon = Line1Lon;
                Line0Lat = Line1Lat;
            }
            Line1Lon = lon;
            Line1Lat = lat;
            Line1Ms = timeMs;
            Line = Math.Min(Line + 1, 2);
        }

        /// <summary>Drops what names a road of a network no longer run: the condition, the road and the fixes and evidence against it.</summary>
        public void ResetNetwork()
        {
            Condition = new ConditionTracker();
            (Edge, Fixes, Clear, FirstMs) = (0, 0, 0, 0);
            (EvidenceNats, EvidenceWeight, EvidencePassed, EvidenceApart, EvidenceSinceMs, EvidenceMs) = (0, 0, 0, 0, 0, long.MinValue);
        }

        public void Save(BinaryWriter o)
        {
            Condition.Save(o);
            o.Write(LastMs);
            o.Write((byte)Class);
            o.Write(Hazmat);
            o.Write(Edge);
            o.Write(Fixes);
            o.Write(Clear);
            o.Write(FirstMs);
            o.Write(AnchorMs);
            o.Write(AnchorLon);
            o.Write(AnchorLat);
            o.Write(AnchorKmh);
            o.Write(Course);
            Nearest.Save(o);
            OffLine.Save(o);
            o.Write(EvidenceNats);
            o.Write(EvidenceWeight);
            o.Write(EvidencePassed);
            o.Write(EvidenceApart);
            o.Write(EvidenceSinceMs);
            o.Write(EvidenceMs);
            o.Write(Line);
            o.Write(Line1Ms);
            o.Write(Line0Lon);
            o.Write(Line0Lat);
            o.Write(Line1Lon);
            o.Write(Line1Lat);
        }

        public void Load(BinaryReader i)
        {
            Condition.Load(i);
            LastMs = i.ReadInt64();
            (Class, Hazmat) = StateBits.Load(i);
            Edge = i.ReadInt32();
            Fixes = Math.Clamp(i.ReadInt32(), 0, 3);
            Clear = Math.Clamp(i.ReadInt32(), 0, 3);
            FirstMs = i.ReadInt64();
            AnchorMs = i.ReadInt64();
            AnchorLon = i.ReadDouble();
            AnchorLat = i.ReadDouble();
            AnchorKmh = i.ReadSingle();
            Course = i.ReadDouble();
            Nearest.Load(i);
            OffLine.Load(i);
            EvidenceNats = i.ReadDouble();
            EvidenceWeight = i.ReadDouble();
            EvidencePassed = i.ReadDouble();
            EvidenceApart = i.ReadDouble();
            EvidenceSinceMs = i.ReadInt64();
            EvidenceMs = i.ReadInt64();
            int line = i.ReadInt32();
            CheckpointReader.Check(line is >= 0 and <= 2, "checkpoint malformed: wrong-way fixes in a row out of range");
            Line = line;
            Line1Ms = i.ReadInt64();
            Line0Lon = i.ReadDouble();
            Line0Lat = i.ReadDouble();
            Line1Lon = i.ReadDouble();
            Line1Lat = i.ReadDouble();
        }
    }
}
