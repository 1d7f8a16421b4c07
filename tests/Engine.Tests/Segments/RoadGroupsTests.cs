using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;

namespace Traffic.Engine.Tests.Segments;

public class RoadGroupsTests
{
    private static readonly Lazy<RoadGroups> s_roads = new(() => new RoadGroups(SimRun.Shenzhen));

    [Fact]
    public void Every_segment_of_a_road_goes_to_one_partition()
    {
        var net = SimRun.Shenzhen;
        var roads = s_roads.Value;
        foreach (int partitions in new[] { 1, 3, 4 })
        {
            var byName = Enumerable.Range(0, net.EdgeCount).Where(e => net.NameIndex(e) != 0).GroupBy(net.NameIndex);
            Assert.All(byName, g => Assert.Single(g.Select(e => roads.PartitionOf(e, partitions)).Distinct()));
            var byWay = Enumerable.Range(0, net.EdgeCount).Where(e => net.NameIndex(e) == 0).GroupBy(e => roads.Key(e));
            Assert.All(byWay, g => Assert.Single(g.Select(e => roads.PartitionOf(e, partitions)).Distinct()));
            Assert.Equal(partitions, Enumerable.Range(0, net.EdgeCount).Select(e => roads.PartitionOf(e, partitions)).Distinct().Count());
        }
    }

    [Fact]
    public void A_road_is_its_name_or_else_its_way()
    {
        var net = SimRun.Shenzhen;
        var roads = s_roads.Value;
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.NameIndex(e) != 0) Assert.Equal(net.NameIndex(e), roads.Key(e));
            else if (roads.Key(e) < 0) Assert.All(roads.Edges(roads.Key(e)).ToArray(), f => Assert.Equal(net.WayId(e), net.WayId(f)));
        }
        Assert.Contains(Enumerable.Range(0, net.EdgeCount), e => roads.Key(e) < 0);
    }

    [Fact]
    public void An_unnamed_road_alongside_a_named_one_belongs_to_it()
    {
        // Way 413035251, an unnamed secondary road, runs beside 深南大道 the same way, 5-15 m from it for 2 km: GPS cannot
        // tell them apart, and the matcher puts part of 深南大道's traffic on it.
        var net = SimRun.Shenzhen;
        var roads = s_roads.Value;
        int shennan = net.NameIndex(Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e) == "深南大道"));
        var beside = Enumerable.Range(0, net.EdgeCount).Where(e => net.WayId(e) == 413035251).ToList();
        Assert.NotEmpty(beside);
        Assert.All(beside, e => Assert.Equal(shennan, roads.Key(e)));
    }

    [Fact]
    public void An_unnamed_slip_road_belongs_to_the_road_it_joins()
    {
        // In the Nanshan network, edge 72 (way 231768589, a primary_link without a name) merges into 深南大道; the
        // secondary road it leaves has no name.
        var net = SimRun.Shenzhen;
        var roads = s_roads.Value;
        int link = Enumerable.Range(0, net.EdgeCount).First(e => net.WayId(e) == 231768589);
        Assert.Equal(RoadClass.PrimaryLink, net.Class(link));
        int joined = net.FirstOutEdge(net.To(link));
        Assert.Equal("深南大道", net.Name(Enumerable.Range(net.FirstOutEdge(net.To(link)), net.EndOutEdge(net.To(link)) - joined).Single(f => net.NameIndex(f) != 0)));
        Assert.Equal(net.NameIndex(Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e) == "深南大道")), roads.Key(link));
    }

    private static bool IsUnnamedLink(RoadNetwork net, int e) =>
        net.NameIndex(e) == 0 && net.Class(e) is RoadClass.MotorwayLink or RoadClass.TrunkLink or RoadClass.PrimaryLink or RoadClass.SecondaryLink or RoadClass.TertiaryLink;
}
