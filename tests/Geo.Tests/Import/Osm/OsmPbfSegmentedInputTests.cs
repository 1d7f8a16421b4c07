using Traffic.Geo.Import.Osm;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>The PBF reader gets its bytes a few at a time, as from a socket or a slow pipe.</summary>
public class OsmPbfSegmentedInputTests
{
    [Fact]
    public void Reads_the_same_from_a_stream_that_returns_few_bytes_per_read()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("mapmatching", "graphhopper", "andorra.osm.pbf"));
        var whole = new OsmData();
        OsmPbfReader.Read(new MemoryStream(bytes), whole);
        var trickled = new OsmData();
        OsmPbfReader.Read(new TrickleStream(bytes, 7, varying: true), trickled);
        Assert.True(whole.NodesRead > 0);
        Assert.Equal(whole.NodesRead, trickled.NodesRead);
        Assert.Equal(whole.WaysRead, trickled.WaysRead);
        Assert.Equal(whole.RelationsRead, trickled.RelationsRead);
        Assert.Equal(whole.Nodes, trickled.Nodes);
        Assert.Equal(whole.HighwayWays.Select(w => w.Refs), trickled.HighwayWays.Select(w => w.Refs));
    }

    [Fact]
    public void Trickle_stream_returns_every_byte_in_small_pieces()
    {
        byte[] bytes = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        var stream = new TrickleStream(bytes, 7, varying: true);
        var read = new List<byte>();
        var buffer = new byte[64];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            Assert.InRange(n, 1, 7);
            read.AddRange(buffer[..n]);
        }
        Assert.Equal(bytes, read);
    }
}
