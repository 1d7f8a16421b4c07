using Traffic.Engine.Alerts;
using Traffic.Engine.Rules;
using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;

namespace Traffic.Engine.Tests.Rules;

public class CongestionRuleTests
{
    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>One-minute windows of one segment at the given speeds (free flow 50 km/h).</summary>
    private static List<AlertEvent> Windows(params double[] speeds) =>
        Periods(speeds.Select(v => new[] { (5, v, double.NaN) }).ToArray());

    /// <summary>
    /// One-minute periods, each with the windows of the given segments: (edge, space-mean speed, median vehicle's
    /// speed), free flow 50 km/h, 6 vehicles; the rule judges each period once its windows are in, as a partition does.
    /// </summary>
    private static List<AlertEvent> Periods(params (int Edge, double Speed, double Median)[][] periods)
    {
        var rule = new CongestionRule(SimRun.Shenzhen);
        var alerts = new List<AlertEvent>();
        for (int i = 0; i < periods.Length; i++)
        {
            long start = s_t0 + (i * 60_000);
            foreach (var (edge, speed, median) in periods[i].OrderBy(w => w.Edge))
            {
                var w = new SegmentStat(edge, start, start + 60_000, 6, speed, 50, 30, CongestionLevel.Of(speed, 50)) { VehicleMedianKmh = median };
                rule.OnWindow(w, alerts);
            }
            rule.EndOfWindows(alerts);
        }
        return alerts;
    }

    /// <summary>Three edges of one named road, each leading into the next (not U-turns).</summary>
    private static int[] ThreeInARow()
    {
        var net = SimRun.Shenzhen;
        for (int a = 0; a < net.EdgeCount; a++)
        {
            if (net.NameIndex(a) == 0 || net.LengthM(a) < 30) continue;
            int b = Next(net, a), c = b >= 0 ? Next(net, b) : -1;
            if (c >= 0 && c != a) return [a, b, c];
        }
        throw new InvalidOperationException("no road of three edges in a row in the network");

        static int Next(RoadNetwork net, int e)
        {
            int found = -1;
            for (int f = net.FirstOutEdge(net.To(e)); f < net.EndOutEdge(net.To(e)); f++)
            {
                if (f == net.Twin(e) || net.NameIndex(f) != net.NameIndex(e) || net.LengthM(f) < 30) continue;
                if (found >= 0) return -1;
                found = f;
            }
            return found;
        }
    }

    [Fact]
    public void A_slowdown_lasting_three_windows_opens_congestion_escalates_and_closes_with_hysteresis()
    {
        // 45 (1) … 18 (4) 18 (4) 12 (5) 18 (4) 30 (2) 45 (1): opens at the third congested window, updates at 12, closes after two clear.
        var alerts = Windows(45, 45, 18, 18, 18, 12, 18, 30, 45, 45);
        var congestion = alerts.Where(a => a.Kind == "congestion").ToList();
        Assert.Equal([AlertState.Open, AlertState.Update, AlertState.Close], congestion.Select(a => a.State));
        Assert.Equal(s_t0 + (2 * 60_000), congestion[0].StartMs);
        Assert.Equal(5, congestion[1].Severity);
        Assert.Single(congestion.Select(a => a.AlertId).Distinct());
        Assert.Equal(s_t0 + (7 * 60_000), congestion[2].EndMs); // the end of the last congested window
    }

    [Fact]
    public void A_short_or_light_slowdown_raises_no_congestion()
    {
        Assert.DoesNotContain(Windows(45, 18, 18, 45, 45), a => a.Kind == "congestion");   // two windows only
        Assert.DoesNotContain(Windows(45, 24, 24, 24, 24, 45), a => a.Kind == "congestion"); // light (level 3)
    }

    [Fact]
    public void A_junction_stub_slow_with_turning_vehicles_raises_no_congestion_but_a_segment_of_a_queue_s_length_does()
    {
        var net = SimRun.Shenzhen;
        int stub = Enumerable.Range(0, net.EdgeCount).First(e => net.LengthM(e) < 30 && net.NameIndex(e) != 0);
        int road = Enumerable.Range(0, net.EdgeCount).First(e => net.LengthM(e) is > 60 and < 100 && net.NameIndex(e) != 0);
        (int, double, double)[][] Slow(int edge) => [.. new[] { 45.0, 18, 18, 18, 18 }.Select(v => new[] { (edge, v, double.NaN) })];
        Assert.DoesNotContain(Periods(Slow(stub)), a => a.Kind == "congestion");
        Assert.Contains(Periods(Slow(road)), a => a.Kind == "congestion" && a.State == AlertState.Open);
    }

    [Fact]
    public void Two_junction_stubs_slow_with_unseen_road_between_raise_no_congestion()
    {
        // Cars parked one after another at a junction in Shanghai, 10 m units reporting positions only: their scatter
        // crawled over the junction's two stubs of 11 m, and the run, with the 144 m of road bridged beyond (unseen, no
        // window), was 178 m long and opened congestion. The length a run needs is of its congested segments.
        var net = SimRun.Shenzhen;
        var (a, gap, b) = StubRoadStub(net);
        Assert.True(net.LengthM(a) + net.LengthM(b) < 50 && net.LengthM(a) + net.LengthM(gap) + net.LengthM(b) >= 50);
        (int, double, double)[][] slow = [.. Enumerable.Range(0, 5).Select(_ => new[] { (a, 6.0, 6.0), (b, 6.0, 6.0) })];
        Assert.DoesNotContain(Periods(slow), a => a.Kind == "congestion");
        // The same with the road between slow too: a queue of 50 m and more.
        (int, double, double)[][] queue = [.. Enumerable.Range(0, 5).Select(_ => new[] { (a, 6.0, 6.0), (gap, 6.0, 6.0), (b, 6.0, 6.0) })];
        Assert.Contains(Periods(queue), a => a.Kind == "congestion" && a.State == AlertState.Open);
    }

    /// <summary>A named road's short edge, the longer edge it leads into, and the short edge that one leads into.</summary>
    private static (int A, int Gap, int B) StubRoadStub(RoadNetwork net)
    {
        for (int a = 0; a < net.EdgeCount; a++)
        {
            if (net.NameIndex(a) == 0 || net.LengthM(a) >= 20) continue;
            foreach (int g in Out(net, a))
            {
                if (net.LengthM(g) < 40 || net.LengthM(g) > 250) continue;
                foreach (int b in Out(net, g))
                {
                    if (b != a && net.LengthM(b) < 20 && net.LengthM(a) + net.LengthM(b) < 50) return (a, g, b);
                }
            }
        }
        throw new InvalidOperationException("no stub, road, stub of one name in a row in the network");

        static IEnumerable<int> Out(RoadNetwork net, int e)
        {
            for (int f = net.FirstOutEdge(net.To(e)); f < net.EndOutEdge(net.To(e)); f++)
            {
                if (f != net.Twin(e) && net.NameIndex(f) == net.NameIndex(e)) yield return f;
            }
        }
    }

    [Fact]
    public void Congested_segments_of_one_road_raise_one_alert_for_their_run()
    {
        var run = ThreeInARow();
        var net = SimRun.Shenzhen;
        var jam = run.Select(e => (e, 10.0, 10.0)).ToArray();
        var free = run.Select(e => (e, 45.0, 45.0)).ToArray();
        var alerts = Periods(jam, jam, jam, jam, free, free).Where(a => a.Kind == "congestion").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        var open = alerts[0];
        Assert.Equal(net.Name(run[0]), open.Road);
        Assert.Equal(3, open.Evidence["segments"]);
        Assert.Equal(run.Sum(net.LengthM), open.Evidence["length_m"], 3);
        var ways = open.Evidence.Where(kv => kv.Key.StartsWith("way_id_", StringComparison.Ordinal)).Select(kv => (long)kv.Value).ToHashSet();
        Assert.Equal(run.Select(net.WayId).ToHashSet(), ways);
    }

    [Fact]
    public void A_queue_moving_along_a_road_with_thin_windows_is_one_congestion()
    {
        // Too few vehicles for every segment to publish every minute: one congested window a minute, each on another
        // segment of the run. No segment is congested three windows running, but the road's run is.
        var run = ThreeInARow();
        var alerts = Periods([(run[0], 10, 10)], [(run[1], 10, 10)], [(run[2], 10, 10)]);
        var open = Assert.Single(alerts, a => a.Kind == "congestion");
        Assert.Equal(s_t0, open.StartMs);
        // The same windows on three different roads are three slowdowns of one window each: nothing.
        Assert.DoesNotContain(Periods([(run[0], 10, 10)], [(OtherRoad(run[0], 1), 10, 10)], [(OtherRoad(run[0], 2), 10, 10)]), a => a.Kind == "congestion");
    }

    [Fact]
    public void A_road_slow_now_and_then_between_lighter_windows_raises_nothing()
    {
        // Slow windows here and there along the road, each followed by a lighter one (level 3) on the run: the run does
        // not stay moderate or worse, however many slow windows it collects.
        var run = ThreeInARow();
        var alerts = Periods([(run[0], 10, 10)], [(run[0], 24, 24)], [(run[1], 10, 10)], [(run[1], 24, 24)], [(run[2], 10, 10)], [(run[2], 24, 24)], [(run[0], 10, 10)]);
        Assert.DoesNotContain(alerts, a => a.Kind == "congestion");
    }

    [Fact]
    public void Segments_of_two_roads_raise_two_alerts()
    {
        var run = ThreeInARow();
        int other = OtherRoad(run[0], 1);
        var jam = new[] { (run[0], 10.0, 10.0), (other, 10.0, 10.0) };
        var alerts = Periods(jam, jam, jam).Where(a => a.Kind == "congestion").ToList();
        Assert.Equal(2, alerts.Count);
        Assert.NotEqual(alerts[0].Road, alerts[1].Road);
    }

    [Fact]
    public void A_vehicle_standing_among_moving_ones_is_no_congestion()
    {
        // A taxi waiting on the segment drags the space-mean speed to 8 km/h; most vehicles drive at 40: no congestion.
        var alerts = Periods(Enumerable.Repeat(new[] { (5, 8.0, 40.0) }, 6).ToArray());
        Assert.Empty(alerts);
        // Most vehicles at 10 km/h: congestion.
        Assert.Contains(Periods(Enumerable.Repeat(new[] { (5, 8.0, 10.0) }, 6).ToArray()), a => a.Kind == "congestion");
    }

    [Fact]
    public void A_congested_segment_silent_too_long_lapses()
    {
        // Congested for two windows, then no window for ten minutes, then one congested window: the spell lapsed in
        // between, so it is not the third window of one congestion.
        var gap = Enumerable.Repeat(Array.Empty<(int, double, double)>(), 10);
        var periods = new[] { new[] { (5, 10.0, 10.0) }, [(5, 10.0, 10.0)] }.Concat(gap).Append([(5, 10.0, 10.0)]).ToArray();
        Assert.Empty(Periods(periods));
    }

    [Fact]
    public void A_sudden_collapse_held_for_two_windows_raises_an_incident()
    {
        var alerts = Windows(48, 46, 47, 8, 8, 8, 45, 45);
        var incident = alerts.Where(a => a.Kind == "incident").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], incident.Select(a => a.State));
        Assert.True(incident[0].Evidence["recent_speed_kmh"] > 40);
        Assert.Equal(s_t0 + (3 * 60_000), incident[0].StartMs);
        Assert.DoesNotContain(Windows(48, 46, 47, 8, 45, 45), a => a.Kind == "incident");          // one window: a blip
        Assert.DoesNotContain(Windows(30, 24, 20, 17, 15, 14), a => a.Kind == "incident"); // a gradual slowdown is congestion, not an incident
    }

    [Fact]
    public void A_jam_deepening_is_no_incident_but_a_collapse_in_moderate_traffic_is()
    {
        // A jam at 12 km/h (free flow 50) falling to 5 is below half its recent level, but by 7 km/h: the jam deepened;
        // a collapse is a fall by a quarter of free flow or more, as from 22 km/h to 5.
        Assert.DoesNotContain(Windows(14, 13, 12, 11, 10, 5, 5, 5), a => a.Kind == "incident");
        Assert.Contains(Windows(22, 21, 22, 5, 5, 5), a => a.Kind == "incident" && a.State == AlertState.Open);
    }

    [Fact]
    public void A_collapse_spreading_back_along_a_road_is_one_incident_until_its_last_segment_clears()
    {
        // A crash on c: c collapses first, then b behind it, then a; they clear front first. One incident, from c's
        // collapse to when a clears; before, one incident per segment.
        int[] r = ThreeInARow();
        int a = r[0], b = r[1], c = r[2];
        (int, double, double)[] Period(double va, double vb, double vc) => [(a, va, double.NaN), (b, vb, double.NaN), (c, vc, double.NaN)];
        var alerts = Periods(
            Period(48, 47, 46), Period(47, 48, 47), Period(46, 47, 48),
            Period(47, 46, 8), Period(46, 9, 8), Period(8, 8, 8), Period(8, 8, 8),
            Period(9, 8, 45), Period(8, 45, 46), Period(45, 46, 47), Period(46, 45, 46), Period(47, 46, 45));
        var incident = alerts.Where(x => x.Kind == "incident").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], incident.Select(x => x.State));
        Assert.Single(incident.Select(x => x.AlertId).Distinct());
        Assert.Equal(s_t0 + (3 * 60_000), incident[0].StartMs); // c's collapse
        Assert.EndsWith($":{c}:{s_t0 + (3 * 60_000)}", incident[0].AlertId, StringComparison.Ordinal); // opened on c
        Assert.True(incident[1].TimeMs >= s_t0 + (10 * 60_000), "closes once a, the last, has cleared");
    }

    [Fact]
    public void A_run_that_splits_gives_the_part_it_leaves_an_alert_id_of_its_own()
    {
        // 科技中三路 slowing as a whole (a hand-written scenario): its run split where one segment read clear, the alert went
        // on with one part, and the other part, holding the segment the alert was named after and congested since the same
        // minute, opened later under the very same id: "open" twice and "close" twice for one alert_id.
        int[] r = ThreeInARow();
        int named = Math.Max(r[0], r[2]), other = Math.Min(r[0], r[2]), middle = r[1];
        (int, double, double)[] Period(double vNamed, double vMiddle, double vOther) =>
            [(named, vNamed, double.NaN), (middle, vMiddle, double.NaN), (other, vOther, double.NaN)];
        // The named end worst (it names the alert), then the middle clears and the ends stay congested for minutes.
        var alerts = Periods(
            Period(8, 18, 18), Period(8, 18, 18), Period(8, 18, 18), Period(8, 18, 18),
            Period(8, 45, 18), Period(8, 45, 18), Period(8, 45, 18), Period(8, 45, 18), Period(8, 45, 18), Period(8, 45, 18),
            Period(45, 45, 45), Period(45, 45, 45), Period(45, 45, 45))
            .Where(a => a.Kind == "congestion").ToList();
        Assert.Contains(alerts, a => a.State == AlertState.Open);
        foreach (var g in alerts.GroupBy(a => a.AlertId))
        {
            var states = g.Select(a => a.State).ToList();
            Assert.True(states[0] == AlertState.Open && states.Count(s => s == AlertState.Open) == 1
                && states.Count(s => s == AlertState.Close) == 1 && states[^1] == AlertState.Close,
                $"{g.Key}: {string.Join(", ", states)}");
        }
    }

    [Fact]
    public void A_junction_stub_read_clear_inside_a_queue_does_not_split_its_run_nor_make_an_incident()
    {
        // 高新南一道 and 科技中三路 crawling at 5-12 km/h (hand-written scenarios, 1 Hz, 3 m units): their junction stubs of
        // 7-14 m read 30-77 km/h, level 1, in a window now and then (a matched step jumps a stub in a second), and each
        // such window split the queue's run in two (two congestion alerts, two incidents on one slowdown), and a stub whose
        // recent windows read 60 km/h "collapsed" to 5 in the jam: an incident on a road slowing over 20 minutes.
        var net = SimRun.Shenzhen;
        var (a, stub, c) = RoadStubRoad(net);
        (int, double, double)[] Period(double va, double vs, double vc) => [(a, va, double.NaN), (stub, vs, double.NaN), (c, vc, double.NaN)];
        var alerts = Periods(
            Period(10, 10, 10), Period(10, 60, 10), Period(10, 10, 10), Period(10, 60, 10), Period(10, 60, 10),
            Period(10, 60, 10), Period(10, 60, 10), Period(10, 5, 10), Period(10, 5, 10), Period(10, 5, 10),
            Period(45, 45, 45), Period(45, 45, 45), Period(45, 45, 45));
        var opens = alerts.Where(x => x.Kind == "congestion" && x.State == AlertState.Open).ToList();
        Assert.Single(opens);
        Assert.Equal(3, opens[0].Evidence["segments"]);
        Assert.DoesNotContain(alerts, x => x.Kind == "incident");
    }

    /// <summary>A named road's edge of 30 m or more, the edge under 15 m it leads into, and the edge of 30 m or more that one leads into.</summary>
    private static (int A, int Stub, int C) RoadStubRoad(RoadNetwork net)
    {
        for (int a = 0; a < net.EdgeCount; a++)
        {
            if (net.NameIndex(a) == 0 || net.LengthM(a) < 30) continue;
            foreach (int s in Out(net, a))
            {
                if (net.LengthM(s) >= 15) continue;
                foreach (int c in Out(net, s))
                {
                    if (c != a && net.LengthM(c) >= 30) return (a, s, c);
                }
            }
        }
        throw new InvalidOperationException("no road, stub, road of one name in a row in the network");

        static IEnumerable<int> Out(RoadNetwork net, int e)
        {
            for (int f = net.FirstOutEdge(net.To(e)); f < net.EndOutEdge(net.To(e)); f++)
            {
                if (f != net.Twin(e) && net.NameIndex(f) == net.NameIndex(e)) yield return f;
            }
        }
    }

    /// <summary>The <paramref name="n"/>-th edge (of 30 m or more) of another named road than <paramref name="edge"/>'s, each of a road of its own.</summary>
    private static int OtherRoad(int edge, int n)
    {
        var net = SimRun.Shenzhen;
        return Enumerable.Range(0, net.EdgeCount)
            .Where(e => net.NameIndex(e) != 0 && net.NameIndex(e) != net.NameIndex(edge) && net.LengthM(e) >= 30)
            .GroupBy(e => net.NameIndex(e)).Select(g => g.First()).ElementAt(n);
    }
}
