using Traffic.Engine.Alerts;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Tests.Rules;

public class VehicleConditionRulesTests
{
    private const string Zones = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"P1","kind":"permitted_stop"},
           "geometry":{"type":"Polygon","coordinates":[[[113.9,22.5],[113.91,22.5],[113.91,22.51],[113.9,22.51],[113.9,22.5]]]}}
        ]}
        """;

    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Reports every 10 s: (speed km/h, fix, seconds, where).</summary>
    private static List<AlertEvent> Reports(VehicleClass cls, ushort hazmat, params (double Kmh, bool Fix, int Seconds, double Lon)[] legs)
    {
        var ids = new VehicleIds();
        int v = ids.Intern("琼H1".AsSpan());
        var rules = new VehicleConditionRules(ids, ZoneSet.Parse(Zones));
        var alerts = new List<AlertEvent>();
        long t = s_t0;
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
        return alerts;
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
}
