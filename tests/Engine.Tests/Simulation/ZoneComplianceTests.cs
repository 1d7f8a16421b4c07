using System.Text.Json;
using Traffic.Engine.Simulation;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>
/// The simulator's drivers keep the zones' rules when no event sends them in: a replay of a fleet raises the injected
/// alerts and what the traffic really causes, not a flood from drivers who never heard of the rules.
/// </summary>
public sealed class ZoneComplianceTests
{
    private static readonly Lazy<SimRun> s_run = new(() =>
        SimRun.Run(SimRun.Shenzhen, new SimulationOptions
        {
            DurationS = 4 * 3600,
            Seed = 11,
            Scenario = new Scenario
            {
                Fleet = new FleetMix { Taxis = 150, Buses = 20, Hazmat = 16 },
                Zones = "zones.geojson",
                BaseDirectory = Path.GetDirectoryName(SimRun.ExampleScenario)!,
                Corridors = true,
            },
        }));

    private static SimRun Run => s_run.Value;

    private static List<SimZone> Zones => SimZone.Read(Path.Combine(Run.Dir, "zones.geojson"));

    private static IEnumerable<IGrouping<string, JsonElement>> ByVehicle(string prefix) =>
        Run.TruthProbes.Where(t => t.GetProperty("vehicle_id").GetString()!.StartsWith(prefix, StringComparison.Ordinal))
            .GroupBy(t => t.GetProperty("vehicle_id").GetString()!);

    private static bool In(SimZone z, JsonElement t) => z.Contains(t.GetProperty("lon").GetDouble(), t.GetProperty("lat").GetDouble());

    [Fact]
    public void Taxis_and_tankers_keep_out_of_the_zones_closed_to_them_and_tankers_out_of_those_closed_to_dangerous_goods()
    {
        var z1 = Zones.Single(z => z.Id == "Z1");   // restricted: taxi, truck, hazmat
        var h1 = Zones.Single(z => z.Id == "H1");   // hazmat_forbidden
        var taxis = ByVehicle("琼AT").SelectMany(g => g).ToList();
        var tankers = ByVehicle("琼AH").SelectMany(g => g).ToList();
        Assert.True(taxis.Count > 50_000 && tankers.Count > 10_000, $"{taxis.Count} taxi and {tankers.Count} tanker positions");
        Assert.DoesNotContain(taxis, t => In(z1, t));
        Assert.DoesNotContain(tankers, t => In(z1, t) || In(h1, t));
        // Buses, to which neither applies, still drive through them: the network there is not empty.
        Assert.Contains(ByVehicle("琼AB").SelectMany(g => g), t => In(z1, t) || In(h1, t));
    }

    [Fact]
    public void Nobody_waits_longer_than_a_zone_allows_and_tankers_stand_long_only_at_their_permitted_stop()
    {
        var z2 = Zones.Single(z => z.Id == "Z2");   // restricted, all classes, max_dwell_s 300
        var p1 = Zones.Single(z => z.Id == "P1");   // permitted_stop for hazmat
        foreach (var vehicle in ByVehicle("琼A"))
        {
            long since = -1, stoppedSince = -1;
            foreach (var t in vehicle)
            {
                long ms = SimRun.Ms(t, "time");
                // A stay in Z2 (the time from entry to exit) within its limit.
                if (!In(z2, t)) since = -1;
                else if (since < 0) since = ms;
                Assert.True(since < 0 || ms - since <= 300_000, $"{vehicle.Key} in Z2 for {(ms - since) / 1000} s");
                // A tanker standing 20 minutes (the long-stop rule) stands in P1.
                if (!vehicle.Key.StartsWith("琼AH", StringComparison.Ordinal)) continue;
                if (t.GetProperty("speed_kmh").GetDouble() > 0) stoppedSince = -1;
                else if (stoppedSince < 0) stoppedSince = ms;
                Assert.True(stoppedSince < 0 || ms - stoppedSince < 20 * 60_000 || In(p1, t), $"{vehicle.Key} stood {(ms - stoppedSince) / 1000} s outside P1");
            }
        }
    }
}
