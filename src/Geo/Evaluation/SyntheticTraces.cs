using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Evaluation;

/// <summary>A probe with the truth it was made from; <see cref="RouteIndex"/> is the position of its edge in the drive.</summary>
public readonly record struct TruthProbe(GpsPoint Probe, int TrueEdge, double TrueOffsetM, int RouteIndex);

/// <summary>Accuracy of matches against synthetic truth.</summary>
public readonly record struct SyntheticScore(int Probes, int CorrectEdges, double TruthRouteM, double RouteErrorM)
{
    /// <summary>Share of probes matched to their true edge.</summary>
    public double EdgeAccuracy => Probes > 0 ? (double)CorrectEdges / Probes : 0;

    /// <summary>
    /// 1 − route mismatch fraction (Newson &amp; Krumm, Kubicka), edge by edge and weighted by length, over the route
    /// driven between the first probe and the last.
    /// </summary>
    public double RouteAccuracy => TruthRouteM > 0 ? 1 - (RouteErrorM / TruthRouteM) : 0;

    public static SyntheticScore operator +(SyntheticScore a, SyntheticScore b) =>
        new(a.Probes + b.Probes, a.CorrectEdges + b.CorrectEdges, a.TruthRouteM + b.TruthRouteM, a.RouteErrorM + b.RouteErrorM);
}

/// <summary>What synthetic probes report besides their position, as JT/T 808 units do (speed from GNSS Doppler, course).</summary>
[Flags]
public enum ReportedCourse
{
    /// <summary>Positions only.</summary>
    None = 0,

    /// <summary>The instantaneous speed at the fix, with Gaussian noise of <see cref="SyntheticTraces.ReportedSpeedSigmaKmh"/>, clamped at 0; 0 when standing.</summary>
    Speed = 1,

    /// <summary>The road's bearing at the fix, with Gaussian noise of <see cref="SyntheticTraces.ReportedHeadingSigmaDeg"/>; none when standing.</summary>
    Heading = 2,
}

/// <summary>
/// Vehicles driving trips (shortest paths between random places) at a share of each road's limit, sampled every
/// <c>interval</c> seconds with Gaussian position noise: ground truth for edge-level matching accuracy.
/// Deterministic for a seed. (The fleet simulator builds on richer movement; this is the matcher's own yardstick.)
/// </summary>
public static class SyntheticTraces
{
    /// <summary>Drives one vehicle for at least <paramref name="routeLengthM"/> metres (fewer where the network is too small to find trips).</summary>
    /// <remarks>
    /// With <paramref name="reported"/>, probes carry the speed and heading a unit reports (<see cref="Report"/>), drawn
    /// from a generator of their own, so positions are the same whatever is reported.
    /// </remarks>
    public static (TruthProbe[] Probes, int[] Route) Drive(RoadNetwork net, Random rng, double routeLengthM, double intervalS, double sigmaM,
        long startMs = 1_700_000_000_000, ReportedCourse reported = ReportedCourse.None)
    {
        // Trips as vehicles drive them: shortest paths to random destinations 1–3 km away, one after another.
        // Drivers turn round where they must (a dead end), not wherever it saves a few metres: without the
        // penalty a trip often ran 10 m into a side street and straight back out, a detour no fix can show.
        var route = new List<int> { rng.Next(net.EdgeCount) };
        var router = new Routing.BoundedDijkstra(net) { UTurnPenaltyM = UTurnPenaltyM };
        Span<Routing.EdgePosition> target = stackalloc Routing.EdgePosition[1];
        Span<double> distance = stackalloc double[1];
        var path = new int[4096];
        double length = net.LengthM(route[0]);
        for (int attempt = 0; length < routeLengthM && attempt < 1000; attempt++)
        {
            int from = route[^1];
            var (lon, lat) = net.PointAt(from, net.LengthM(from));
            int dest = rng.Next(net.EdgeCount);
            var (dLon, dLat) = net.PointAt(dest, 0);
            double gc = GeoMath.Distance(lon, lat, dLon, dLat);
            if (gc is < 1000 or > 3000) continue;
            target[0] = new Routing.EdgePosition(dest, net.LengthM(dest));
            router.Run(new Routing.EdgePosition(from, net.LengthM(from)), target, 3 * gc, distance);
            int n = router.PathLength(0);
            if (n < 2 || n > path.Length) continue;
            router.PathTo(0, path);
            for (int k = 1; k < n; k++)
            {
                route.Add(path[k]);
                length += net.LengthM(path[k]);
            }
        }

        var probes = new List<TruthProbe>();
        var courseRng = new Random(rng.Next()); // drawn either way, so positions do not depend on what is reported
        double step = Math.Max(intervalS, 0.001), entered = 0; // time the vehicle entered route[i]
        int i = 0;
        long id = 0;
        for (double time = 0; ; time += step)
        {
            while (i < route.Count && time > entered + (net.LengthM(route[i]) / SpeedMs(net, route[i])))
            {
                entered += net.LengthM(route[i]) / SpeedMs(net, route[i]);
                i++;
            }
            if (i == route.Count) break;
            int e = route[i];
            double offset = Math.Min(net.LengthM(e), (time - entered) * SpeedMs(net, e));
            var (lon, lat) = net.PointAt(e, offset);
            var (nLon, nLat) = Noise(rng, lon, lat, sigmaM);
            var probe = new GpsPoint(startMs + (long)Math.Round(time * 1000), nLon, nLat) { Id = id++ };
            if (reported != ReportedCourse.None) probe = Report(probe, reported, SpeedMs(net, e) * 3.6, net.BearingAt(e, offset), courseRng);
            probes.Add(new TruthProbe(probe, e, offset, i));
        }
        return ([.. probes], [.. route]);
    }

    /// <summary>Standard deviation of a synthetic unit's reported speed, km/h (GNSS Doppler speed is good to a few km/h).</summary>
    public const double ReportedSpeedSigmaKmh = 2;

    /// <summary>Standard deviation of a synthetic unit's reported heading, degrees (Doppler course while moving).</summary>
    public const double ReportedHeadingSigmaDeg = 5;

    /// <summary>
    /// A probe with what a unit reports besides its position: speed (the true instantaneous speed with Gaussian noise of
    /// <see cref="ReportedSpeedSigmaKmh"/>, clamped at 0; exactly 0 when the vehicle stands, as units report) and heading
    /// (the road's bearing with noise of <see cref="ReportedHeadingSigmaDeg"/>; none when standing). Noise is drawn from
    /// <paramref name="rng"/> whatever is reported, a generator apart from the positions' so positions stay the same.
    /// </summary>
    public static GpsPoint Report(GpsPoint probe, ReportedCourse reported, double trueSpeedKmh, double bearingDeg, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        double ns = Gaussian(rng), nh = Gaussian(rng);
        bool standing = trueSpeedKmh <= 0;
        if ((reported & ReportedCourse.Speed) != 0)
            probe = probe with { SpeedKmh = standing ? 0 : (float)Math.Max(0, trueSpeedKmh + (ReportedSpeedSigmaKmh * ns)) };
        if ((reported & ReportedCourse.Heading) != 0 && !standing)
            probe = probe with { Heading = (float)(((bearingDeg + (ReportedHeadingSigmaDeg * nh)) % 360 + 360) % 360) };
        return probe;
    }

    /// <summary>Parses "speed", "heading", "speed,heading" or "none".</summary>
    public static ReportedCourse ParseReported(string? text)
    {
        var r = ReportedCourse.None;
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            r |= part.ToLowerInvariant() switch
            {
                "speed" => ReportedCourse.Speed,
                "heading" => ReportedCourse.Heading,
                "none" => ReportedCourse.None,
                _ => throw new ArgumentException($"unknown reported field '{part}' (speed, heading)"),
            };
        }
        return r;
    }

    /// <summary>
    /// Matches each trace online (default lag) and scores probes by edge and the route by length. The route is
    /// what was driven between the first probe and the last: the first and last edges count only from the first
    /// probe's position and up to the last one's, in the truth and in the match alike, so that the match of the
    /// last probe a few metres into a long edge is not scored as the whole edge driven.
    /// </summary>
    /// <param name="errors">When given, receives each trace's mismatched edges, those with metres of error: (trace number,
    /// edge, metres, true when a driven edge was missed, false when the match drove an edge the vehicle did not).</param>
    /// <param name="routes">When given, receives each trace's routes as edge sequences (no edge twice in a row): the true
    /// one from the first probe's edge to the last one's, and the matched one, edges driven and edges matched in order.</param>
    public static SyntheticScore OnlineAccuracy(EdgeIndex index, IEnumerable<(TruthProbe[] Probes, int[] Route)> vehicles, MatcherOptions? options = null,
        Action<int, int, double, bool>? errors = null, Action<int, int[], int[]>? routes = null)
    {
        var net = index.Network;
        var matcher = new OnlineMatcher(index, options);
        var total = default(SyntheticScore);
        int traceNumber = -1;
        foreach (var (trace, route) in vehicles)
        {
            traceNumber++;
            if (trace.Length == 0) continue;
            var truth = new Dictionary<long, int>(trace.Length);
            foreach (var tp in trace) truth[tp.Probe.Id] = tp.TrueEdge;
            var sink = new Scorer(truth, [], [], routes is null ? null : []);
            var state = matcher.NewState();
            foreach (var tp in trace) matcher.Push(state, tp.Probe, ref sink);
            matcher.Flush(state, ref sink);

            // Truth route: the edges driven from the first probe's position to the last one's.
            var truthRanges = new Dictionary<int, (double From, double To)>();
            int first = trace[0].RouteIndex, last = trace[^1].RouteIndex;
            for (int i = first; i <= last; i++)
            {
                double from = i == first ? trace[0].TrueOffsetM : 0;
                double to = i == last ? trace[^1].TrueOffsetM : net.LengthM(route[i]);
                Cover(truthRanges, route[i], from, to);
            }
            double truthM = 0, errorM = 0;
            foreach (var (e, r) in truthRanges)
            {
                truthM += r.To - r.From;
                if (sink.Drove(e)) continue;
                errorM += r.To - r.From;
                if (r.To > r.From) errors?.Invoke(traceNumber, e, r.To - r.From, true);
            }
            foreach (var (e, r) in sink.Route)
            {
                if (truthRanges.ContainsKey(e) || !sink.Drove(e)) continue;
                errorM += r.To - r.From;
                if (r.To > r.From) errors?.Invoke(traceNumber, e, r.To - r.From, false);
            }
            total += new SyntheticScore(trace.Length, sink.Correct, truthM, errorM);
            routes?.Invoke(traceNumber, route[first..(last + 1)], [.. sink.Sequence!]);
        }
        return total;
    }

    /// <summary>Widens an edge's covered range (the part of it a route drove) to include [from, to].</summary>
    private static void Cover(Dictionary<int, (double From, double To)> ranges, int edge, double from, double to)
    {
        ranges[edge] = ranges.TryGetValue(edge, out var r) ? (Math.Min(r.From, from), Math.Max(r.To, to)) : (from, to);
    }

    /// <summary>Metres a U-turn costs a trip: more than driving round a block, so that trips turn round only where they must (a dead end, an exit with no way back near).</summary>
    private const double UTurnPenaltyM = 2000;

    /// <summary>Speed on an edge: 80 % of its limit, at least 20 km/h.</summary>
    private static double SpeedMs(RoadNetwork net, int edge) => Math.Max(20, net.SpeedLimitKmh(edge) * 0.8) / 3.6;

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A position moved by Gaussian noise of <paramref name="sigmaM"/> metres on each axis.</summary>
    public static (double Lon, double Lat) Noise(Random rng, double lon, double lat, double sigmaM)
    {
        ArgumentNullException.ThrowIfNull(rng);
        // Box–Muller: two independent standard normals.
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double dx = r * Math.Cos(2 * Math.PI * u2) * sigmaM, dy = r * Math.Sin(2 * Math.PI * u2) * sigmaM;
        return (lon + (dx / GeoMath.MetresPerDegreeLon(lat)), lat + (dy / GeoMath.MetresPerDegree));
    }

    private struct Scorer(Dictionary<long, int> truth, Dictionary<int, (double From, double To)> route, HashSet<int> matched, List<int>? sequence) : IMatchSink
    {
        public int Correct;

        /// <summary>The matched route's edges in order, none twice in a row; null when not asked for.</summary>
        public readonly List<int>? Sequence => sequence;

        /// <summary>The matched route: each edge with the part of it driven.</summary>
        public readonly Dictionary<int, (double From, double To)> Route => route;

        /// <summary>Whether the match drove some of an edge or placed a probe on it (a route touching its end node does not count).</summary>
        public readonly bool Drove(int edge) => matched.Contains(edge) || (route.TryGetValue(edge, out var r) && r.To > r.From);

        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> traversed)
        {
            if (truth.TryGetValue(match.ProbeId, out int edge) && edge == match.Edge) Correct++;
            if (match.Edge >= 0)
            {
                matched.Add(match.Edge);
                Cover(route, match.Edge, match.OffsetM, match.OffsetM);
            }
            foreach (var t in traversed)
            {
                Cover(route, t.Edge, t.FromOffsetM, t.ToOffsetM);
                if (sequence is not null) Append(sequence, t.Edge);
            }
            if (sequence is not null && match.Edge >= 0) Append(sequence, match.Edge);
        }

        private static void Append(List<int> sequence, int edge)
        {
            if (sequence.Count == 0 || sequence[^1] != edge) sequence.Add(edge);
        }
    }
}
