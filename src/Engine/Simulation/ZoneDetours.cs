using Traffic.Geo;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;

namespace Traffic.Engine.Simulation;

/// <summary>
/// What the simulator's drivers know of the zones (the engine's own reading of the zones file, <see cref="SimZone"/>): which
/// edges run inside which area zone, and shortest paths that keep out of the zones a vehicle may not enter. Drivers keep
/// the rules as real ones mostly do: a taxi does not cut through a zone closed to taxis, a tanker goes round a zone closed
/// to dangerous goods, so that the alerts a replay of the fleet raises are the injected ones and the few the traffic
/// really causes, not a flood from drivers who never heard of the rules.
/// </summary>
/// <remarks>
/// A plain Dijkstra over the edges (an edge's key: the cost from the vehicle to the edge's end), in which an edge inside a
/// zone to avoid costs <see cref="InsideFactor"/> times its length: a vehicle inside such a zone (sent there by an
/// injected event) still finds its way out, and where no way round exists it drives through. Turning back onto the twin edge
/// costs <see cref="UTurnM"/>. Only the first 64 area zones of a file are known (a mask of 64 bits per edge).
/// </remarks>
internal sealed class ZoneDetours
{
    /// <summary>The cost of a metre inside a zone to avoid, in metres outside.</summary>
    private const double InsideFactor = 1000;

    /// <summary>The cost of turning back at a junction, metres: a driver turns round rather than enter a zone.</summary>
    private const double UTurnM = 200;

    /// <summary>Sample spacing along an edge when finding the zones it runs inside, metres.</summary>
    private const double SampleM = 5;

    private readonly RoadNetwork _net;
    private readonly ulong[] _edgeZones;
    private readonly double[] _key;
    private readonly int[] _pred;
    private readonly int[] _stamp;
    private readonly PriorityQueue<int, double> _heap = new();
    private readonly List<int> _back = [];
    private int _run;

    public ZoneDetours(RoadNetwork network, IReadOnlyList<SimZone> zones)
    {
        _net = network;
        int edges = network.EdgeCount;
        _edgeZones = new ulong[edges];
        _key = new double[edges];
        _pred = new int[edges];
        _stamp = new int[edges];
        int count = Math.Min(zones.Count, 64);
        for (int e = 0; e < edges; e++)
        {
            for (int z = 0; z < count; z++)
            {
                if (RunsInside(e, zones[z])) _edgeZones[e] |= 1UL << z;
            }
        }
    }

    /// <summary>The zones (bits by index in the zone list) an edge runs inside, along any part of it.</summary>
    public ulong ZonesOf(int edge) => _edgeZones[edge];

    /// <summary>Whether a path enters one of <paramref name="zones"/> after its first edge (where the vehicle already is).</summary>
    public bool Enters(ReadOnlySpan<int> path, ulong zones)
    {
        for (int k = 1; k < path.Length; k++)
        {
            if ((_edgeZones[path[k]] & zones) != 0) return true;
        }
        return false;
    }

    /// <summary>
    /// The shortest path from <paramref name="from"/> to <paramref name="offsetM"/> along <paramref name="dest"/> that keeps
    /// out of <paramref name="avoid"/> where it can: its edges into <paramref name="path"/>, the source edge first and the
    /// destination last (twice the same edge for a point behind the source on it); the edge count, 0 when nothing connects.
    /// </summary>
    public int Route(EdgePosition from, int dest, double offsetM, ulong avoid, Span<int> path)
    {
        int source = from.Edge;
        if (dest == source && offsetM >= from.OffsetM)
        {
            path[0] = source;
            return 1;
        }
        if (++_run == int.MaxValue)
        {
            Array.Clear(_stamp);
            _run = 1;
        }
        _heap.Clear();
        Reach(source, (_net.LengthM(source) - from.OffsetM) * Factor(source, avoid), -1);
        double best = double.PositiveInfinity;
        int bestPred = -1;
        while (_heap.TryDequeue(out int e, out double key))
        {
            if (key > _key[e]) continue; // stale
            if (key >= best) break;
            int node = _net.To(e), twin = _net.Twin(e);
            for (int f = _net.FirstOutEdge(node), end = _net.EndOutEdge(node); f < end; f++)
            {
                double w = Factor(f, avoid), turn = f == twin ? UTurnM : 0;
                if (f == dest && key + turn + (offsetM * w) < best) (best, bestPred) = (key + turn + (offsetM * w), e);
                if (f != source) Reach(f, key + turn + (_net.LengthM(f) * w), e);
            }
        }
        if (bestPred < 0) return 0;
        _back.Clear();
        for (int e = bestPred; e >= 0 && e != source; e = _pred[e]) _back.Add(e);
        if (_back.Count + 2 > path.Length) return 0;
        int n = 0;
        path[n++] = source;
        for (int k = _back.Count - 1; k >= 0; k--) path[n++] = _back[k];
        path[n++] = dest;
        return n;
    }

    private double Factor(int edge, ulong avoid) => (_edgeZones[edge] & avoid) != 0 ? InsideFactor : 1;

    private void Reach(int edge, double key, int pred)
    {
        if (_stamp[edge] == _run && key >= _key[edge]) return;
        _stamp[edge] = _run;
        _key[edge] = key;
        _pred[edge] = pred;
        _heap.Enqueue(edge, key);
    }

    private bool RunsInside(int edge, SimZone zone)
    {
        var lons = _net.ShapeLons(edge);
        var lats = _net.ShapeLats(edge);
        for (int i = 0; i < lons.Length; i++)
        {
            if (zone.Contains(lons[i], lats[i])) return true;
            if (i + 1 == lons.Length) break;
            double len = GeoMath.FastDistance(lons[i], lats[i], lons[i + 1], lats[i + 1]);
            for (double s = SampleM; s < len; s += SampleM)
            {
                double t = s / len;
                if (zone.Contains(lons[i] + ((lons[i + 1] - lons[i]) * t), lats[i] + ((lats[i + 1] - lats[i]) * t))) return true;
            }
        }
        return false;
    }
}
