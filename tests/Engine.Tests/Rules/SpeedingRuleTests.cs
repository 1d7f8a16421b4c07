using System.Text;
using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Matching;

namespace Traffic.Engine.Tests.Rules;

public class SpeedingRuleTests
{
    // 2025-11-25 10:00 local (UTC+8).
    private static readonly long s_day = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private static readonly long s_night = new DateTimeOffset(2025, 11, 25, 15, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(); // 23:00 local

    private static int Edge50()
    {
        var net = SimRun.Shenzhen;
        return Enumerable.Range(0, net.EdgeCount).First(e => net.SpeedLimitKmh(e) == 50 && net.LengthM(e) > 200);
    }

    /// <summary>A vehicle driving the given speeds (km/h), one probe a second.</summary>
    private static List<AlertEvent> Drive(VehicleClass cls, long start, params (double Kmh, int Seconds)[] legs) => Drive(cls, start, reported: null, legs);

    private static List<AlertEvent> Drive(VehicleClass cls, long start, double? reported, params (double Kmh, int Seconds)[] legs)
    {
        var ids = new VehicleIds();
        int vehicle = ids.Intern("琼A88888".AsSpan());
        var rule = new SpeedingRule(SimRun.Shenzhen, ids);
        var alerts = new List<AlertEvent>();
        int edge = Edge50();
        long t = start;
        bool first = true;
        foreach (var (kmh, seconds) in legs)
        {
            for (int s = 0; s < seconds; s++, t += 1000)
            {
                var m = new MatchedProbe
                {
                    ProbeId = 0, TimeMs = t, Edge = edge, OffsetM = 10, Lon = 113.9, Lat = 22.5, DistanceM = 2,
                    RouteDistanceM = first ? 0 : kmh / 3.6, SpeedKmh = first ? double.NaN : kmh, Confidence = 1,
                    Break = first ? ChainBreak.Start : ChainBreak.None, Forced = false, ReportedSpeedKmh = reported ?? double.NaN,
                };
                first = false;
                rule.OnMatched(vehicle, cls, 0, m, alerts);
            }
        }
        return alerts;
    }

    [Fact]
    public void Speeding_on_a_50_road_opens_escalates_and_closes_one_alert()
    {
        // 60 km/h (20 % over: severity 1) for 15 s, then 80 (60 % over: severity 3), then back to 40.
        var alerts = Drive(VehicleClass.Car, s_day, (50, 10), (60, 15), (80, 20), (40, 30));
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
    public void Near_misses_raise_nothing()
    {
        Assert.Empty(Drive(VehicleClass.Car, s_day, (54, 120)));          // under limit × 1.1
        Assert.Empty(Drive(VehicleClass.Car, s_day, (50, 10), (90, 4), (45, 60))); // a burst shorter than the debounce
    }

    [Fact]
    public void A_reported_speed_wins_over_the_speed_from_positions()
    {
        Assert.Equal(AlertState.Open, Drive(VehicleClass.Car, s_day, reported: 80, (50, 40))[0].State);
        Assert.Empty(Drive(VehicleClass.Car, s_day, reported: 45, (80, 40)));
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
        var alerts = Drive(VehicleClass.Car, s_day, (50, 10), (60, 15), (80, 20), (40, 30));
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
}
