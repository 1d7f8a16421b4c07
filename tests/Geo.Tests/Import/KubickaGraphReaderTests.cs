using Traffic.Geo.Import;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Import;

public class KubickaGraphReaderTests
{
    [Theory]
    [InlineData("00000005", 1579)]
    [InlineData("00000042", 101128)]
    public void Every_arc_becomes_an_edge_that_keeps_its_arc_id(string id, int arcs)
    {
        var net = KubickaGraphReader.Read(SharedData.Kubicka(id), out var report);
        int zeroLength = (int)report.SkippedTotal;
        Assert.Equal(arcs, net.EdgeCount + zeroLength);
        var seen = new HashSet<long>();
        string[] lines = File.ReadAllLines(SharedData.Kubicka(id) + ".arcs");
        for (int e = 0; e < net.EdgeCount; e++)
        {
            long arc = net.WayId(e);
            Assert.True(seen.Add(arc));
            var parts = lines[arc].Split('\t', ' ');
            Assert.Equal(int.Parse(parts[0]), net.From(e));
            Assert.Equal(int.Parse(parts[1]), net.To(e));
            Assert.True(net.LengthM(e) > 0);
        }
    }

    [Fact]
    public void An_arc_and_its_reverse_are_twins_and_others_are_one_way()
    {
        var net = KubickaGraphReader.Read(SharedData.Kubicka("00000015"), out _);
        for (int e = 0; e < net.EdgeCount; e++)
        {
            int t = net.Twin(e);
            if (t < 0) Assert.True(net.IsOneWay(e));
            else
            {
                Assert.Equal(net.From(e), net.To(t));
                Assert.Equal(net.To(e), net.From(t));
                Assert.False(net.IsOneWay(e));
            }
        }
    }

    [Fact]
    public void A_bad_arc_line_names_the_file_and_line()
    {
        string dir = TestDirectory.New("tmp");
        File.WriteAllText(Path.Combine(dir, "g.nodes"), "1.0 2.0\n1.001 2.0\n");
        File.WriteAllText(Path.Combine(dir, "g.arcs"), "0 1\n0 7\n");
        var e = Assert.Throws<InvalidDataException>(() => KubickaGraphReader.Read(Path.Combine(dir, "g.arcs"), out _));
        Assert.Contains("g.arcs:2", e.Message, StringComparison.Ordinal);
    }
}
