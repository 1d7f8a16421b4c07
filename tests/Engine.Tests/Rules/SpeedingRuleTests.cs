using System.Text;
using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Rules;

public class SpeedingRuleTests
{
    // 2025-11-25 10:00 local (UTC+8).
    private static readonly long s_day = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private static readonly long s_night = new DateTimeOffset(2025, 11, 25, 15, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(); // 23:00 local

    private static readonly Lazy<EdgeIndex> s_index = new(() => new EdgeIndex(SimRun.Shenzhen));

    /// <summary>The highest limit of the roads within <paramref name="radiusM"/> of a point.</summary>
    private static double FastestNear(double lon, double lat, double radiusM)
    {
        var near = new EdgeCandidate[32];
        int n = s_index.Value.Within(lon, lat, radiusM, near);
        double best = 0;
        for (int i = 0; i < n; i++) best = Math.Max(best, SimRun.Shenzhen.SpeedLimitKmh(near[i].Edge));
        return best;
    }

    /// <summary>A 50 km/h road of 200 m or more with no faster road within 40 m of its middle.</summary>
    private static int Edge50()
    {
        var net = SimRun.Shenzhen;
        return Enumerable.Range(0, net.EdgeCount).First(e =>
        {
            if (net.SpeedLimitKmh(e) != 50 || net.LengthM(e) <= 200) return false;
            var (lon, lat) = net.PointAt(e, net.LengthM(e) / 2);
            return FastestNear(lon, lat, 40) <= 50;
        });
    }

    /// <summary>
    /// A 20 km/h service road whose middle lies within <paramref name="withinM"/> of a road of 50 km/h or more, and no
    /// nearer than <paramref name="notWithinM"/> of any faster road: a fix there may be on either.
    /// </summary>
    private static (int Edge, double Faster) ServiceRoadBesideAFasterOne(double withinM = 15, double notWithinM = 0)
    {
        var net = SimRun.Shenzhen;
        foreach (int e in Enumerable.Range(0, net.EdgeCount))
        {
            if (net.SpeedLimitKmh(e) != 20 || net.LengthM(e) < 60) continue;
            var (lon, lat) = net.PointAt(e, net.LengthM(e) / 2);
            double faster = FastestNear(lon, lat, withinM);
            if (faster >= 50 && FastestNear(lon, lat, notWithinM) <= 20) return (e, faster);
        }
        throw new InvalidOperationException("no service road beside a faster road in the network");
    }

    /// <summary>A vehicle driving the given speeds (km/h), one probe a second.</summary>
    private static List<AlertEvent> Drive(VehicleClass cls, long start, params (double Kmh, int Seconds)[] legs) => Drive(cls, start, reported: null, legs);

    private static List<AlertEvent> Drive(VehicleClass cls, long start, double? reported, params (double Kmh, int Seconds)[] legs) =>
        DriveOn(Edge50(), cls, start, reported, legs);

    /// <summary>
    /// Probes matched to the middle of <paramref name="edge"/>, one a second, from a unit whose fixes lie
    /// <paramref name="errorM"/> from their road. With a reported speed the fix stays on the matched point; without one
    /// the fix moves on in the road's direction by the route driven, as a moving unit's does (the rule checks the route
    /// against the fixes), and the benefit of the doubt is off: the roads the fix passes are not the match's (tested on
    /// its own below).
    /// </summary>
    private static List<AlertEvent> DriveOn(int edge, VehicleClass cls, long start, double? reported, params (double Kmh, int Seconds)[] legs) =>
        DriveOn(edge, cls, start, reported, errorM: 2, legs);

    private static List<AlertEvent> DriveOn(int edge, VehicleClass cls, long start, double? reported, double errorM, params (double Kmh, int Seconds)[] legs) =>
        DriveRule(edge, cls, start, reported, errorM, legs).Alerts;

    private static (List<AlertEvent> Alerts, SpeedingRule Rule) DriveRule(int edge, VehicleClass cls, long start, double? reported, double errorM, (double Kmh, int Seconds)[] legs) =>
        DriveRule(new VehicleIds(), edge, cls, start, reported, errorM, legs);

    private static (List<AlertEvent> Alerts, SpeedingRule Rule) DriveRule(VehicleIds ids, int edge, VehicleClass cls, long start, double? reported, double errorM, (double Kmh, int Seconds)[] legs)
    {
        var net = SimRun.Shenzhen;
        int vehicle = ids.Intern("琼A88888".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, reported == null ? new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 } : null);
        var alerts = new List<AlertEvent>();
        var (lon, lat) = net.PointAt(edge, net.LengthM(edge) / 2);
        double bearing = net.BearingAt(edge, net.LengthM(edge) / 2) * Math.PI / 180, travelled = 0;
        long t = start;
        bool first = true;
        foreach (var (kmh, seconds) in legs)
        {
            for (int s = 0; s < seconds; s++, t += 1000)
            {
                double step = first ? 0 : kmh / 3.6;
                if (reported == null) travelled += step;
                // The fix wanders by a few centimetres besides, as a unit's does (a repeated position is a stale one).
                double jitter = (s % 7) * 1e-7;
                var m = new MatchedProbe
                {
                    ProbeId = 0, TimeMs = t, Edge = edge, OffsetM = net.LengthM(edge) / 2, Lon = lon, Lat = lat, DistanceM = errorM,
                    ProbeLon = lon + jitter + (travelled * Math.Sin(bearing) / GeoMath.MetresPerDegreeLon(lat)),
                    ProbeLat = lat + (travelled * Math.Cos(bearing) / GeoMath.MetresPerDegree),
                    RouteDistanceM = step, SpeedKmh = first ? double.NaN : kmh, Confidence = 1,
                    Break = first ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = reported ?? double.NaN,
                };
                first = false;
                rule.OnMatched(vehicle, cls, 0, m, alerts);
            }
        }
        return (alerts, rule);
    }

    [Fact]
    public void Speeding_on_a_50_road_opens_escalates_and_closes_one_alert()
    {
        // 60 km/h (20 % over: severity 1) for 15 s, then 80 (60 % over: severity 3), then back to 40.
        var alerts = Drive(VehicleClass.Car, s_day, (50, 10), (60, 15), (80, 20), (40, 75));
        Assert.Equal([AlertState.Open, AlertState.Update, AlertState.Close], alerts.Select(a => a.State));
        Assert.Single(alerts.Select(a => a.AlertId).Distinct());
        var open = alerts[0];
        Assert.Equal("speeding", open.Kind);
        Assert.Equal("琼A88888", open.VehicleId);
        Assert.Equal(50, open.Evidence["limit_kmh"]);
        Assert.True(alerts[^1].Evidence["max_speed_kmh"] > 75);
        Assert.NotNull(alerts[^1].EndMs);
        Assert.Equal(3, alerts[^1].Severity); // 80 on 50 is 60 % over
    }

    [Fact]
    public void A_speeder_slowing_for_a_turn_keeps_one_alert_and_a_later_drive_opens_another()
    {
        // 45 s within the limit (a turn, a red light) is shorter than the hysteresis: the episode goes on.
        var turn = Drive(VehicleClass.Car, s_day, (50, 5), (80, 30), (40, 45), (80, 30), (40, 75));
        Assert.Equal([AlertState.Open, AlertState.Close], turn.Select(a => a.State));
        Assert.Single(turn.Select(a => a.AlertId).Distinct());
        // Two minutes within the limit: the first closes, its end when the speed fell; the next is an alert of its own.
        var twice = Drive(VehicleClass.Car, s_day, (50, 5), (80, 30), (40, 120), (80, 30), (40, 75));
        Assert.Equal([AlertState.Open, AlertState.Close, AlertState.Open, AlertState.Close], twice.Select(a => a.State));
        Assert.Equal(2, twice.Select(a => a.AlertId).Distinct().Count());
        Assert.True(twice[1].EndMs < twice[1].TimeMs - 55_000, "the close's end is when the speed fell, not when the hysteresis ran out");
    }

    /// <summary>
    /// Positions only, one a second along <see cref="Edge50"/>'s direction: the unit's fixes off by N(0, σ) along and
    /// across the road, the matches (at the fixes' along-road positions) and so the route's steps with them.
    /// </summary>
    private static List<AlertEvent> NoisyDrive(double kmh, double sigmaM, int seconds, int seed)
    {
        var net = SimRun.Shenzhen;
        int edge = Edge50();
        var ids = new VehicleIds();
        int vehicle = ids.Intern("琼A77777".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 });
        var alerts = new List<AlertEvent>();
        var random = new Random(seed);
        var (lon, lat) = net.PointAt(edge, net.LengthM(edge) / 2);
        double bearing = net.BearingAt(edge, net.LengthM(edge) / 2) * Math.PI / 180, previousAlong = 0;
        for (int k = 0; k < seconds; k++)
        {
            double along = (k * kmh / 3.6) + (GpsNoise.Gaussian(random) * sigmaM), across = GpsNoise.Gaussian(random) * sigmaM;
            double east = (along * Math.Sin(bearing)) + (across * Math.Cos(bearing)), north = (along * Math.Cos(bearing)) - (across * Math.Sin(bearing));
            var m = new MatchedProbe
            {
                ProbeId = k, TimeMs = s_day + (k * 1000L), Edge = edge, OffsetM = net.LengthM(edge) / 2, Lon = lon, Lat = lat, DistanceM = Math.Abs(across),
                ProbeLon = lon + (east / GeoMath.MetresPerDegreeLon(lat)), ProbeLat = lat + (north / GeoMath.MetresPerDegree),
                RouteDistanceM = k == 0 ? 0 : Math.Max(0, along - previousAlong), SpeedKmh = double.NaN, Confidence = 1,
                Break = k == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
            };
            previousAlong = Math.Max(previousAlong, along);
            rule.OnMatched(vehicle, VehicleClass.Car, 0, m, alerts);
        }
        return alerts;
    }

    [Theory]
    [InlineData(5)]
    [InlineData(10)]
    [InlineData(15)]
    public void From_positions_only_a_noisy_unit_within_the_limit_is_not_speeding_and_one_well_over_it_is(double sigmaM)
    {
        // 45 km/h on a 50 road, read over 5–7 s from fixes σ off: the speed judged is what the reading is at least, less
        // what two fixes' errors can add, and stays within the limit; 90 km/h is caught all the same.
        for (int seed = 1; seed <= 5; seed++)
        {
            Assert.Empty(NoisyDrive(45, sigmaM, 300, seed));
            Assert.Contains(NoisyDrive(90, sigmaM, 60, seed), a => a.State == AlertState.Open);
        }
    }

    [Fact]
    public void A_network_without_limits_limits_nothing_but_dangerous_goods()
    {
        // A Kubicka graph has no limits, no classes, no names: its arcs are class road with China's default of 30 km/h
        // for an unknown road as a placeholder. Against it a car at 82 km/h on a rural road in Ukraine raised speeding
        // (limit_kmh 30); the matcher already took such roads (class road or unknown, untagged) as limiting nothing.
        var net = Traffic.Geo.Import.KubickaGraphReader.Read(SharedData.Kubicka("00000005"), out _);
        var rule = new SpeedingRule(new EdgeIndex(net), new VehicleIds());
        for (int e = 0; e < net.EdgeCount; e++)
        {
            Assert.Equal(double.PositiveInfinity, rule.Limit(e, VehicleClass.Car, 0, s_day));
            Assert.Equal(double.PositiveInfinity, rule.Limit(e, VehicleClass.Taxi, 0, s_night));
            Assert.Equal(60, rule.Limit(e, VehicleClass.Hazmat, 30, s_day)); // the law's own limit for dangerous goods
        }
        // An OSM road of a known class keeps its limit.
        var osm = new SpeedingRule(s_index.Value, new VehicleIds());
        Assert.Equal(50, osm.Limit(Edge50(), VehicleClass.Car, 0, s_day));
    }

    [Fact]
    public void A_standing_unit_whose_matches_jump_to_another_road_is_not_speeding()
    {
        // Fixes scattered round one place; for one step the match jumps 170 m along the roads and back (305 km/h).
        var net = SimRun.Shenzhen;
        int edge = Edge50();
        var ids = new VehicleIds();
        int vehicle = ids.Intern("琼A66666".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 });
        var alerts = new List<AlertEvent>();
        var (lon, lat) = net.PointAt(edge, net.LengthM(edge) / 2);
        for (int k = 0; k < 60; k++)
        {
            double route = k is 30 or 31 ? 170 : 0;
            var m = new MatchedProbe
            {
                ProbeId = k, TimeMs = s_day + (k * 2000L), Edge = edge, OffsetM = net.LengthM(edge) / 2, Lon = lon, Lat = lat, DistanceM = 5,
                ProbeLon = lon + ((k % 5) * 3e-5), ProbeLat = lat + ((k % 3) * 3e-5),
                RouteDistanceM = route, SpeedKmh = double.NaN, Confidence = 1,
                Break = k == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
            };
            rule.OnMatched(vehicle, VehicleClass.Car, 0, m, alerts);
        }
        Assert.Empty(alerts);
    }

    /// <summary>
    /// Positions only, a fix every 10 s straight along <see cref="Edge50"/>'s direction at <paramref name="kmh"/>; the
    /// route to the fix at <paramref name="detourAtS"/> is <paramref name="detourM"/> longer than the road (the match
    /// was on a side street and rejoins the road round a corner).
    /// </summary>
    private static List<AlertEvent> DriveWithDetour(double kmh, int detourAtS, double detourM)
    {
        var net = SimRun.Shenzhen;
        int edge = Edge50();
        var ids = new VehicleIds();
        int vehicle = ids.Intern("琼A55555".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 });
        var alerts = new List<AlertEvent>();
        var (lon, lat) = net.PointAt(edge, net.LengthM(edge) / 2);
        double bearing = net.BearingAt(edge, net.LengthM(edge) / 2) * Math.PI / 180, step = kmh / 3.6 * 10;
        for (int k = 0; k <= 12; k++)
        {
            double along = k * step;
            var m = new MatchedProbe
            {
                ProbeId = k, TimeMs = s_day + (k * 10_000L), Edge = edge, OffsetM = net.LengthM(edge) / 2, Lon = lon, Lat = lat, DistanceM = 2,
                ProbeLon = lon + (along * Math.Sin(bearing) / GeoMath.MetresPerDegreeLon(lat)) + ((k % 3) * 1e-7),
                ProbeLat = lat + (along * Math.Cos(bearing) / GeoMath.MetresPerDegree),
                RouteDistanceM = k == 0 ? 0 : step + (k * 10 == detourAtS ? detourM : 0), SpeedKmh = double.NaN, Confidence = 1,
                Break = k == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
            };
            rule.OnMatched(vehicle, VehicleClass.Car, 0, m, alerts);
        }
        return alerts;
    }

    [Fact]
    public void A_route_far_longer_than_the_line_through_the_fixes_is_not_judged()
    {
        // 40 km/h on a 50 road, fixes every 10 s: one step's route 160 m longer than the road made each 30-s stretch that
        // holds it 1.48 times the fixes' line, within 1.5 times the chord, and read 56 km/h (less what the unit's error
        // can add) for 20 s.
        Assert.Empty(DriveWithDetour(40, 60, 160));
        Assert.Empty(DriveWithDetour(40, 60, 0));
        // A speeder is caught all the same, by the stretches without the detour.
        Assert.Contains(DriveWithDetour(75, 60, 160), a => a.State == AlertState.Open);
    }

    [Fact]
    public void Near_misses_raise_nothing()
    {
        Assert.Empty(Drive(VehicleClass.Car, s_day, (54, 120)));          // under limit × 1.1
        Assert.Empty(Drive(VehicleClass.Car, s_day, (50, 10), (90, 4), (45, 60))); // a burst shorter than the debounce
    }

    /// <summary>
    /// A vehicle silent while speeding: its alert closes once the watermark is <see cref="SpeedingOptions.SilentCloseS"/>
    /// past its last match (which the track keeps with its condition), not before.
    /// </summary>
    [Fact]
    public void A_vehicle_gone_silent_while_speeding_has_its_alert_closed_by_the_watermark_from_its_last_match()
    {
        var (alerts, rule) = DriveRule(Edge50(), VehicleClass.Car, s_day, null, 2, [(50, 10), (80, 40)]);
        long last = s_day + 49_000;
        Assert.Equal([AlertState.Open], alerts.Select(a => a.State));
        rule.OnWatermark(last + 299_999, alerts);
        Assert.Single(alerts);
        rule.OnWatermark(last + 300_000, alerts);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal((alerts[0].AlertId, last + 300_000), (alerts[1].AlertId, alerts[1].TimeMs));
    }

    /// <summary>
    /// The same, restored from a checkpoint written while the alert was open: the restored track still knows the last match
    /// (kept with the condition, not with the track), so the watermark closes the alert at the same time, with the same id.
    /// </summary>
    [Fact]
    public void A_speeding_alert_restored_from_a_checkpoint_closes_from_the_last_match_before_it()
    {
        var ids = new VehicleIds();
        var (alerts, rule) = DriveRule(ids, Edge50(), VehicleClass.Car, s_day, null, 2, [(50, 10), (80, 40)]);
        long last = s_day + 49_000;
        using var checkpoint = new MemoryStream();
        using (var w = new CheckpointWriter())
        {
            w.VehicleTable(ids, [0]);
            rule.Save(w);
            w.WriteTo(checkpoint, CheckpointKind.VehiclePartition);
        }
        checkpoint.Position = 0;
        var restored = CheckpointReader.Restore(checkpoint, CheckpointKind.VehiclePartition, r =>
        {
            r.VehicleTable(ids);
            var fresh = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 });
            fresh.Load(r);
            return fresh;
        });
        restored.OnWatermark(last + 299_999, alerts);
        Assert.Single(alerts);
        restored.OnWatermark(last + 300_000, alerts);
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal((alerts[0].AlertId, last + 300_000), (alerts[1].AlertId, alerts[1].TimeMs));
    }

    [Fact]
    public void A_reported_speed_wins_over_the_speed_from_positions()
    {
        Assert.Equal(AlertState.Open, Drive(VehicleClass.Car, s_day, reported: 80, (50, 40))[0].State);
        Assert.Empty(Drive(VehicleClass.Car, s_day, reported: 45, (80, 40)));
    }

    [Fact]
    public void A_unit_that_stops_reporting_its_speed_is_judged_from_its_positions_from_then_on()
    {
        // 80 km/h on a 50 road for 40 s, the unit reporting 45 for the first 20 s and then nothing: the speed from
        // positions is measured over the matches without a reported speed only, so the condition begins when the unit
        // fell silent on its speed, not seconds before it (when its own 45 km/h was what it was judged by).
        var net = SimRun.Shenzhen;
        int edge = Edge50();
        var ids = new VehicleIds();
        int vehicle = ids.Intern("琼A88888".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01, AmbiguityMinM = 0.01 });
        var alerts = new List<AlertEvent>();
        var (lon, lat) = net.PointAt(edge, net.LengthM(edge) / 2);
        double bearing = net.BearingAt(edge, net.LengthM(edge) / 2) * Math.PI / 180, travelled = 0;
        long dropMs = s_day + 20_000;
        for (int s = 0; s < 40; s++)
        {
            long t = s_day + (s * 1000L);
            double step = s == 0 ? 0 : 80 / 3.6;
            travelled += step;
            var m = new MatchedProbe
            {
                ProbeId = 0, TimeMs = t, Edge = edge, OffsetM = net.LengthM(edge) / 2, Lon = lon, Lat = lat, DistanceM = 2,
                ProbeLon = lon + ((s % 7) * 1e-7) + (travelled * Math.Sin(bearing) / GeoMath.MetresPerDegreeLon(lat)),
                ProbeLat = lat + (travelled * Math.Cos(bearing) / GeoMath.MetresPerDegree),
                RouteDistanceM = step, SpeedKmh = s == 0 ? double.NaN : 80, Confidence = 1,
                Break = s == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = t < dropMs ? 45 : double.NaN,
            };
            rule.OnMatched(vehicle, VehicleClass.Car, 0, m, alerts);
        }
        var open = Assert.Single(alerts);
        Assert.Equal(AlertState.Open, open.State);
        Assert.Equal(dropMs, open.StartMs);
        Assert.True(open.TimeMs >= dropMs + 10_000, $"opened at {open.TimeMs - dropMs} ms after the drop");
    }

    [Fact]
    public void Buses_at_night_and_hazmat_trucks_have_lower_limits()
    {
        Assert.Empty(Drive(VehicleClass.Bus, s_day, (48, 60)));
        var night = Drive(VehicleClass.Bus, s_night, (48, 60));
        Assert.Equal(40, Assert.Single(night).Evidence["limit_kmh"], 6); // 80 % of 50, still open
        Assert.Empty(Drive(VehicleClass.Hazmat, s_day, (48, 60)));       // 50 limit, 60 cap: within
    }

    [Fact]
    public void Alerts_are_written_as_NDJSON_per_the_interface()
    {
        var alerts = Drive(VehicleClass.Car, s_day, (50, 10), (60, 15), (80, 20), (40, 75));
        var stream = new MemoryStream();
        using (var writer = new AlertWriter(stream))
        {
            foreach (var a in alerts) writer.Write(a);
        }
        string[] lines = Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        using var doc = JsonDocument.Parse(lines[2]);
        var r = doc.RootElement;
        Assert.Equal("close", r.GetProperty("state").GetString());
        Assert.Equal(alerts[0].AlertId, r.GetProperty("alert_id").GetString());
        Assert.EndsWith("Z", r.GetProperty("time").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.Parse(r.GetProperty("end").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.Parse(r.GetProperty("start").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(r.GetProperty("direction").GetString(), new[] { "forward", "backward" });
        Assert.True(r.GetProperty("evidence").GetProperty("limit_kmh").GetDouble() > 0);
    }

    [Fact]
    public void A_fix_beside_a_faster_road_is_judged_by_the_faster_road()
    {
        // Matched to a 20 km/h service road, 35 km/h reported, from a taxi's unit (its fixes 8 m from their road: σ 10 m):
        // a fix there may be on the arterial beside it, where 35 km/h is legal. Well over that road's limit too, it is speeding.
        var (service, faster) = ServiceRoadBesideAFasterOne();
        Assert.Empty(DriveOn(service, VehicleClass.Taxi, s_day, reported: 35, errorM: 8, (35, 60)));
        var alerts = DriveOn(service, VehicleClass.Taxi, s_day, reported: faster * 1.5, errorM: 8, (faster * 1.5, 60));
        Assert.Equal(faster, Assert.Single(alerts).Evidence["limit_kmh"]);
    }

    [Fact]
    public void A_precise_unit_beside_a_faster_road_is_judged_by_its_own_road()
    {
        // The same scene with a faster road 12–30 m away, from a unit whose fixes lie 2 m from their road (σ 2.5 m): the
        // benefit of the doubt reaches 10 m, not the other road. 35 km/h on the 20 km/h road is speeding, against 20 —
        // but only once ten fixes have shown how precise the unit is.
        var (service, _) = ServiceRoadBesideAFasterOne(withinM: 30, notWithinM: 12);
        var alerts = DriveOn(service, VehicleClass.Taxi, s_day, reported: 35, errorM: 2, (35, 60));
        var open = Assert.Single(alerts);
        Assert.Equal(20, open.Evidence["limit_kmh"]);
        Assert.Equal(s_day + 9_000, open.StartMs); // the tenth fix
        Assert.Empty(DriveOn(service, VehicleClass.Taxi, s_day, reported: 35, errorM: 9, (35, 60)));
    }

    [Fact]
    public void A_route_across_a_slow_and_a_fast_road_is_judged_by_the_limits_it_drove()
    {
        // No reported speed, and the match still on the 20 km/h road the vehicle is leaving: the speed along the route
        // (125 m in each step, 10 m of it on the slow road and 115 m on a 50 km/h one) is judged against the
        // length-weighted limit of what it drove (the time the stretch takes at its limits: 44.6 km/h), not 20.
        var net = SimRun.Shenzhen;
        int slow = Enumerable.Range(0, net.EdgeCount).First(e => net.SpeedLimitKmh(e) == 20 && net.LengthM(e) > 40);
        int fast = Edge50();
        List<AlertEvent> Run(double kmh)
        {
            var ids = new VehicleIds();
            int v = ids.Intern("琼A1".AsSpan());
            var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0.01 });
            var alerts = new List<AlertEvent>();
            var (lon, lat) = net.PointAt(slow, net.LengthM(slow) / 2);
            long step = (long)(125 / (kmh / 3.6) * 1000), t = s_day;
            for (int k = 0; k < 6; k++, t += step)
            {
                TraversedEdge[] route = k == 0 ? [] : [new TraversedEdge(slow, 0, 10, t - step, t - (step * 115 / 125)), new TraversedEdge(fast, 0, 115, t - (step * 115 / 125), t)];
                var m = new MatchedProbe
                {
                    ProbeId = k, TimeMs = t, Edge = slow, OffsetM = net.LengthM(slow) / 2, Lon = lon, Lat = lat,
                    ProbeLon = lon + (k * 125 / GeoMath.MetresPerDegreeLon(lat)), ProbeLat = lat, // the fixes move on with the route
                    DistanceM = 1, RouteDistanceM = k == 0 ? 0 : 125, SpeedKmh = k == 0 ? double.NaN : kmh, Confidence = 1,
                    Break = k == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
                };
                rule.OnMatched(v, VehicleClass.Car, 0, m, alerts, route);
            }
            return alerts;
        }
        Assert.Empty(Run(40));                  // over 20 × 1.1, within 44.6 × 1.1
        var open = Run(60)[0];
        Assert.Equal(AlertState.Open, open.State);
        Assert.Equal(44.6, open.Evidence["limit_kmh"], 1);
    }

    [Fact]
    public void A_stale_fix_says_nothing_about_the_road()
    {
        // A unit without a fix repeats its last position while reporting its live speed: the position is no evidence of
        // the road, so 40 km/h there on a "20 km/h road" is not judged; the same fixes moving are.
        var (service, _) = ServiceRoadBesideAFasterOne();
        var net = SimRun.Shenzhen;
        var (lon, lat) = net.PointAt(service, 5);
        var ids = new VehicleIds();
        int v = ids.Intern("琼A2".AsSpan());
        var rule = new SpeedingRule(s_index.Value, ids, new SpeedingOptions { AmbiguityM = 0 });
        var alerts = new List<AlertEvent>();
        for (int k = 0; k < 30; k++)
        {
            var m = new MatchedProbe
            {
                ProbeId = k, TimeMs = s_day + (k * 1000L), Edge = service, OffsetM = 5, Lon = lon, Lat = lat, ProbeLon = lon, ProbeLat = lat, DistanceM = 1,
                RouteDistanceM = 0, SpeedKmh = 0, Confidence = 1, Break = k == 0 ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = 40,
            };
            rule.OnMatched(v, VehicleClass.Taxi, 0, m, alerts);
        }
        // Only the first fix is fresh: one fix is not the 10 s an alert needs.
        Assert.Empty(alerts);
    }
}
