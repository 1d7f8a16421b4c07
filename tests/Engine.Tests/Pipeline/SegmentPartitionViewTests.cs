using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Segments;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>The sliding view and the network index through <see cref="SegmentPartition"/>: checkpoints and partitioning.</summary>
public class SegmentPartitionViewTests
{
    private const long Minute = 60_000;

    private static readonly Lazy<RoadNetwork> s_net = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));
    private static readonly Lazy<RoadGroups> s_roads = new(() => new RoadGroups(s_net.Value));

    // 2025-11-25 06:30 local: the first half hour is low-volume (free flow is learned from it), the rest not.
    private static readonly long s_w0 = new DateTimeOffset(2025, 11, 24, 22, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>
    /// Two sources' messages over 90 minutes: 40 vehicles on 30 segments of a few roads, the slowest in the middle half
    /// hour, a watermark from each source every 20 messages.
    /// </summary>
    private static List<(bool IsWatermark, SegmentTraversal Traversal, SegmentWatermark Watermark)> Messages()
    {
        var net = s_net.Value;
        var rng = new Random(21);
        int[] edges = Enumerable.Range(0, net.EdgeCount).Where(e => net.LengthM(e) > 150 && net.Name(e).Length > 0).Take(30).ToArray();
        var traversals = new List<(long Exit, int Vehicle, TraversedEdge Edge)>();
        for (int i = 0; i < 6000; i++)
        {
            int edge = edges[rng.Next(edges.Length)];
            double len = net.LengthM(edge);
            long exit = s_w0 + rng.Next(90 * 60_000);
            bool jam = exit - s_w0 is > 30 * Minute and < 60 * Minute;
            double kmh = jam && edge % 3 == 0 ? 3 + (rng.NextDouble() * 5) : 25 + (rng.NextDouble() * 35);
            traversals.Add((exit, rng.Next(40), new TraversedEdge(edge, 0, len, exit - (long)(len / (kmh / 3.6) * 1000), exit)));
        }
        traversals.Sort((a, b) => a.Exit.CompareTo(b.Exit));
        var messages = new List<(bool, SegmentTraversal, SegmentWatermark)>();
        long[] sequence = new long[2];
        for (int i = 0; i < traversals.Count; i++)
        {
            var (exit, vehicle, edge) = traversals[i];
            int source = vehicle % 2;
            messages.Add((false, new SegmentTraversal(source, ++sequence[source], Traffic.Engine.Pipeline.VehicleKey.Of($"粤B{vehicle:D4}"), edge), default));
            if (i % 20 == 19)
            {
                for (int s = 0; s < 2; s++) messages.Add((true, default, new SegmentWatermark(s, ++sequence[s], exit - 30_000)));
            }
        }
        for (int s = 0; s < 2; s++) messages.Add((true, default, new SegmentWatermark(s, ++sequence[s], long.MaxValue)));
        return messages;
    }

    private sealed class Log : ISegmentPartitionOutput
    {
        public List<string> Lines { get; } = [];
        public List<SegmentStat> Views { get; } = [];
        public List<NetworkSums> Parts { get; } = [];

        public void Window(in SegmentStat window) => Lines.Add("window " + window);

        public void Alert(AlertEvent alert) => Lines.Add("alert " + alert.AlertId + " " + alert.State);

        public void View(in SegmentStat view)
        {
            Lines.Add("view " + view);
            Views.Add(view);
        }

        public void Network(in NetworkSums sums)
        {
            Lines.Add("network " + NetworkIndex.Of(in sums));
            Parts.Add(sums);
        }
    }

    private static void Feed(SegmentPartition p, IEnumerable<(bool IsWatermark, SegmentTraversal Traversal, SegmentWatermark Watermark)> messages, Log log)
    {
        foreach (var m in messages)
        {
            if (m.IsWatermark) p.OnWatermark(in m.Watermark, log);
            else p.OnTraversal(in m.Traversal);
        }
    }

    [Fact]
    public void A_partition_restored_from_a_checkpoint_mid_span_publishes_the_same_views_and_network_sums_as_one_that_never_stopped()
    {
        var messages = Messages();
        var whole = new Log();
        var p = new SegmentPartition(s_roads.Value, 0, 2);
        Feed(p, messages, whole);
        Assert.Contains(whole.Lines, l => l.StartsWith("view ", StringComparison.Ordinal));
        Assert.Contains(whole.Lines, l => l.StartsWith("network ", StringComparison.Ordinal));

        foreach (int cut in new[] { messages.Count / 5, messages.Count / 2, messages.Count * 4 / 5 })
        {
            var log = new Log();
            var first = new SegmentPartition(s_roads.Value, 0, 2);
            Feed(first, messages.Take(cut), log);
            using var checkpoint = new MemoryStream();
            first.Save(checkpoint);
            // The restored partition goes on as if never stopped: the same views and network sums after the cut.
            var restored = SegmentPartition.Load(s_net.Value, 0, 2, new MemoryStream(checkpoint.ToArray()));
            Feed(restored, messages.Skip(cut), log);
            Assert.Equal(whole.Lines, log.Lines);
            Assert.Equal(p.Views, restored.Views);
            Assert.Equal(p.ViewsSuppressed, restored.ViewsSuppressed);
        }
    }

    [Fact]
    public void A_checkpoint_with_another_sliding_span_is_refused()
    {
        var p = new SegmentPartition(s_roads.Value, 0, 2);
        Feed(p, Messages().Take(3000), new Log());
        using var checkpoint = new MemoryStream();
        p.Save(checkpoint);
        var e = Assert.Throws<CheckpointException>(() =>
            SegmentPartition.Load(s_net.Value, 0, 2, new MemoryStream(checkpoint.ToArray()), new SegmentOptions { SlidingWindows = 10 }));
        Assert.Contains("sliding view of 5 windows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Views_and_the_network_index_are_the_same_for_one_partition_or_three()
    {
        var messages = Messages();
        (List<SegmentStat> Views, List<NetworkIndexValue> Index) Run(int partitions)
        {
            var parts = Enumerable.Range(0, partitions).Select(i => new SegmentPartition(s_roads.Value, i, 2)).ToArray();
            var logs = parts.Select(_ => new Log()).ToArray();
            foreach (var m in messages)
            {
                if (m.IsWatermark)
                {
                    for (int i = 0; i < partitions; i++) parts[i].OnWatermark(in m.Watermark, logs[i]);
                }
                else
                {
                    // Each partition numbers its sources' messages on its own: what it receives keeps their order.
                    int i = s_roads.Value.PartitionOf(m.Traversal.Edge.Edge, partitions);
                    parts[i].OnTraversal(in m.Traversal);
                }
            }
            var views = logs.SelectMany(l => l.Views).OrderBy(v => v.WindowStartMs).ThenBy(v => v.Edge).ToList();
            var index = logs.SelectMany(l => l.Parts).GroupBy(n => n.WindowStartMs).OrderBy(g => g.Key).Select(g =>
            {
                var total = new NetworkSums(g.Key, g.Key + Minute);
                foreach (var n in g) total.Add(in n);
                return NetworkIndex.Of(in total);
            }).ToList();
            return (views, index);
        }
        var one = Run(1);
        var three = Run(3);
        Assert.NotEmpty(one.Views);
        Assert.Equal(one.Views, three.Views);
        Assert.Equal(one.Index, three.Index);
        // The jam shows in the index: the middle half hour's mean is above the rest's.
        var jam = one.Index.Where(v => v.WindowStartMs - s_w0 is >= 32 * Minute and < 60 * Minute).ToList();
        var calm = one.Index.Where(v => v.WindowStartMs - s_w0 is < 28 * Minute or >= 65 * Minute).ToList();
        Assert.NotEmpty(jam);
        Assert.True(jam.Average(v => v.Tpi) > calm.Average(v => v.Tpi) + 1, $"jam {jam.Average(v => v.Tpi):F2}, calm {calm.Average(v => v.Tpi):F2}");
    }

    [Fact]
    public void A_traversal_behind_its_own_sources_watermark_is_dropped_and_counted_whatever_the_interleaving()
    {
        // Source 0 declares 10 minutes past, then sends a traversal of minute 3 (a route filled in across a gap). Whether
        // source 1's watermark got ahead first decides whether minute 3 is still open; the rows must not depend on it.
        var net = s_net.Value;
        int edge = Enumerable.Range(0, net.EdgeCount).First(e => net.LengthM(e) > 150);
        double len = net.LengthM(edge);
        SegmentTraversal Pass(int source, long sequence, int vehicle, long exit) =>
            new(source, sequence, VehicleKey.Of($"粤B{vehicle:D4}"), new TraversedEdge(edge, 0, len, exit - 20_000, exit));
        long minute3 = s_w0 + (3 * Minute) + 30_000;
        var fromSource0 = new List<(bool, SegmentTraversal, SegmentWatermark)>
        {
            (false, Pass(0, 1, 1, minute3), default),
            (false, Pass(0, 2, 2, minute3), default),
            (true, default, new SegmentWatermark(0, 3, s_w0 + (10 * Minute))),
            (false, Pass(0, 4, 3, minute3), default), // late: minute 3 ended before source 0's watermark
        };
        var fromSource1 = new List<(bool, SegmentTraversal, SegmentWatermark)>
        {
            (false, Pass(1, 1, 4, minute3), default),
            (true, default, new SegmentWatermark(1, 2, s_w0 + (10 * Minute))),
        };
        var end = new List<(bool, SegmentTraversal, SegmentWatermark)>
        {
            (true, default, new SegmentWatermark(0, 5, long.MaxValue)),
            (true, default, new SegmentWatermark(1, 3, long.MaxValue)),
        };
        var rows = new List<List<string>>();
        var late = new List<long>();
        foreach (bool source1First in new[] { true, false })
        {
            var p = new SegmentPartition(s_roads.Value, 0, 2);
            var log = new Log();
            Feed(p, (source1First ? fromSource1.Concat(fromSource0) : fromSource0.Concat(fromSource1)).Concat(end), log);
            rows.Add(log.Lines.Where(l => l.StartsWith("window ", StringComparison.Ordinal)).ToList());
            late.Add(p.LateTraversals);
        }
        Assert.Equal([1L, 1L], late);
        Assert.Equal(rows[0], rows[1]);
        var row = Assert.Single(rows[0]);
        Assert.Contains("Vehicles = 3", row, StringComparison.Ordinal); // vehicles 1, 2 and 4; not the late 3
    }
}
