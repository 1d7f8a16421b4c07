using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Spatial;

/// <summary>
/// The index's radius test to the last bit: an edge is within a radius when the distance the index reports for it is
/// no greater, so with its own distance as the radius it is found and with the next smaller radius it is not. Pins that
/// no shortcut taken before the exact projection (the float boxes, the bounding-box test, the squared distance) drops
/// a segment the projection would keep.
/// </summary>
public class EdgeIndexBoundaryTests(NearbyNetworks networks) : IClassFixture<NearbyNetworks>
{
    public static TheoryData<string> Networks => ["nanshan", "cebu", "shenzhen", "helsinki"];

    [Theory]
    [MemberData(nameof(Networks))]
    public void An_edge_at_exactly_the_radius_is_found_and_just_beyond_it_is_not(string name)
    {
        var index = networks.Get(name);
        var net = index.Network;
        var results = new EdgeCandidate[256];
        var outer = new EdgeCandidate[256];
        var rng = new Random(17);
        var (lons, lats) = SpatialData.PointsNearRoads(net, 150, 40, 23);
        int tested = 0;
        for (int p = 0; p < lons.Length; p++)
        {
            double lon = lons[p], lat = lats[p];
            foreach (var (edge, d2) in EdgesWithin(net, lon, lat, 60))
            {
                if (rng.Next(3) != 0) continue; // a third of them keeps the test quick
                double d = Math.Sqrt(d2);
                double rIn = d, rOut = Math.BitDecrement(d);
                string where = $"edge {edge} at {d} m from {lon},{lat}";

                Assert.True(Find(results.AsSpan(0, index.Within(lon, lat, rIn, results)), edge, out double found), $"{where}: missing within {rIn} m");
                Assert.Equal(d, found);
                Assert.False(Find(results.AsSpan(0, index.Within(lon, lat, rOut, results)), edge, out _), $"{where}: found within {rOut} m");
                Assert.True(Find(results.AsSpan(0, index.Nearest(lon, lat, rIn, results)), edge, out found), $"{where}: Nearest misses it within {rIn} m");
                Assert.Equal(d, found);

                // The same boundary for a search riding alongside a wider one.
                var alongside = new NearbySearch(index, rIn, results.Length);
                index.Within(lon, lat, Math.Max(rIn, 60), outer, alongside);
                Assert.True(Find(alongside.Within(lon, lat), edge, out found), $"{where}: missing alongside within {rIn} m");
                Assert.Equal(0, alongside.Misses); // answered by the wider search's pass
                Assert.Equal(d, found);
                alongside = new NearbySearch(index, rOut, results.Length);
                index.Within(lon, lat, Math.Max(rIn, 60), outer, alongside);
                Assert.False(Find(alongside.Within(lon, lat), edge, out _), $"{where}: found alongside within {rOut} m");
                tested++;
            }
        }
        Assert.True(tested > 100, $"only {tested} edges tested");
    }

    // Every edge within the radius and its squared distance by the index's own arithmetic (EdgeIndex.Project), on
    // each segment in the edge's own direction. An edge entered only through its reverse twin (same shape reversed,
    // the lower number entered) is left out: its distance is the twin's, whose rounding may differ in the last bit.
    private static List<(int Edge, double D2)> EdgesWithin(RoadNetwork net, double lon, double lat, double radiusM)
    {
        var found = new List<(int, double)>();
        double kx = GeoMath.MetresPerDegreeLon(lat);
        for (int e = 0; e < net.EdgeCount; e++)
        {
            int t = net.Twin(e);
            if (t >= 0 && t < e) continue;
            var el = net.ShapeLons(e);
            var ea = net.ShapeLats(e);
            double best = double.PositiveInfinity;
            for (int i = 0; i + 1 < el.Length; i++) best = Math.Min(best, Project(lon, lat, kx, el[i], ea[i], el[i + 1], ea[i + 1]));
            if (best <= radiusM * radiusM) found.Add((e, best));
        }
        return found;
    }

    private static double Project(double px, double py, double kx, double lon0, double lat0, double lon1, double lat1)
    {
        const double Ky = GeoMath.MetresPerDegree;
        double x1 = (lon0 - px) * kx, y1 = (lat0 - py) * Ky;
        double dx = ((lon1 - px) * kx) - x1, dy = ((lat1 - py) * Ky) - y1;
        double len2 = (dx * dx) + (dy * dy);
        double u = len2 > 0 ? -((x1 * dx) + (y1 * dy)) / len2 : 0;
        u = u < 0 ? 0 : (u > 1 ? 1 : u);
        double qx = x1 + (u * dx), qy = y1 + (u * dy);
        return (qx * qx) + (qy * qy);
    }

    private static bool Find(ReadOnlySpan<EdgeCandidate> candidates, int edge, out double distanceM)
    {
        foreach (var c in candidates)
        {
            if (c.Edge == edge)
            {
                distanceM = c.DistanceM;
                return true;
            }
        }
        distanceM = double.NaN;
        return false;
    }
}
