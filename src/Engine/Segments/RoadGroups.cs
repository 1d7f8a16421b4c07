using Traffic.Geo.Network;

namespace Traffic.Engine.Segments;

/// <summary>
/// The road each directed edge belongs to, for congestion along a road (<see cref="Rules.CongestionRule"/>) and for the
/// segment exchange, which sends every segment of one road to one partition so that its congested segments can be
/// joined into runs there:
/// <list type="bullet">
/// <item>a named edge belongs to its name (both carriageways of a dual carriageway: runs follow the connections);</item>
/// <item>an unnamed edge that runs alongside a named road, the same way and within GPS error of it (20 m) over
/// two thirds of its length, to that road: a fix cannot tell which of the two a vehicle drives, and the matcher
/// puts part of the named road's traffic on it (a side lane, a parallel slip road);</item>
/// <item>an unnamed link (a slip road: the <c>*_link</c> classes) to the named road it joins, found ahead through
/// unnamed links, else to the one it leaves: a queue on a slip road is the queue of the road it merges into;</item>
/// <item>any other unnamed edge to its OSM way.</item>
/// </list>
/// Keys: a name's index (positive) or −1 − a dense index of the way. Built once per network; immutable, safe to share.
/// </summary>
public sealed class RoadGroups
{
    private const int LinkSearchDepth = 4;
    private const double AlongsideM = 20;          // within GPS error of a named road …
    private const double AlongsideDeg = 30;        // … running its way …
    private const double AlongsideShare = 2.0 / 3; // … over this share of the edge
    private const double SampleM = 20;             // the edge is looked at every this many metres

    private readonly int[] _key;                          // per edge
    private readonly Dictionary<int, int[]> _edges = [];  // key → its edges, ascending

    /// <param name="network">The road network.</param>
    /// <param name="index">Its edge index, or null to build one.</param>
    public RoadGroups(RoadNetwork network, Traffic.Geo.Spatial.EdgeIndex? index = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        index ??= new Traffic.Geo.Spatial.EdgeIndex(network);
        Network = network;
        int n = network.EdgeCount;
        _key = new int[n];
        var ways = new Dictionary<long, int>();
        for (int e = 0; e < n; e++)
        {
            int name = network.NameIndex(e);
            if (name != 0) _key[e] = name;
            else
            {
                long way = network.WayId(e);
                if (!ways.TryGetValue(way, out int w)) ways[way] = w = ways.Count;
                _key[e] = -1 - w;
            }
        }
        // Unnamed links take the name of the road they join (ahead) or leave (behind).
        var (inFirst, inEdges) = InAdjacency(network);
        var named = new int[n];
        var near = new Traffic.Geo.Spatial.EdgeCandidate[16];
        for (int e = 0; e < n; e++)
        {
            if (network.NameIndex(e) != 0) continue;
            named[e] = Alongside(network, index, e, near);
            if (named[e] == 0 && IsLink(network.Class(e)))
                named[e] = NamedAlong(network, e, ahead: true, inFirst, inEdges) is int ahead and > 0 ? ahead : NamedAlong(network, e, ahead: false, inFirst, inEdges);
        }
        for (int e = 0; e < n; e++)
        {
            if (named[e] > 0) _key[e] = named[e];
        }
        foreach (var group in Enumerable.Range(0, n).GroupBy(e => _key[e])) _edges[group.Key] = [.. group];
    }

    /// <summary>The network the groups are of.</summary>
    public RoadNetwork Network { get; }

    /// <summary>The key of the road an edge belongs to.</summary>
    public int Key(int edge) => _key[edge];

    /// <summary>The edges of a road, ascending.</summary>
    public ReadOnlySpan<int> Edges(int key) => _edges.TryGetValue(key, out int[]? edges) ? edges : [];

    /// <summary>The partition of <paramref name="partitions"/> that owns an edge's segment: the same for every segment of a road.</summary>
    public int PartitionOf(int edge, int partitions)
    {
        int key = _key[edge];
        return (int)((uint)(key >= 0 ? key : -1 - key) % (uint)partitions);
    }

    /// <summary>The name of the named road an unnamed edge runs alongside over most of its length, or 0.</summary>
    private static int Alongside(RoadNetwork network, Traffic.Geo.Spatial.EdgeIndex index, int e, Traffic.Geo.Spatial.EdgeCandidate[] near)
    {
        double length = network.LengthM(e);
        int samples = Math.Max(3, (int)(length / SampleM) + 1);
        var counts = new Dictionary<int, int>();
        for (int k = 0; k < samples; k++)
        {
            double x = length * k / (samples - 1);
            var (lon, lat) = network.PointAt(e, x);
            double bearing = network.BearingAt(e, x);
            int found = index.Within(lon, lat, AlongsideM, near), name = 0;
            for (int i = 0; i < found && name == 0; i++)
            {
                int f = near[i].Edge;
                if (network.NameIndex(f) != 0 && Traffic.Geo.GeoMath.BearingDifference(bearing, network.BearingAt(f, near[i].OffsetM)) <= AlongsideDeg)
                    name = network.NameIndex(f);
            }
            if (name != 0) counts[name] = counts.GetValueOrDefault(name) + 1;
        }
        foreach (var (name, count) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
            return count >= AlongsideShare * samples ? name : 0;
        return 0;
    }

    private static bool IsLink(RoadClass c) =>
        c is RoadClass.MotorwayLink or RoadClass.TrunkLink or RoadClass.PrimaryLink or RoadClass.SecondaryLink or RoadClass.TertiaryLink;

    /// <summary>
    /// The name of the nearest named edge ahead of <paramref name="from"/> (or, with <paramref name="ahead"/> false, behind
    /// it: the roads leading into it), through unnamed links (breadth first, lowest edge first); 0 when none.
    /// </summary>
    private static int NamedAlong(RoadNetwork network, int from, bool ahead, int[] inFirst, int[] inEdges)
    {
        var level = new List<int> { from };
        var seen = new HashSet<int> { from };
        for (int depth = 0; depth < LinkSearchDepth && level.Count > 0; depth++)
        {
            var next = new List<int>();
            int best = int.MaxValue, name = 0;
            foreach (int e in level)
            {
                int node = ahead ? network.To(e) : network.From(e);
                int first = ahead ? network.FirstOutEdge(node) : inFirst[node];
                int end = ahead ? network.EndOutEdge(node) : inFirst[node + 1];
                for (int k = first; k < end; k++)
                {
                    int f = ahead ? k : inEdges[k];
                    if (f == network.Twin(e) || !seen.Add(f)) continue;
                    if (network.NameIndex(f) != 0)
                    {
                        if (f < best) (best, name) = (f, network.NameIndex(f));
                    }
                    else if (IsLink(network.Class(f))) next.Add(f);
                }
            }
            if (name != 0) return name;
            next.Sort();
            level = next;
        }
        return 0;
    }

    private static (int[] First, int[] Edges) InAdjacency(RoadNetwork network)
    {
        var first = new int[network.NodeCount + 1];
        for (int e = 0; e < network.EdgeCount; e++) first[network.To(e) + 1]++;
        for (int i = 0; i < network.NodeCount; i++) first[i + 1] += first[i];
        var edges = new int[network.EdgeCount];
        var next = (int[])first.Clone();
        for (int e = 0; e < network.EdgeCount; e++) edges[next[network.To(e)]++] = e;
        return (first, edges);
    }
}
