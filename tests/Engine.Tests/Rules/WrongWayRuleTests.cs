using Traffic.Engine.Alerts;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Rules;

public class WrongWayRuleTests
{
    private static readonly Lazy<EdgeIndex> s_index = new(() => new EdgeIndex(SimRun.Shenzhen));
    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>A one-way street (no twin) of 150 m or more with no road near its middle running the other way.</summary>
    private static int OneWayStreet()
    {
        var net = SimRun.Shenzhen;
        var near = new EdgeCandidate[16];
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.Twin(e) >= 0 || !net.IsOneWay(e) || net.LengthM(e) < 150) continue;
            if (net.Class(e) is not (RoadClass.Tertiary or RoadClass.Residential or RoadClass.Unclassified or RoadClass.Secondary)) continue;
            double reverse = (net.BearingAt(e, net.LengthM(e) / 2) + 180) % 360;
            var (lon, lat) = net.PointAt(e, net.LengthM(e) / 2);
            int n = s_index.Value.Within(lon, lat, 40, near);
            bool clear = true;
            for (int i = 0; i < n; i++)
            {
                if (GeoMath.BearingDifference(reverse, net.BearingAt(near[i].Edge, near[i].OffsetM)) <= 60) clear = false;
            }
            if (clear) return e;
        }
        throw new InvalidOperationException("no suitable one-way street in the network");
    }

    private static List<AlertEvent> Drive(bool against, bool reportHeading) => DriveStreet(against, reportHeading, leave: true).Alerts;

    /// <summary>
    /// A car along the one-way street (against it when asked) at 29 km/h, a fix a second; then, when asked, far away and
    /// standing for 15 s, so that an alert closes. Returns its alerts, the rule and its last fix's time.
    /// </summary>
    /// <remarks>From <paramref name="startMs"/> (default: the tests' start), by a rule given or a new one.</remarks>
    private static (List<AlertEvent> Alerts, WrongWayRule Rule, long LastMs) DriveStreet(bool against, bool reportHeading, bool leave,
        long? startMs = null, WrongWayRule? given = null, VehicleIds? givenIds = null)
    {
        var net = SimRun.Shenzhen;
        int edge = OneWayStreet();
        var ids = givenIds ?? new VehicleIds();
        int v = ids.Intern("琼W1".AsSpan());
        var rule = given ?? new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        double len = net.LengthM(edge);
        int i = 0;
        long last = 0, t0 = startMs ?? s_t0;
        for (double x = 5; x < len - 5; x += 8, i++)
        {
            double offset = against ? len - x : x; // 8 m every 1 s ≈ 29 km/h
            var (lon, lat) = net.PointAt(edge, offset);
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = last = t0 + (i * 1000);
            p.Lon = lon;
            p.Lat = lat;
            p.SpeedKmh = 29;
            if (reportHeading) p.Heading = (float)((net.BearingAt(edge, offset) + (against ? 180 : 0)) % 360);
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        // Then the vehicle leaves the street: far away and quiet, so the alert closes.
        for (int k = 0; leave && k < 35; k++, i++)
        {
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = last = t0 + (i * 1000);
            p.Lon = 0.5;
            p.Lat = 0.5;
            p.SpeedKmh = 0;
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        return (alerts, rule, last);
    }

    /// <summary>
    /// One carriageway of a dual carriageway: a one-way edge of 200 m or more whose middle has the other carriageway,
    /// running the other way, 15–30 m off, and nothing running that way nearer.
    /// </summary>
    private static (int Edge, double OtherM, double OtherLon, double OtherLat) Carriageway()
    {
        var net = SimRun.Shenzhen;
        var near = new EdgeCandidate[16];
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.Twin(e) >= 0 || !net.IsOneWay(e) || net.LengthM(e) < 200) continue;
            double reverse = (net.BearingAt(e, net.LengthM(e) / 2) + 180) % 360;
            var (lon, lat) = net.PointAt(e, net.LengthM(e) / 2);
            int n = s_index.Value.Within(lon, lat, 40, near);
            double other = double.PositiveInfinity, otherLon = 0, otherLat = 0;
            for (int i = 0; i < n; i++)
            {
                if (GeoMath.BearingDifference(reverse, net.BearingAt(near[i].Edge, near[i].OffsetM)) <= 45 && near[i].DistanceM < other)
                    (other, otherLon, otherLat) = (near[i].DistanceM, near[i].Lon, near[i].Lat);
            }
            if (other is >= 15 and <= 30) return (e, other, otherLon, otherLat);
        }
        throw new InvalidOperationException("no dual carriageway in the network");
    }

    /// <summary>Fixes every 2 s at 35 km/h along an edge (against its direction when asked), each off by N(0, σ) per axis.</summary>
    private static List<AlertEvent> DriveEdge(WrongWayRule rule, VehicleIds ids, string name, int edge, bool against, double sigmaM, Random random)
    {
        var net = SimRun.Shenzhen;
        int v = ids.Intern(name.AsSpan());
        var alerts = new List<AlertEvent>();
        double len = net.LengthM(edge), step = 35 / 3.6 * 2;
        int i = 0;
        for (double x = 5; x < len - 5; x += step, i++)
        {
            var (lon, lat) = net.PointAt(edge, against ? len - x : x);
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = s_t0 + (i * 2000);
            (p.Lon, p.Lat) = GpsNoise.Scatter(lon, lat, sigmaM, random);
            p.SpeedKmh = 35;
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        return alerts;
    }

    [Theory]
    [InlineData(5, 1)]
    [InlineData(10, 1)]
    [InlineData(10, 5)]
    public void A_car_standing_on_a_one_way_street_whose_unit_reports_positions_only_raises_nothing(double sigmaM, int everyS)
    {
        // Fixes scattered round where it stands, no speed nor heading: two of them 15 m apart made a course, and the
        // course, reused for the fixes after, made it look as if it drove (wrong-way alerts at traffic lights).
        var net = SimRun.Shenzhen;
        int edge = OneWayStreet();
        var (lon0, lat0) = net.PointAt(edge, net.LengthM(edge) / 2);
        var ids = new VehicleIds();
        int v = ids.Intern("琼W4".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        var random = new Random(5);
        for (int i = 0; i < 3600 / everyS; i++)
        {
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = s_t0 + (i * everyS * 1000L);
            (p.Lon, p.Lat) = GpsNoise.Scatter(lon0, lat0, sigmaM, random);
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        Assert.Empty(alerts);
    }

    [Theory]
    [InlineData(0, 0.75)]
    [InlineData(3, 0.75)]
    [InlineData(5, 0.7)]
    [InlineData(10, 0.35)]
    public void Drives_against_most_one_way_roads_of_a_city_are_caught_and_drives_along_them_raise_nothing(double sigmaM, double floor)
    {
        // Every one-way road of Nanshan with 300 m or more in one edge (85), most of them one half of a dual carriageway:
        // a car drives each against its direction and another along it. Caught now: 69, 66, 64 and 36 at 0, 3, 5 and 10 m
        // of error; with each fix judged alone (the other half beyond 3.5 σ of the unit's error), 69, 64 and 46 at 0, 3
        // and 5 m; with 35 m of benefit of the doubt for every unit, 30, 30 and 28. The rest have the other half within
        // 10 m, a road that runs the wrong driver's way alongside, or too few fixes (15 on 300 m) to show the unit's error
        // before the road ends.
        var net = SimRun.Shenzhen;
        var roads = Enumerable.Range(0, net.EdgeCount).Where(e => net.Twin(e) < 0 && net.IsOneWay(e) && net.LengthM(e) >= 300).ToArray();
        var ids = new VehicleIds();
        var rule = new WrongWayRule(s_index.Value, ids);
        var random = new Random(11);
        int caught = 0, controls = 0;
        foreach (int e in roads)
        {
            if (DriveEdge(rule, ids, $"against-{e}", e, against: true, sigmaM, random).Any(a => a.State == AlertState.Open)) caught++;
            if (DriveEdge(rule, ids, $"along-{e}", e, against: false, sigmaM, random).Count > 0) controls++;
        }
        Assert.True(roads.Length >= 30, $"{roads.Length} roads");
        Assert.Equal(0, controls);
        Assert.True(caught >= floor * roads.Length, $"{caught} of {roads.Length} drives against a one-way road caught at {sigmaM} m");
    }

    [Theory]
    [InlineData(2, 0, true, true)]
    [InlineData(10, 0, true, true)]
    [InlineData(10, 0, false, false)]
    [InlineData(2, 0.6, false, false)]
    [InlineData(2, 0.75, false, false)]
    public void Driving_against_one_carriageway_is_wrong_way_from_fixes_that_tell_it_from_the_other(double sigmaM, double towardOther, bool against, bool raised)
    {
        // A car drives one half of a dual carriageway, the other half (which runs the other way) 15–30 m off, a fix a
        // second. Against it: a unit of 2 m error shows within ten fixes that each lies on the half it drives against; a
        // taxi's 10 m unit shows it only from its fixes together (their mean lies on that half, and 30 of them are good to
        // 2 m). Along it, legally: a 10 m unit raises nothing, nor does a unit whose error holds its fixes 60 % or 75 % of the
        // way towards the other half (a street canyon's multipath, a lane by the median), which makes them no more likely
        // there than a 2 m unit's scatter would, however many there are.
        var net = SimRun.Shenzhen;
        var (edge, otherM, otherLon, otherLat) = Carriageway();
        var ids = new VehicleIds();
        int v = ids.Intern("琼W3".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        var random = new Random(7);
        double len = net.LengthM(edge);
        var (midLon, midLat) = net.PointAt(edge, len / 2);
        int i = 0;
        for (double x = 5; x < len - 5; x += 8, i++)
        {
            double offset = against ? len - x : x;
            var (lon, lat) = net.PointAt(edge, offset);
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = s_t0 + (i * 1000);
            (p.Lon, p.Lat) = GpsNoise.Scatter(lon + (towardOther * (otherLon - midLon)), lat + (towardOther * (otherLat - midLat)), sigmaM, random);
            p.SpeedKmh = 29;
            p.Heading = (float)((net.BearingAt(edge, offset) + (against ? 180 : 0)) % 360);
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        Assert.True(i >= 24, $"{i} fixes on {len:F0} m (the other carriageway {otherM:F0} m off)");
        Assert.Equal(raised, alerts.Any(a => a.Kind == "wrong_way" && a.State == AlertState.Open));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Driving_against_a_one_way_street_opens_and_closes_one_alert(bool reportHeading)
    {
        var alerts = Drive(against: true, reportHeading);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.All(alerts, a => Assert.Equal("wrong_way", a.Kind));
        Assert.Equal(SimRun.Shenzhen.WayId(OneWayStreet()), alerts[0].WayId);
    }

    [Fact]
    public void A_drive_against_a_one_way_street_whose_unit_goes_silent_closes_after_five_minutes_of_watermark()
    {
        var (alerts, rule, last) = DriveStreet(against: true, reportHeading: false, leave: false);
        Assert.Equal([AlertState.Open], alerts.Select(a => a.State));
        rule.OnWatermark(last + 299_000, alerts);
        Assert.Single(alerts);
        rule.OnWatermark(last + 300_000, alerts);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal((last, last + 300_000, "car"), (alerts[1].EndMs, alerts[1].TimeMs, alerts[1].Class));
        Assert.Equal(alerts[0].AlertId, alerts[1].AlertId);
        rule.OnWatermark(last + 900_000, alerts);
        Assert.Equal(2, alerts.Count);
    }

    /// <summary>
    /// The state keeps its times as 32-bit offsets from a base of its own (CompactTimes): drives against the street 40 and
    /// 400 days apart, by the same rule and vehicle, raise what the same drives an hour apart raise, at the times of their
    /// own fixes to the millisecond.
    /// </summary>
    [Fact]
    public void Drives_against_a_one_way_street_months_apart_raise_what_drives_an_hour_apart_raise()
    {
        const long Day = 86_400_000;
        List<List<AlertEvent>> Run(long[] shifts)
        {
            var ids = new VehicleIds();
            WrongWayRule? rule = null;
            var drives = new List<List<AlertEvent>>();
            foreach (long shift in shifts)
            {
                var (alerts, r, _) = DriveStreet(against: true, reportHeading: false, leave: true, s_t0 + shift, rule, ids);
                rule = r;
                drives.Add(alerts);
            }
            return drives;
        }
        long[] apart = [0, 40 * Day, 400 * Day], near = [0, 3_600_000, 7_200_000];
        var far = Run(apart);
        var reference = Run(near);
        for (int k = 0; k < apart.Length; k++)
        {
            long d = apart[k] - near[k];
            Assert.Equal([AlertState.Open, AlertState.Close], far[k].Select(a => a.State));
            Assert.Equal(reference[k].Select(a => (a.AlertId.Replace($"{a.StartMs}", $"{a.StartMs + d}"), a.State, a.StartMs + d, a.EndMs + d, a.TimeMs + d)),
                far[k].Select(a => (a.AlertId, a.State, a.StartMs, a.EndMs, a.TimeMs)));
        }
    }

    [Fact]
    public void Driving_along_it_raises_nothing() => Assert.Empty(Drive(against: false, reportHeading: true));

    /// <summary>
    /// Fixes of a car driving against <see cref="OneWayStreet"/>, one every <paramref name="everyS"/> seconds and
    /// <paramref name="stepM"/> metres (at most <paramref name="count"/>), reporting <paramref name="kmh"/> and a heading
    /// against the street but for <paramref name="offBy"/>° more at the fixes <paramref name="off"/> picks; then, when
    /// <paramref name="gone"/>, fixes far away and standing, so that an open alert closes. The fixes sent count.
    /// </summary>
    private static int AgainstStreet(WrongWayRule rule, int vehicle, List<AlertEvent> alerts, int everyS, double stepM, float kmh,
        Func<int, bool> off, double offBy, int count = int.MaxValue, int gone = 0)
    {
        var net = SimRun.Shenzhen;
        int edge = OneWayStreet();
        double len = net.LengthM(edge);
        int k = 0;
        for (double x = 5; x < len - 5 && k < count; x += stepM, k++)
        {
            var (lon, lat) = net.PointAt(edge, len - x);
            var p = Probe.Empty;
            p.Vehicle = vehicle;
            p.TimeMs = s_t0 + (k * everyS * 1000L);
            p.Lon = lon;
            p.Lat = lat;
            p.SpeedKmh = kmh;
            p.Heading = (float)((net.BearingAt(edge, len - x) + 180 + (off(k) ? offBy : 0)) % 360);
            rule.OnProbe(p, VehicleClass.Car, 0, alerts);
        }
        int sent = k;
        var away = Probe.Empty;
        away.Vehicle = vehicle;
        away.Lon = 0.5;
        away.Lat = 0.5;
        away.SpeedKmh = 0;
        for (int j = 0; j < gone; j++, k++)
        {
            away.TimeMs = s_t0 + (k * everyS * 1000L);
            rule.OnProbe(away, VehicleClass.Car, 0, alerts);
        }
        return sent;
    }

    [Fact]
    public void One_fix_that_is_not_against_the_road_does_not_split_a_drive_against_it_in_two()
    {
        // Every 10 s against a one-way street (a unit reporting that sparsely, or positions only, whose course is had every
        // other fix), the third fix's heading 90° off (a bend, a junction): one alert. With 10 s between fixes, the one
        // fix not against the road held the condition false for the 10 s that close it, and the drive made two alerts.
        var ids = new VehicleIds();
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        int sent = AgainstStreet(rule, ids.Intern("琼W5".AsSpan()), alerts, everyS: 10, stepM: 30, kmh: 11, off: k => k == 2, offBy: -90);
        Assert.True(sent >= 5, $"{sent} fixes");
        Assert.Single(alerts, a => a.State == AlertState.Open);
    }

    [Fact]
    public void Twenty_five_seconds_of_fixes_off_the_road_s_direction_do_not_split_a_drive_against_it_in_two()
    {
        // Every 5 s against a one-way street, five fixes in a row (25 s) with a course 90° off it (fixes that stray at a
        // junction, a unit whose course lags): one alert, closed once the drive is over. Ten seconds of hysteresis split such
        // a drive in two.
        var ids = new VehicleIds();
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        int sent = AgainstStreet(rule, ids.Intern("琼W6".AsSpan()), alerts, everyS: 5, stepM: 10, kmh: 30, off: k => k is >= 5 and < 10, offBy: -90,
            count: 16, gone: 8);
        Assert.Equal(16, sent);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
    }

    /// <summary>A taxi's fixes every 15 s at the given shares of the one-way street's length, driving against it, then gone.</summary>
    private static List<AlertEvent> Fixes(params double[] shares)
    {
        var net = SimRun.Shenzhen;
        int edge = OneWayStreet();
        var ids = new VehicleIds();
        int v = ids.Intern("琼W2".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        long t = s_t0;
        foreach (double share in shares)
        {
            double offset = share * net.LengthM(edge);
            var (lon, lat) = net.PointAt(edge, offset);
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = t;
            p.Lon = lon;
            p.Lat = lat;
            p.SpeedKmh = 30;
            p.Heading = (float)((net.BearingAt(edge, offset) + 180) % 360);
            rule.OnProbe(p, VehicleClass.Taxi, 0, alerts);
            t += 15_000;
        }
        var away = Probe.Empty;
        away.Vehicle = v;
        away.Lon = 0.5;
        away.Lat = 0.5;
        away.SpeedKmh = 0;
        for (int k = 0; k < 4; k++, t += 15_000)
        {
            away.TimeMs = t;
            rule.OnProbe(away, VehicleClass.Taxi, 0, alerts);
        }
        return alerts;
    }

    // A simulated taxi (seed 23, a 10 m unit every 15 s, speed and heading reported) turns at 165 s against an unnamed
    // one-way road beside 深南大道 (way 183402036, bearing 87°) and drives it westwards for 600 m at 30 km/h, then stands.
    private static readonly (long Ms, double Lon, double Lat, float Speed, float Heading)[] s_unnamedDrive =
    [
        (0, 113.9520945, 22.5435165, 37.9f, 270.2f),
        (15000, 113.9509022, 22.5434794, 38.1f, 260.9f),
        (30000, 113.9491373, 22.5432345, 38f, 272f),
        (45000, 113.9491239, 22.5425087, 23.6f, 178f),
        (60000, 113.9487584, 22.5417732, 24.5f, 268.3f),
        (75000, 113.9478833, 22.5418685, 25.4f, 266.8f),
        (90000, 113.9466923, 22.5417447, 25.7f, 270f),
        (105000, 113.9457547, 22.5417033, 23.1f, 263.3f),
        (120000, 113.9449837, 22.541938, 25.2f, 359.9f),
        (135000, 113.9454997, 22.5428742, 26.1f, 79.4f),
        (150000, 113.9456977, 22.5427245, 31.3f, 267f),
        (165000, 113.9443839, 22.5427795, 28.4f, 268.9f),
        (180000, 113.9429802, 22.5427873, 30.4f, 266.7f),
        (195000, 113.941822, 22.5425985, 33f, 269.3f),
        (210000, 113.9407894, 22.5425775, 31.3f, 261.1f),
        (225000, 113.9395498, 22.5425047, 31.8f, 271.5f),
        (240000, 113.9380708, 22.5424795, 0f, 273.4f),
    ];

    [Fact]
    public void A_drive_against_an_unnamed_one_way_road_is_not_broken_by_a_fix_nearest_a_street_crossing_it()
    {
        // Its fixes lie nearest one unnamed one-way way, then another beside it, then (at 210 s) 科苑北路, which crosses the
        // course: that fix, amid the row against the road, is in doubt and does not end the row. Compared by name alone, two
        // unnamed ways were never the same road, the row ended there, and the drive raised nothing.
        var ids = new VehicleIds();
        int v = ids.Intern("琼AT00003".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        foreach (var (ms, lon, lat, speed, heading) in s_unnamedDrive)
        {
            var p = Probe.Empty;
            p.Vehicle = v;
            p.TimeMs = s_t0 + ms;
            p.Lon = lon;
            p.Lat = lat;
            p.SpeedKmh = speed;
            p.Heading = heading;
            rule.OnProbe(p, VehicleClass.Taxi, 0, alerts);
        }
        var open = Assert.Single(alerts, a => a.State == AlertState.Open);
        Assert.Equal("wrong_way", open.Kind);
        Assert.InRange(open.StartMs, s_t0 + 150_000, s_t0 + 225_000);
    }

    [Fact]
    public void Two_fixes_15_s_apart_against_a_one_way_street_raise_wrong_way()
    {
        // A taxi's unit reports every 15 s: two fixes against the street are the drive, from the first of them.
        var alerts = Fixes(0.8, 0.2);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal(s_t0, alerts[0].StartMs);
        // One fix is not enough.
        Assert.Empty(Fixes(0.5));
    }

    [Fact]
    public void A_winding_one_way_road_driven_along_raises_nothing_where_it_passes_the_fix_twice()
    {
        // A taxi of a simulated Monaco fleet on a one-way road that turns back on itself (way 55127391), every 15 s with its
        // reported course. At 00:17:11 its fix lies 18 m off its own leg, nearer the road's leg that runs the other way:
        // the nearest point of the road is on that leg, and the part it drives lies within reach too.
        var net = SimRun.Monaco;
        var index = new EdgeIndex(net);
        var ids = new VehicleIds();
        int v = ids.Intern("琼AT00021".AsSpan());
        var rule = new WrongWayRule(index, ids);
        var alerts = new List<AlertEvent>();
        foreach (var (time, lon, lat, speed, heading) in new (long, double, double, float, float)[]
        {
            (1767572171623, 7.3947018, 43.7201302, 20.1f, 99.1f),
            (1767572186623, 7.3961381, 43.7200134, 18f, 100.7f),
            (1767572201623, 7.3968453, 43.7201198, 20.1f, 89.9f),
            (1767572216623, 7.3978991, 43.7202877, 19.8f, 75.3f),
            (1767572231623, 7.3981079, 43.7201319, 19.9f, 256.1f),
            (1767572246623, 7.3974387, 43.7204898, 20.3f, 66.7f),
            (1767572261623, 7.3980946, 43.7209342, 20.2f, 291.4f),
        })
        {
            rule.OnProbe(Probe.Empty with { Vehicle = v, TimeMs = time, Lon = lon, Lat = lat, SpeedKmh = speed, Heading = heading }, VehicleClass.Taxi, 0, alerts);
        }
        Assert.Empty(alerts);
    }

    [Fact]
    public void A_car_reporting_speed_without_heading_that_turns_back_through_a_U_turn_bay_raises_nothing()
    {
        // Round 6: a car whose unit reports its speed but no heading, a fix every 15 s with 10 m of noise, drives east along
        // 深南大道, turns back through the U-turn link (a one-way primary_link, way 25529331) and drives west. Its fixes' scatter
        // off the line through their neighbours, inflated by the 167 m steps round bends, made the displacement needed for a
        // course of its own larger than its last steps: the course from before the turn (east) was held for the fixes after it,
        // judged with the reported speed, and two of them "against" the link raised wrong_way.
        var ids = new VehicleIds();
        int v = ids.Intern("C2-0092".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        foreach (var (ms, lon, lat, speed) in new (long, double, double, float)[]
        {
            (0, 113.9450407, 22.5459488, 1.3f),
            (15000, 113.9460274, 22.5461011, 36.8f),
            (30000, 113.9467191, 22.5453042, 36.1f),
            (45000, 113.9459408, 22.5450456, 36.0f),
            (60000, 113.9450399, 22.545445, 44.2f),
            (75000, 113.9442557, 22.5462793, 43.0f),
            (90000, 113.9424367, 22.5459205, 44.0f),
            (105000, 113.9405207, 22.5461305, 25.1f),
            (120000, 113.9406998, 22.5443618, 53.1f),
            (135000, 113.9404909, 22.5423277, 37.4f),
            (150000, 113.9406777, 22.5433244, 53.3f),
            (165000, 113.9405279, 22.5456503, 54.6f),
            (180000, 113.9415468, 22.5461986, 43.9f),
            (195000, 113.943365, 22.5460007, 44.0f),
            (210000, 113.945205, 22.5461961, 35.8f),
            (225000, 113.9466896, 22.545688, 36.6f),
            (240000, 113.947806, 22.5455355, 36.3f),
            (255000, 113.9489873, 22.5451441, 45.6f),
            (270000, 113.9491335, 22.5435362, 43.9f),
            (285000, 113.9502797, 22.5430638, 54.3f),
            (300000, 113.9522087, 22.5431594, 36.3f),
            (315000, 113.9536131, 22.5431273, 35.5f),
            (330000, 113.95314, 22.5435336, 34.8f),
            (345000, 113.9516968, 22.5435048, 36.6f),
        })
        {
            rule.OnProbe(Probe.Empty with { Vehicle = v, TimeMs = s_t0 + ms, Lon = lon, Lat = lat, SpeedKmh = speed }, VehicleClass.Car, 0, alerts);
        }
        Assert.Empty(alerts);
    }

    [Fact]
    public void A_taxi_reporting_speed_without_heading_through_the_loops_of_an_interchange_raises_nothing()
    {
        // Round 6: a taxi whose unit reports its speed but no heading, a fix every 10 s with 12 m of noise, drives west along
        // 深南大道, loops through the ramps of its interchange with 沙河西路 and comes back east, then turns back west.
        var ids = new VehicleIds();
        int v = ids.Intern("C8-0375".AsSpan());
        var rule = new WrongWayRule(s_index.Value, ids);
        var alerts = new List<AlertEvent>();
        foreach (var (ms, lon, lat, speed) in new (long, double, double, float)[]
        {
            (0, 113.9615973, 22.5411967, 0.2f),
            (10000, 113.9620217, 22.5412747, 29.2f),
            (20000, 113.961961, 22.5419984, 35.8f),
            (30000, 113.9627337, 22.5421159, 44.8f),
            (40000, 113.964065, 22.5417987, 44.7f),
            (50000, 113.9649579, 22.5411195, 22.6f),
            (60000, 113.9653151, 22.5409741, 18.4f),
            (70000, 113.9657829, 22.5408221, 17.3f),
            (80000, 113.9661334, 22.5405902, 17.6f),
            (90000, 113.9666171, 22.5405776, 16.3f),
            (100000, 113.9667502, 22.5407574, 17.4f),
            (110000, 113.9668293, 22.5409724, 17.0f),
            (120000, 113.9663411, 22.5411536, 17.9f),
            (130000, 113.965927, 22.5414834, 16.9f),
            (140000, 113.965515, 22.5416491, 18.9f),
            (150000, 113.9651297, 22.5417408, 18.9f),
            (160000, 113.9643594, 22.5417056, 19.4f),
            (170000, 113.9636257, 22.5423209, 45.0f),
            (180000, 113.9623868, 22.5427326, 37.7f),
            (190000, 113.9615954, 22.5430628, 52.3f),
            (200000, 113.9602452, 22.5432678, 53.4f),
            (210000, 113.9586897, 22.5436752, 53.7f),
            (220000, 113.9571802, 22.5434729, 53.5f),
            (230000, 113.9556625, 22.5435224, 53.5f),
            (240000, 113.954168, 22.5434773, 54.1f),
            (250000, 113.9533019, 22.5436545, 34.1f),
            (260000, 113.9529389, 22.5444045, 34.8f),
            (270000, 113.9537917, 22.5444589, 37.1f),
            (280000, 113.9538952, 22.5435816, 54.2f),
            (290000, 113.9541124, 22.5425806, 35.6f),
            (300000, 113.9532079, 22.5420182, 35.0f),
            (310000, 113.953235, 22.5428295, 35.2f),
            (320000, 113.9537902, 22.543367, 35.8f),
            (330000, 113.955286, 22.5435725, 53.3f),
            (340000, 113.9567025, 22.5432482, 54.0f),
            (350000, 113.9583243, 22.5433249, 52.3f),
            (360000, 113.959625, 22.5433856, 39.6f),
            (370000, 113.9593416, 22.5433025, 42.0f),
            (380000, 113.9579459, 22.5436076, 53.5f),
            (390000, 113.9564881, 22.5434887, 53.5f),
            (400000, 113.9552389, 22.5436119, 53.2f),
            (410000, 113.9538092, 22.5434281, 53.2f),
            (420000, 113.9524816, 22.5434801, 53.5f),
            (430000, 113.9507797, 22.5434671, 52.7f),
            (440000, 113.9493549, 22.5434199, 52.7f),
            (450000, 113.9481278, 22.5434013, 43.7f),
            (460000, 113.94701, 22.5433966, 42.2f),
        })
        {
            rule.OnProbe(Probe.Empty with { Vehicle = v, TimeMs = s_t0 + ms, Lon = lon, Lat = lat, SpeedKmh = speed }, VehicleClass.Taxi, 0, alerts);
        }
        Assert.Empty(alerts);
    }
}
