using System.IO.Compression;
using System.Text;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>The test helper that writes and rewrites GTFS zips: what it leaves alone stays byte for byte.</summary>
public sealed class TestFeedsTests
{
    [Fact]
    public void Rewrite_edits_adds_and_copies_the_rest_unchanged()
    {
        string source = TestFeeds.Write(new Dictionary<string, string>
        {
            ["trips.txt"] = "route_id,service_id,trip_id\r\nR,S,T1\r\nR,S,T2\r\n",
            ["stops.txt"] = "stop_id,stop_name\n\"a\",\"Place d'Armes, Monaco\"\n",
            ["frequencies.txt"] = "old\n",
        });
        string copy = TestFeeds.Rewrite(source, new Dictionary<string, Func<string, string>>
        {
            ["trips.txt"] = csv => TestFeeds.AddColumn(TestFeeds.KeepRows(csv, row => row[2] != "T2"), "block_id", row => "B" + row[2]),
        }, new Dictionary<string, string> { ["frequencies.txt"] = "new\n", ["shapes.txt"] = "shape_id\n" });
        var entries = Read(copy);
        Assert.Equal(["trips.txt", "stops.txt", "frequencies.txt", "shapes.txt"], entries.Select(e => e.Name));
        var files = entries.ToDictionary(e => e.Name, e => e.Text);
        Assert.Equal("route_id,service_id,trip_id,block_id\r\nR,S,T1,BT1\r\n", files["trips.txt"]);
        Assert.Equal(Read(source).Single(e => e.Name == "stops.txt").Text, files["stops.txt"]);
        Assert.Equal("new\n", files["frequencies.txt"]);
        Assert.Equal("shape_id\n", files["shapes.txt"]);
    }

    [Fact]
    public void The_Monaco_rewrite_leaves_the_shared_feed_alone()
    {
        byte[] before = File.ReadAllBytes(TestFeeds.Monaco);
        string copy = TestFeeds.Rewrite(TestFeeds.Monaco, new Dictionary<string, Func<string, string>> { ["agency.txt"] = _ => "agency_id,agency_name\nA,B\n" });
        Assert.NotEqual(Path.GetFullPath(TestFeeds.Monaco), Path.GetFullPath(copy));
        Assert.Equal(before, File.ReadAllBytes(TestFeeds.Monaco));
        Assert.Equal("agency_id,agency_name\nA,B\n", Read(copy).Single(e => e.Name == "agency.txt").Text);
    }

    private static List<(string Name, string Text)> Read(string zipPath)
    {
        var files = new List<(string Name, string Text)>();
        using var zip = ZipFile.OpenRead(zipPath);
        foreach (var entry in zip.Entries)
        {
            using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
            files.Add((entry.FullName, reader.ReadToEnd()));
        }
        return files;
    }
}
