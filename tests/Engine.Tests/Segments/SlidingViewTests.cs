using Traffic.Engine.Segments;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Segments;

public class SlidingViewTests
{
    private const long Minute = 60_000;

    private static readonly Lazy<RoadNetwork> s_net = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    // 2025-11-25 10:00 local (UTC+8), on a window boundary: not a low-volume hour, so free flow stays the fallback.
    private static readonly long s_w0 = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static int LongEdge(RoadNetwork net) => Enumerable.Range(0, net.EdgeCount).First(e => net.LengthM(e) > 300 && net.SpeedLimitKmh(e) >= 50);

    /// <summary>A whole-edge traversal at a speed, leaving the edge 30 s into window <paramref name="window"/>.</summary>
    private static void Drive(SegmentAggregator agg, int vehicle, int edge, int window, double kmh)
    {
        double len = s_net.Value.LengthM(edge);
        long exit = s_w0 + (window * Minute) + 30_000;
        agg.Add(vehicle, edge, 0, len, exit - (long)Math.Round(len / (kmh / 3.6) * 1000), exit);
    }

    private static (List<SegmentStat> Windows, List<SegmentStat> Views) Close(SegmentAggregator agg, long watermark)
    {
        var windows = new List<SegmentStat>();
        var views = new List<SegmentStat>();
        agg.Advance(watermark, windows, views);
        return (windows, views);
    }

    [Fact]
    public void A_view_sums_the_spans_traversals_and_counts_each_vehicle_once_with_the_minimum_sample_over_the_span()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        // Windows 0, 1 and 3 hold 2, 2 and 1 vehicles: no window reaches the minimum sample of 3 on its own.
        Drive(agg, 1, edge, 0, 40);
        Drive(agg, 2, edge, 0, 20);
        Drive(agg, 1, edge, 1, 40);
        Drive(agg, 3, edge, 1, 10);
        Drive(agg, 4, edge, 3, 30);
        var (windows, views) = Close(agg, s_w0 + (4 * Minute));
        Assert.Empty(windows);
        // A view at every window end: after window 0 two vehicles (suppressed), after 1 three (1, 2, 3), after 2 the
        // same, after 3 four; vehicle 1 drove in two windows and counts once (the windows' own counts add up to 5).
        Assert.Equal([s_w0 + (2 * Minute), s_w0 + (3 * Minute), s_w0 + (4 * Minute)], views.Select(v => v.WindowEndMs));
        Assert.All(views, v => Assert.Equal(v.WindowEndMs - (5 * Minute), v.WindowStartMs));
        Assert.Equal([3, 3, 4], views.Select(v => v.Vehicles));
        Assert.Equal(1, agg.SlidingSuppressed);
        // Space-mean speed over every traversal of the span: the distance over the time, not the mean of the windows' speeds.
        double seconds = new[] { 40.0, 20, 40, 10, 30 }.Sum(kmh => Math.Round(len / (kmh / 3.6) * 1000) / 1000);
        SegmentStat last = views[^1];
        Assert.Equal(5 * len / seconds * 3.6, last.SpeedKmh, 2);
        Assert.Equal(len / (last.SpeedKmh / 3.6), last.TravelTimeS, 6);
        Assert.Equal(net.SpeedLimitKmh(edge) * 0.9, last.FreeFlowKmh, 3);
        Assert.Equal(CongestionLevel.Of(last.SpeedKmh, last.FreeFlowKmh), last.Level);
        Assert.Equal((long)Math.Round(len * 1000) * 5, last.VehicleMm);
    }

    [Fact]
    public void Windows_slide_out_of_the_span_and_the_views_end_five_windows_after_the_last()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        var agg = new SegmentAggregator(net);
        // Three vehicles in window 0 at 10 km/h, three others in window 2 at 50 km/h.
        for (int v = 0; v < 3; v++) Drive(agg, v, edge, 0, 10);
        for (int v = 10; v < 13; v++) Drive(agg, v, edge, 2, 50);
        var views = new List<SegmentStat>();
        // The watermark moves a minute at a time: each step publishes the view that ends there.
        for (int m = 1; m <= 12; m++)
        {
            var (_, step) = Close(agg, s_w0 + (m * Minute));
            Assert.True(step.Count <= 1);
            Assert.All(step, v => Assert.Equal(s_w0 + (m * Minute), v.WindowEndMs));
            views.AddRange(step);
        }
        // Ends 1 to 5 hold window 0; 3 to 7 window 2: ends 1–2 have 3 vehicles, 3–5 six, 6–7 three (window 0 is out).
        Assert.Equal(Enumerable.Range(1, 7).Select(m => s_w0 + (m * Minute)), views.Select(v => v.WindowEndMs));
        Assert.Equal([3, 3, 6, 6, 6, 3, 3], views.Select(v => v.Vehicles));
        Assert.Equal(10, views[0].SpeedKmh, 1);
        Assert.Equal(50, views[^1].SpeedKmh, 1);
        Assert.InRange(views[3].SpeedKmh, 10.5, 49.5);
        // Once every view holding its windows is out, the segment leaves the view's state.
        Assert.Equal(0, agg.SlidingSegments);
        Drive(agg, 20, edge, 20, 40);
        Close(agg, s_w0 + (21 * Minute));
        Assert.Equal(1, agg.SlidingSegments);
    }

    [Fact]
    public void The_views_are_the_same_whether_the_watermark_moves_in_steps_or_at_once_and_in_any_order_of_traversals()
    {
        var net = s_net.Value;
        int[] edges = Enumerable.Range(0, net.EdgeCount).Where(e => net.LengthM(e) > 200).Take(6).ToArray();
        var rng = new Random(11);
        var traversals = new List<(int Vehicle, int Edge, int Window, double Kmh)>();
        for (int i = 0; i < 400; i++) traversals.Add((rng.Next(30), edges[rng.Next(edges.Length)], rng.Next(15), 5 + (rng.NextDouble() * 55)));
        List<SegmentStat> Run(IEnumerable<(int Vehicle, int Edge, int Window, double Kmh)> order, bool steps)
        {
            var agg = new SegmentAggregator(net);
            foreach (var t in order) Drive(agg, t.Vehicle, t.Edge, t.Window, t.Kmh);
            var views = new List<SegmentStat>();
            if (steps)
            {
                for (int m = 1; m <= 25; m++) views.AddRange(Close(agg, s_w0 + (m * Minute) + 17).Views);
            }
            else views.AddRange(Close(agg, long.MaxValue).Views);
            return views;
        }
        var once = Run(traversals, steps: false);
        Assert.NotEmpty(once);
        Assert.Equal(once, Run(traversals.OrderBy(_ => rng.Next()), steps: true));
        Assert.Equal(once, Run(traversals.OrderBy(_ => rng.Next()), steps: false));
        // Ordered by end, then edge.
        Assert.Equal(once.OrderBy(v => v.WindowEndMs).ThenBy(v => v.Edge), once);
    }

    [Fact]
    public void The_span_is_configurable_and_zero_turns_the_view_off()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        var three = new SegmentAggregator(net, new SegmentOptions { SlidingWindows = 3 });
        var off = new SegmentAggregator(net, new SegmentOptions { SlidingWindows = 0 });
        foreach (var agg in new[] { three, off })
        {
            for (int v = 0; v < 3; v++) Drive(agg, v, edge, 0, 30);
        }
        var (windows, views) = Close(three, long.MaxValue);
        Assert.Single(windows);
        Assert.Equal(3, views.Count);
        Assert.All(views, v => Assert.Equal(3 * Minute, v.WindowEndMs - v.WindowStartMs));
        var (offWindows, offViews) = Close(off, long.MaxValue);
        Assert.Equal(windows, offWindows);
        Assert.Empty(offViews);
        Assert.Equal("segments-5m", new SegmentOptions().SlidingName);
        Assert.Equal("segments-3m", new SegmentOptions { SlidingWindows = 3 }.SlidingName);
        Assert.Equal("segments-90s", new SegmentOptions { WindowMs = 30_000, SlidingWindows = 3 }.SlidingName);
    }

    [Fact]
    public void Distinct_vehicles_over_a_span_of_busy_windows_are_estimated_from_the_union_of_their_keys()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        var agg = new SegmentAggregator(net);
        // 100 vehicles per window, the same 100 in all five: the view counts about 100, not 500.
        int[] keys = Enumerable.Range(0, 100).Select(i => Traffic.Engine.Pipeline.VehicleKey.Of($"琼B{i:D5}")).ToArray();
        for (int w = 0; w < 5; w++)
        {
            foreach (int k in keys) Drive(agg, k, edge, w, 30);
        }
        var (windows, views) = Close(agg, s_w0 + (5 * Minute));
        SegmentStat full = views.Single(v => v.WindowEndMs == s_w0 + (5 * Minute));
        Assert.Equal(windows[0].Vehicles, full.Vehicles);
        Assert.InRange(full.Vehicles, 65, 140);
    }
}
