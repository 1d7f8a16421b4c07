using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Spatial;

/// <summary>Networks are built once per test class: Cebu takes a second or two to import.</summary>
public sealed class SpatialNetworks
{
    private readonly Lazy<EdgeIndex> _cebu = new(() => new EdgeIndex(KubickaGraphReader.Read(SharedData.Kubicka("00000042"), out _)));
    private readonly Lazy<EdgeIndex> _shenzhen = new(() => new EdgeIndex(SpatialData.Synthetic(114.06, 22.5, 40, 7)));
    private readonly Lazy<EdgeIndex> _helsinki = new(() => new EdgeIndex(SpatialData.Synthetic(24.94, 60.0, 40, 11)));

    public EdgeIndex Get(string name) => name switch
    {
        "cebu" => _cebu.Value,
        "shenzhen" => _shenzhen.Value,
        "helsinki" => _helsinki.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}

public class EdgeIndexTests(SpatialNetworks networks) : IClassFixture<SpatialNetworks>
{
    private const double DistanceToleranceM = 0.01;

    public static TheoryData<string> Networks => ["cebu", "shenzhen", "helsinki"];

    [Theory]
    [MemberData(nameof(Networks))]
    public void Within_finds_the_same_edges_and_distances_as_brute_force(string name)
    {
        var index = networks.Get(name);
        var results = new EdgeCandidate[256];
        foreach (var (lon, lat) in Queries(index.Network, 1500, 1))
        {
            foreach (double r in (ReadOnlySpan<double>)[50, 120])
            {
                int n = index.Within(lon, lat, r, results);
                var expected = BruteForce.Within(index.Network, lon, lat, r);
                Assert.True(n < results.Length, "buffer too small for the test");
                AssertSameCandidates(index.Network, lon, lat, r, expected, results.AsSpan(0, n));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Distances_are_metres_on_the_sphere_and_offsets_point_at_the_candidate(string name)
    {
        var index = networks.Get(name);
        var net = index.Network;
        var results = new EdgeCandidate[64];
        int checkedCount = 0;
        foreach (var (lon, lat) in Queries(net, 1000, 2))
        {
            int n = index.Within(lon, lat, 80, results);
            for (int k = 0; k < n; k++)
            {
                var c = results[k];
                double great = GeoMath.Distance(lon, lat, c.Lon, c.Lat);
                Assert.True(Math.Abs(great - c.DistanceM) <= (1e-3 * great) + 1e-3, $"{name}: projected {c.DistanceM} m, great circle {great} m");
                Assert.InRange(c.OffsetM, 0, net.LengthM(c.Edge) + 1e-9);
                var (x, y) = net.PointAt(c.Edge, c.OffsetM);
                Assert.True(GeoMath.Distance(x, y, c.Lon, c.Lat) < 0.05, $"{name}: offset {c.OffsetM} on edge {c.Edge} is not at the candidate point");
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 500, $"only {checkedCount} candidates checked");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Nearest_returns_the_k_nearest_of_brute_force(string name)
    {
        var index = networks.Get(name);
        foreach (int k in (ReadOnlySpan<int>)[1, 4, 16])
        {
            var results = new EdgeCandidate[k];
            foreach (var (lon, lat) in Queries(index.Network, 500, 3 + k))
            {
                foreach (double maxR in (ReadOnlySpan<double>)[30, 300, 3000])
                {
                    int n = index.Nearest(lon, lat, maxR, results);
                    var expected = BruteForce.Within(index.Network, lon, lat, maxR);
                    AssertTopK(expected, results.AsSpan(0, n), k, $"{name} k={k} r={maxR} at {lon},{lat}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void A_buffer_smaller_than_the_result_keeps_the_nearest(string name)
    {
        var index = networks.Get(name);
        var results = new EdgeCandidate[3];
        int truncated = 0;
        foreach (var (lon, lat) in Queries(index.Network, 1000, 4))
        {
            int n = index.Within(lon, lat, 150, results);
            var expected = BruteForce.Within(index.Network, lon, lat, 150);
            if (expected.Count > results.Length) truncated++;
            AssertTopK(expected, results.AsSpan(0, n), results.Length, $"{name} at {lon},{lat}");
        }
        Assert.True(truncated > 100, $"only {truncated} queries had more results than the buffer");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Queries_allocate_nothing(string name)
    {
        var index = networks.Get(name);
        var (lons, lats) = SpatialData.PointsNearRoads(index.Network, 1000, 30, 5);
        Span<EdgeCandidate> results = stackalloc EdgeCandidate[16];
        int total = 0;
        for (int i = 0; i < 2000; i++) total += index.Within(lons[i % 1000], lats[i % 1000], 50, results) + index.Nearest(lons[i % 1000], lats[i % 1000], 200, results);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            total += index.Within(lons[i % 1000], lats[i % 1000], 50, results);
            total += index.Nearest(lons[i % 1000], lats[i % 1000], 200, results);
        }
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.True(total > 0);
    }

    [Theory]
    [InlineData(7.0)]     // most segments span more than 4 cells: the rasterized path
    [InlineData(30.0)]
    [InlineData(500.0)]   // many segments per cell, queries inside one cell
    public void Any_cell_size_gives_the_brute_force_answer(double cellSizeM)
    {
        var net = networks.Get("helsinki").Network;
        var index = new EdgeIndex(net, cellSizeM);
        var results = new EdgeCandidate[256];
        var small = new EdgeCandidate[5];
        foreach (var (lon, lat) in Queries(net, 400, 9))
        {
            var expected = BruteForce.Within(net, lon, lat, 70);
            int n = index.Within(lon, lat, 70, results);
            AssertSameCandidates(net, lon, lat, 70, expected, results.AsSpan(0, n));
            AssertTopK(expected, small.AsSpan(0, index.Nearest(lon, lat, 70, small)), small.Length, $"cell {cellSizeM} at {lon},{lat}");
        }
    }

    [Fact]
    public void Concurrent_queries_agree_with_sequential_ones()
    {
        var index = networks.Get("shenzhen");
        var (lons, lats) = SpatialData.PointsNearRoads(index.Network, 2000, 30, 6);
        var expected = new int[2000];
        var buffer = new EdgeCandidate[8];
        for (int i = 0; i < 2000; i++) expected[i] = Signature(buffer, index.Within(lons[i], lats[i], 60, buffer));
        var actual = new int[2000];
        Parallel.For(0, 2000, i =>
        {
            var b = new EdgeCandidate[8];
            actual[i] = Signature(b, index.Within(lons[i], lats[i], 60, b));
        });
        Assert.Equal(expected, actual);

        static int Signature(EdgeCandidate[] b, int n)
        {
            int h = n;
            for (int k = 0; k < n; k++) h = (h * 31) + b[k].Edge;
            return h;
        }
    }

    [Fact]
    public void Points_far_from_the_network_and_degenerate_queries_find_nothing()
    {
        var index = networks.Get("helsinki");
        var results = new EdgeCandidate[4];
        Assert.Equal(0, index.Within(0, 0, 50, results));
        Assert.Equal(0, index.Nearest(-120, -45, 1000, results));
        Assert.Equal(0, index.Within(24.94, 60.0, 50, []));
        Assert.Equal(0, index.Within(24.94, 60.0, double.NaN, results));
        Assert.Equal(0, index.Nearest(24.94, 60.0, -1, results));
        Assert.Equal(4, index.Nearest(24.94, 60.0, 5000, results));
    }

    [Fact]
    public void A_long_segment_is_found_far_from_its_end_points()
    {
        // One 20 km straight edge at 60°N: its middle is 10 km from either point.
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int a = b.AddNode(24.5, 59.95), z = b.AddNode(24.5 + (20_000 / GeoMath.MetresPerDegreeLon(60)), 60.05);
        b.AddEdge(a, z, [24.5, 0], [59.95, 0], RoadClass.Primary, EdgeFlags.OneWay, 80, 1, null);
        var index = new EdgeIndex(b.Build());
        var results = new EdgeCandidate[2];
        var (mx, my) = index.Network.PointAt(0, index.Network.LengthM(0) / 2);
        double lat = my + (20 / GeoMath.MetresPerDegree);
        Assert.Equal(1, index.Within(mx, lat, 25, results));
        var expected = BruteForce.Within(index.Network, mx, lat, 25);
        Assert.Equal(expected[0].DistanceM, results[0].DistanceM, 1e-6);
        Assert.Equal(1, index.Nearest(mx, lat, 25, results));
        Assert.Equal(0, index.Within(mx, my + (40 / GeoMath.MetresPerDegree), 25, results));
    }

    [Fact]
    public void Brute_force_agrees_with_great_circle_geometry()
    {
        // The test oracle is tested too: a point 30 m north of the middle of an east-west edge.
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int a = b.AddNode(24.9, 60), z = b.AddNode(24.902, 60);
        b.AddEdge(a, z, [0, 0], [0, 0], RoadClass.Road, EdgeFlags.OneWay, 50, 1, null);
        var net = b.Build();
        var found = BruteForce.Within(net, 24.901, 60 + (30 / GeoMath.MetresPerDegree), 50);
        Assert.Single(found);
        Assert.Equal(30, found[0].DistanceM, 0.01);
        Assert.Equal(net.LengthM(0) / 2, found[0].OffsetM, 0.05);
        Assert.Empty(BruteForce.Within(net, 24.901, 60 + (60 / GeoMath.MetresPerDegree), 50));
    }

    // Near-road points (the map matcher's case) and uniform points (empty areas, grid borders, outside).
    private static IEnumerable<(double Lon, double Lat)> Queries(RoadNetwork net, int count, int seed)
    {
        var (nl, na) = SpatialData.PointsNearRoads(net, count, 60, seed);
        var (ul, ua) = SpatialData.PointsInBounds(net, count / 4, 200, seed + 1000);
        for (int i = 0; i < nl.Length; i++) yield return (nl[i], na[i]);
        for (int i = 0; i < ul.Length; i++) yield return (ul[i], ua[i]);
    }

    private static void AssertSameCandidates(RoadNetwork net, double lon, double lat, double r, List<EdgeCandidate> expected, ReadOnlySpan<EdgeCandidate> actual)
    {
        var byEdge = new Dictionary<int, EdgeCandidate>();
        foreach (var e in expected) byEdge[e.Edge] = e;
        var seen = new HashSet<int>();
        for (int k = 0; k < actual.Length; k++)
        {
            var c = actual[k];
            Assert.True(seen.Add(c.Edge), $"edge {c.Edge} returned twice");
            if (k > 0) Assert.True(actual[k - 1].DistanceM <= c.DistanceM, "results not sorted by distance");
            Assert.True(c.DistanceM <= r, $"edge {c.Edge} at {c.DistanceM} m is beyond {r} m");
            Assert.True(byEdge.TryGetValue(c.Edge, out var e), $"edge {c.Edge} at {c.DistanceM} m is not within {r} m by brute force");
            Assert.True(Math.Abs(e.DistanceM - c.DistanceM) <= DistanceToleranceM, $"edge {c.Edge}: {c.DistanceM} m, brute force {e.DistanceM} m");
            // Offsets differ only where two parts of one edge are equally near: compare the points instead.
            Assert.True(GeoMath.Distance(e.Lon, e.Lat, c.Lon, c.Lat) < 0.05 || Math.Abs(e.DistanceM - c.DistanceM) < 1e-9);
        }
        foreach (var e in expected)
        {
            if (e.DistanceM < r * (1 - 1e-6)) Assert.True(seen.Contains(e.Edge), $"edge {e.Edge} at {e.DistanceM} m from {lon},{lat} missing ({net.EdgeCount} edges)");
        }
    }

    // The actual result is the k nearest: same distances rank by rank, and each edge's distance is its brute-force one.
    private static void AssertTopK(List<EdgeCandidate> expected, ReadOnlySpan<EdgeCandidate> actual, int k, string where)
    {
        Assert.Equal(Math.Min(k, expected.Count), actual.Length);
        var byEdge = new Dictionary<int, double>();
        foreach (var e in expected) byEdge[e.Edge] = e.DistanceM;
        var seen = new HashSet<int>();
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(seen.Add(actual[i].Edge), $"{where}: edge returned twice");
            Assert.True(Math.Abs(expected[i].DistanceM - actual[i].DistanceM) <= DistanceToleranceM, $"{where}: rank {i} is {actual[i].DistanceM} m, brute force {expected[i].DistanceM} m");
            Assert.True(byEdge.TryGetValue(actual[i].Edge, out double d) && Math.Abs(d - actual[i].DistanceM) <= DistanceToleranceM, $"{where}: edge {actual[i].Edge} wrong");
        }
    }
}
