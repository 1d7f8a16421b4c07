using Traffic.Engine.Segments;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Segments;

public class SegmentAggregatorTests
{
    private static readonly Lazy<RoadNetwork> s_net = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    // 2025-11-25 10:00 local (UTC+8): a peak-ish hour, not low-volume.
    private static readonly long s_day = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static int LongEdge(RoadNetwork net) => Enumerable.Range(0, net.EdgeCount).First(e => net.LengthM(e) > 300 && net.SpeedLimitKmh(e) >= 50);

    [Fact]
    public void The_vector_count_of_keys_below_is_the_scalar_lower_bound()
    {
        // Keys with the high bit set among them (the count compares unsigned), probes at, between, below and above the
        // keys, every count from none to the 64 kept, and stale keys past the count (read and masked off).
        var random = new Random(20261127);
        var keys = new uint[64];
        for (int round = 0; round < 200; round++)
        {
            var set = new SortedSet<uint>();
            while (set.Count < 64) set.Add(round % 2 == 0 ? (uint)random.NextInt64(0, 1L << 32) : (uint)random.Next(0, 200));
            for (int count = 0; count <= 64; count++)
            {
                set.CopyTo(keys);
                Array.Reverse(keys, count, 64 - count);   // stale keys past the count, in any order
                var probes = new List<uint> { 0, 1, uint.MaxValue, uint.MaxValue - 1, 1u << 31, (1u << 31) - 1, (uint)random.NextInt64(0, 1L << 32) };
                for (int i = 0; i < count; i++) probes.AddRange([keys[i], keys[i] + 1, keys[i] - 1]);
                foreach (uint key in probes)
                {
                    int expected = SegmentAggregator.LowerBoundScalar(keys, count, key);
                    Assert.Equal(keys.Take(count).Count(k => k < key), expected);
                    if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) Assert.Equal(expected, SegmentAggregator.CountBelow(keys, count, key));
                }
            }
        }
    }

    [Fact]
    public void A_crawling_segment_is_severe_and_a_free_one_smooth()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        // Five vehicles crawl through at 8 km/h; free flow falls back to the limit × 0.9.
        for (int v = 0; v < 5; v++) agg.Add(v, edge, 0, len, s_day + (v * 1000), s_day + (v * 1000) + (long)(len / (8 / 3.6) * 1000));
        var published = new List<SegmentStat>();
        agg.Advance(s_day + 3_600_000, published);
        var stat = Assert.Single(published);
        Assert.Equal(5, stat.Vehicles);
        Assert.Equal(8, stat.SpeedKmh, 1);
        Assert.Equal(net.SpeedLimitKmh(edge) * 0.9, stat.FreeFlowKmh, 3);
        Assert.Equal(5, stat.Level);
        Assert.Equal(len / (8 / 3.6), stat.TravelTimeS, 1);

        var fast = new SegmentAggregator(net);
        double free = net.SpeedLimitKmh(edge) * 0.85;
        for (int v = 0; v < 3; v++) fast.Add(v, edge, 0, len, s_day, s_day + (long)(len / (free / 3.6) * 1000));
        published.Clear();
        fast.Advance(s_day + 3_600_000, published);
        Assert.Equal(1, Assert.Single(published).Level);
    }

    [Fact]
    public void Traversals_faster_than_any_vehicle_drives_are_left_out_and_counted()
    {
        // Taxis that stood at the end of a street and were next fixed near its start were routed round a loop at 500
        // km/h; three of them made a window. At 190 km/h three make one as before.
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        foreach (var (kmh, published) in new[] { (500.0, 0), (190.0, 1) })
        {
            var agg = new SegmentAggregator(net);
            for (int v = 0; v < 3; v++) agg.Add(v, edge, 0, len, s_day + (v * 1000), s_day + (v * 1000) + (long)Math.Ceiling(len / (kmh / 3.6) * 1000));
            var stats = new List<SegmentStat>();
            agg.Advance(s_day + 3_600_000, stats);
            Assert.Equal(published, stats.Count);
            Assert.Equal(3 - (3 * published), agg.Ignored);
        }
    }

    [Fact]
    public void Space_mean_speed_weights_slow_vehicles_by_their_time()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        long exit = s_day + 30_000; // all three leave the segment within one window
        foreach (var (v, speed) in new[] { (0, 60.0), (1, 20.0), (2, 60.0) })
            agg.Add(v, edge, 0, len, exit - (long)(len / (speed / 3.6) * 1000), exit);
        var published = new List<SegmentStat>();
        agg.Advance(s_day + 3_600_000, published);
        // Harmonic mean of 60, 20, 60 is 36, not the arithmetic 46.7.
        Assert.Equal(36, Assert.Single(published).SpeedKmh, 1);
    }

    [Fact]
    public void Below_the_minimum_sample_nothing_is_published_and_one_vehicle_counts_once()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        for (int i = 0; i < 4; i++) agg.Add(7, edge, 0, len, s_day + (i * 10), s_day + 30_000 + (i * 10));
        agg.Add(8, edge, 0, len, s_day, s_day + 30_000);
        var published = new List<SegmentStat>();
        agg.Advance(s_day + 3_600_000, published);
        Assert.Empty(published);
        Assert.Equal(1, agg.Suppressed);
    }

    [Fact]
    public void A_vehicle_counts_by_what_it_covered_in_the_window_however_many_steps_it_took()
    {
        // A unit reporting every second sends a piece of the segment per step, a couple of metres at a crawl: the pieces
        // of one vehicle in one window are judged together, and a vehicle that only clipped the segment does not count.
        var net = s_net.Value;
        int edge = LongEdge(net);
        var agg = new SegmentAggregator(net);
        long w0 = s_day - (s_day % 60_000);
        double step = 8 / 3.6; // 8 km/h, one fix a second: 122 m in 55 s
        for (int v = 0; v < 3; v++)
        {
            for (int k = 0; k < 55; k++) agg.Add(v, edge, k * step, (k + 1) * step, w0 + (k * 1000), w0 + ((k + 1) * 1000));
        }
        // A fourth covers 20 m at 60 km/h, under both 50 m and 30 % of the segment: neither a vehicle nor a speed here.
        for (int k = 0; k < 4; k++) agg.Add(9, edge, 300 + (k * 5), 305 + (k * 5), w0 + (k * 300), w0 + ((k + 1) * 300));
        var published = new List<SegmentStat>();
        agg.Advance(w0 + 60_000, published);
        var stat = Assert.Single(published);
        Assert.Equal(3, stat.Vehicles);
        Assert.Equal(8, stat.SpeedKmh, 2); // each piece's distance in whole millimetres
        Assert.Equal(8, stat.VehicleMedianKmh, 2);

        // Alone, the clipper's window is not published and counts as below the minimum sample.
        var clipped = new SegmentAggregator(net);
        for (int v = 0; v < 3; v++) clipped.Add(v, edge, 0, 20, w0, w0 + 1_000);
        published.Clear();
        clipped.Advance(w0 + 60_000, published);
        Assert.Empty(published);
        Assert.Equal(1, clipped.Suppressed);
    }

    [Fact]
    public void A_vehicle_crawling_for_half_a_window_counts_though_it_covered_little_and_one_held_in_place_does_not()
    {
        // 2 km/h, one fix a second for 40 s: 22 m, under both 50 m and 30 % of the segment, but measured over 40 s.
        var net = s_net.Value;
        int edge = LongEdge(net);
        long w0 = s_day - (s_day % 60_000);
        double step = 2 / 3.6;
        var agg = new SegmentAggregator(net);
        for (int v = 0; v < 3; v++)
        {
            for (int k = 0; k < 40; k++) agg.Add(v, edge, 10 + (k * step), 10 + ((k + 1) * step), w0 + (k * 1000), w0 + ((k + 1) * 1000));
        }
        // A fourth crawls for 20 s only (11 m): too little of both, left out.
        for (int k = 0; k < 20; k++) agg.Add(9, edge, 10 + (k * step), 10 + ((k + 1) * step), w0 + (k * 1000), w0 + ((k + 1) * 1000));
        var published = new List<SegmentStat>();
        agg.Advance(w0 + 60_000, published);
        var stat = Assert.Single(published);
        Assert.Equal(3, stat.Vehicles);
        Assert.Equal(2, stat.SpeedKmh, 1);
        Assert.Equal(5, stat.Level);
        Assert.Equal(1, agg.Uncovered);

        // Three units the matcher held in place for the whole window (pieces of no length, a speed jittering above
        // standing): no crawl, no window, and no infinite travel time.
        var held = new SegmentAggregator(net);
        for (int v = 0; v < 3; v++)
        {
            for (int k = 0; k < 55; k++) held.Add(v, edge, 10, 10, w0 + (k * 1000), w0 + ((k + 1) * 1000));
        }
        published.Clear();
        held.Advance(w0 + 60_000, published);
        Assert.Empty(published);
        Assert.Equal(1, held.Suppressed);
    }

    [Fact]
    public void Windows_close_on_the_watermark_in_order()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        long w0 = s_day - (s_day % 60_000);
        for (int v = 0; v < 3; v++)
        {
            agg.Add(v, edge, 0, len, w0, w0 + 50_000);            // exits in window 0
            agg.Add(v, edge, 0, len, w0 + 30_000, w0 + 70_000);   // exits in window 1
        }
        var published = new List<SegmentStat>();
        agg.Advance(w0 + 59_999, published);
        Assert.Empty(published);
        agg.Advance(w0 + 60_000, published);
        Assert.Equal(w0, Assert.Single(published).WindowStartMs);
        agg.Advance(w0 + 120_000, published);
        Assert.Equal([w0, w0 + 60_000], published.Select(p => p.WindowStartMs));
    }

    [Fact]
    public void Free_flow_is_learned_from_low_volume_hours()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var agg = new SegmentAggregator(net);
        long night = new DateTimeOffset(2025, 11, 25, 16, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(); // 00:00 local
        var rng = new Random(9);
        for (int v = 0; v < 100; v++)
        {
            double speed = 40 + (rng.NextDouble() * 20); // 40–60 km/h: p85 ≈ 57
            agg.Add(v, edge, 0, len, night, night + (long)(len / (speed / 3.6) * 1000));
        }
        // The speeds join the sample when their window closes (so the order traversals arrive in cannot matter).
        Assert.Equal(net.SpeedLimitKmh(edge) * 0.9, agg.FreeFlowKmh(edge), 3);
        var published = new List<SegmentStat>();
        agg.Advance(night + 3_600_000, published);
        Assert.InRange(agg.FreeFlowKmh(edge), 55, 59);
        Assert.InRange(Assert.Single(published).FreeFlowKmh, 55, 59);
        // Daytime speeds do not teach free flow.
        int other = Enumerable.Range(edge + 1, net.EdgeCount - edge - 1).First(e => net.LengthM(e) > 300);
        for (int v = 0; v < 100; v++) agg.Add(v, other, 0, net.LengthM(other), s_day, s_day + 10_000);
        Assert.Equal(net.SpeedLimitKmh(other) * 0.9, agg.FreeFlowKmh(other), 3);
    }

    [Fact]
    public void Distinct_vehicles_are_exact_to_64_estimated_beyond_and_the_same_in_any_order()
    {
        var net = s_net.Value;
        int edge = LongEdge(net);
        double len = net.LengthM(edge);
        var rng = new Random(4);
        foreach (int fleet in (int[])[3, 64, 65, 300, 3000])
        {
            // Vehicle keys as the exchange makes them (hashes of ids), each vehicle two or three times over the window.
            int[] keys = Enumerable.Range(0, fleet).Select(i => Traffic.Engine.Pipeline.VehicleKey.Of($"琼A{i:D5}")).ToArray();
            var visits = keys.SelectMany(k => Enumerable.Repeat(k, 2 + (k & 1))).ToList();
            SegmentStat Window(IEnumerable<int> order)
            {
                var agg = new SegmentAggregator(net);
                foreach (int k in order) agg.Add(k, edge, 0, len, s_day, s_day + 30_000);
                var published = new List<SegmentStat>();
                agg.Advance(s_day + 3_600_000, published);
                return Assert.Single(published);
            }
            var a = Window(visits);
            var b = Window(visits.OrderBy(_ => rng.Next()));
            Assert.Equal(a, b);
            if (fleet <= 64) Assert.Equal(fleet, a.Vehicles);
            else Assert.InRange(a.Vehicles, Math.Max(65, fleet * 0.6), fleet * 1.4); // a bottom-64 sketch: about ±13 % (one sigma)
        }
    }

    [Theory]
    [InlineData(50, 50, 1)]
    [InlineData(36, 50, 1)]
    [InlineData(34, 50, 2)]
    [InlineData(24, 50, 3)]
    [InlineData(19, 50, 4)]
    [InlineData(15, 50, 5)]
    [InlineData(0, 50, 5)]
    public void Levels_follow_GB_T_33171(double speed, double free, int level) => Assert.Equal(level, CongestionLevel.Of(speed, free));
}
