using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Spatial;

/// <summary>The real Shenzhen network (full shapes) besides the fixture's: the one the engine's rules share searches on.</summary>
public sealed class NearbyNetworks
{
    private readonly Lazy<EdgeIndex> _nanshan = new(() => new EdgeIndex(NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _)));
    private readonly SpatialNetworks _others = new();

    public EdgeIndex Get(string name) => name == "nanshan" ? _nanshan.Value : _others.Get(name);
}

public class NearbySearchTests(NearbyNetworks networks) : IClassFixture<NearbyNetworks>
{
    public static TheoryData<string> Networks => ["nanshan", "cebu", "shenzhen", "helsinki"];

    /// <summary>
    /// The search that rides along with a wider one gives, bit for bit and in the same order, what its own query gives
    /// (ties between equally near edges included: points on shape points and nodes), and the wider search is unchanged.
    /// </summary>
    [Theory]
    [MemberData(nameof(Networks))]
    public void A_search_alongside_gives_exactly_its_own_query(string name)
    {
        var index = networks.Get(name);
        var outer = new EdgeCandidate[10];
        var expectedOuter = new EdgeCandidate[10];
        var own = new EdgeCandidate[16];
        (double Outer, double Inner, int Capacity)[] cases = [(50, 35, 8), (50, 35, 16), (50, 20, 2), (50, 50, 8), (120, 35, 8)];
        foreach (var (lon, lat) in Points(index.Network))
        {
            foreach (var (r, ri, cap) in cases)
            {
                var alongside = new NearbySearch(index, ri, cap);
                int n = index.Within(lon, lat, r, outer, alongside);
                int m = index.Within(lon, lat, r, expectedOuter);
                AssertSame(expectedOuter.AsSpan(0, m), outer.AsSpan(0, n), $"outer {r} m at {lon},{lat}");
                int k = index.Within(lon, lat, ri, own.AsSpan(0, cap));
                AssertSame(own.AsSpan(0, k), alongside.Within(lon, lat), $"inner {ri} m x{cap} at {lon},{lat}");
                Assert.Equal(0, alongside.Misses); // the point was kept: no search of its own
            }
        }
    }

    /// <summary>
    /// A result is the first edges in the order of distance, then edge number, whatever grid it was found in: at nodes
    /// and shape points, where edges are equally near, a grid scanned in another order gives the same edges, bit for
    /// bit and in the same order, with a buffer that holds them all and with one that cuts through a tie.
    /// </summary>
    [Fact]
    public void Equally_near_edges_come_in_edge_order_whatever_the_grid()
    {
        var index = networks.Get("nanshan");
        var net = index.Network;
        EdgeIndex[] grids = [index, new EdgeIndex(net, 30), new EdgeIndex(net, 500)];
        var expected = new EdgeCandidate[16];
        var actual = new EdgeCandidate[16];
        int ties = 0;
        foreach (var (lon, lat) in Points(net))
        {
            foreach (int size in (ReadOnlySpan<int>)[16, 3])
            {
                int n = index.Within(lon, lat, 50, expected.AsSpan(0, size));
                for (int i = 1; i < n; i++)
                {
                    EdgeCandidate a = expected[i - 1], b = expected[i];
                    Assert.True(a.DistanceM < b.DistanceM || (a.DistanceM == b.DistanceM && a.Edge < b.Edge), $"ranks {i - 1} and {i} out of order at {lon},{lat}");
                    if (a.DistanceM == b.DistanceM && net.Twin(a.Edge) != b.Edge) ties++;
                }
                foreach (EdgeIndex other in grids[1..])
                {
                    int m = other.Within(lon, lat, 50, actual.AsSpan(0, size));
                    AssertSame(expected.AsSpan(0, n), actual.AsSpan(0, m), $"cell {other.CellSizeM} m, {size} kept, at {lon},{lat}");
                }
            }
        }
        Assert.True(ties > 100, $"only {ties} ties between edges that are not each other's reverse");
    }

    [Fact]
    public void Another_point_is_searched_afresh_and_a_larger_radius_is_not_filled()
    {
        var index = networks.Get("nanshan");
        var net = index.Network;
        var alongside = new NearbySearch(index, 35, 8);
        double lon = net.ShapeLon[0], lat = net.ShapeLat[0];
        var own = new EdgeCandidate[8];
        int k = index.Within(lon + 1e-4, lat, 35, own);
        AssertSame(own.AsSpan(0, k), alongside.Within(lon + 1e-4, lat), "fresh");
        Assert.Equal(1, alongside.Misses);
        AssertSame(own.AsSpan(0, k), alongside.Within(lon + 1e-4, lat), "kept");
        Assert.Equal(1, alongside.Misses);

        // A wider rider than the search itself is left alone: the next query at that point searches.
        var wide = new NearbySearch(index, 80, 8);
        index.Within(lon, lat, 50, new EdgeCandidate[10], wide);
        wide.Within(lon, lat);
        Assert.Equal(1, wide.Misses);
    }

    private static IEnumerable<(double Lon, double Lat)> Points(RoadNetwork net)
    {
        var (nl, na) = SpatialData.PointsNearRoads(net, 1500, 40, 5);
        for (int i = 0; i < nl.Length; i++) yield return (nl[i], na[i]);
        var (ul, ua) = SpatialData.PointsInBounds(net, 300, 200, 6);
        for (int i = 0; i < ul.Length; i++) yield return (ul[i], ua[i]);
        // Shape points and nodes: every edge meeting there is equally near, the order of ties decides.
        var rng = new Random(7);
        for (int i = 0; i < 800; i++)
        {
            int p = rng.Next(net.ShapeLon.Length);
            yield return (net.ShapeLon[p], net.ShapeLat[p]);
        }
    }

    private static void AssertSame(ReadOnlySpan<EdgeCandidate> expected, ReadOnlySpan<EdgeCandidate> actual, string where)
    {
        Assert.True(expected.Length == actual.Length, $"{where}: {actual.Length} candidates, its own query {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            EdgeCandidate e = expected[i], a = actual[i];
            Assert.True(e.Edge == a.Edge && e.DistanceM.Equals(a.DistanceM) && e.OffsetM.Equals(a.OffsetM) && e.Lon.Equals(a.Lon) && e.Lat.Equals(a.Lat),
                $"{where}: rank {i} is edge {a.Edge} at {a.DistanceM} m (offset {a.OffsetM}), its own query edge {e.Edge} at {e.DistanceM} m (offset {e.OffsetM})");
        }
    }
}
