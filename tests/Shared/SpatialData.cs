using Traffic.Geo;
using Traffic.Geo.Network;

namespace Traffic.Testing;

/// <summary>
/// Generators shared by the spatial index tests and benchmarks: synthetic networks at a chosen
/// latitude and query points near roads. Everything is seeded, so a run is reproducible.
/// </summary>
internal static class SpatialData
{
    /// <summary>
    /// A jittered street grid of about <paramref name="size"/>² nodes spaced ~120 m around the centre,
    /// with curved (multi-point) streets, both directions of most roads, and a few straight arterials
    /// many kilometres long with no intermediate point (segments spanning hundreds of cells).
    /// </summary>
    public static RoadNetwork Synthetic(double centreLon, double centreLat, int size, int seed)
    {
        var rng = new Random(seed);
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        double degLat = 120 / GeoMath.MetresPerDegree, degLon = 120 / GeoMath.MetresPerDegreeLon(centreLat);
        double lon0 = centreLon - (size * degLon / 2), lat0 = centreLat - (size * degLat / 2);
        var node = new int[size, size];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++)
            {
                node[i, j] = b.AddNode(lon0 + ((i + (rng.NextDouble() * 0.4) - 0.2) * degLon), lat0 + ((j + (rng.NextDouble() * 0.4) - 0.2) * degLat));
            }
        }
        var lons = new double[6];
        var lats = new double[6];
        long way = 1;
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++)
            {
                if (i + 1 < size && rng.NextDouble() < 0.9) AddRoad(b, rng, node[i, j], node[i + 1, j], lons, lats, degLon, degLat, way++);
                if (j + 1 < size && rng.NextDouble() < 0.9) AddRoad(b, rng, node[i, j], node[i, j + 1], lons, lats, degLon, degLat, way++);
            }
        }
        // Long straight arterials: corner to corner and across, two points each.
        int last = size - 1;
        AddStraight(b, node[0, 0], node[last, last], way++);
        AddStraight(b, node[0, last], node[last, 0], way++);
        AddStraight(b, node[0, size / 3], node[last, (2 * size) / 3], way++);
        return b.Build();
    }

    /// <summary>Points on random edges at random offsets, moved by 0 to <paramref name="maxNoiseM"/> metres in a random direction.</summary>
    public static (double[] Lon, double[] Lat) PointsNearRoads(RoadNetwork network, int count, double maxNoiseM, int seed)
    {
        var rng = new Random(seed);
        var lon = new double[count];
        var lat = new double[count];
        for (int k = 0; k < count; k++)
        {
            int e = rng.Next(network.EdgeCount);
            var (x, y) = network.PointAt(e, rng.NextDouble() * network.LengthM(e));
            double noise = rng.NextDouble() * maxNoiseM, angle = rng.NextDouble() * 2 * Math.PI;
            lon[k] = x + (noise * Math.Cos(angle) / GeoMath.MetresPerDegreeLon(y));
            lat[k] = y + (noise * Math.Sin(angle) / GeoMath.MetresPerDegree);
        }
        return (lon, lat);
    }

    /// <summary>Points uniform over the network's bounding box widened by <paramref name="marginM"/>.</summary>
    public static (double[] Lon, double[] Lat) PointsInBounds(RoadNetwork network, int count, double marginM, int seed)
    {
        var rng = new Random(seed);
        var (minLon, minLat, maxLon, maxLat) = network.Bounds();
        double mLat = marginM / GeoMath.MetresPerDegree, mLon = marginM / GeoMath.MetresPerDegreeLon((minLat + maxLat) / 2);
        var lon = new double[count];
        var lat = new double[count];
        for (int k = 0; k < count; k++)
        {
            lon[k] = minLon - mLon + (rng.NextDouble() * (maxLon - minLon + (2 * mLon)));
            lat[k] = minLat - mLat + (rng.NextDouble() * (maxLat - minLat + (2 * mLat)));
        }
        return (lon, lat);
    }

    private static void AddRoad(NetworkBuilder b, Random rng, int from, int to, double[] lons, double[] lats, double degLon, double degLat, long way)
    {
        int inner = rng.Next(0, 5);
        int n = inner + 2;
        double ax = b.NodeLon(from), ay = b.NodeLat(from), bx = b.NodeLon(to), by = b.NodeLat(to);
        for (int k = 0; k < n; k++)
        {
            double t = (double)k / (n - 1);
            double wobble = k == 0 || k == n - 1 ? 0 : (rng.NextDouble() - 0.5) * 0.3;
            lons[k] = ax + (t * (bx - ax)) + (wobble * degLon);
            lats[k] = ay + (t * (by - ay)) + (wobble * degLat);
        }
        int e = b.AddEdge(from, to, lons.AsSpan(0, n), lats.AsSpan(0, n), RoadClass.Residential, EdgeFlags.None, 30, way, null);
        if (rng.NextDouble() < 0.2)
        {
            b.MarkOneWay(e);
            return;
        }
        // The twin runs the same shape backwards.
        Array.Reverse(lons, 0, n);
        Array.Reverse(lats, 0, n);
        int t2 = b.AddEdge(to, from, lons.AsSpan(0, n), lats.AsSpan(0, n), RoadClass.Residential, EdgeFlags.Backward, 30, way, null);
        b.SetTwins(e, t2);
    }

    private static void AddStraight(NetworkBuilder b, int from, int to, long way)
    {
        double[] lons = [b.NodeLon(from), b.NodeLon(to)], lats = [b.NodeLat(from), b.NodeLat(to)];
        int e = b.AddEdge(from, to, lons, lats, RoadClass.Primary, EdgeFlags.OneWay, 60, way, null);
        b.MarkOneWay(e);
    }
}
