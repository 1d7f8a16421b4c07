using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

public class SegmentRowMergeTests
{
    private static SegmentStat Row(int edge, long startMs) => new(edge, startMs, startMs + 60_000, 3, 30, 50, 10, 2);

    private static (int Edge, long Start)[] Written(string dir, string name) =>
        File.ReadLines(Path.Combine(dir, name + ".ndjson")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(r => (r.GetProperty("edge").GetInt32(), DateTimeOffset.Parse(r.GetProperty("window_start").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds()))
            .ToArray();

    [Fact]
    public void Rows_are_written_once_every_shard_has_passed_their_end_in_the_order_of_a_whole_sort()
    {
        string dir = TestDirectory.New("merge");
        Directory.CreateDirectory(dir);
        using (var merge = new SegmentRowMerge(SimRun.Shenzhen, shards: 2, dir, "rows"))
        {
            merge.Add(0, Row(5, 0));
            merge.Add(0, Row(1, 0));
            merge.Through(0, 60_000);
            Assert.Equal(0, merge.Rows); // shard 1 may still publish a window that ends at 60 s

            merge.Add(1, Row(3, 0));
            merge.Add(1, Row(2, 60_000));
            merge.Through(1, 120_000);
            Assert.Equal(3, merge.Rows); // the windows that end at 60 s; shard 0 may still publish one that ends at 120 s

            merge.Through(1, 90_000);    // a watermark never moves back
            merge.Add(0, Row(7, 60_000));
            merge.Add(0, Row(4, 120_000));
            merge.Through(0, 130_000);
            Assert.Equal(5, merge.Rows);

            merge.Add(1, Row(0, 120_000));
            merge.Through(1, long.MaxValue);
            merge.Through(0, long.MaxValue);
            Assert.Equal(7, merge.Rows);
        }
        Assert.Equal([(1, 0L), (3, 0L), (5, 0L), (2, 60_000L), (7, 60_000L), (0, 120_000L), (4, 120_000L)], Written(dir, "rows"));
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "rows"), "*.arrow"));
    }
}
