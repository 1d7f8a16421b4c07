using Traffic.Engine.Alerts;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Rules;
using Traffic.Engine.Zones;
using Traffic.Geo;

namespace Traffic.Engine.Tests.Rules;

public class ZoneRuleTests
{
    private const string Zones = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"Z1","kind":"restricted","classes":["taxi","hazmat"]},
           "geometry":{"type":"Polygon","coordinates":[[[113.931,22.545],[113.937,22.545],[113.937,22.551],[113.931,22.551],[113.931,22.545]]]}},
          {"type":"Feature","properties":{"id":"D1","kind":"restricted","max_dwell_s":60},
           "geometry":{"type":"Polygon","coordinates":[[[113.95,22.545],[113.956,22.545],[113.956,22.551],[113.95,22.551],[113.95,22.545]]]}},
          {"type":"Feature","properties":{"id":"H1","kind":"hazmat_forbidden","hours":"22:00-06:00"},
           "geometry":{"type":"Polygon","coordinates":[[[114.0,22.5],[114.01,22.5],[114.01,22.51],[114.0,22.51],[114.0,22.5]]]}},
          {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":100},
           "geometry":{"type":"LineString","coordinates":[[113.9,22.52],[113.95,22.52]]}}
        ]}
        """;

    private static readonly long s_noon = new DateTimeOffset(2025, 11, 25, 4, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();   // 12:00 local
    private static readonly long s_late = new DateTimeOffset(2025, 11, 25, 15, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();   // 23:00 local

    /// <summary>A vehicle standing at each place for the given seconds, one fix a second.</summary>
    private static List<AlertEvent> Visit(VehicleClass cls, ushort hazmat, long start, string? corridor, params ((double Lon, double Lat) At, int Seconds)[] stays)
    {
        var ids = new VehicleIds();
        VehicleRegistry? registry = null;
        int vehicle;
        if (corridor != null)
        {
            registry = new VehicleRegistry(ids);
            registry.Add($$"""{"vehicle_id":"琼D1","class":"hazmat","hazmat":"3","corridor":"{{corridor}}"}""");
            vehicle = ids.Intern("琼D1".AsSpan());
        }
        else vehicle = ids.Intern("琼D1".AsSpan());
        var rule = new ZoneRule(ZoneSet.Parse(Zones), ids, registry);
        var alerts = new List<AlertEvent>();
        long t = start;
        foreach (var (at, seconds) in stays)
        {
            for (int s = 0; s < seconds; s++, t += 1000) rule.OnPosition(vehicle, cls, hazmat, t, at.Lon, at.Lat, alerts);
        }
        return alerts;
    }

    private static readonly (double, double) s_outside = (113.92, 22.56);
    private static readonly (double, double) s_inZ1 = (113.934, 22.548);
    private static readonly (double, double) s_inD1 = (113.953, 22.548);
    private static readonly (double, double) s_inH1 = (114.005, 22.505);

    [Fact]
    public void A_taxi_in_a_restricted_zone_opens_on_entry_and_closes_on_exit()
    {
        var alerts = Visit(VehicleClass.Taxi, 0, s_noon, null, (s_outside, 10), (s_inZ1, 60), (s_outside, 30));
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.All(alerts, a => Assert.Equal(("zone", "Z1"), (a.Kind, a.Zone)));
        Assert.Equal(s_noon + 10_000, alerts[0].StartMs);
        Assert.Equal(s_noon + 70_000, alerts[1].EndMs);
    }

    [Fact]
    public void Near_misses_raise_nothing()
    {
        Assert.Empty(Visit(VehicleClass.Bus, 0, s_noon, null, (s_inZ1, 60), (s_outside, 30)));   // the rule names other classes
        Assert.Empty(Visit(VehicleClass.Taxi, 0, s_noon, null, (s_outside, 5), (s_inZ1, 3), (s_outside, 30))); // a 3 s touch
        Assert.Empty(Visit(VehicleClass.Car, 0, s_noon, null, (s_inD1, 50), (s_outside, 30)));  // within the allowed dwell
        Assert.Empty(Visit(VehicleClass.Hazmat, 30, s_noon, null, (s_inH1, 60), (s_outside, 30))); // outside the zone's hours
        Assert.Empty(Visit(VehicleClass.Car, 0, s_late, null, (s_inH1, 60), (s_outside, 30)));   // carries nothing dangerous
    }

    [Fact]
    public void Staying_past_the_maximum_dwell_raises_zone_dwell()
    {
        var alerts = Visit(VehicleClass.Car, 0, s_noon, null, (s_inD1, 90), (s_outside, 30));
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.Equal("zone_dwell", alerts[0].Kind);
        Assert.True(alerts[0].Evidence["dwell_s"] > 60);
        Assert.Equal(60, alerts[0].Evidence["max_dwell_s"]);
    }

    [Fact]
    public void Dangerous_goods_in_a_forbidden_zone_during_its_hours_raise_hazmat_forbidden()
    {
        var alerts = Visit(VehicleClass.Truck, 30, s_late, null, (s_inH1, 60), (s_outside, 30));
        Assert.Equal(["hazmat_forbidden", "hazmat_forbidden"], alerts.Select(a => a.Kind));
        Assert.Equal("3", alerts[0].Hazmat);
    }

    [Fact]
    public void A_corridor_vehicle_off_its_corridor_too_long_raises_hazmat_off_corridor()
    {
        double near = 22.52 + (40 / GeoMath.MetresPerDegree), far = 22.52 + (300 / GeoMath.MetresPerDegree);
        Assert.Empty(Visit(VehicleClass.Hazmat, 30, s_noon, "C1", ((113.92, near), 200)));
        Assert.Empty(Visit(VehicleClass.Hazmat, 30, s_noon, "C1", ((113.92, near), 20), ((113.92, far), 40), ((113.92, near), 20)));
        var alerts = Visit(VehicleClass.Hazmat, 30, s_noon, "C1", ((113.92, near), 20), ((113.92, far), 90), ((113.92, near), 20));
        Assert.Equal([AlertState.Open, AlertState.Close], alerts.Select(a => a.State));
        Assert.All(alerts, a => Assert.Equal(("hazmat_off_corridor", "C1"), (a.Kind, a.Zone)));
        Assert.All(alerts, a => Assert.Equal(s_noon + 20_000, a.StartMs));
        Assert.Equal(s_noon + 110_000, alerts[1].EndMs);
    }
}
