using System.Runtime.CompilerServices;

namespace Traffic.Geo.Network;

/// <summary>Per-edge bit flags, stored in the network file: append, never renumber.</summary>
[Flags]
public enum EdgeFlags : byte
{
    None = 0,
    /// <summary>The road carries traffic in this edge's direction only (no twin edge).</summary>
    OneWay = 1,
    /// <summary>The edge runs against the node order of its OSM way.</summary>
    Backward = 2,
    /// <summary>Part of a roundabout (<c>junction=roundabout|circular</c>).</summary>
    Roundabout = 4,
    /// <summary><c>oneway=reversible</c>: the direction changes over the day, so both edges exist and wrong-way does not apply.</summary>
    Reversible = 8,
    /// <summary><c>maxspeed=none</c>: no legal limit; <see cref="RoadNetwork.SpeedLimitKmh"/> holds the class default as a design speed.</summary>
    NoSpeedLimit = 16,
    /// <summary>The limit comes from a <c>maxspeed</c> tag, not from the class default.</summary>
    SpeedLimitTagged = 32,
    /// <summary><c>access=private|destination|delivery|customers</c> (kept: buses, taxis and port trucks do drive there).</summary>
    RestrictedAccess = 64,
}

/// <summary>Where a network came from; decides what <see cref="RoadNetwork.WayId"/> means.</summary>
public enum NetworkSource : byte
{
    OpenStreetMap = 1,
    /// <summary>Kubicka's benchmark graph: <see cref="RoadNetwork.WayId"/> is the arc id.</summary>
    Kubicka = 2,
}

/// <summary>
/// An immutable directed road network held in flat arrays: nodes with coordinates, edges sorted by
/// their source node (so that a node's out-edges are the contiguous range
/// <c>[FirstOut[n], FirstOut[n+1])</c>, a CSR adjacency with no separate edge list), and per-edge
/// attributes and shape geometry. No object per node or edge.
/// </summary>
public sealed class RoadNetwork
{
    // Nodes.
    internal readonly double[] NodeLon;          // WGS84 degrees
    internal readonly double[] NodeLat;
    internal readonly int[] FirstOut;            // CSR: out-edges of node n are [FirstOut[n], FirstOut[n+1])

    // Edges, sorted by source node.
    internal readonly int[] EdgeFrom;
    internal readonly int[] EdgeTo;
    internal readonly double[] EdgeLengthM;      // along the shape, metres
    internal readonly RoadClass[] EdgeClass;
    internal readonly EdgeFlags[] EdgeFlag;
    internal readonly float[] EdgeLimitKmh;      // legal limit, or the class default (see EdgeFlags)
    internal readonly long[] EdgeWayId;          // OSM way id, or the Kubicka arc id
    internal readonly int[] EdgeName;            // index into Names; 0 is the empty name
    internal readonly int[] EdgeTwin;            // the same road in the opposite direction, or -1

    // Shape geometry: edge e has points [ShapeStart[e], ShapeStart[e+1]), first and last on its nodes.
    internal readonly int[] ShapeStart;
    internal readonly double[] ShapeLon;
    internal readonly double[] ShapeLat;
    internal readonly double[] ShapeOffsetM;     // distance from the edge's start to this point, metres

    internal readonly string[] NameTable;

    // Bearing of the shape segment from point i to point i + 1, made on the first BearingAt: the matcher asks for
    // the bearing of every candidate of every probe, and a bearing costs three sines, four cosines and an atan2.
    private double[]? _segmentBearing;

    internal RoadNetwork(
        NetworkSource source,
        double[] nodeLon, double[] nodeLat, int[] firstOut,
        int[] edgeFrom, int[] edgeTo, double[] edgeLengthM, RoadClass[] edgeClass, EdgeFlags[] edgeFlags,
        float[] edgeLimitKmh, long[] edgeWayId, int[] edgeName, int[] edgeTwin,
        int[] shapeStart, double[] shapeLon, double[] shapeLat, double[] shapeOffsetM,
        string[] names)
    {
        Source = source;
        NodeLon = nodeLon;
        NodeLat = nodeLat;
        FirstOut = firstOut;
        EdgeFrom = edgeFrom;
        EdgeTo = edgeTo;
        EdgeLengthM = edgeLengthM;
        EdgeClass = edgeClass;
        EdgeFlag = edgeFlags;
        EdgeLimitKmh = edgeLimitKmh;
        EdgeWayId = edgeWayId;
        EdgeName = edgeName;
        EdgeTwin = edgeTwin;
        ShapeStart = shapeStart;
        ShapeLon = shapeLon;
        ShapeLat = shapeLat;
        ShapeOffsetM = shapeOffsetM;
        NameTable = names;
        Validate();
    }

    public NetworkSource Source { get; }

    public int NodeCount => NodeLon.Length;

    public int EdgeCount => EdgeFrom.Length;

    public int ShapePointCount => ShapeLon.Length;

    /// <summary>Distinct road names; index 0 is the empty name.</summary>
    public IReadOnlyList<string> Names => NameTable;

    public double Lon(int node) => NodeLon[node];

    public double Lat(int node) => NodeLat[node];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FirstOutEdge(int node) => FirstOut[node];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int EndOutEdge(int node) => FirstOut[node + 1];

    public int From(int edge) => EdgeFrom[edge];

    public int To(int edge) => EdgeTo[edge];

    public double LengthM(int edge) => EdgeLengthM[edge];

    public RoadClass Class(int edge) => EdgeClass[edge];

    public EdgeFlags Flags(int edge) => EdgeFlag[edge];

    public bool IsOneWay(int edge) => (EdgeFlag[edge] & EdgeFlags.OneWay) != 0;

    public float SpeedLimitKmh(int edge) => EdgeLimitKmh[edge];

    /// <summary>
    /// Whether the edge's limit is one the network knows: a <c>maxspeed</c> tag, or an OSM class's default. Not for
    /// <c>maxspeed=none</c>, nor for a road of class road or unknown without a tag (every arc of a Kubicka graph),
    /// whose <see cref="SpeedLimitKmh"/> is only a placeholder.
    /// </summary>
    public bool HasKnownLimit(int edge)
    {
        EdgeFlags flags = EdgeFlag[edge];
        float limit = EdgeLimitKmh[edge];
        return (flags & EdgeFlags.NoSpeedLimit) == 0 && limit > 0 && float.IsFinite(limit)
            && ((flags & EdgeFlags.SpeedLimitTagged) != 0 || EdgeClass[edge] is not (RoadClass.Unknown or RoadClass.Road));
    }

    public long WayId(int edge) => EdgeWayId[edge];

    /// <summary><c>forward</c> or <c>backward</c> along the OSM way.</summary>
    public string Direction(int edge) => (EdgeFlag[edge] & EdgeFlags.Backward) != 0 ? "backward" : "forward";

    public string Name(int edge) => NameTable[EdgeName[edge]];

    public int NameIndex(int edge) => EdgeName[edge];

    /// <summary>The opposite-direction edge of the same road, or -1.</summary>
    public int Twin(int edge) => EdgeTwin[edge];

    /// <summary>The shape points of an edge, from its source to its target node.</summary>
    public ReadOnlySpan<double> ShapeLons(int edge) => ShapeLon.AsSpan(ShapeStart[edge], ShapeStart[edge + 1] - ShapeStart[edge]);

    public ReadOnlySpan<double> ShapeLats(int edge) => ShapeLat.AsSpan(ShapeStart[edge], ShapeStart[edge + 1] - ShapeStart[edge]);

    /// <summary>Point at <paramref name="offsetM"/> metres from the edge's start, along its shape.</summary>
    public (double Lon, double Lat) PointAt(int edge, double offsetM)
    {
        int s = ShapeStart[edge], e = ShapeStart[edge + 1] - 1;
        if (offsetM <= 0) return (ShapeLon[s], ShapeLat[s]);
        if (offsetM >= ShapeOffsetM[e]) return (ShapeLon[e], ShapeLat[e]);
        int i = s;
        while (i < e - 1 && ShapeOffsetM[i + 1] < offsetM) i++;
        double seg = ShapeOffsetM[i + 1] - ShapeOffsetM[i];
        double t = seg > 0 ? (offsetM - ShapeOffsetM[i]) / seg : 0;
        return (ShapeLon[i] + (t * (ShapeLon[i + 1] - ShapeLon[i])), ShapeLat[i] + (t * (ShapeLat[i + 1] - ShapeLat[i])));
    }

    /// <summary>Bearing of the edge at an offset, degrees clockwise from north.</summary>
    public double BearingAt(int edge, double offsetM)
    {
        int s = ShapeStart[edge], e = ShapeStart[edge + 1] - 1;
        int i = s;
        while (i < e - 1 && ShapeOffsetM[i + 1] < offsetM) i++;
        return (_segmentBearing ?? SegmentBearings())[i];
    }

    /// <summary>
    /// <see cref="GeoMath.Bearing"/> of each of the edge's shape segments, the first from its first shape point to its second
    /// (one fewer than its shape points): the same bits as computing them, without the trigonometry.
    /// </summary>
    public ReadOnlySpan<double> ShapeBearings(int edge)
    {
        int s = ShapeStart[edge];
        return (_segmentBearing ?? SegmentBearings()).AsSpan(s, ShapeStart[edge + 1] - s - 1);
    }

    /// <summary>
    /// <see cref="GeoMath.Bearing"/> of every pair of consecutive shape points, computed once (8 bytes a shape point).
    /// Threads that race here compute the same values; one array is kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private double[] SegmentBearings()
    {
        var bearings = new double[ShapeLon.Length];
        for (int i = 0; i + 1 < ShapeLon.Length; i++) bearings[i] = GeoMath.Bearing(ShapeLon[i], ShapeLat[i], ShapeLon[i + 1], ShapeLat[i + 1]);
        return Interlocked.CompareExchange(ref _segmentBearing, bearings, null) ?? bearings;
    }

    /// <summary>Bounding box of all nodes and shape points.</summary>
    public (double MinLon, double MinLat, double MaxLon, double MaxLat) Bounds()
    {
        if (ShapeLon.Length == 0 && NodeLon.Length == 0) return (0, 0, 0, 0);
        double minLon = double.MaxValue, minLat = double.MaxValue, maxLon = double.MinValue, maxLat = double.MinValue;
        foreach (double[] lons in new[] { NodeLon, ShapeLon })
        {
            foreach (double v in lons)
            {
                minLon = Math.Min(minLon, v);
                maxLon = Math.Max(maxLon, v);
            }
        }
        foreach (double[] lats in new[] { NodeLat, ShapeLat })
        {
            foreach (double v in lats)
            {
                minLat = Math.Min(minLat, v);
                maxLat = Math.Max(maxLat, v);
            }
        }
        return (minLon, minLat, maxLon, maxLat);
    }

    private void Validate()
    {
        int n = NodeLon.Length, m = EdgeFrom.Length;
        Check(NodeLat.Length == n && FirstOut.Length == n + 1, "node arrays differ in length");
        Check(EdgeTo.Length == m && EdgeLengthM.Length == m && EdgeClass.Length == m && EdgeFlag.Length == m
            && EdgeLimitKmh.Length == m && EdgeWayId.Length == m && EdgeName.Length == m && EdgeTwin.Length == m
            && ShapeStart.Length == m + 1, "edge arrays differ in length");
        Check(ShapeLat.Length == ShapeLon.Length && ShapeOffsetM.Length == ShapeLon.Length, "shape arrays differ in length");
        Check(FirstOut[0] == 0 && FirstOut[n] == m, "adjacency does not cover the edges");
        Check(ShapeStart[0] == 0 && ShapeStart[m] == ShapeLon.Length, "shapes do not cover the shape points");
        for (int v = 0; v < n; v++)
        {
            // Within the edges too before the edges are read (found by fuzzing: a later offset back within them was seen only
            // after reading past the end).
            Check(FirstOut[v] <= FirstOut[v + 1] && FirstOut[v + 1] <= m, "adjacency is not monotonic");
            for (int e = FirstOut[v]; e < FirstOut[v + 1]; e++) Check(EdgeFrom[e] == v, "edge not under its source node");
        }
        for (int e = 0; e < m; e++)
        {
            Check((uint)EdgeTo[e] < (uint)n, "edge target out of range");
            Check(ShapeStart[e + 1] >= ShapeStart[e] + 2 && ShapeStart[e + 1] <= ShapeLon.Length, "edge shape has fewer than two points");
            Check((uint)EdgeName[e] < (uint)NameTable.Length, "edge name out of range");
            Check(EdgeTwin[e] == -1 || ((uint)EdgeTwin[e] < (uint)m && EdgeTwin[EdgeTwin[e]] == e), "twin edges do not pair");
            Check(double.IsFinite(EdgeLengthM[e]) && EdgeLengthM[e] >= 0, "edge length not a finite distance");
            for (int i = ShapeStart[e] + 1; i < ShapeStart[e + 1]; i++)
                Check(ShapeOffsetM[i] >= ShapeOffsetM[i - 1], "shape offsets go backwards along an edge");
            Check(ShapeOffsetM[ShapeStart[e]] == 0 && double.IsFinite(ShapeOffsetM[ShapeStart[e + 1] - 1]), "shape offsets do not run from 0");
        }
        // Positions on the globe (found by fuzzing: a network file whose checksum held but whose coordinates were NaN or
        // beyond it was taken, and the spatial index over it threw).
        for (int v = 0; v < n; v++) Check(OnGlobe(NodeLon[v], NodeLat[v]), "node position not on the globe");
        for (int i = 0; i < ShapeLon.Length; i++) Check(OnGlobe(ShapeLon[i], ShapeLat[i]), "shape point not on the globe");
    }

    private static bool OnGlobe(double lon, double lat) => lon is >= -180 and <= 180 && lat is >= -90 and <= 90;

    private static void Check(bool ok, string what)
    {
        if (!ok) throw new InvalidDataException("Invalid road network: " + what + ".");
    }
}
