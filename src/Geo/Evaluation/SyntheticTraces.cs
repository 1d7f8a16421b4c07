using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Evaluation;

/// <summary>A probe with the truth it was made from.</summary>
public readonly record struct TruthProbe(GpsPoint Probe, int TrueEdge, double TrueOffsetM);

/// <summary>
/// Vehicles driven along random routes of a network at a share of each road's limit, sampled every
/// <c>interval</c> seconds with Gaussian position noise: ground truth for edge-level matching accuracy.
/// Deterministic for a seed. (The fleet simulator builds on richer movement; this is the matcher's own yardstick.)
/// </summary>
public static class SyntheticTraces
{
    /// <summary>Drives one vehicle for at least <paramref name="routeLengthM"/> metres (or until a dead end).</summary>
    public static TruthProbe[] Drive(RoadNetwork net, Random rng, double routeLengthM, double intervalS, double sigmaM, long startMs = 1_700_000_000_000)
    {
        // A random drive: at each node a random out-edge, avoiding the U-turn where there is another way.
        var route = new List<int>();
        int edge = rng.Next(net.EdgeCount);
        double length = 0;
        while (length < routeLengthM && route.Count < 100_000)
        {
            route.Add(edge);
            length += net.LengthM(edge);
            int node = net.To(edge), first = net.FirstOutEdge(node), end = net.EndOutEdge(node);
            if (first == end) break;
            int next = first + rng.Next(end - first);
            if (next == net.Twin(edge) && end - first > 1) next = first + ((next - first + 1 + rng.Next(end - first - 1)) % (end - first));
            edge = next;
        }

        var probes = new List<TruthProbe>();
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
            probes.Add(new TruthProbe(new GpsPoint(startMs + (long)Math.Round(time * 1000), nLon, nLat) { Id = id++ }, e, offset));
        }
        return [.. probes];
    }

    /// <summary>Share of probes matched online (default lag) to their true edge.</summary>
    public static (int Probes, int Correct) OnlineEdgeAccuracy(EdgeIndex index, IEnumerable<TruthProbe[]> vehicles, MatcherOptions? options = null)
    {
        var matcher = new OnlineMatcher(index, options);
        int probes = 0, correct = 0;
        foreach (var trace in vehicles)
        {
            var truth = new Dictionary<long, int>(trace.Length);
            foreach (var tp in trace) truth[tp.Probe.Id] = tp.TrueEdge;
            var sink = new Scorer(truth);
            var state = matcher.NewState();
            foreach (var tp in trace) matcher.Push(state, tp.Probe, ref sink);
            matcher.Flush(state, ref sink);
            probes += trace.Length;
            correct += sink.Correct;
        }
        return (probes, correct);
    }

    /// <summary>Speed on an edge: 70 % of its limit, as urban traffic drives between junctions.</summary>
    private static double SpeedMs(RoadNetwork net, int edge) => Math.Max(5, net.SpeedLimitKmh(edge) * 0.7) / 3.6;

    private static (double Lon, double Lat) Noise(Random rng, double lon, double lat, double sigmaM)
    {
        // Box–Muller: two independent standard normals.
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double dx = r * Math.Cos(2 * Math.PI * u2) * sigmaM, dy = r * Math.Sin(2 * Math.PI * u2) * sigmaM;
        return (lon + (dx / GeoMath.MetresPerDegreeLon(lat)), lat + (dy / GeoMath.MetresPerDegree));
    }

    private struct Scorer(Dictionary<long, int> truth) : IMatchSink
    {
        public int Correct;

        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            if (truth.TryGetValue(match.ProbeId, out int edge) && edge == match.Edge) Correct++;
        }
    }
}
