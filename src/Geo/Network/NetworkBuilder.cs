namespace Traffic.Geo.Network;

/// <summary>
/// Collects nodes and directed edges with their shapes, then freezes them into a
/// <see cref="RoadNetwork"/>: edges sorted by source node, lengths measured along the shape,
/// names interned. Edges of (near) zero length are dropped and counted.
/// </summary>
public sealed class NetworkBuilder
{
    /// <summary>Edges shorter than this are degenerate (coincident nodes) and are dropped.</summary>
    public const double MinEdgeLengthM = 0.01;

    private readonly NetworkSource _source;
    private readonly List<double> _nodeLon = [];
    private readonly List<double> _nodeLat = [];

    private readonly List<int> _from = [];
    private readonly List<int> _to = [];
    private readonly List<RoadClass> _class = [];
    private readonly List<EdgeFlags> _flags = [];
    private readonly List<float> _limit = [];
    private readonly List<long> _wayId = [];
    private readonly List<int> _name = [];
    private readonly List<int> _twin = [];
    private readonly List<int> _shapeStart = [0];
    private readonly List<double> _shapeLon = [];
    private readonly List<double> _shapeLat = [];

    private readonly Dictionary<string, int> _nameIndex = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly List<string> _names = [""];

    public NetworkBuilder(NetworkSource source) => _source = source;

    /// <summary>Edges dropped because their shape had (near) zero length.</summary>
    public int DroppedZeroLengthEdges { get; private set; }

    public int NodeCount => _nodeLon.Count;

    public int EdgeCount => _from.Count;

    public double NodeLon(int node) => _nodeLon[node];

    public double NodeLat(int node) => _nodeLat[node];

    /// <summary>Marks a provisional edge as the only direction of its road.</summary>
    public void MarkOneWay(int edge) => _flags[edge] |= EdgeFlags.OneWay;

    public int AddNode(double lon, double lat)
    {
        _nodeLon.Add(lon);
        _nodeLat.Add(lat);
        return _nodeLon.Count - 1;
    }

    /// <summary>
    /// Adds a directed edge whose shape runs from node <paramref name="from"/> to node <paramref name="to"/>
    /// (the shape's first and last points are taken to be those nodes). Returns its provisional id,
    /// or -1 when the edge is degenerate and was dropped.
    /// </summary>
    public int AddEdge(int from, int to, ReadOnlySpan<double> lons, ReadOnlySpan<double> lats,
        RoadClass roadClass, EdgeFlags flags, float limitKmh, long wayId, string? name)
    {
        if ((uint)from >= (uint)_nodeLon.Count || (uint)to >= (uint)_nodeLon.Count)
            throw new ArgumentOutOfRangeException(nameof(from), "edge refers to a node that was not added");
        if (lons.Length != lats.Length || lons.Length < 2)
            throw new ArgumentException("an edge shape needs at least two points", nameof(lons));

        int start = _shapeLon.Count;
        double length = 0;
        for (int i = 0; i < lons.Length; i++)
        {
            double lon = i == 0 ? _nodeLon[from] : (i == lons.Length - 1 ? _nodeLon[to] : lons[i]);
            double lat = i == 0 ? _nodeLat[from] : (i == lons.Length - 1 ? _nodeLat[to] : lats[i]);
            int last = _shapeLon.Count - 1;
            if (last >= start && _shapeLon[last] == lon && _shapeLat[last] == lat) continue; // repeated point
            if (last >= start) length += GeoMath.Distance(_shapeLon[last], _shapeLat[last], lon, lat);
            _shapeLon.Add(lon);
            _shapeLat.Add(lat);
        }
        if (_shapeLon.Count - start < 2 || length < MinEdgeLengthM)
        {
            _shapeLon.RemoveRange(start, _shapeLon.Count - start);
            _shapeLat.RemoveRange(start, _shapeLat.Count - start);
            DroppedZeroLengthEdges++;
            return -1;
        }

        _from.Add(from);
        _to.Add(to);
        _class.Add(roadClass);
        _flags.Add(flags);
        _limit.Add(limitKmh);
        _wayId.Add(wayId);
        _name.Add(Intern(name));
        _twin.Add(-1);
        _shapeStart.Add(_shapeLon.Count);
        return _from.Count - 1;
    }

    /// <summary>Declares two provisional edges the two directions of one road.</summary>
    public void SetTwins(int a, int b)
    {
        if (a < 0 || b < 0) return;
        _twin[a] = b;
        _twin[b] = a;
    }

    public RoadNetwork Build()
    {
        int n = _nodeLon.Count, m = _from.Count;
        // Counting sort of edges by source node keeps the insertion order within a node (stable).
        var firstOut = new int[n + 1];
        for (int e = 0; e < m; e++) firstOut[_from[e] + 1]++;
        for (int v = 0; v < n; v++) firstOut[v + 1] += firstOut[v];
        var next = (int[])firstOut.Clone();
        var newId = new int[m];
        for (int e = 0; e < m; e++) newId[e] = next[_from[e]]++;

        var from = new int[m];
        var to = new int[m];
        var length = new double[m];
        var cls = new RoadClass[m];
        var flags = new EdgeFlags[m];
        var limit = new float[m];
        var way = new long[m];
        var name = new int[m];
        var twin = new int[m];
        var shapeCount = new int[m];
        for (int e = 0; e < m; e++)
        {
            int k = newId[e];
            from[k] = _from[e];
            to[k] = _to[e];
            cls[k] = _class[e];
            flags[k] = _flags[e];
            limit[k] = _limit[e];
            way[k] = _wayId[e];
            name[k] = _name[e];
            twin[k] = _twin[e] < 0 ? -1 : newId[_twin[e]];
            shapeCount[k] = _shapeStart[e + 1] - _shapeStart[e];
        }
        var shapeStart = new int[m + 1];
        for (int k = 0; k < m; k++) shapeStart[k + 1] = shapeStart[k] + shapeCount[k];
        int p = shapeStart[m];
        var lon = new double[p];
        var lat = new double[p];
        var offset = new double[p];
        for (int e = 0; e < m; e++)
        {
            int k = newId[e];
            int src = _shapeStart[e], dst = shapeStart[k], cnt = shapeCount[k];
            double acc = 0;
            for (int i = 0; i < cnt; i++)
            {
                lon[dst + i] = _shapeLon[src + i];
                lat[dst + i] = _shapeLat[src + i];
                if (i > 0) acc += GeoMath.Distance(lon[dst + i - 1], lat[dst + i - 1], lon[dst + i], lat[dst + i]);
                offset[dst + i] = acc;
            }
            length[k] = acc;
        }
        return new RoadNetwork(_source, [.. _nodeLon], [.. _nodeLat], firstOut, from, to, length, cls, flags, limit, way, name, twin,
            shapeStart, lon, lat, offset, [.. _names]);
    }

    private int Intern(string? name)
    {
        if (string.IsNullOrEmpty(name)) return 0;
        if (!_nameIndex.TryGetValue(name, out int idx))
        {
            idx = _names.Count;
            _names.Add(name);
            _nameIndex.Add(name, idx);
        }
        return idx;
    }
}
