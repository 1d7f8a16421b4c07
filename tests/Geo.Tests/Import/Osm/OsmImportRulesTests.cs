using System.IO.Compression;
using System.Text;
using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Network;

namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>Tag and topology rules of the OSM importer, on small inline files.</summary>
public sealed class OsmImportRulesTests : IDisposable
{
    private readonly OsmTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    // Nodes 1..9 along a line of latitude 22.5, about 100 m apart; node 10 north of node 3.
    private static string Nodes()
    {
        var sb = new StringBuilder();
        for (int i = 1; i <= 9; i++) sb.Append($"<node id='{i}' lat='22.5' lon='{113.9 + (i * 0.001):0.000}'/>\n");
        sb.Append("<node id='10' lat='22.501' lon='113.903'/>\n");
        return sb.ToString();
    }

    private static string Way(long id, string refs, string tags)
    {
        var sb = new StringBuilder($"<way id='{id}'>");
        foreach (string r in refs.Split(' ')) sb.Append($"<nd ref='{r}'/>");
        foreach (string kv in tags.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] p = kv.Split('=', 2);
            sb.Append($"<tag k='{p[0]}' v='{p[1]}'/>");
        }
        return sb.Append("</way>\n").ToString();
    }

    private RoadNetwork Import(string ways, out ImportReport report, bool waysFirst = false, string? country = null)
    {
        string body = waysFirst ? ways + Nodes() : Nodes() + ways;
        return NetworkImport.Read(_files.Write("test.osm", OsmTestFiles.Osm(body)), out report, country);
    }

    [Fact]
    public void Ways_split_at_junctions_and_keep_their_shape()
    {
        var net = Import(Way(100, "1 2 3 4 5", "highway=residential;name=深南大道") + Way(200, "3 10", "highway=service"), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(4, net.NodeCount); // 1, 3, 5 and 10: node 2 and 4 are shape points
        Assert.Equal(6, net.EdgeCount);
        Assert.Equal(2, report.RoadWays);
        Assert.Equal(6, report.EdgesBuilt);
        var way100 = OsmNetworkAssert.EdgesOfWay(net, 100);
        Assert.Equal(4, way100.Count);
        Assert.All(way100, e => Assert.Equal(3, net.ShapeLons(e).Length));
        Assert.All(way100, e => Assert.Equal("深南大道", net.Name(e)));
        Assert.All(way100, e => Assert.InRange(net.LengthM(e), 200, 210));
        Assert.Equal(2, OsmNetworkAssert.EdgesOfWay(net, 200).Count);
    }

    [Fact]
    public void Ways_before_nodes_are_resolved()
    {
        var net = Import(Way(100, "1 2 3", "highway=primary"), out var report, waysFirst: true);
        Assert.Equal(2, net.EdgeCount);
        Assert.Empty(report.Skips);
    }

    [Fact]
    public void A_node_used_twice_by_one_way_is_a_junction()
    {
        // A lasso: 1-2-3-4-10-3; node 3 is where the loop closes.
        var net = Import(Way(100, "1 2 3 4 10 3", "highway=residential"), out _);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(2, net.NodeCount);
        Assert.Equal(4, net.EdgeCount);
    }

    [Fact]
    public void A_missing_node_splits_the_way_and_is_counted()
    {
        var net = Import(Way(100, "1 2 99 3 4", "highway=residential"), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(1, report.Skips[OsmNetworkImporter.MissingNodeReason]);
        Assert.Equal(4, net.NodeCount);
        Assert.Equal(4, net.EdgeCount); // 1-2 and 3-4, each both ways; no edge across the gap
        for (int e = 0; e < net.EdgeCount; e++) Assert.InRange(net.LengthM(e), 90, 110);
    }

    [Fact]
    public void A_way_with_only_missing_nodes_gives_no_edges()
    {
        var net = Import(Way(100, "1 2", "highway=residential") + Way(200, "97 98 99", "highway=primary"), out var report);
        Assert.Equal(3, report.Skips[OsmNetworkImporter.MissingNodeReason]);
        Assert.Equal(2, net.EdgeCount);
    }

    [Theory]
    [InlineData("highway=primary;oneway=yes", 1, false)]
    [InlineData("highway=primary;oneway=true", 1, false)]
    [InlineData("highway=primary;oneway=1", 1, false)]
    [InlineData("highway=primary;oneway=-1", 1, true)]
    [InlineData("highway=primary;oneway=reverse", 1, true)]
    [InlineData("highway=primary;junction=roundabout", 1, false)]
    [InlineData("highway=primary;junction=circular", 1, false)]
    [InlineData("highway=motorway", 1, false)]
    [InlineData("highway=motorway_link", 1, false)]
    [InlineData("highway=motorway;oneway=no", 2, false)]
    [InlineData("highway=primary;junction=roundabout;oneway=no", 2, false)]
    [InlineData("highway=primary", 2, false)]
    [InlineData("highway=primary;oneway=no", 2, false)]
    public void Oneway_rules(string tags, int edges, bool backward)
    {
        var net = Import(Way(100, "1 2 3", tags), out _);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(edges, net.EdgeCount);
        if (edges == 1)
        {
            Assert.True(net.IsOneWay(0));
            Assert.Equal(-1, net.Twin(0));
            Assert.Equal(backward, (net.Flags(0) & EdgeFlags.Backward) != 0);
            // A forward edge runs west to east, with the node order.
            Assert.Equal(backward, net.Lon(net.From(0)) > net.Lon(net.To(0)));
        }
        else
        {
            Assert.All(Enumerable.Range(0, edges), e => Assert.False(net.IsOneWay(e)));
        }
    }

    [Fact]
    public void Reversible_roads_have_both_directions_flagged()
    {
        var net = Import(Way(100, "1 2 3", "highway=primary;oneway=reversible"), out _);
        Assert.Equal(2, net.EdgeCount);
        Assert.All(Enumerable.Range(0, 2), e => Assert.Equal(EdgeFlags.Reversible, net.Flags(e) & (EdgeFlags.Reversible | EdgeFlags.OneWay)));
        Assert.Equal(1, net.Twin(0));
    }

    [Fact]
    public void Roundabouts_are_flagged()
    {
        var net = Import(Way(100, "1 2 10 1", "highway=primary;junction=roundabout"), out _);
        Assert.True(net.EdgeCount >= 1);
        Assert.All(Enumerable.Range(0, net.EdgeCount), e => Assert.Equal(EdgeFlags.OneWay | EdgeFlags.Roundabout, net.Flags(e)));
    }

    [Theory]
    [InlineData("highway=track", "highway=track")]
    [InlineData("highway=construction", "highway=construction")]
    [InlineData("highway=proposed", "highway=proposed")]
    [InlineData("highway=footway", "highway=footway")]
    [InlineData("highway=path", "highway=path")]
    [InlineData("highway=cycleway", "highway=cycleway")]
    [InlineData("highway=pedestrian", "highway=pedestrian")]
    [InlineData("highway=residential;area=yes", "area=yes")]
    [InlineData("highway=residential;access=no", "access=no")]
    [InlineData("highway=residential;motor_vehicle=no", "motor_vehicle=no")]
    [InlineData("highway=residential;motorcar=no", "motorcar=no")]
    [InlineData("highway=service;access=yes;vehicle=no", "vehicle=no")]
    public void Roads_not_driven_are_skipped_with_a_reason(string tags, string reason)
    {
        var net = Import(Way(100, "1 2 3", tags) + Way(200, "3 4", "highway=primary"), out var report);
        Assert.Equal(1, report.Skips[reason]);
        Assert.Equal(1, report.RoadWays);
        Assert.Empty(OsmNetworkAssert.EdgesOfWay(net, 100));
    }

    [Theory]
    [InlineData("highway=service;access=private", true)]
    [InlineData("highway=service;access=destination", true)]
    [InlineData("highway=service;access=delivery", true)]
    [InlineData("highway=service;access=customers", true)]
    [InlineData("highway=busway;access=no;bus=designated", true)]
    [InlineData("highway=primary;access=no;psv=yes", true)]
    [InlineData("highway=primary;access=no;motor_vehicle=yes", false)]
    [InlineData("highway=primary;access=no;motorcar=permissive", false)]
    [InlineData("highway=primary;motor_vehicle=no;motorcar=yes", false)]
    [InlineData("highway=service;access=yes", false)]
    [InlineData("highway=living_street", false)]
    [InlineData("highway=road", false)]
    public void Roads_kept_and_whether_access_is_restricted(string tags, bool restricted)
    {
        var net = Import(Way(100, "1 2 3", tags), out var report);
        Assert.Equal(1, report.RoadWays);
        Assert.Equal(2, net.EdgeCount);
        Assert.All(Enumerable.Range(0, 2), e => Assert.Equal(restricted, (net.Flags(e) & EdgeFlags.RestrictedAccess) != 0));
    }

    [Fact]
    public void Speed_limits_per_direction_and_defaults()
    {
        var net = Import(
            Way(100, "1 2", "highway=primary;maxspeed=40;maxspeed:backward=30 mph")
            + Way(200, "2 3", "highway=motorway;maxspeed=none")
            + Way(300, "3 4", "highway=tertiary;maxspeed=fast")
            + Way(400, "4 5", "highway=secondary;maxspeed=CN:urban")
            + Way(500, "5 6", "highway=residential"),
            out var report);

        int Edge(long way, bool backward) => OsmNetworkAssert.EdgesOfWay(net, way).Single(e => ((net.Flags(e) & EdgeFlags.Backward) != 0) == backward);

        Assert.Equal(40f, net.SpeedLimitKmh(Edge(100, false)));
        Assert.Equal(48.28f, net.SpeedLimitKmh(Edge(100, true)), 0.01f);
        Assert.True((net.Flags(Edge(100, true)) & EdgeFlags.SpeedLimitTagged) != 0);

        int motorway = Edge(200, false);
        Assert.Equal(RoadClasses.DefaultLimitKmh(RoadClass.Motorway), net.SpeedLimitKmh(motorway));
        Assert.Equal(EdgeFlags.NoSpeedLimit | EdgeFlags.OneWay, net.Flags(motorway));

        Assert.Equal(RoadClasses.DefaultLimitKmh(RoadClass.Tertiary), net.SpeedLimitKmh(Edge(300, false)));
        Assert.Equal(EdgeFlags.None, net.Flags(Edge(300, false)) & EdgeFlags.SpeedLimitTagged);
        Assert.Equal(1, report.Skips[OsmNetworkImporter.UnparseableMaxSpeedReason]);

        Assert.Equal(50f, net.SpeedLimitKmh(Edge(400, true)));
        Assert.Equal(RoadClasses.DefaultLimitKmh(RoadClass.Residential), net.SpeedLimitKmh(Edge(500, false)));
        Assert.Equal(EdgeFlags.None, net.Flags(Edge(500, false)));
    }

    [Fact]
    public void Ways_without_maxspeed_take_the_default_limits_of_the_country_the_file_names()
    {
        // A shop's address names France (twice), a boundary Monaco (once): France wins.
        string country = "<node id='20' lat='22.6' lon='113.9'><tag k='addr:country' v='fr'/></node>"
            + "<node id='21' lat='22.6' lon='113.91'><tag k='addr:country' v='FR'/></node>"
            + "<relation id='1'><tag k='boundary' v='administrative'/><tag k='ISO3166-1:alpha2' v='MC'/></relation>";
        string ways = Way(100, "1 2", "highway=residential") + Way(200, "2 3", "highway=primary") + Way(300, "3 4", "highway=motorway")
            + Way(400, "4 5", "highway=living_street") + Way(500, "5 6", "highway=service") + Way(600, "6 7", "highway=residential;maxspeed=30");
        var net = Import(ways + country, out var report);
        float Limit(RoadNetwork n, long way) => n.SpeedLimitKmh(OsmNetworkAssert.EdgesOfWay(n, way)[0]);
        Assert.Equal("FR", report.Country);
        Assert.Equal([50f, 50f, 130f, 20f, 50f, 30f], new long[] { 100, 200, 300, 400, 500, 600 }.Select(w => Limit(net, w)));
        Assert.Equal(EdgeFlags.None, net.Flags(OsmNetworkAssert.EdgesOfWay(net, 100)[0]) & EdgeFlags.SpeedLimitTagged);

        // The caller's country wins over the file's; China's residential lanes are 30.
        var cn = Import(ways + country, out report, country: "cn");
        Assert.Equal("CN", report.Country);
        Assert.Equal(RoadClasses.DefaultLimitKmh(RoadClass.Residential), Limit(cn, 100));
        Assert.Equal(RoadClasses.DefaultLimitKmh(RoadClass.Service), Limit(cn, 500));

        // No country tag: the implicit limits of the roads name Germany, whose motorways have no general limit.
        var de = Import(Way(300, "3 4", "highway=motorway") + Way(400, "4 5", "highway=living_street") + Way(700, "7 8", "highway=primary;maxspeed=DE:urban"), out report);
        Assert.Equal("DE", report.Country);
        int motorway = OsmNetworkAssert.EdgesOfWay(de, 300)[0];
        Assert.Equal(EdgeFlags.NoSpeedLimit, de.Flags(motorway) & EdgeFlags.NoSpeedLimit);
        Assert.Equal(MaxSpeed.WalkKmh, Limit(de, 400));

        // Nothing named: China, the project's home.
        Import(Way(100, "1 2", "highway=residential"), out report);
        Assert.Equal(DefaultSpeedLimits.HomeCountry, report.Country);
        Assert.Throws<ArgumentException>(() => Import(Way(100, "1 2", "highway=residential"), out _, country: "France"));
    }

    [Theory]
    [InlineData("name=南海大道;name:zh=别名;ref=G4", "南海大道")]
    [InlineData("name:zh=北环大道;ref=S1", "北环大道")]
    [InlineData("ref=G107", "G107")]
    [InlineData("", "")]
    public void Names_fall_back_to_name_zh_then_ref(string tags, string name)
    {
        var net = Import(Way(100, "1 2", "highway=primary;" + tags), out _);
        Assert.Equal(name, net.Name(0));
    }

    [Fact]
    public void Coincident_nodes_give_no_zero_length_edge()
    {
        string body = "<node id='1' lat='22.5' lon='113.9'/><node id='2' lat='22.5' lon='113.9'/><node id='3' lat='22.5' lon='113.901'/>"
            + Way(100, "1 2", "highway=primary") + Way(200, "2 3", "highway=primary");
        var net = NetworkImport.Read(_files.Write("zero.osm", OsmTestFiles.Osm(body)), out var report);
        OsmNetworkAssert.WellFormed(net);
        Assert.Equal(2, net.EdgeCount);
        Assert.Equal(2, report.Skips[OsmNetworkImporter.ZeroLengthReason]);
    }

    [Fact]
    public void Gzip_xml_is_read()
    {
        var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(Encoding.UTF8.GetBytes(OsmTestFiles.Osm(Nodes() + Way(100, "1 2 3", "highway=primary;name=深南大道"))));
        var net = NetworkImport.Read(_files.Write("test.osm.gz", buffer.ToArray()), out var report);
        Assert.Equal(10, report.NodesRead);
        Assert.Equal("深南大道", net.Name(0));
    }
}
