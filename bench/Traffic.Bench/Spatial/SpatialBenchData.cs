using NetTopologySuite.Geometries;
using NetTopologySuite.Index;
using Traffic.Geo;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Bench.Spatial;

/// <summary>The Cebu graph (Kubicka 00000042, 101,128 arcs) and its query points, loaded once per process.</summary>
internal static class SpatialBenchData
{
    public const int QueryCount = 4096;

    private static readonly Lazy<RoadNetwork> s_cebu = new(() => KubickaGraphReader.Read(SharedData.Kubicka("00000042"), out _));

    public static RoadNetwork Cebu => s_cebu.Value;

    /// <summary>Random points on random edges moved by 0–30 m: what a GPS probe near a road looks like.</summary>
    public static (double[] Lon, double[] Lat) Points(RoadNetwork net) => SpatialData.PointsNearRoads(net, QueryCount, 30, 42);

    /// <summary>
    /// The first <see cref="QueryCount"/> fixes of the real 1 Hz GPS track of Kubicka 00000042 (<c>lon lat time</c>
    /// per line), in order: the map matcher's access pattern, each query near the previous one.
    /// </summary>
    public static (double[] Lon, double[] Lat) Track()
    {
        var lon = new double[QueryCount];
        var lat = new double[QueryCount];
        int n = 0;
        foreach (string line in File.ReadLines(SharedData.Kubicka("00000042") + ".track"))
        {
            if (n == QueryCount) break;
            string[] parts = line.Split('\t', ' ');
            lon[n] = double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            lat[n] = double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            n++;
        }
        if (n < QueryCount) throw new InvalidDataException("track shorter than " + QueryCount + " fixes");
        return (lon, lat);
    }

    /// <summary>Envelopes of every shape segment in degrees, keyed by segment id (its first shape point).</summary>
    public static void ForEachSegment(RoadNetwork net, Action<Envelope, int> add)
    {
        for (int e = 0; e < net.EdgeCount; e++)
        {
            for (int s = net.ShapeStart[e]; s < net.ShapeStart[e + 1] - 1; s++)
                add(new Envelope(net.ShapeLon[s], net.ShapeLon[s + 1], net.ShapeLat[s], net.ShapeLat[s + 1]), s);
        }
    }
}

/// <summary>
/// Does for an R-tree's envelope hits exactly what <see cref="EdgeIndex"/> does per grid entry: exact
/// point-to-segment distance in the query's local frame, radius filter, per-edge dedupe and insertion
/// into a sorted buffer. Reused across queries so that the comparison measures the trees, not allocation.
/// </summary>
internal sealed class SegmentVisitor(RoadNetwork net, int capacity) : IItemVisitor<int>
{
    private readonly RoadNetwork _net = net;
    private readonly int[] _segmentEdge = BuildSegmentEdge(net);
    private readonly EdgeCandidate[] _results = new EdgeCandidate[capacity];
    private readonly Envelope _query = new();
    private double _px, _py, _kx, _r2;
    private int _count;

    public Envelope Start(double lon, double lat, double radiusM)
    {
        _px = lon;
        _py = lat;
        _kx = GeoMath.MetresPerDegreeLon(lat);
        _r2 = radiusM * radiusM;
        _count = 0;
        double dLon = radiusM / _kx, dLat = radiusM / GeoMath.MetresPerDegree;
        _query.Init(lon - dLon, lon + dLon, lat - dLat, lat + dLat);
        return _query;
    }

    public int Count => _count;

    public void VisitItem(int item)
    {
        double x1 = (_net.ShapeLon[item] - _px) * _kx, y1 = (_net.ShapeLat[item] - _py) * GeoMath.MetresPerDegree;
        double dx = ((_net.ShapeLon[item + 1] - _px) * _kx) - x1, dy = ((_net.ShapeLat[item + 1] - _py) * GeoMath.MetresPerDegree) - y1;
        double len2 = (dx * dx) + (dy * dy);
        double u = len2 > 0 ? -((x1 * dx) + (y1 * dy)) / len2 : 0;
        u = u < 0 ? 0 : (u > 1 ? 1 : u);
        double qx = x1 + (u * dx), qy = y1 + (u * dy);
        double d2 = (qx * qx) + (qy * qy);
        if (d2 > _r2) return;
        double d = Math.Sqrt(d2);
        int edge = _segmentEdge[item];
        var r = _results;
        int pos = -1;
        for (int j = 0; j < _count; j++)
        {
            if (r[j].Edge == edge)
            {
                if (d >= r[j].DistanceM) return;
                pos = j;
                break;
            }
        }
        if (pos < 0)
        {
            if (_count < r.Length) pos = _count++;
            else if (d < r[_count - 1].DistanceM) pos = _count - 1;
            else return;
        }
        while (pos > 0 && r[pos - 1].DistanceM > d)
        {
            r[pos] = r[pos - 1];
            pos--;
        }
        double[] off = _net.ShapeOffsetM;
        r[pos] = new EdgeCandidate
        {
            Edge = edge,
            DistanceM = d,
            OffsetM = off[item] + (u * (off[item + 1] - off[item])),
            Lon = _net.ShapeLon[item] + (u * (_net.ShapeLon[item + 1] - _net.ShapeLon[item])),
            Lat = _net.ShapeLat[item] + (u * (_net.ShapeLat[item + 1] - _net.ShapeLat[item])),
        };
    }

    private static int[] BuildSegmentEdge(RoadNetwork net)
    {
        var map = new int[net.ShapePointCount];
        for (int e = 0; e < net.EdgeCount; e++)
        {
            for (int s = net.ShapeStart[e]; s < net.ShapeStart[e + 1]; s++) map[s] = e;
        }
        return map;
    }
}
