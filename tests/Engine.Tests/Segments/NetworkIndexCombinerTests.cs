using Traffic.Engine.Checkpoints;
using Traffic.Engine.Segments;

namespace Traffic.Engine.Tests.Segments;

public class NetworkIndexCombinerTests
{
    private const long Minute = 60_000;
    private const long Start = 1_767_571_200_000;

    /// <summary>One partition's report: its watermark and its parts of the windows it closed on the way.</summary>
    private sealed record Report(int Partition, long WatermarkMs, NetworkSums[] Parts);

    /// <summary>
    /// Three partitions, 30 windows: each publishes rows in some windows only (a part) and reports as its watermark moves
    /// on by 1 to 4 windows at a time. The expected index: per window with any part, the sum of all parts.
    /// </summary>
    private static (List<Report>[] Reports, List<NetworkSums> Expected) Partitions(int seed)
    {
        var rng = new Random(seed);
        const int partitions = 3, windows = 30;
        var reports = new List<Report>[partitions];
        var whole = new SortedDictionary<long, NetworkSums>();
        for (int p = 0; p < partitions; p++)
        {
            reports[p] = [];
            int closed = 0;
            while (closed < windows)
            {
                int to = Math.Min(windows, closed + rng.Next(1, 5));
                var parts = new List<NetworkSums>();
                for (int w = closed; w < to; w++)
                {
                    if (rng.NextDouble() < 0.3) continue; // no row of this partition in that window
                    var s = new NetworkSums(Start + (w * Minute), Start + ((w + 1) * Minute));
                    for (int g = 0; g < NetworkIndex.Grades; g++)
                    {
                        long length = rng.Next(0, 50_000_000);
                        s.Grades[g] = new GradeSums(rng.Next(0, 90_000_000), length, length / rng.Next(1, 10), rng.Next(0, 40));
                    }
                    parts.Add(s);
                    whole[s.WindowStartMs] = whole.TryGetValue(s.WindowStartMs, out var sum) ? Sum(sum, s) : s;
                }
                // The watermark lies anywhere in the window after the last one closed.
                reports[p].Add(new Report(p, Start + (to * Minute) + rng.Next(0, (int)Minute), [.. parts]));
                closed = to;
            }
        }
        return (reports, [.. whole.Values]);
    }

    private static NetworkSums Sum(NetworkSums a, in NetworkSums b)
    {
        a.Add(in b);
        return a;
    }

    private static List<NetworkIndexValue> Drain(NetworkIndexCombiner c, long[] watermarks)
    {
        var published = new List<NetworkIndexValue>();
        c.Drain(s =>
        {
            // Never before every partition has passed the window.
            Assert.All(watermarks, w => Assert.True(s.WindowEndMs <= w, $"window ending {s.WindowEndMs} published at a watermark {w}"));
            published.Add(NetworkIndex.Of(in s));
        });
        return published;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Any_interleaving_with_repeats_and_restarts_gives_the_index_of_all_parts_once_each_window_is_passed_by_all(int seed)
    {
        var (reports, expected) = Partitions(seed);
        var rng = new Random(seed * 7);
        var combiner = new NetworkIndexCombiner(3);
        var watermarks = new long[3];
        Array.Fill(watermarks, long.MinValue);
        var next = new int[3];
        var published = new List<NetworkIndexValue>();
        while (Enumerable.Range(0, 3).Any(p => next[p] < reports[p].Count))
        {
            int p = rng.Next(3);
            if (next[p] == reports[p].Count) continue;
            Report r = reports[p][next[p]++];
            combiner.Add(r.Partition, r.WatermarkMs, r.Parts);
            watermarks[p] = r.WatermarkMs;
            published.AddRange(Drain(combiner, watermarks));
            if (rng.NextDouble() < 0.2 && next[p] > 1)
            {
                // A partition restored from an older checkpoint sends its reports since then again.
                int from = rng.Next(0, next[p]);
                for (int k = from; k < next[p]; k++) combiner.Add(p, reports[p][k].WatermarkMs, reports[p][k].Parts);
                published.AddRange(Drain(combiner, watermarks));
            }
            if (rng.NextDouble() < 0.1)
            {
                // The combiner itself restarts from its checkpoint.
                using var checkpoint = new MemoryStream();
                combiner.Save(checkpoint);
                combiner = NetworkIndexCombiner.Load(3, new MemoryStream(checkpoint.ToArray()));
            }
        }
        Assert.Equal(expected.Select(s => NetworkIndex.Of(in s)), published);
        Assert.Equal(0, combiner.PendingWindows);
        Assert.Equal(0, combiner.Forced);
        Assert.True(combiner.Repeats > 0, "no part was sent again: the test shows nothing");
    }

    [Fact]
    public void A_window_waits_for_the_slowest_partition_and_a_window_without_parts_has_no_index()
    {
        var combiner = new NetworkIndexCombiner(2);
        var first = new NetworkSums(Start, Start + Minute);
        first.Grades[1] = new GradeSums(5_000_000, 1_000_000, 0, 2);
        combiner.Add(0, Start + (3 * Minute), [first]);
        Assert.Equal(0, combiner.Drain(_ => Assert.Fail("published before partition 1 reported")));
        // Partition 1 passes the first window without a row in it, and the second window, where nobody had a row.
        combiner.Add(1, Start + (2 * Minute), []);
        var published = new List<NetworkSums>();
        Assert.Equal(1, combiner.Drain(published.Add));
        Assert.Equal(Start, Assert.Single(published).WindowStartMs);
        Assert.Equal(2, published[0].Segments);
    }

    [Fact]
    public void A_partition_that_never_reports_holds_a_day_of_windows_at_most()
    {
        var combiner = new NetworkIndexCombiner(2);
        int windows = NetworkIndexCombiner.MaxPendingWindows + 5;
        var parts = new NetworkSums[windows];
        for (int w = 0; w < windows; w++)
        {
            parts[w] = new NetworkSums(Start + (w * Minute), Start + ((w + 1) * Minute));
            parts[w].Grades[3] = new GradeSums(1_000, 1_000, 0, 1);
        }
        combiner.Add(0, Start + (windows * Minute), parts);
        Assert.Equal(5, combiner.Drain(_ => { }));
        Assert.Equal(5, combiner.Forced);
        Assert.Equal(NetworkIndexCombiner.MaxPendingWindows, combiner.PendingWindows);
    }

    [Fact]
    public void A_checkpoint_for_another_number_of_partitions_is_refused()
    {
        using var checkpoint = new MemoryStream();
        new NetworkIndexCombiner(4).Save(checkpoint);
        var e = Assert.Throws<CheckpointException>(() => NetworkIndexCombiner.Load(2, new MemoryStream(checkpoint.ToArray())));
        Assert.Contains("4 partitions", e.Message, StringComparison.Ordinal);
    }
}
