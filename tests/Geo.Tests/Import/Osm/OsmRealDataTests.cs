using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Network;
using Traffic.Geo.Tests.Network;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>Imports of the real OSM extracts in the shared data (counts from its README).</summary>
public class OsmRealDataTests
{
    [Fact]
    public void Shenzhen_counts_match_the_data_readme()
    {
        var data = OsmXmlReader.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"));
        Assert.Equal(18_996, data.NodesRead);
        Assert.Equal(2_190, data.WaysRead);
        Assert.Equal(47, data.RelationsRead);
        Assert.Equal(18_996, data.Nodes.Count);
        Assert.Equal(1_253, data.HighwayWays.Count);
    }

    [Fact]
    public void Shenzhen_imports_with_chinese_names_and_tagged_directions()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(18_996, report.NodesRead);
        Assert.Equal(2_190, report.WaysRead);
        Assert.True(report.RoadWays is > 0 and <= 1_253);
        Assert.Equal(net.EdgeCount, report.EdgesBuilt);
        foreach (string street in new[] { "深南大道", "南海大道", "北环大道", "沙河东路", "科苑北路" })
            Assert.Contains(street, net.Names);

        // 深南大道 is tagged oneway=yes (a dual carriageway): its edges run one way, forward.
        var shennan = Enumerable.Range(0, net.EdgeCount).Where(e => net.Name(e) == "深南大道").ToList();
        Assert.NotEmpty(shennan);
        Assert.All(shennan, e => Assert.True(net.IsOneWay(e)));

        // 科发路 (way 533894266) is oneway=-1: only edges against the node order.
        var kefa = OsmNetworkAssert.EdgesOfWay(net, 533894266);
        Assert.NotEmpty(kefa);
        Assert.All(kefa, e => Assert.Equal(EdgeFlags.OneWay | EdgeFlags.Backward, net.Flags(e) & (EdgeFlags.OneWay | EdgeFlags.Backward)));
        Assert.All(kefa, e => Assert.Equal("科发路", net.Name(e)));

        // 科技南十路 (way 633620763) is oneway=reversible: both directions, flagged, not one-way.
        var reversible = OsmNetworkAssert.EdgesOfWay(net, 633620763);
        Assert.NotEmpty(reversible);
        Assert.All(reversible, e => Assert.True((net.Flags(e) & EdgeFlags.Reversible) != 0 && !net.IsOneWay(e) && net.Twin(e) >= 0));

        // 沙河东路 (way 96326127) has maxspeed=50.
        var shahe = OsmNetworkAssert.EdgesOfWay(net, 96326127);
        Assert.NotEmpty(shahe);
        Assert.All(shahe, e => Assert.Equal(50f, net.SpeedLimitKmh(e)));
        Assert.All(shahe, e => Assert.True((net.Flags(e) & EdgeFlags.SpeedLimitTagged) != 0));

        // Untagged roads get their class default.
        int untagged = Enumerable.Range(0, net.EdgeCount).First(e => (net.Flags(e) & EdgeFlags.SpeedLimitTagged) == 0);
        Assert.Equal(RoadClasses.DefaultLimitKmh(net.Class(untagged)), net.SpeedLimitKmh(untagged));
    }

    [Fact]
    public void Shenzhen_network_survives_a_tnet_round_trip()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var stream = new MemoryStream();
        NetworkFile.Write(net, stream);
        NetworkAssert.Identical(net, NetworkFile.Read(stream.ToArray()));
    }

    [Fact]
    public void Shanghai_imports()
    {
        var data = OsmXmlReader.Read(SharedData.Path("osm", "shanghai.osm"));
        Assert.Equal(2_958, data.NodesRead);
        Assert.Equal(796, data.WaysRead);
        var report = new ImportReport();
        var net = OsmNetworkImporter.Import(data, report);
        OsmNetworkAssert.WellFormed(net);
        Assert.Contains("延安东路", net.Names);
        Assert.Contains("成都北路", net.Names);
        Assert.Contains(Enumerable.Range(0, net.EdgeCount), e => net.IsOneWay(e));
        Assert.Contains(Enumerable.Range(0, net.EdgeCount), e => net.SpeedLimitKmh(e) == 40 && (net.Flags(e) & EdgeFlags.SpeedLimitTagged) != 0);
    }

    [Fact]
    public void Monaco_pbf_counts_match_the_data_readme()
    {
        var data = OsmPbfReader.Read(SharedData.Path("osm", "monaco.osm.pbf"));
        Assert.Equal(180_118, data.NodesRead);
        Assert.Equal(27_377, data.WaysRead);
        Assert.Equal(212, data.RelationsRead);
        Assert.Equal(2_927, data.HighwayWays.Count);
        var (lon, lat) = data.Nodes.Values.First();
        Assert.InRange(lon, 7.3, 7.6);
        Assert.InRange(lat, 43.6, 43.8);
    }

    [Fact]
    public void Monaco_imports()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "monaco.osm.pbf"), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.True(report.RoadWays is > 500 and < 2_927);
        Assert.Equal(27_377 - 2_927, report.Skips["way without a highway tag"]);
        Assert.True(report.Skips.ContainsKey("highway=footway"));
        var (minLon, minLat, maxLon, maxLat) = net.Bounds();
        Assert.True(minLon > 7.3 && maxLon < 7.6 && minLat > 43.6 && maxLat < 43.8);
        Assert.Contains(Enumerable.Range(0, net.EdgeCount), e => (net.Flags(e) & EdgeFlags.Roundabout) != 0);

        // The file's addresses and boundaries name Monaco, which is all town: a street without maxspeed is a 50 km/h
        // street (Quai Jean-Charles Rey, residential), not a 30 km/h Chinese lane.
        Assert.Equal("MC", report.Country);
        int quai = OsmNetworkAssert.EdgesOfWay(net, 167625727)[0];
        Assert.Equal(RoadClass.Residential, net.Class(quai));
        Assert.Equal(50f, net.SpeedLimitKmh(quai));
    }

    [Fact]
    public void Andorra_pbf_imports()
    {
        var net = NetworkImport.Read(SharedData.Path("mapmatching", "graphhopper", "andorra.osm.pbf"), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.True(report.NodesRead > 0 && report.WaysRead > 0 && report.RoadWays > 0);
    }

    [Fact]
    public void Unsorted_graphhopper_extracts_import()
    {
        var istanbul = NetworkImport.Read(SharedData.Path("mapmatching", "graphhopper", "map-issue13.osm.gz"), out var r13);
        OsmNetworkAssert.WellFormed(istanbul);
        Assert.False(r13.Skips.ContainsKey(OsmNetworkImporter.MissingNodeReason));

        var noviSad = NetworkImport.Read(SharedData.Path("mapmatching", "graphhopper", "issue-70.osm.gz"), out _);
        OsmNetworkAssert.WellFormed(noviSad);
        foreach (string street in new[] { "Милана Видака", "Бранка Радичевића", "Здравка Челара" })
            Assert.Contains(street, noviSad.Names);
    }
}
