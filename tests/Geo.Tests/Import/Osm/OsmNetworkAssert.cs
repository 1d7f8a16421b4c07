using Traffic.Geo.Network;

namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>Invariants every network imported from OSM must satisfy.</summary>
internal static class OsmNetworkAssert
{
    public static void WellFormed(RoadNetwork net)
    {
        Assert.True(net.EdgeCount > 0, "the network has no edges");
        var directed = new Dictionary<(long Way, int From, int To), List<int>>();
        for (int e = 0; e < net.EdgeCount; e++)
        {
            var key = (net.WayId(e), net.From(e), net.To(e));
            if (!directed.TryGetValue(key, out var list)) directed[key] = list = [];
            list.Add(e);
        }

        for (int e = 0; e < net.EdgeCount; e++)
        {
            Assert.True(net.LengthM(e) >= NetworkBuilder.MinEdgeLengthM, $"edge {e} has length {net.LengthM(e)}");
            Assert.True(net.WayId(e) > 0, $"edge {e} has no way id");
            var lons = net.ShapeLons(e);
            var lats = net.ShapeLats(e);
            Assert.Equal(net.Lon(net.From(e)), lons[0]);
            Assert.Equal(net.Lat(net.From(e)), lats[0]);
            Assert.Equal(net.Lon(net.To(e)), lons[^1]);
            Assert.Equal(net.Lat(net.To(e)), lats[^1]);

            int twin = net.Twin(e);
            if (net.IsOneWay(e))
            {
                Assert.Equal(-1, twin);
                Assert.Equal(0, (int)(net.Flags(e) & EdgeFlags.Reversible));
                // No edge of the same way runs back over the same stretch. (A closed one-way way, such as a
                // roundabout with two junctions, does have a B→A edge: along its other half.)
                if (directed.TryGetValue((net.WayId(e), net.To(e), net.From(e)), out var back))
                {
                    foreach (int f in back)
                        Assert.False(IsReverse(net, e, f), $"one-way edge {e} of way {net.WayId(e)} has an edge back over it: {f}");
                }
            }
            else
            {
                // A two-way road exists in both directions, as twins of one way.
                Assert.NotEqual(-1, twin);
                Assert.Equal(e, net.Twin(twin));
                Assert.Equal(net.WayId(e), net.WayId(twin));
                Assert.Equal(net.From(e), net.To(twin));
                Assert.Equal(net.To(e), net.From(twin));
                Assert.NotEqual(net.Flags(e) & EdgeFlags.Backward, net.Flags(twin) & EdgeFlags.Backward);
                Assert.Equal(net.LengthM(e), net.LengthM(twin), 6);
            }
        }
    }

    private static bool IsReverse(RoadNetwork net, int e, int f)
    {
        ReadOnlySpan<double> el = net.ShapeLons(e), ea = net.ShapeLats(e), fl = net.ShapeLons(f), fa = net.ShapeLats(f);
        if (el.Length != fl.Length) return false;
        for (int i = 0; i < el.Length; i++)
        {
            if (el[i] != fl[^(i + 1)] || ea[i] != fa[^(i + 1)]) return false;
        }
        return true;
    }

    public static List<int> EdgesOfWay(RoadNetwork net, long wayId)
    {
        var edges = new List<int>();
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.WayId(e) == wayId) edges.Add(e);
        }
        return edges;
    }
}
