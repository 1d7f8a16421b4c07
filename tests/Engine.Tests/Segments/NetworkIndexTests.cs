using Traffic.Engine.Segments;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Segments;

public class NetworkIndexTests
{
    private static readonly Lazy<RoadNetwork> s_net = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0.02, 1)]
    [InlineData(0.04, 2)]
    [InlineData(0.06, 3)]
    [InlineData(0.08, 4)]
    [InlineData(0.095, 5)]
    [InlineData(0.125, 7)]
    [InlineData(0.14, 8)]
    [InlineData(0.19, 9)]
    [InlineData(0.24, 10)]
    [InlineData(0.6, 10)]
    public void The_severe_mileage_share_maps_piecewise_linearly_to_0_to_10(double share, double tpi) => Assert.Equal(tpi, NetworkIndex.Of(share), 9);

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1.99, 1)]
    [InlineData(2, 2)]
    [InlineData(5.5, 3)]
    [InlineData(6, 4)]
    [InlineData(8, 5)]
    [InlineData(10, 5)]
    public void Five_grades_of_two(double tpi, int level) => Assert.Equal(level, NetworkIndex.LevelOf(tpi));

    [Fact]
    public void Each_grades_severe_share_weighs_by_its_share_of_the_vehicle_kilometres()
    {
        var sums = new NetworkSums(0, 60_000);
        // Expressways: 10 km of segments, 2 km severe, 300 vehicle-km; arterials: 20 km, none severe, 100 vehicle-km.
        sums.Grades[(int)RoadGrade.Expressway] = new GradeSums(300_000_000, 10_000_000, 2_000_000, 10);
        sums.Grades[(int)RoadGrade.Arterial] = new GradeSums(100_000_000, 20_000_000, 0, 20);
        // 0.75 × 20 % + 0.25 × 0 % = 15 % (by length alone it would be 2 / 30 = 6.7 %).
        Assert.Equal(0.15, NetworkIndex.SevereShare(in sums), 12);
        var value = NetworkIndex.Of(in sums);
        Assert.Equal(8.2, value.Tpi);
        Assert.Equal(5, value.Level);
        Assert.Equal(30, value.Segments);
        Assert.Equal(400, value.VehicleKm);
        Assert.Equal(30, value.LengthKm);
        // Busier arterials pull it down: the same congestion on the expressways matters less.
        sums.Grades[(int)RoadGrade.Arterial] = new GradeSums(900_000_000, 20_000_000, 0, 20);
        Assert.Equal(0.05, NetworkIndex.SevereShare(in sums), 12);
        Assert.Equal(2.5, NetworkIndex.Of(in sums).Tpi);
    }

    [Fact]
    public void Segment_rows_add_their_length_and_distance_to_their_grade_and_severe_ones_their_length_to_the_severe_mileage()
    {
        var net = s_net.Value;
        int primary = Enumerable.Range(0, net.EdgeCount).First(e => net.Class(e) == RoadClass.Primary);
        int branch = Enumerable.Range(0, net.EdgeCount).First(e => net.Class(e) == RoadClass.Residential);
        SegmentStat Row(int edge, int level, long vehicleMm) => new(edge, 0, 60_000, 3, 20, 50, 10, level) { VehicleMm = vehicleMm };
        var sums = new NetworkSums(0, 60_000);
        sums.Add(net, Row(primary, 5, 1_000_000));
        sums.Add(net, Row(branch, 4, 3_000_000));
        long primaryMm = (long)Math.Round(net.LengthM(primary) * 1000), branchMm = (long)Math.Round(net.LengthM(branch) * 1000);
        Assert.Equal(new GradeSums(1_000_000, primaryMm, primaryMm, 1), sums.Grades[(int)RoadGrade.Arterial]);
        Assert.Equal(new GradeSums(3_000_000, branchMm, 0, 1), sums.Grades[(int)RoadGrade.Branch]); // moderate is not severe
        Assert.Equal(2, sums.Segments);
        // A quarter of the distance was driven on the arterial, all of it severe: 25 % → 10.
        Assert.Equal(0.25, NetworkIndex.SevereShare(in sums), 12);
    }

    [Fact]
    public void Partitions_parts_add_up_to_the_whole_in_any_order()
    {
        var rng = new Random(5);
        var parts = Enumerable.Range(0, 7).Select(_ =>
        {
            var p = new NetworkSums(120_000, 180_000);
            for (int g = 0; g < NetworkIndex.Grades; g++)
            {
                long length = rng.Next(1, 5_000_000);
                p.Grades[g] = new GradeSums(rng.Next(0, 50_000_000), length, rng.Next(0, (int)length), rng.Next(1, 50));
            }
            return p;
        }).ToList();
        NetworkIndexValue Combine(IEnumerable<NetworkSums> order)
        {
            var total = new NetworkSums(120_000, 180_000);
            foreach (var p in order) total.Add(in p);
            return NetworkIndex.Of(in total);
        }
        var a = Combine(parts);
        Assert.Equal(a, Combine(parts.OrderBy(_ => rng.Next())));
        Assert.Equal(parts.Sum(p => p.Segments), a.Segments);
    }
}
