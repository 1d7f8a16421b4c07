using Traffic.Geo.Network;

namespace Traffic.Geo.Tests.Network;

/// <summary>Compares two networks array by array.</summary>
internal static class NetworkAssert
{
    public static void Identical(RoadNetwork a, RoadNetwork b)
    {
        Assert.Equal(a.Source, b.Source);
        Assert.Equal(a.NodeLon, b.NodeLon);
        Assert.Equal(a.NodeLat, b.NodeLat);
        Assert.Equal(a.FirstOut, b.FirstOut);
        Assert.Equal(a.EdgeFrom, b.EdgeFrom);
        Assert.Equal(a.EdgeTo, b.EdgeTo);
        Assert.Equal(a.EdgeLengthM, b.EdgeLengthM);
        Assert.Equal(a.EdgeClass, b.EdgeClass);
        Assert.Equal(a.EdgeFlag, b.EdgeFlag);
        Assert.Equal(a.EdgeLimitKmh, b.EdgeLimitKmh);
        Assert.Equal(a.EdgeWayId, b.EdgeWayId);
        Assert.Equal(a.EdgeName, b.EdgeName);
        Assert.Equal(a.EdgeTwin, b.EdgeTwin);
        Assert.Equal(a.ShapeStart, b.ShapeStart);
        Assert.Equal(a.ShapeLon, b.ShapeLon);
        Assert.Equal(a.ShapeLat, b.ShapeLat);
        Assert.Equal(a.ShapeOffsetM, b.ShapeOffsetM);
        Assert.Equal(a.NameTable, b.NameTable);
    }
}
