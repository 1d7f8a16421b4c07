using System.Globalization;
using System.Text;
using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// Small inputs written by hand, as a user's scenario would be: a few vehicles reporting every second or few seconds
/// along one road of the Shenzhen network, a few hundred probes in all.
/// </summary>
public class CraftedReplayTests
{
    // 2026-03-02 09:00 local (UTC+8).
    private static readonly long s_start = new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>The longest edge with a limit of 40 km/h or more: a road to drive along for minutes.</summary>
    private static int Road(RoadNetwork net) =>
        Enumerable.Range(0, net.EdgeCount).Where(e => net.SpeedLimitKmh(e) >= 40).MaxBy(net.LengthM);

    /// <summary>One vehicle at a constant speed along the edge from 5 m in, a fix every <paramref name="stepS"/> for <paramref name="seconds"/>.</summary>
    private static IEnumerable<(long Time, string Line)> Drive(RoadNetwork net, int edge, string id, double kmh, long startMs, double stepS, double seconds,
        bool reportSpeed = true)
    {
        string speed = reportSpeed ? string.Create(CultureInfo.InvariantCulture, $",\"speed_kmh\":{kmh}") : "";
        for (double t = 0; t <= seconds; t += stepS)
        {
            var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), 5 + (kmh / 3.6 * t)));
            long time = startMs + (long)(t * 1000);
            yield return (time, string.Create(CultureInfo.InvariantCulture,
                $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7}{speed}}}"));
        }
    }

    private static Task<(ReplaySummary Summary, string Out)> Replay(IEnumerable<(long Time, string Line)> probes, IReplayObserver? observer = null) =>
        ReplayAsListed(probes.OrderBy(p => p.Time), InputOrder.Auto, observer);

    /// <summary>Replays the probes in the order given (a file written as listed).</summary>
    private static Task<(ReplaySummary Summary, string Out)> ReplayAsListed(IEnumerable<(long Time, string Line)> probes, InputOrder order,
        IReplayObserver? observer = null) =>
        TestReplay.RunAsync(SimRun.Shenzhen, probes.Select(p => p.Line), new ReplayOptions { Order = order, Observer = observer });

    private static JsonElement[] Lines(string path) => [.. File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    [Theory]
    [InlineData(1, 8)]
    [InlineData(5, 8)]
    [InlineData(1, 2)]
    [InlineData(5, 2)]
    public async Task A_road_crawling_in_units_reporting_every_few_seconds_is_published_and_raises_congestion(double stepS, double kmh)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        // Six cars crawl along the road for ten minutes: at 8 km/h a step is 2–11 m, far under a traversal's 50 m, so
        // the segment learns their speed only by adding up each car's steps in a window; at 2 km/h (a unit reporting 2,
        // not standing) a car covers 33 m a minute, and counts by the time it took.
        var probes = Enumerable.Range(0, 6).SelectMany(i => Drive(net, edge, $"粤B-JAM{i:00}", kmh, s_start + (i * 7_000), stepS, 600));
        var (summary, outDir) = await Replay(probes);

        var rows = Lines(Path.Combine(outDir, "segments.ndjson")).Where(r => r.GetProperty("edge").GetInt32() == edge).ToArray();
        Assert.True(rows.Length >= 8, $"{rows.Length} windows of the road published");
        Assert.All(rows, r => Assert.InRange(r.GetProperty("speed_kmh").GetDouble(), kmh * 0.85, kmh * 1.15));
        Assert.All(rows, r => Assert.True(r.GetProperty("level").GetInt32() >= 4));
        var congestion = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("kind").GetString() == "congestion").ToArray();
        Assert.Contains(congestion, a => a.GetProperty("state").GetString() == "open");
        Assert.Equal(0, summary.Rejected);
    }

    [Fact]
    public async Task A_junction_stub_inside_a_crawl_reads_the_crawl_not_the_jump_of_a_stalled_match()
    {
        // Hand-written scenarios of cars crawling at 5–12 km/h along 高新南一道 and 科技中三路, a fix a second from 3 m units:
        // the matcher held each car's match still for 5–10 s at a time (fixes within its minimum move, decided where the
        // last one was) and then moved it 20 m in one step, so a junction stub of 7–14 m that such a step crossed took a
        // share of one second: it read 30–77 km/h, level 1, in the middle of the jam.
        var net = SimRun.Shenzhen;
        var (a, stub, c) = RoadStubRoad(net);
        double la = net.LengthM(a), ls = net.LengthM(stub), lc = net.LengthM(c);
        (double Lon, double Lat) At(double x) =>
            x < la ? net.PointAt(a, x) : x < la + ls ? net.PointAt(stub, x - la) : net.PointAt(c, Math.Min(lc, x - la - ls));
        const double kmh = 8;
        var random = new Random(7);
        var probes = new List<(long, string)>();
        for (int i = 0; i < 30; i++)
        {
            for (double x = Math.Max(0, la - 60), t = 0; x <= la + ls + Math.Min(lc, 60); x += kmh / 3.6, t++)
            {
                var (lon, lat) = At(x);
                lon += random.NextDouble() * 6e-5 - 3e-5;
                lat += random.NextDouble() * 6e-5 - 3e-5;
                long time = s_start + (i * 6_000) + (long)(t * 1000);
                probes.Add((time, string.Create(CultureInfo.InvariantCulture,
                    $"{{\"vehicle_id\":\"粤B-Q{i:00}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7},\"speed_kmh\":{kmh}}}")));
            }
        }
        var (_, outDir) = await Replay(probes);
        var rows = Lines(Path.Combine(outDir, "segments.ndjson")).Where(r => r.GetProperty("edge").GetInt32() == stub).ToArray();
        Assert.True(rows.Length >= 3, $"{rows.Length} windows of the stub ({ls:F1} m) published");
        Assert.All(rows, r => Assert.InRange(r.GetProperty("speed_kmh").GetDouble(), kmh * 0.5, kmh * 1.5));
    }

    [Fact]
    public async Task A_crawl_reported_by_positions_only_units_every_second_reads_the_crawl()
    {
        // The hand-written jam on 高新南一道 with positions only, a fix a second from 3 m units: at 5 km/h its segments read
        // 23-71 km/h, level 1, and no congestion was raised (at a fix every 5 s, 7-8 km/h and congestion). A step slower
        // than the standing speed was dropped as standing, and a crawling car's steps are mostly such: its match held still
        // for a few seconds, then moved on in one step, which alone was kept.
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        const double kmh = 5;
        var random = new Random(11);
        var probes = new List<(long, string)>();
        for (int i = 0; i < 12; i++)
        {
            for (int t = 0; t <= 600; t++)
            {
                var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), 5 + (kmh / 3.6 * t)));
                lon += random.NextDouble() * 6e-5 - 3e-5;
                lat += random.NextDouble() * 6e-5 - 3e-5;
                long time = s_start + (i * 10_000) + (t * 1000L);
                probes.Add((time, string.Create(CultureInfo.InvariantCulture,
                    $"{{\"vehicle_id\":\"粤B-P{i:00}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7}}}")));
            }
        }
        var (_, outDir) = await Replay(probes);
        var rows = Lines(Path.Combine(outDir, "segments.ndjson")).Where(r => r.GetProperty("edge").GetInt32() == edge).ToArray();
        Assert.True(rows.Length >= 5, $"{rows.Length} windows of the road published");
        Assert.All(rows, r => Assert.InRange(r.GetProperty("speed_kmh").GetDouble(), kmh * 0.6, kmh * 1.6));
        Assert.Contains(Lines(Path.Combine(outDir, "alerts.ndjson")), a => a.GetProperty("kind").GetString() == "congestion");
    }

    /// <summary>A named road's edge of 60 m or more, the edge under 15 m it leads into, and the edge of 60 m or more that one leads into.</summary>
    private static (int A, int Stub, int C) RoadStubRoad(RoadNetwork net)
    {
        for (int a = 0; a < net.EdgeCount; a++)
        {
            if (net.NameIndex(a) == 0 || net.LengthM(a) < 60) continue;
            foreach (int s in Out(net, a))
            {
                if (net.LengthM(s) >= 15 || net.LengthM(s) < 5) continue;
                foreach (int c in Out(net, s))
                {
                    if (c != a && net.LengthM(c) >= 60) return (a, s, c);
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

    /// <summary>
    /// A car in a queue that stands for 20 s (its unit reporting 0) and moves on at 6 km/h for 20 s, over and over, and a
    /// taxi standing where it waits, its unit's speed jittering round 0 (up to 3 km/h) and its fixes round where it stands.
    /// </summary>
    private static IEnumerable<(long Time, string Line)> Queue(RoadNetwork net, int edge, string id, double startM, bool moves, int seed)
    {
        var random = new Random(seed);
        double along = startM;
        for (int t = 0; t <= 900; t++)
        {
            bool going = moves && t % 40 >= 20;
            if (going) along += 6 / 3.6;
            double speed = going ? 6 : moves ? 0 : Math.Round(Math.Abs(random.NextDouble() * 3), 1);
            var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), along));
            (lon, lat) = GpsNoise.Scatter(lon, lat, 3, random);
            long time = s_start + (t * 1000L);
            yield return (time, string.Create(CultureInfo.InvariantCulture,
                $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7},\"speed_kmh\":{speed}}}"));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_queue_stopping_and_going_raises_congestion_and_taxis_standing_at_a_rank_raise_none(bool queue)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        // Eight cars 40 m apart: a queue moving 3 km/h on average, half of it standing; or eight taxis waiting in line.
        var probes = Enumerable.Range(0, 8).SelectMany(i => Queue(net, edge, $"粤B-Q{i:00}", 20 + (i * 40), queue, i));
        var (_, outDir) = await Replay(probes);

        var rows = Lines(Path.Combine(outDir, "segments.ndjson")).Where(r => r.GetProperty("edge").GetInt32() == edge).ToArray();
        var congestion = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("kind").GetString() == "congestion").ToArray();
        if (queue)
        {
            // A car moves 20 s or 40 s of a minute: in the windows of 20 s (33 m) it is left out, so every other one publishes.
            Assert.True(rows.Length >= 6, $"{rows.Length} windows of the queue's road published");
            Assert.All(rows, r => Assert.Equal(5, r.GetProperty("level").GetInt32()));
            Assert.Contains(congestion, a => a.GetProperty("state").GetString() == "open");
        }
        else
        {
            Assert.Empty(rows);
            Assert.Empty(congestion);
        }
    }

    /// <summary>A taxi whose unit reports positions only, every second, each fix <paramref name="sigmaM"/> off where it stands, or drives.</summary>
    private static IEnumerable<(long Time, string Line)> NoisyTaxi(RoadNetwork net, int edge, string id, double startM, double kmh, double sigmaM, double seconds, int seed)
    {
        var random = new Random(seed);
        for (int t = 0; t <= seconds; t++)
        {
            var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), startM + (kmh / 3.6 * t)));
            (lon, lat) = GpsNoise.Scatter(lon, lat, sigmaM, random);
            long time = s_start + (t * 1000L);
            yield return (time, string.Create(CultureInfo.InvariantCulture,
                $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7},\"class\":\"taxi\"}}"));
        }
    }

    [Theory]
    [InlineData(20)]
    [InlineData(30)]
    public async Task Taxis_standing_at_a_rank_whose_units_scatter_far_publish_no_segment_speeds_and_the_same_units_driving_do(double sigmaM)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        // Six taxis wait 20 minutes, 8 m apart; their units (positions only) scatter 20–30 m, beyond where the matcher holds a
        // standing unit's fixes as one, so each step read as driving: 41–62 rows at up to 149 km/h before. Their stops, as
        // the fixes show them, now keep those steps out once they have lasted two minutes.
        var standing = Enumerable.Range(0, 6).SelectMany(i => NoisyTaxi(net, edge, $"粤B-RANK{i:00}", 100 + (i * 8), 0, sigmaM, 1200, i));
        var (_, outDir) = await Replay(standing);
        var rows = Lines(Path.Combine(outDir, "segments.ndjson"));
        Assert.True(rows.Length <= 16, $"{rows.Length} segment rows from taxis standing at a rank");
        Assert.All(rows, r => Assert.True(r.GetProperty("window_start").GetString()!.CompareTo("2026-03-02T01:06") < 0, $"a row at {r.GetProperty("window_start")}, after the stops were known"));

        // The same units driving the road at 30 km/h, 20 s apart: their steps go on to the segments.
        var driving = Enumerable.Range(0, 6).SelectMany(i => NoisyTaxi(net, edge, $"粤B-DRIVE{i:00}", 5, 30, sigmaM, 100, i).Select(p => (p.Time + (i * 20_000L), p.Line.Replace($"\"time\":{p.Time}", $"\"time\":{p.Time + (i * 20_000L)}", StringComparison.Ordinal))));
        var (_, outDriving) = await Replay(driving);
        Assert.Contains(Lines(Path.Combine(outDriving, "segments.ndjson")), r => r.GetProperty("edge").GetInt32() == edge);
    }

    [Fact]
    public async Task A_unit_that_loses_its_fix_is_not_matched_until_it_has_one_again_and_no_speed_is_read_from_its_repeats()
    {
        // Positions only, a fix every 15 s, at 0.9 times the limit; for 45 s the unit has no fix and repeats its last
        // position. Taken as positions, the repeats made the car stand, then drive 45 s of road in one 15-s step: 1.8
        // times the limit read from positions, a speeding alert, and its segments' speeds doubled.
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double kmh = net.SpeedLimitKmh(edge) * 0.9;
        var probes = new List<(long Time, string Line)>();
        (double Lon, double Lat) last = default;
        for (int k = 0; 5 + (kmh / 3.6 * 15 * k) <= net.LengthM(edge); k++)
        {
            bool fix = k is < 2 or > 4;
            if (fix) last = net.PointAt(edge, 5 + (kmh / 3.6 * 15 * k));
            long time = s_start + (k * 15_000L);
            probes.Add((time, string.Create(CultureInfo.InvariantCulture,
                $"{{\"vehicle_id\":\"粤B-NOFIX\",\"time\":{time},\"lon\":{last.Lon:F7},\"lat\":{last.Lat:F7},\"fix\":{(fix ? "true" : "false")}}}")));
        }
        Assert.True(probes.Count >= 8, "the road is long enough for fixes after the loss");
        var (summary, outDir) = await Replay(probes);

        Assert.Equal((3L, probes.Count - 3L), (summary.NoFix, summary.Matched));
        Assert.DoesNotContain(Lines(Path.Combine(outDir, "alerts.ndjson")), a => a.GetProperty("kind").GetString() == "speeding");
    }

    [Fact]
    public async Task A_speeder_whose_trace_ends_while_speeding_has_its_alert_closed_once_it_has_been_silent_five_minutes()
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double limit = net.SpeedLimitKmh(edge);
        // A speeder for 40 s, then nothing; a car driving on at the limit for ten minutes more, then nothing.
        var speeder = Drive(net, edge, "粤B-FAST1", limit * 1.5, s_start, 1, 40).ToList();
        var probes = speeder.Concat(Drive(net, edge, "粤B-SLOW1", limit * 0.6, s_start, 5, 600));
        var (_, outDir) = await Replay(probes);

        var alerts = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("kind").GetString() == "speeding").ToArray();
        Assert.Equal(["open", "close"], alerts.Select(a => a.GetProperty("state").GetString()));
        Assert.All(alerts, a => Assert.Equal("粤B-FAST1", a.GetProperty("vehicle_id").GetString()));
        long last = speeder[^1].Time;
        Assert.Equal(last, DateTimeOffset.Parse(alerts[1].GetProperty("end").GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        long closedAt = DateTimeOffset.Parse(alerts[1].GetProperty("time").GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        Assert.InRange(closedAt - last, 300_000, 600_000);
    }

    [Fact]
    public async Task A_replay_into_the_folder_of_an_earlier_one_leaves_none_of_its_rolling_files()
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        string dir = TestDirectory.New("crafted");
        string outDir = Path.Combine(dir, "out");
        // What a longer run with two vehicle shards left behind.
        foreach (string stale in new[] { "matched/shard-0/matched-000007.arrow", "matched/shard-1/matched-000001.arrow", "segments/segments-000003.arrow", "alerts/alerts-000002.arrow" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(outDir, stale))!);
            File.WriteAllText(Path.Combine(outDir, stale), "stale");
        }
        File.WriteAllText(Path.Combine(outDir, "alerts", "notes.txt"), "the user's own");   // not the run's: kept
        string input = Path.Combine(dir, "probes.ndjson");
        File.WriteAllLines(input, Drive(net, edge, "粤B-ONE01", 30, s_start, 5, 120).Select(p => p.Line));
        await new ReplayEngine(SimRun.Shenzhen, null, null, new VehicleIds(), new ReplayOptions { VehicleShards = 1 }).RunAsync(input, outDir);
        Assert.True(File.Exists(Path.Combine(outDir, "alerts", "notes.txt")));

        var arrow = Directory.GetFiles(outDir, "*.arrow", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/')).Order().ToArray();
        Assert.Equal(["alerts/alerts-000001.arrow", "matched/shard-0/matched-000001.arrow", "segments/segments-000001.arrow"], arrow.Where(f => !f.StartsWith("segments-5m", StringComparison.Ordinal)));
    }

    /// <summary>Fails on the first alert of one kind, on whichever shard raises it.</summary>
    private sealed class FailingObserver(string kind) : IReplayObserver
    {
        public void ProbeRead(in Probe probe, in RecordSource source) { }

        public void AlertRaised(Traffic.Engine.Alerts.AlertEvent alert, long record)
        {
            if (alert.Kind == kind) throw new InvalidOperationException($"failed on {kind}");
        }
    }

    [Theory]
    [InlineData("congestion")]   // a segment shard fails: the vehicle shards sending to it stop, then the reader
    [InlineData("speeding")]     // a vehicle shard fails: the reader sending to it stops
    public async Task A_stage_that_fails_ends_the_replay_with_its_own_exception_not_the_stop_of_those_feeding_it(string kind)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        var probes = Enumerable.Range(0, 6).SelectMany(i => Drive(net, edge, $"粤B-JAM{i:00}", 8, s_start + (i * 7_000), 1, 600))
            .Concat(Drive(net, edge, "粤B-FAST", 150, s_start + 300_000, 1, 20));
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Replay(probes, new FailingObserver(kind)));
        Assert.Equal($"failed on {kind}", failure.Message);
    }

    [Fact]
    public async Task A_unit_silent_while_driving_raises_signal_lost_in_a_small_input_and_a_trace_that_ends_raises_none()
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        // Two cars report every 5 s for 32 minutes, a third stops reporting after one minute while driving: 928 probes,
        // fewer than the 1,024 the watermark once waited for, so event time alone must move it. A fourth stops after
        // eight minutes, 24 before the file ends: until it comes back that is a trace that ended, not a lost unit.
        var probes = Drive(net, edge, "粤B-A0001", 15, s_start, 5, 1920)
            .Concat(Drive(net, edge, "粤B-A0002", 15, s_start + 500, 5, 1920))
            .Concat(Drive(net, edge, "粤B-GONE1", 15, s_start + 200, 1, 60))
            .Concat(Drive(net, edge, "粤B-ENDS1", 15, s_start + 300, 5, 480)).ToArray();
        Assert.True(probes.Length < 1024);
        var (_, outDir) = await Replay(probes);

        var lost = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("kind").GetString() == "signal_lost").ToArray();
        var open = Assert.Single(lost, a => a.GetProperty("state").GetString() == "open");
        Assert.Equal("粤B-GONE1", open.GetProperty("vehicle_id").GetString());
        Assert.All(lost, a => Assert.Equal("粤B-GONE1", a.GetProperty("vehicle_id").GetString()));
    }

    /// <summary>
    /// Positions only (no speed, no heading): a vehicle driving the edge at <paramref name="kmh"/> for 60 s, standing 90 s,
    /// and so on for 15 minutes, its fixes off by N(0, σ) per axis; it stands at the edge's end once it gets there.
    /// </summary>
    private static IEnumerable<(long Time, string Line)> StopAndGo(RoadNetwork net, int edge, string id, double kmh, long startMs, double stepS, double sigmaM, int seed)
    {
        var random = new Random(seed);
        double along = 5;
        for (double t = 0; t <= 900; t += stepS)
        {
            if (t % 150 < 60) along += kmh / 3.6 * stepS;
            var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), along));
            (lon, lat) = GpsNoise.Scatter(lon, lat, sigmaM, random);
            long time = startMs + (long)(t * 1000);
            yield return (time, string.Create(CultureInfo.InvariantCulture, $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7}}}"));
        }
    }

    [Theory]
    [InlineData(1, 15)]
    [InlineData(2, 10)]
    [InlineData(5, 10)]
    public async Task Cars_stopping_and_going_whose_units_report_positions_only_raise_no_speeding_nor_wrong_way_and_a_speeder_does(double stepS, double sigmaM)
    {
        // Four cars at 90 % of the limit, stopping every minute for a minute and a half, from noisy units that report
        // positions only, and a car at 160 %: speeds from positions are judged by their lower bound, so the near miss
        // raises nothing and the speeder is caught; standing cars' scattered fixes make no course, so no wrong way.
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double limit = net.SpeedLimitKmh(edge);
        var probes = Enumerable.Range(0, 4).SelectMany(i => StopAndGo(net, edge, $"粤B-C{i}", 0.9 * limit, s_start + (i * 7000), stepS, sigmaM, i))
            .Concat(StopAndGo(net, edge, "粤B-FAST", 1.6 * limit, s_start + 3000, stepS, sigmaM, 9)).ToArray();
        var (_, outDir) = await Replay(probes);

        var opened = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("state").GetString() == "open")
            .Select(a => (Kind: a.GetProperty("kind").GetString(), Vehicle: a.GetProperty("vehicle_id").GetString())).ToArray();
        Assert.DoesNotContain(opened, a => a.Vehicle!.StartsWith("粤B-C", StringComparison.Ordinal));
        Assert.Contains(("speeding", "粤B-FAST"), opened);
    }

    /// <summary>
    /// A car driving to and fro along a two-way edge at <paramref name="kmh"/>, turning back at each end (a driver doing
    /// laps for hours, as a fatigue scenario has one do), a fix every <paramref name="stepS"/> from a unit σ off, positions only.
    /// </summary>
    private static IEnumerable<(long Time, string Line)> ToAndFro(RoadNetwork net, int edge, string id, double kmh, long startMs, double stepS,
        double sigmaM, double seconds, int seed)
    {
        var random = new Random(seed);
        double length = net.LengthM(edge) - 10;
        for (double t = 0; t <= seconds; t += stepS)
        {
            double along = (kmh / 3.6 * t) % (2 * length);
            var (lon, lat) = net.PointAt(edge, 5 + (along <= length ? along : (2 * length) - along));
            (lon, lat) = GpsNoise.Scatter(lon, lat, sigmaM, random);
            long time = startMs + (long)(t * 1000);
            yield return (time, string.Create(CultureInfo.InvariantCulture,
                $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7}}}"));
        }
    }

    [Fact]
    public async Task Cars_turning_back_at_the_ends_of_a_road_from_positions_only_raise_no_speeding_and_a_speeder_there_does()
    {
        // Sixteen cars at 85 % of the limit doing laps of a two-way road for an hour, turning back at its ends, 8 m units
        // every 10 s. At a U-turn the fixes run on past where the car turned, and the match turned at the node beyond:
        // before, the step read 63 km/h on a road of 40 (176 m where the fixes lay 118 m apart and the car drove 97) and
        // opened speeding. The step that turns back now counts the line between its fixes.
        var net = SimRun.Shenzhen;
        int edge = Enumerable.Range(0, net.EdgeCount).Where(e => net.Twin(e) >= 0 && net.SpeedLimitKmh(e) >= 40).MaxBy(net.LengthM);
        double limit = net.SpeedLimitKmh(edge);
        var probes = Enumerable.Range(0, 16).SelectMany(i => ToAndFro(net, edge, $"粤B-LAP{i}", 0.85 * limit, s_start + (i * 37_000), 10, 8, 3600, i))
            .Concat(ToAndFro(net, edge, "粤B-FAST", 1.6 * limit, s_start + 3000, 10, 8, 600, 9)).ToArray();
        var (_, outDir) = await Replay(probes);

        var opened = Lines(Path.Combine(outDir, "alerts.ndjson")).Where(a => a.GetProperty("state").GetString() == "open")
            .Select(a => (Kind: a.GetProperty("kind").GetString(), Vehicle: a.GetProperty("vehicle_id").GetString())).ToArray();
        Assert.DoesNotContain(opened, a => a.Kind == "speeding" && a.Vehicle!.StartsWith("粤B-LAP", StringComparison.Ordinal));
        Assert.Contains(("speeding", "粤B-FAST"), opened);
    }

    /// <summary>
    /// A taxi of a hand-written scenario (positions every 5 s from a 5 m unit, about 54 km/h on a 60 km/h road) two of
    /// whose fixes jump about 250 and 140 m from the fix before; at the second the match left its road, and the stretch
    /// through it was judged against a limit of 34 km/h along the route matched.
    /// </summary>
    private static readonly (long T, double Lon, double Lat)[] s_strayingTaxi =
    [
        (120000, 113.9285464, 22.554756),
        (125000, 113.9285161, 22.5540703),
        (130000, 113.9285727, 22.5533398),
        (135000, 113.9286963, 22.5526844),
        (140000, 113.9286256, 22.552036),
        (145000, 113.9287104, 22.5513278),
        (150000, 113.9287111, 22.5506114),
        (155000, 113.9286733, 22.5499612),
        (160000, 113.92747926822017, 22.551891681965454),
        (165000, 113.9283209, 22.5486542),
        (170000, 113.9281199, 22.5480248),
        (175000, 113.9278394, 22.547361),
        (180000, 113.9275399, 22.5468137),
        (185000, 113.9272921, 22.5461452),
        (190000, 113.9270398, 22.5454457),
        (195000, 113.9269152, 22.5447725),
        (200000, 113.92584370246315, 22.545556588356924),
        (205000, 113.926817, 22.5435586),
        (210000, 113.9269457, 22.5428342),
        (215000, 113.9269628, 22.5421976),
        (220000, 113.9270146, 22.5414893),
        (225000, 113.926961, 22.5407985),
        (230000, 113.9269695, 22.5401496),
        (235000, 113.9270099, 22.5395258),
        (240000, 113.926955, 22.5387541),
    ];

    [Fact]
    public async Task A_speeder_reporting_positions_for_15_s_is_caught_and_a_taxi_with_fixes_far_off_its_road_is_not()
    {
        // Positions every 5 s for 15 s at 1.3 times the limit: two speeds from positions over it (at 10 and 15 s; at 5 s
        // the lower bound of a speed over 5 s from a unit of unknown error, 20 km/h less, is not), each the mean of the
        // drive so far. The two came 5 s apart, not the 10 s asked, so there was no alert; the second is the mean of 15 s,
        // over the limit on average for all of them. The near misses: a taxi at 90 % of the limit, and the straying taxi,
        // whose stretches through its second jump read over the limit twice in a row (56 km/h against 34, then 214 km/h
        // over the 5 s left of a stretch whose route failed the test).
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double limit = net.SpeedLimitKmh(edge);
        var straying = s_strayingTaxi.Select(f => (s_start + f.T, string.Create(CultureInfo.InvariantCulture,
            $"{{\"vehicle_id\":\"粤B-STRAY\",\"time\":{s_start + f.T},\"lon\":{f.Lon},\"lat\":{f.Lat},\"class\":\"taxi\"}}")));
        Assert.Equal(80, limit);
        var probes = Drive(net, edge, "粤B-FAST", 1.3 * limit, s_start, 5, 15, reportSpeed: false)
            .Concat(Drive(net, edge, "粤B-CALM", 0.9 * limit, s_start + 60_000, 5, 20, reportSpeed: false)).Concat(straying);
        var (_, outDir) = await Replay(probes);
        var speeders = Lines(Path.Combine(outDir, "alerts.ndjson"))
            .Where(a => a.GetProperty("kind").GetString() == "speeding" && a.GetProperty("state").GetString() == "open").ToArray();
        Assert.Equal(["粤B-FAST"], speeders.Select(a => a.GetProperty("vehicle_id").GetString()));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(s_start), DateTimeOffset.Parse(speeders[0].GetProperty("start").GetString()!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_repeated_and_an_out_of_order_probe_go_to_the_late_output_with_their_reasons()
    {
        // A unit sends one report twice and one 5 s behind the one before it: neither can be matched, and neither vanishes.
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        var probes = Drive(net, edge, "粤B-R0001", 30, s_start, 5, 120).ToList();
        probes.Insert(4, probes[3]);
        probes.Insert(9, probes[6]);
        var (summary, outDir) = await ReplayAsListed(probes, InputOrder.File);

        Assert.Equal(2, summary.Refused);
        var late = Lines(Path.Combine(outDir, "late.ndjson"));
        Assert.Equal(["duplicate", "out_of_order"], late.Select(l => l.GetProperty("reason").GetString()));
        Assert.Equal([5L, 10L], late.Select(l => l.GetProperty("record").GetInt64()));
        Assert.All(late, l => Assert.Equal("粤B-R0001", l.GetProperty("vehicle_id").GetString()));
    }

    /// <summary>Cars <paramref name="prefix"/>0, 1, … at 30 km/h along one road for 10 minutes, starting apart, in time order.</summary>
    private static List<(long Time, string Line)> Cars(string prefix, int n, long apartMs, double stepS)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        return [.. Enumerable.Range(0, n).SelectMany(i => Drive(net, edge, $"{prefix}{i}", 30, s_start + (i * apartMs), stepS, 600)).OrderBy(p => p.Time)];
    }

    /// <summary>A probe line with its time 8 hours on (a terminal writing China's local time as UTC).</summary>
    private static (long Time, string Line) EightHoursAhead((long Time, string Line) p)
    {
        long ahead = p.Time + (8 * 3_600_000L);
        return (ahead, p.Line.Replace($"\"time\":{p.Time}", $"\"time\":{ahead}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task One_unit_whose_clock_runs_eight_hours_ahead_does_not_make_the_others_late()
    {
        // Four cars report every 5 s for 10 minutes, in time order; one report of the second car, three quarters of the
        // way through, carries a time 8 hours ahead (a terminal writing China's local time as UTC). Within a day of the
        // newest time it is accepted; it must not carry the watermark 8 hours on and leave every later report late.
        var probes = Cars("粤B-CLK0", 4, 1_000, 5);
        int at = probes.FindIndex(p => p.Line.Contains("粤B-CLK01", StringComparison.Ordinal) && p.Time >= s_start + 450_000);
        probes[at] = EightHoursAhead(probes[at]);
        var (summary, outDir) = await ReplayAsListed(probes, InputOrder.Auto);

        Assert.False(summary.SortedByTime);
        Assert.Equal(0, summary.Late);
        Assert.Equal(summary.Read, summary.Accepted);
        // The other three cars' reports are every one matched; of the second car's, those behind its own jump are refused
        // as out of order (its own track), each with its reason, not lost.
        Assert.Equal(summary.Read - summary.Refused, summary.Matched + summary.Unmatched);
        Assert.All(File.ReadLines(Path.Combine(outDir, "late.ndjson")).Select(l => JsonDocument.Parse(l).RootElement),
            l => Assert.Equal("粤B-CLK01", l.GetProperty("vehicle_id").GetString()));
        Assert.DoesNotContain(Lines(Path.Combine(outDir, "alerts.ndjson")),
            a => a.TryGetProperty("vehicle_id", out var v) && v.GetString() != "粤B-CLK01");
    }

    [Fact]
    public async Task A_file_whose_first_line_comes_from_a_unit_eight_hours_ahead_is_not_left_late()
    {
        // Eight cars reporting every 2 s, the file kept in its order, and a unit ahead is the very first line: nothing
        // before it to hold it apart from. It must not start the watermark 8 hours on and leave the whole file late.
        var probes = Cars("粤B-CLK1", 8, 200, 2);
        var first = EightHoursAhead(probes[0]);
        probes.Insert(0, (first.Time, first.Line.Replace("粤B-CLK10", "粤B-CLK19", StringComparison.Ordinal)));
        var (summary, _) = await ReplayAsListed(probes, InputOrder.File);

        Assert.Equal(0, summary.Late);
        Assert.Equal(summary.Read, summary.Accepted);
        Assert.Equal(summary.Read, summary.Matched + summary.Unmatched);
    }

    [Fact]
    public async Task A_late_row_reads_back_as_the_probe_it_was_with_every_field_it_carried()
    {
        // A unit that reports every optional field sends one report twice and one behind its track: the late output must
        // hold them whole, so that they can be replayed or inspected as sent, not only their place and time.
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        var drive = Drive(net, edge, "粤B-F0001", 30, s_start, 5, 120)
            .Select(p => (p.Time, Line: p.Line.Replace("}", ",\"heading\":87.5,\"class\":\"truck\",\"hazmat\":\"2.1\",\"accuracy_m\":4.2,\"alarm\":2048,\"status\":3}", StringComparison.Ordinal)))
            .ToList();
        string duplicate = drive[3].Line;
        string behind = drive[8].Line.Replace($"\"time\":{drive[8].Time}", $"\"time\":{drive[6].Time}", StringComparison.Ordinal)
            .Replace("\"status\":3", "\"status\":1,\"speed_kmh\":31.5", StringComparison.Ordinal).Replace(",\"speed_kmh\":30,", ",", StringComparison.Ordinal);
        var probes = drive.Take(4).Append((drive[3].Time, Line: duplicate)).Concat(drive.Skip(4).Take(5))
            .Append((drive[6].Time, Line: behind)).Concat(drive.Skip(9)).ToList();
        var (summary, outDir) = await ReplayAsListed(probes, InputOrder.File);

        Assert.Equal(2, summary.Refused);
        string[] late = [.. File.ReadLines(Path.Combine(outDir, "late.ndjson"))];
        Assert.Equal(2, late.Length);
        string[] sent = [duplicate, behind];
        for (int i = 0; i < late.Length; i++)
        {
            var decoder = new ProbeJsonDecoder(new VehicleIds());
            Assert.True(decoder.TryDecode(Encoding.UTF8.GetBytes(sent[i]), out Probe expected, out _));
            Assert.True(decoder.TryDecode(Encoding.UTF8.GetBytes(late[i]), out Probe got, out var error), error.ToString());
            Assert.Equal(expected, got);
        }
        Assert.Contains("\"speed_kmh\":31.5", late[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_of_traces_one_after_another_is_replayed_in_time_order_unless_told_to_keep_the_file_order()
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double limit = net.SpeedLimitKmh(edge);
        // Written vehicle by vehicle, as a scenario often is: every trace after the first lies behind the watermark.
        var probes = Drive(net, edge, "粤B-CALM1", limit * 0.8, s_start, 2, 120)
            .Concat(Drive(net, edge, "粤B-FAST1", limit * 1.5, s_start + 1_000, 2, 60))
            .Concat(Drive(net, edge, "粤B-CALM2", limit * 0.8, s_start + 2_000, 2, 120)).ToArray();

        var (auto, autoOut) = await ReplayAsListed(probes, InputOrder.Auto);
        Assert.True(auto.SortedByTime);
        Assert.True(auto.LateInFileOrder > auto.Read / 10, $"{auto.LateInFileOrder} of {auto.Read} late as listed"); // 75 of 153
        Assert.Equal(0, auto.Late);
        Assert.Equal(auto.Read, auto.Matched);
        var speeding = Lines(Path.Combine(autoOut, "alerts.ndjson")).Where(a => a.GetProperty("kind").GetString() == "speeding").ToArray();
        Assert.NotEmpty(speeding);
        Assert.All(speeding, a => Assert.Equal("粤B-FAST1", a.GetProperty("vehicle_id").GetString()));
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(autoOut, "summary.json"))))
            Assert.Equal(auto.LateInFileOrder, summary.RootElement.GetProperty("late_in_file_order").GetInt64());

        // Kept in file order, the later traces are late: counted, written to late.ndjson, and not matched.
        var (asListed, listedOut) = await ReplayAsListed(probes, InputOrder.File);
        Assert.False(asListed.SortedByTime);
        Assert.Equal(auto.LateInFileOrder, asListed.Late);
        Assert.Equal(asListed.Late, File.ReadLines(Path.Combine(listedOut, "late.ndjson")).Count());
        Assert.DoesNotContain(Lines(Path.Combine(listedOut, "alerts.ndjson")), a => a.GetProperty("kind").GetString() == "speeding");

        // A file in time order is replayed as a stream, once.
        var (inOrder, _) = await ReplayAsListed(probes.OrderBy(p => p.Time), InputOrder.Auto);
        Assert.False(inOrder.SortedByTime);
        Assert.Equal(0, inOrder.LateInFileOrder);
    }
}
