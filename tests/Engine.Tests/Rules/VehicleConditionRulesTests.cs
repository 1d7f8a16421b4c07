using Traffic.Engine.Alerts;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;
using Traffic.Engine.Zones;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Rules;

public class VehicleConditionRulesTests
{
    private const string Zones = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"P1","kind":"permitted_stop"},
           "geometry":{"type":"Polygon","coordinates":[[[113.9,22.5],[113.91,22.5],[113.91,22.51],[113.9,22.51],[113.9,22.5]]]}},
          {"type":"Feature","properties":{"id":"P-night","kind":"permitted_stop","hours":"22:00-06:00"},
           "geometry":{"type":"Polygon","coordinates":[[[113.92,22.5],[113.93,22.5],[113.93,22.51],[113.92,22.51],[113.92,22.5]]]}},
          {"type":"Feature","properties":{"id":"P-morning","kind":"permitted_stop","hours":"07:00-10:00"},
           "geometry":{"type":"Polygon","coordinates":[[[113.94,22.5],[113.945,22.5],[113.945,22.51],[113.94,22.51],[113.94,22.5]]]}},
          {"type":"Feature","properties":{"id":"P-bus","kind":"permitted_stop","classes":["bus"]},
           "geometry":{"type":"Polygon","coordinates":[[[113.96,22.5],[113.965,22.5],[113.965,22.51],[113.96,22.51],[113.96,22.5]]]}}
        ]}
        """;

    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private const long Day = 86_400_000;

    /// <summary>Reports every 10 s: (speed km/h, fix, seconds, where).</summary>
    private static List<AlertEvent> Reports(VehicleClass cls, ushort hazmat, params (double Kmh, bool Fix, int Seconds, double Lon)[] legs) =>
        Reports(null, cls, hazmat, legs);

    private static List<AlertEvent> Reports(VehicleConditionOptions? options, VehicleClass cls, ushort hazmat, params (double Kmh, bool Fix, int Seconds, double Lon)[] legs)
    {
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones), options);
        var alerts = new List<AlertEvent>();
        Feed(rules, ids, s_t0, cls, hazmat, alerts, legs);
        return alerts;
    }

    /// <summary>Feeds the rules one vehicle's reports every 10 s from <paramref name="t"/>: (speed km/h, fix, seconds, where).</summary>
    private static void Feed(VehicleConditionRules rules, VehicleIds ids, long t, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts,
        params (double Kmh, bool Fix, int Seconds, double Lon)[] legs)
    {
        int v = ids.Intern("琼H1".AsSpan());
        foreach (var (kmh, fix, seconds, lon) in legs)
        {
            for (int s = 0; s < seconds; s += 10, t += 10_000)
            {
                var p = Probe.Empty;
                p.Vehicle = v;
                p.TimeMs = t;
                p.Lon = lon;
                p.Lat = 22.505;
                p.SpeedKmh = (float)kmh;
                p.Fix = fix;
                rules.OnProbe(p, cls, hazmat, alerts);
            }
        }
    }

    private const double Road = 113.95, Depot = 113.905;

    [Fact]
    public void A_hazmat_truck_moving_without_a_fix_raises_hazmat_no_fix()
    {
        var alerts = Reports(VehicleClass.Hazmat, 30, (40, true, 60, Road), (40, false, 120, Road), (40, true, 60, Road));
        Assert.Equal([("hazmat_no_fix", AlertState.Open), ("hazmat_no_fix", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (0, false, 600, Road)));     // standing without a fix: nothing moves
        Assert.Empty(Reports(VehicleClass.Taxi, 0, (40, false, 600, Road)));       // not carrying dangerous goods
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (40, false, 20, Road), (40, true, 60, Road))); // a short loss
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (40, false, 40, Road), (40, true, 60, Road))); // two short losses run together (four fixes over 30 s)
        // Driving 50 s without a fix, then standing without one: the fix was lost while it moved, and is not back.
        Assert.Contains(Reports(VehicleClass.Hazmat, 30, (40, true, 20, Road), (40, false, 60, Road), (0, false, 120, Road)), a => a.Kind == "hazmat_no_fix");
    }

    [Fact]
    public void A_hazmat_truck_standing_long_outside_a_permitted_stop_raises_hazmat_long_stop()
    {
        var alerts = Reports(VehicleClass.Hazmat, 30, (40, true, 60, Road), (0, true, 1500, Road), (40, true, 60, Road));
        Assert.Equal([("hazmat_long_stop", AlertState.Open), ("hazmat_long_stop", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (0, true, 3000, Depot)));    // in a permitted stop zone
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (0, true, 900, Road), (30, true, 60, Road))); // 15 minutes
    }

    [Fact]
    public void A_hazmat_truck_whose_unit_stops_reporting_its_speed_while_it_stands_goes_on_with_the_same_stop()
    {
        // 10 minutes standing with its speed reported (a dangerous-goods vehicle's small track), then 20 more reporting
        // positions only (the whole track, begun from the small one): one stop from the first minute on, not a new one.
        var alerts = Reports(VehicleClass.Hazmat, 30, (40, true, 60, Road), (0, true, 600, Road), (double.NaN, true, 1200, Road), (40, true, 60, Road + 0.001));
        Assert.Equal([("hazmat_long_stop", AlertState.Open), ("hazmat_long_stop", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Equal(s_t0 + 60_000, alerts[0].StartMs);
        Assert.Equal(s_t0 + 60_000 + (20 * 60_000), alerts[0].TimeMs);   // after the 20 minutes the rule waits for
        // The same 10 minutes without the positions-only half: too short.
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (40, true, 60, Road), (0, true, 600, Road), (40, true, 60, Road + 0.001)));
    }

    [Fact]
    public void A_bad_fix_while_a_hazmat_truck_stands_long_opens_and_closes_a_teleport_and_leaves_the_stop_as_it_was()
    {
        // The teleport is kept beside the truck's stop (one track): its close must take the teleport away, not the stop.
        var alerts = Reports(VehicleClass.Hazmat, 30, (40, true, 60, Road), (0, true, 600, Road), (0, true, 10, Road + 0.05), (0, true, 900, Road), (40, true, 60, Road + 0.001));
        Assert.Equal(
            [("teleport", AlertState.Open), ("teleport", AlertState.Close), ("hazmat_long_stop", AlertState.Open), ("hazmat_long_stop", AlertState.Close)],
            alerts.Select(a => (a.Kind, a.State)));
        Assert.Equal(s_t0 + 60_000, alerts[2].StartMs);
        // A vehicle without dangerous goods: the teleport alone, opened and closed, again later.
        var taxi = Reports(VehicleClass.Taxi, 0, (40, true, 60, Road), (0, true, 10, Road + 0.05), (0, true, 60, Road), (0, true, 10, Road + 0.05), (0, true, 60, Road));
        Assert.Equal([AlertState.Open, AlertState.Close, AlertState.Open, AlertState.Close], taxi.Select(a => a.State));
    }

    [Fact]
    public void A_permitted_stop_permits_in_its_hours_and_for_its_classes_only()
    {
        // 08:00-08:25 local: a night parking (22:00-06:00) permits no stop now, a morning one (07:00-10:00) does; a
        // permitted stop for buses permits no dangerous-goods truck. Before, hours and classes were ignored: none raised.
        const double Night = 113.925, Morning = 113.9425, Bus = 113.9625;
        Assert.Contains(Reports(VehicleClass.Hazmat, 30, (40, true, 60, Night), (0, true, 1500, Night), (40, true, 60, Night)), a => a.Kind == "hazmat_long_stop");
        Assert.Empty(Reports(VehicleClass.Hazmat, 30, (40, true, 60, Morning), (0, true, 1500, Morning), (40, true, 60, Morning)));
        Assert.Contains(Reports(VehicleClass.Truck, 30, (40, true, 60, Bus), (0, true, 1500, Bus), (40, true, 60, Bus)), a => a.Kind == "hazmat_long_stop");
    }

    /// <summary>
    /// Positions only, every 10 s, no speed: (km/h, seconds) legs eastwards from <paramref name="lon"/>, each fix off by
    /// up to 6 m (a standing unit's scatter).
    /// </summary>
    private static List<AlertEvent> Positions(VehicleClass cls, ushort hazmat, double lon, params (double Kmh, int Seconds)[] legs)
    {
        var ids = new VehicleIds();
        int v = ids.Intern("琼H2".AsSpan());
        var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones));
        var alerts = new List<AlertEvent>();
        var random = new Random(3);
        double metresPerDegreeLon = Traffic.Geo.GeoMath.MetresPerDegreeLon(22.505), east = 0;
        long t = s_t0;
        foreach (var (kmh, seconds) in legs)
        {
            for (int s = 0; s < seconds; s += 10, t += 10_000, east += kmh / 3.6 * 10)
            {
                var p = Probe.Empty;
                p.Vehicle = v;
                p.TimeMs = t;
                p.Lon = lon + ((east + ((random.NextDouble() - 0.5) * 12)) / metresPerDegreeLon);
                p.Lat = 22.505 + ((random.NextDouble() - 0.5) * 12 / Traffic.Geo.GeoMath.MetresPerDegree);
                rules.OnProbe(p, cls, hazmat, alerts);
            }
        }
        return alerts;
    }

    [Fact]
    public void A_hazmat_truck_whose_unit_reports_positions_only_is_judged_standing_from_its_fixes()
    {
        // No speed in the reports: 25 minutes on the spot outside a permitted stop is a long stop all the same.
        var alerts = Positions(VehicleClass.Hazmat, 30, Road, (40, 60), (0, 1500), (40, 120));
        Assert.Equal([("hazmat_long_stop", AlertState.Open), ("hazmat_long_stop", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Empty(Positions(VehicleClass.Hazmat, 30, Depot, (0, 3000)));             // in a permitted stop zone
        Assert.Empty(Positions(VehicleClass.Hazmat, 30, Road, (0, 900), (30, 120)));     // 15 minutes
        Assert.Empty(Positions(VehicleClass.Hazmat, 30, Road, (40, 1800)));             // driving
    }

    [Fact]
    public void Four_hours_of_driving_without_a_rest_raise_fatigue_and_a_rest_resets_it()
    {
        var alerts = Reports(VehicleClass.Taxi, 0, (50, true, 4 * 3600 + 600, Road), (0, true, 1500, Road));
        Assert.Equal([("fatigue", AlertState.Open), ("fatigue", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.True(alerts[0].Evidence["driving_s"] > 4 * 3600);
        // Two long stints split by a 25-minute rest: never four hours in a row.
        Assert.Empty(Reports(VehicleClass.Taxi, 0, (50, true, 3 * 3600, Road), (0, true, 1500, Road), (50, true, 3 * 3600, Road)));
        // A 10-minute stop is no rest.
        Assert.Single(Reports(VehicleClass.Taxi, 0, (50, true, 3 * 3600, Road), (0, true, 600, Road), (50, true, 3600 + 600, Road)), a => a.State == AlertState.Open);
    }

    /// <summary>
    /// The state keeps its times as 32-bit offsets from a base of its own (CompactTimes): a dangerous-goods truck's long day
    /// (fatigue, a long stop outside a permitted stop, then driving off until its unit goes silent, which the watermark
    /// raises as signal_lost), three times 40 and 400 days apart by the same rules, raises what the same days a day apart
    /// raise, at the times of their own reports to the millisecond; each signal_lost closes, as its truck reappears, under
    /// the id it opened with, naming the last report before the silence.
    /// </summary>
    [Fact]
    public void Long_days_months_apart_raise_what_days_a_day_apart_raise_at_their_own_times()
    {
        const int DayS = (4 * 3600) + 600 + 1500 + 600;   // the legs below, a report every 10 s
        List<List<AlertEvent>> Run(long[] shifts)
        {
            var ids = new VehicleIds();
            var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones));
            var days = new List<List<AlertEvent>>();
            foreach (long shift in shifts)
            {
                var alerts = new List<AlertEvent>();
                Feed(rules, ids, s_t0 + shift, VehicleClass.Hazmat, 30, alerts, (50, true, (4 * 3600) + 600, Road), (0, true, 1500, Road), (40, true, 600, Road));
                rules.OnWatermark(s_t0 + shift + (DayS * 1000L) + 3_600_000, alerts);
                days.Add(alerts);
            }
            return days;
        }
        long[] apart = [0, 40 * Day, 400 * Day], near = [0, Day, 2 * Day];
        var far = Run(apart);
        var reference = Run(near);
        for (int k = 0; k < apart.Length; k++)
        {
            long d = apart[k] - near[k];
            Assert.Equal(reference[k].Where(a => a.Kind != "signal_lost").Select(a => (a.Kind, a.State, a.StartMs + d, a.EndMs + d, a.TimeMs + d, a.Evidence["duration_s"])),
                far[k].Where(a => a.Kind != "signal_lost").Select(a => (a.Kind, a.State, a.StartMs, a.EndMs, a.TimeMs, a.Evidence["duration_s"])));
            Assert.Equal(["fatigue", "hazmat_long_stop", "fatigue", "hazmat_long_stop"], far[k].Where(a => a.Kind != "signal_lost").Select(a => a.Kind));
            long lastBefore = k == 0 ? 0 : s_t0 + apart[k - 1] + (DayS * 1000L) - 10_000;
            var lost = far[k].Where(a => a.Kind == "signal_lost").ToList();
            // The previous day's signal_lost closes as the truck reappears; this day's opens from the watermark.
            Assert.Equal(k == 0 ? [AlertState.Open] : [AlertState.Close, AlertState.Open], lost.Select(a => a.State));
            if (k > 0)
            {
                Assert.Equal(far[k - 1].Last(a => a.Kind == "signal_lost").AlertId, lost[0].AlertId);
                Assert.Equal(($"signal_lost:琼H1:{lastBefore}", lastBefore, s_t0 + apart[k]), (lost[0].AlertId, lost[0].StartMs, lost[0].EndMs));
            }
        }
    }

    [Fact]
    public void A_driver_who_stops_before_four_hours_is_resting_not_tired()
    {
        // 3 h 50 min at the wheel, then a 25-minute rest that runs past the 4-hour mark: no fatigue (the time standing is
        // no driving). Ten minutes more at the wheel first, and it is.
        Assert.DoesNotContain(Reports(VehicleClass.Taxi, 0, (50, true, 3 * 3600 + 3000, Road), (0, true, 1500, Road), (50, true, 600, Road)), a => a.Kind == "fatigue");
        Assert.Contains(Reports(VehicleClass.Taxi, 0, (50, true, 4 * 3600 + 600, Road), (0, true, 1500, Road)), a => a.Kind == "fatigue");
    }

    [Fact]
    public void Split_breaks_when_allowed_add_up_to_a_rest_but_halts_under_a_minute_do_not()
    {
        // A taxi's working day: 40 minutes of driving, a 3-minute wait for a fare, for 5 hours. By China's rule (the
        // default: one 20-minute rest) that is fatigue; with split breaks allowed (10 minutes of breaks of a minute or
        // more), the waits add up to a rest within two hours and the driving never reaches 4 hours.
        var split = new VehicleConditionOptions { FatigueBreaksS = 600, FatigueBreakMinS = 60 };
        var taxi = Enumerable.Range(0, 8).SelectMany(_ => new[] { (50.0, true, 2400, Road), (0.0, true, 180, Road) }).ToArray();
        Assert.Contains(Reports(VehicleClass.Taxi, 0, taxi), a => a.Kind == "fatigue");
        Assert.DoesNotContain(Reports(split, VehicleClass.Taxi, 0, taxi), a => a.Kind == "fatigue");
        // Halts of 30 s every 20 minutes (a junction, a drop-off) add up to as much but are no breaks: fatigue.
        var driver = Enumerable.Range(0, 15).SelectMany(_ => new[] { (50.0, true, 1200, Road), (0.0, true, 30, Road) }).ToArray();
        Assert.Contains(Reports(split, VehicleClass.Taxi, 0, driver), a => a.Kind == "fatigue" && a.State == AlertState.Open);
    }

    internal static Probe At(int vehicle, long t, double lon, double lat, float kmh)
    {
        var p = Probe.Empty;
        p.Vehicle = vehicle;
        p.TimeMs = t;
        p.Lon = lon;
        p.Lat = lat;
        p.SpeedKmh = kmh;
        return p;
    }

    /// <summary>
    /// Reports every <paramref name="everyS"/> s of a unit whose fixes are off by N(0, σ) east and north: (km/h, seconds)
    /// legs eastwards from <paramref name="lon"/>, with the speed reported or (<paramref name="reported"/> false) not.
    /// </summary>
    private static List<AlertEvent> Noisy(VehicleConditionRules rules, int vehicle, double sigmaM, int everyS, bool reported, int seed,
        double lon, params (double Kmh, int Seconds)[] legs)
    {
        var alerts = new List<AlertEvent>();
        var random = new Random(seed);
        double east = 0;
        long t = s_t0;
        foreach (var (kmh, seconds) in legs)
        {
            for (int s = 0; s < seconds; s += everyS, t += everyS * 1000L, east += kmh / 3.6 * everyS)
            {
                var (fixLon, fixLat) = GpsNoise.Scatter(lon + (east / Traffic.Geo.GeoMath.MetresPerDegreeLon(22.505)), 22.505, sigmaM, random);
                var p = At(vehicle, t, fixLon, fixLat, reported ? (float)kmh : float.NaN);
                rules.OnProbe(p, VehicleClass.Hazmat, 30, alerts);
            }
        }
        return alerts;
    }

    private static List<AlertEvent> Noisy(double sigmaM, int everyS, bool reported, int seed, double lon, params (double Kmh, int Seconds)[] legs)
    {
        var ids = new VehicleIds();
        return Noisy(new VehicleConditionRules(ids, ZoneSet.Parse(Zones)), ids.Intern("琼H5".AsSpan()), sigmaM, everyS, reported, seed, lon, legs);
    }

    [Fact]
    public void A_unit_reporting_positions_only_rests_while_it_stands_however_its_fixes_scatter()
    {
        // A 10 m unit every 30 s: two fixes of a standing vehicle lie over 42 m apart (5 km/h) once in 80, and a
        // 25-minute rest judged fix against fix read as driving for a span in about half the rests. Judged against the
        // mean of the stop's fixes, none of ten drivers is tired.
        for (int seed = 1; seed <= 10; seed++)
        {
            Assert.DoesNotContain(Noisy(10, 30, false, seed, Road, (40, 3 * 3600), (0, 1500), (40, 2 * 3600)), a => a.Kind == "fatigue");
        }
        Assert.Contains(Noisy(10, 30, false, 1, Road, (40, 4 * 3600 + 600)), a => a.Kind == "fatigue");
        // The rest counts from the first fix of the span the vehicle stood through, not from the span's end: 3 h 50 min
        // at the wheel, then 20 min 30 s on the spot, is no fatigue.
        for (int seed = 1; seed <= 10; seed++)
        {
            Assert.DoesNotContain(Noisy(5, 10, false, seed, Road, (40, (3 * 3600) + 3000), (0, 1230), (40, 1800)), a => a.Kind == "fatigue");
        }
    }

    [Fact]
    public void A_fatigued_driver_gone_silent_has_rested_once_the_silence_is_as_long_as_a_rest()
    {
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        int v = ids.Intern("琼F1".AsSpan()), w = ids.Intern("琼F2".AsSpan());
        var alerts = Noisy(rules, v, 0, 10, true, 1, Road, (50, (4 * 3600) + 600));
        var open = Assert.Single(alerts);
        Assert.Equal(("fatigue", AlertState.Open), (open.Kind, open.State));
        long last = s_t0 + (((4 * 3600) + 590) * 1000L);
        rules.OnWatermark(last + 1_199_000, alerts);
        Assert.Single(alerts);
        rules.OnWatermark(last + 1_200_000, alerts);
        var close = alerts[^1];
        Assert.Equal((open.AlertId, AlertState.Close, last + 1_200_000, last + 1_200_000), (close.AlertId, close.State, close.EndMs, close.TimeMs));
        rules.OnWatermark(last + 3_600_000, alerts);
        Assert.Equal(2, alerts.Count(a => a.Kind == "fatigue")); // closed once (signal_lost follows at 30 minutes)

        // Back after 25 minutes before any watermark found it silent: the same close, as it reports again.
        var back = Noisy(rules, w, 0, 10, true, 1, Road, (50, (4 * 3600) + 600));
        rules.OnProbe(At(w, last + 1_500_000, Road, 22.505, 50), VehicleClass.Hazmat, 30, back);
        var fatigue = back.Where(a => a.Kind == "fatigue").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], fatigue.Select(a => a.State));
        Assert.Equal((last + 1_200_000, last + 1_500_000), (fatigue[1].EndMs, fatigue[1].TimeMs));
    }

    /// <summary>
    /// A dangerous-goods truck whose unit reports positions only (5 m of scatter), every 10 s: it stands
    /// <paramref name="standS"/> seconds, then drives east at <paramref name="kmh"/>; its fix is lost from
    /// <paramref name="lostAtS"/> for <paramref name="lostS"/> seconds, its unit repeating the last position.
    /// </summary>
    private static List<AlertEvent> PullsAwayWithoutFix(int standS, double kmh, int lostAtS, int lostS, int seconds)
    {
        var ids = new VehicleIds();
        int v = ids.Intern("琼H9".AsSpan());
        var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones));
        var alerts = new List<AlertEvent>();
        var random = new Random(5);
        (double Lon, double Lat) last = default;
        for (int t = 0; t <= seconds; t += 10)
        {
            double east = Math.Max(0, t - standS) * kmh / 3.6;
            bool fix = t < lostAtS || t >= lostAtS + lostS;
            if (fix) last = GpsNoise.Scatter(Road + (east / Traffic.Geo.GeoMath.MetresPerDegreeLon(22.505)), 22.505, 5, random);
            var p = At(v, s_t0 + (t * 1000L), last.Lon, last.Lat, float.NaN);
            p.Fix = fix;
            rules.OnProbe(p, VehicleClass.Hazmat, 30, alerts);
        }
        return alerts;
    }

    [Fact]
    public void A_truck_reporting_positions_only_that_drives_off_as_its_fix_is_lost_raises_no_fix_when_it_returns_and_no_long_stop()
    {
        // 19.5 minutes standing, then away at 15 km/h with no fix for 5 minutes: the fix back 1.1 km off shows it drove
        // without one. Before, the repeated position stood on: a long stop at 20 minutes, and no hazmat_no_fix.
        var alerts = PullsAwayWithoutFix(1170, 15, 1170, 300, 1800);
        Assert.Equal([("hazmat_no_fix", AlertState.Open), ("hazmat_no_fix", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Equal((s_t0 + 1_170_000, s_t0 + 1_470_000), (alerts[0].StartMs, alerts[1].EndMs));
        // Its fix lost for 5 minutes while it stands, and back where it stood: nothing (25 minutes in all: a long stop).
        Assert.Equal(["hazmat_long_stop"], PullsAwayWithoutFix(3000, 15, 600, 300, 1500).Select(a => a.Kind).Distinct());
    }

    [Fact]
    public void A_truck_reporting_positions_only_that_stopped_before_its_fix_was_lost_raises_no_fix_only_if_it_moved()
    {
        // 40 km/h for 3 minutes, then standing; a fix every 5 s from a 5 m unit, positions only. Its fix lost 30 s after it
        // stopped, for 5 minutes, and back where it stood: before, the last whole span of 30 s (driving) held as its speed
        // through the loss and raised hazmat_no_fix. Its fix lost while it drove: raised, as before.
        for (int seed = 1; seed <= 5; seed++)
        {
            Assert.DoesNotContain(DrivesThenStands(seed, 5, stopS: 180, lostAtS: 210, lostS: 300, seconds: 720), a => a.Kind == "hazmat_no_fix");
            Assert.DoesNotContain(DrivesThenStands(seed, 10, stopS: 180, lostAtS: 220, lostS: 300, seconds: 720), a => a.Kind == "hazmat_no_fix");
            Assert.Contains(DrivesThenStands(seed, 5, stopS: 400, lostAtS: 200, lostS: 120, seconds: 720), a => a.Kind == "hazmat_no_fix");
            // Lost 30 s after it stopped, and back 600 m on: it drove without a fix (raised at the return).
            Assert.Contains(DrivesThenStands(seed, 5, stopS: 180, lostAtS: 210, lostS: 300, seconds: 720, movedM: 600), a => a.Kind == "hazmat_no_fix");
        }
    }

    private static List<AlertEvent> DrivesThenStands(int seed, int everyS, int stopS, int lostAtS, int lostS, int seconds, double movedM = 0)
    {
        var ids = new VehicleIds();
        int v = ids.Intern("琼H8".AsSpan());
        var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones));
        var alerts = new List<AlertEvent>();
        var random = new Random(seed);
        (double Lon, double Lat) last = default;
        for (int t = 0; t <= seconds; t += everyS)
        {
            double east = (Math.Min(t, stopS) * 40 / 3.6) + (t >= lostAtS + lostS ? movedM : 0);
            bool fix = t < lostAtS || t >= lostAtS + lostS;
            if (fix) last = GpsNoise.Scatter(Road + (east / Traffic.Geo.GeoMath.MetresPerDegreeLon(22.505)), 22.505, everyS, random);
            var p = At(v, s_t0 + (t * 1000L), last.Lon, last.Lat, float.NaN);
            p.Fix = fix;
            rules.OnProbe(p, VehicleClass.Hazmat, 30, alerts);
        }
        return alerts;
    }

    [Fact]
    public void A_hazmat_truck_parked_by_a_permitted_stops_border_is_judged_where_it_stands()
    {
        // The permitted stop's east border is 113.91; a 10 m unit reporting standing 15 m outside it has one fix in 15
        // inside, and each such fix began the 20 minutes again: judged by the mean of its fixes, it is outside.
        double metre = 1 / Traffic.Geo.GeoMath.MetresPerDegreeLon(22.505);
        for (int seed = 1; seed <= 5; seed++)
        {
            Assert.Contains(Noisy(10, 10, true, seed, 113.91 + (15 * metre), (0, 1500)), a => a.Kind == "hazmat_long_stop");
            Assert.Empty(Noisy(10, 10, true, seed, 113.91 - (15 * metre), (0, 1500)));
            Assert.Empty(Noisy(10, 30, false, seed, 113.91 - (15 * metre), (0, 1500)));
        }
    }
}

public class TeleportAndSignalLostTests
{
    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static Probe At(int vehicle, long t, double lon, double lat, float kmh) => VehicleConditionRulesTests.At(vehicle, t, lon, lat, kmh);

    [Fact]
    public void A_fix_that_jumps_away_and_back_opens_and_closes_one_teleport()
    {
        var ids = new VehicleIds();
        int v = ids.Intern("琼T1".AsSpan());
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        double lon = 113.93;
        for (int i = 0; i < 20; i++)
        {
            // 40 km/h eastwards, one fix every 5 s; fix 10 lands 5 km north.
            double lat = i == 10 ? 22.59 : 22.545;
            rules.OnProbe(At(v, s_t0 + (i * 5000), lon + (i * 0.0005), lat, 40), VehicleClass.Taxi, 0, alerts);
        }
        Assert.Equal([("teleport", AlertState.Open), ("teleport", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.True(alerts[0].Evidence["implied_kmh"] > 1000);
        Assert.Equal(s_t0 + 50_000, alerts[0].StartMs);
        Assert.Equal(s_t0 + 55_000, alerts[1].EndMs);
    }

    [Fact]
    public void A_bad_stretch_of_several_fixes_is_one_teleport_out_and_back()
    {
        // 35 km/h eastwards, a fix a second; fixes 30-32 land together 2.6 km away (a unit's bad stretch). Before, the
        // second bad fix, plausible from the first, closed the alert and the jump back opened another: two teleports.
        var ids = new VehicleIds();
        int v = ids.Intern("粤B-TP5".AsSpan());
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        for (int i = 0; i < 60; i++)
        {
            bool bad = i is >= 30 and <= 32;
            double lon = bad ? 113.95 + (i * 0.00001) : 113.93 + (i * 0.0001);
            double lat = bad ? 22.53 : 22.545;
            rules.OnProbe(At(v, s_t0 + (i * 1000), lon, lat, 35), VehicleClass.Truck, 80, alerts);
        }
        Assert.Equal([("teleport", AlertState.Open), ("teleport", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Equal(s_t0 + 30_000, alerts[0].StartMs);
        Assert.Equal(s_t0 + 33_000, alerts[1].EndMs);
    }

    [Fact]
    public void A_unit_that_stays_where_it_jumped_to_closes_its_teleport_after_a_minute()
    {
        // Fix 10 lands 5 km north and the fixes go on from there (the unit now rides another vehicle): the alert closes
        // once they have for a minute, and no other opens.
        var ids = new VehicleIds();
        int v = ids.Intern("琼T2".AsSpan());
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        for (int i = 0; i < 40; i++)
        {
            double lat = i >= 10 ? 22.59 : 22.545;
            rules.OnProbe(At(v, s_t0 + (i * 5000), 113.93 + (i * 0.0005), lat, 40), VehicleClass.Taxi, 0, alerts);
        }
        Assert.Equal([("teleport", AlertState.Open), ("teleport", AlertState.Close)], alerts.Select(a => (a.Kind, a.State)));
        Assert.Equal(s_t0 + 110_000, alerts[1].EndMs);
    }

    [Fact]
    public void The_jump_when_a_lost_fix_returns_is_no_teleport()
    {
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        int v = ids.Intern("琼H3".AsSpan());
        for (int i = 0; i < 30; i++)
        {
            // Driving 40 km/h; fixes 5–24 are lost: the unit repeats fix 4's position.
            bool fix = i is < 5 or >= 25;
            int shown = fix ? i : 4;
            var p = At(v, s_t0 + (i * 10_000), 113.9 + (shown * 0.001), 22.5, 40);
            p.Fix = fix;
            rules.OnProbe(p, VehicleClass.Hazmat, 30, alerts);
        }
        Assert.DoesNotContain(alerts, a => a.Kind == "teleport");
        Assert.Contains(alerts, a => a.Kind == "hazmat_no_fix");
    }

    [Fact]
    public void A_fast_car_is_no_teleport()
    {
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        int v = ids.Intern("粤B1".AsSpan());
        for (int i = 0; i < 60; i++)
            rules.OnProbe(At(v, s_t0 + (i * 1000), 113.9 + (i * 0.0004), 22.5, 150), VehicleClass.Car, 0, alerts); // ~41 m/s
        Assert.DoesNotContain(alerts, a => a.Kind == "teleport");
    }

    [Fact]
    public void A_vehicle_silent_while_it_moves_away_from_where_it_stood_raises_signal_lost_when_it_reappears()
    {
        // Standing, then silent for 15 minutes, then back 1.5 km away: its unit was silent while it drove. Back where it
        // stood (a parked vehicle whose unit went quiet), nothing.
        var ids = new VehicleIds();
        int v = ids.Intern("琼S2".AsSpan());
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        rules.OnProbe(At(v, s_t0, 113.93, 22.54, 30), VehicleClass.Taxi, 0, alerts);
        rules.OnProbe(At(v, s_t0 + 15_000, 113.931, 22.54, 0), VehicleClass.Taxi, 0, alerts);
        rules.OnWatermark(s_t0 + 900_000, alerts);                       // standing when it went quiet: no alert yet
        Assert.Empty(alerts);
        rules.OnProbe(At(v, s_t0 + 915_000, 113.946, 22.54, 40), VehicleClass.Taxi, 0, alerts);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.All(alerts, a => Assert.Equal(("signal_lost", s_t0 + 15_000), (a.Kind, a.StartMs)));
        Assert.Equal(s_t0 + 915_000, alerts[1].EndMs);

        var parked = new List<AlertEvent>();
        int w = ids.Intern("琼S3".AsSpan());
        rules.OnProbe(At(w, s_t0, 113.93, 22.55, 0), VehicleClass.Taxi, 0, parked);
        rules.OnProbe(At(w, s_t0 + 900_000, 113.9301, 22.55, 20), VehicleClass.Taxi, 0, parked);
        Assert.Empty(parked);
    }

    [Fact]
    public void A_vehicle_that_stays_silent_while_driving_raises_signal_lost_from_the_watermark_until_it_reports_again()
    {
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        int driving = ids.Intern("琼S1".AsSpan()), parked = ids.Intern("琼S2".AsSpan());
        rules.OnProbe(At(driving, s_t0, 113.9, 22.5, 45), VehicleClass.Taxi, 0, alerts);
        rules.OnProbe(At(parked, s_t0, 113.8, 22.5, 0), VehicleClass.Taxi, 0, alerts);
        // Until 30 minutes, a silence that has not ended may be a trace that ended: nothing.
        rules.OnWatermark(s_t0 + 200_000, alerts);
        rules.OnWatermark(s_t0 + 1_799_000, alerts);
        Assert.Empty(alerts);
        rules.OnWatermark(s_t0 + 1_800_000, alerts);
        var open = Assert.Single(alerts);
        Assert.Equal(("signal_lost", AlertState.Open, "琼S1"), (open.Kind, open.State, open.VehicleId));
        Assert.Equal(s_t0, open.StartMs);
        rules.OnWatermark(s_t0 + 1_900_000, alerts);
        Assert.Single(alerts); // still the one alert
        rules.OnProbe(At(driving, s_t0 + 1_910_000, 113.91, 22.5, 30), VehicleClass.Taxi, 0, alerts);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal(open.AlertId, alerts[^1].AlertId);
        Assert.Equal(s_t0 + 1_910_000, alerts[^1].EndMs);
        // Where it reappeared, as when a silence that the watermark had not yet raised ends (both fixes valid): the close
        // of an alert the watermark opened had the silence alone.
        Assert.InRange(alerts[^1].Evidence["moved_m"], 1_000, 1_050);
    }

    [Fact]
    public void A_positions_only_unit_standing_at_its_traces_end_with_span_ends_apart_raises_no_signal_lost()
    {
        // Positions only, a fix every 5 s: 60 s driving east at 40 km/h, then 150 s standing, silent after. Its fixes at
        // the spans' ends lie 22 m east and west of where it stands in turn (10 m noise), the others within 4 m: every
        // 30 s span read 44 m, 5.3 km/h, and a standing vehicle was last seen driving; 30 minutes on, signal_lost.
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        int v = ids.Intern("粤B-SP4".AsSpan()), other = ids.Intern("粤B-X".AsSpan());
        double kx = Traffic.Geo.GeoMath.MetresPerDegreeLon(22.54), ky = Traffic.Geo.GeoMath.MetresPerDegree;
        var random = new Random(5);
        for (int t = 0; t <= 210; t += 5)
        {
            double east = Math.Min(t, 60) * 40 / 3.6;
            double off = t >= 60 && t % 30 == 0 ? (t / 30 % 2 == 0 ? -22 : 22) : (random.NextDouble() - 0.5) * 8;
            double north = t >= 60 && t % 30 == 0 ? 0 : (random.NextDouble() - 0.5) * 8;
            rules.OnProbe(At(v, s_t0 + (t * 1000L), 113.94 + ((east + off) / kx), 22.54 + (north / ky), float.NaN), VehicleClass.Car, 0, alerts);
        }
        rules.OnProbe(At(other, s_t0 + 2_100_000, 113.9, 22.5, 30), VehicleClass.Car, 0, alerts);
        rules.OnWatermark(s_t0 + 2_100_000, alerts);
        Assert.DoesNotContain(alerts, a => a.Kind == "signal_lost");
    }

    [Theory]
    [InlineData(15)]
    [InlineData(20)]
    [InlineData(40)]
    public void A_positions_only_unit_silent_while_driving_slowly_with_10_m_noise_raises_signal_lost(double kmh)
    {
        // The near miss of the above: positions only, a fix every 5 s off by 10 m (σ per axis), driving east and then
        // silent; over 20 such units, each raises signal_lost from the watermark, and a parked one alongside nothing.
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        double kx = Traffic.Geo.GeoMath.MetresPerDegreeLon(22.54), ky = Traffic.Geo.GeoMath.MetresPerDegree;
        var random = new Random(7);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) * 10;
        for (int k = 0; k < 20; k++)
        {
            int v = ids.Intern($"粤B-D{k}".AsSpan()), parked = ids.Intern($"粤B-P{k}".AsSpan());
            int seconds = 120 + (k * 7);   // the silence begins at any point of a span
            for (int t = 0; t <= seconds; t += 5)
            {
                double east = t * kmh / 3.6;
                rules.OnProbe(At(v, s_t0 + (t * 1000L), 113.94 + ((east + Gauss()) / kx), 22.54 + (k * 0.01) + (Gauss() / ky), float.NaN), VehicleClass.Car, 0, alerts);
                rules.OnProbe(At(parked, s_t0 + (t * 1000L), 113.90 + (Gauss() / kx), 22.54 + (k * 0.01) + (Gauss() / ky), float.NaN), VehicleClass.Car, 0, alerts);
            }
        }
        rules.OnWatermark(s_t0 + 2_400_000, alerts);
        Assert.Equal(20, alerts.Count(a => a.Kind == "signal_lost" && a.State == AlertState.Open && a.VehicleId!.StartsWith("粤B-D", StringComparison.Ordinal)));
        Assert.DoesNotContain(alerts, a => a.Kind == "signal_lost" && a.VehicleId!.StartsWith("粤B-P", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(180, true)]
    [InlineData(400, true)]
    [InlineData(1000, true)]
    [InlineData(170, false)]
    public void A_vehicle_back_after_a_silence_while_driving_raises_signal_lost_as_it_reports_again(int silentS, bool raised)
    {
        // Driving, silent, back: its return shows the unit was silent while it drove, before the watermark's 30 minutes.
        var ids = new VehicleIds();
        var rules = new VehicleConditionRules(ids, null);
        var alerts = new List<AlertEvent>();
        int v = ids.Intern("琼S4".AsSpan());
        rules.OnProbe(At(v, s_t0, 113.9, 22.5, 45), VehicleClass.Taxi, 0, alerts);
        rules.OnWatermark(s_t0 + (silentS * 1000L) - 1000, alerts);
        Assert.Empty(alerts);
        rules.OnProbe(At(v, s_t0 + (silentS * 1000L), 113.92, 22.5, 45), VehicleClass.Taxi, 0, alerts);
        if (!raised)
        {
            Assert.Empty(alerts);
            return;
        }
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.All(alerts, a => Assert.Equal(("signal_lost", "琼S4", s_t0), (a.Kind, a.VehicleId, a.StartMs)));
        Assert.Equal(s_t0 + (silentS * 1000L), alerts[1].EndMs);
        Assert.Equal(silentS, alerts[1].Evidence["silent_s"]);
        Assert.True(alerts[1].Evidence["moved_m"] > 2000);
    }
}
