using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Geo;
using Traffic.Geo.Network;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>Normal driving without a scenario: determinism, GPS noise, order and format of the probes.</summary>
public sealed class FleetSimulatorTests
{
    private static readonly Lazy<SimRun> s_clean = new(() => SimRun.Run(SimRun.Shenzhen, new SimulationOptions { Vehicles = 60, DurationS = 1800, Seed = 3 }));

    [Fact]
    public void SameSeed_GivesTheSameBytes_AndAnotherSeedDoesNot()
    {
        SimulationOptions Options(int seed) => new() { DurationS = 1200, Seed = seed, Scenario = Scenario.Load(SimRun.ExampleScenario) };
        var a = SimRun.Run(SimRun.Shenzhen, Options(7));
        var b = SimRun.Run(SimRun.Shenzhen, Options(7));
        var c = SimRun.Run(SimRun.Shenzhen, Options(8));
        foreach (string f in new[] { "probes.ndjson", "truth.ndjson", "vehicles.ndjson", "zones.geojson" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.Dir, f)), File.ReadAllBytes(Path.Combine(b.Dir, f)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a.Dir, "probes.ndjson")), File.ReadAllBytes(Path.Combine(c.Dir, "probes.ndjson")));
    }

    [Theory]
    [InlineData("taxi", 10.0)]
    [InlineData("bus", 5.0)]
    [InlineData("hazmat", 8.0)]
    public void PositionNoise_HasTheClassSigma_PerAxis(string cls, double sigma)
    {
        var run = s_clean.Value;
        var east = new List<double>();
        var north = new List<double>();
        foreach (var (probe, truth) in Pairs(run))
        {
            if (probe.GetProperty("class").GetString() != cls || !probe.GetProperty("fix").GetBoolean()) continue;
            double lat = truth.GetProperty("lat").GetDouble();
            east.Add((probe.GetProperty("lon").GetDouble() - truth.GetProperty("lon").GetDouble()) * GeoMath.MetresPerDegreeLon(lat));
            north.Add((probe.GetProperty("lat").GetDouble() - lat) * GeoMath.MetresPerDegree);
        }
        Assert.True(east.Count > 300, $"only {east.Count} {cls} fixes");
        foreach (var axis in new[] { east, north })
        {
            double mean = axis.Average();
            double sd = Math.Sqrt(axis.Sum(x => (x - mean) * (x - mean)) / (axis.Count - 1));
            Assert.InRange(Math.Abs(mean), 0, sigma * 0.2);
            Assert.InRange(sd, sigma * 0.9, sigma * 1.1);
        }
    }

    [Fact]
    public void ReportedSpeedAndHeading_CarryTheirOwnNoise()
    {
        var speedError = new List<double>();
        var headingError = new List<double>();
        var net = SimRun.Shenzhen;
        foreach (var (probe, truth) in Pairs(s_clean.Value))
        {
            double trueSpeed = truth.GetProperty("speed_kmh").GetDouble();
            if (trueSpeed < 10 || !probe.GetProperty("fix").GetBoolean()) continue; // away from the clamp at 0
            speedError.Add(probe.GetProperty("speed_kmh").GetDouble() - trueSpeed);
            // The true heading is the edge's bearing at the true offset, in the direction of travel.
            int edge = truth.GetProperty("edge").GetInt32();
            double bearing = net.BearingAt(edge, truth.GetProperty("offset_m").GetDouble());
            if (truth.TryGetProperty("against_oneway", out _)) bearing = (bearing + 180) % 360;
            double d = probe.GetProperty("heading").GetDouble() - bearing;
            headingError.Add(((d % 360) + 540) % 360 - 180);
        }
        Assert.True(speedError.Count > 1000);
        Assert.InRange(Sd(speedError), 0.9, 1.1);   // N(0, 1 km/h), then rounded to 0.1
        Assert.InRange(Sd(headingError), 2.5, 3.6); // N(0, 3°); a fix right at a bend sees the next segment's bearing
    }

    private static double Sd(List<double> xs)
    {
        double mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }

    [Fact]
    public void Probes_AreInTimeOrder_AndEachHasItsTruth()
    {
        var run = s_clean.Value;
        long last = 0;
        int i = 0;
        foreach (var (probe, truth) in Pairs(run))
        {
            long t = probe.GetProperty("time").GetInt64();
            Assert.True(t >= last, $"line {i + 1} goes back in time");
            last = t;
            Assert.Equal(++i, truth.GetProperty("line").GetInt64());
            Assert.Equal(probe.GetProperty("vehicle_id").GetString(), truth.GetProperty("vehicle_id").GetString());
            Assert.Equal(t, truth.GetProperty("time").GetInt64());
        }
        Assert.Equal(run.ProbeLines.Length, i);
    }

    [Fact]
    public void Probes_FollowInterfaces_AndTheRegistry()
    {
        var run = s_clean.Value;
        var registry = File.ReadLines(Path.Combine(run.Dir, "vehicles.ndjson"))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToDictionary(v => v.GetProperty("vehicle_id").GetString()!);
        Assert.Equal(60, registry.Count);
        var intervals = new Dictionary<string, long>();
        var lastTime = new Dictionary<string, long>();
        foreach (string line in run.ProbeLines)
        {
            Assert.True(ProbeRules.IsValid(line, out string why), $"{why}: {line}");
            var p = JsonDocument.Parse(line).RootElement;
            string id = p.GetProperty("vehicle_id").GetString()!;
            var reg = registry[id];
            Assert.Equal(reg.GetProperty("class").GetString(), p.GetProperty("class").GetString());
            Assert.Equal(reg.TryGetProperty("hazmat", out var h) ? h.GetString() : null, p.TryGetProperty("hazmat", out var ph) ? ph.GetString() : null);
            long t = p.GetProperty("time").GetInt64();
            if (lastTime.TryGetValue(id, out long prev)) intervals[p.GetProperty("class").GetString()!] = t - prev;
            lastTime[id] = t;
        }
        Assert.Equal(15_000, intervals["taxi"]);
        Assert.Equal(10_000, intervals["bus"]);
        Assert.Equal(10_000, intervals["hazmat"]);
    }

    [Fact]
    public async Task Buses_and_taxis_keep_to_the_night_limit_at_night()
    {
        // From 02:30: a passenger vehicle's limit at night is 80 % of the road's, and the engine's speeding rule holds them
        // to it. Drivers a little faster at night made 300 taxis raise 1,248 speeding alerts in half an hour.
        var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { Vehicles = 60, DurationS = 1200, Seed = 3,
            Start = new DateTimeOffset(2026, 1, 6, 2, 30, 0, TimeSpan.FromHours(8)) });
        var passengerIds = run.ProbeLines.Select(l => JsonDocument.Parse(l).RootElement)
            .Where(p => p.GetProperty("class").GetString() is "taxi" or "bus").Select(p => p.GetProperty("vehicle_id").GetString()).ToHashSet();
        var passengers = run.TruthProbes.Where(t => passengerIds.Contains(t.GetProperty("vehicle_id").GetString())).ToList();
        Assert.NotEmpty(passengers);
        // Cruising within it (a few seconds above while braking from a faster road into a slower one) …
        int over = passengers.Count(t => t.GetProperty("speed_kmh").GetDouble() > 0.8 * t.GetProperty("limit_kmh").GetDouble() + 0.01);
        Assert.True(over <= passengers.Count / 200, $"{over} of {passengers.Count} fixes over the night limit");
        // … and no speeding alert from the engine.
        var ids = new VehicleIds();
        var engine = new ReplayEngine(SimRun.Shenzhen, VehicleRegistry.Load(Path.Combine(run.Dir, "vehicles.ndjson"), ids), null, ids, new ReplayOptions());
        string outDir = Path.Combine(run.Dir, "replay");
        await engine.RunAsync(Path.Combine(run.Dir, "probes.ndjson"), outDir);
        Assert.DoesNotContain(File.ReadLines(Path.Combine(outDir, "alerts.ndjson")), l => l.Contains("\"speeding\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Vehicles_MoveAlongConnectedEdges_AtPlausibleSpeeds()
    {
        var run = s_clean.Value;
        var net = SimRun.Shenzhen;
        var lastEdge = new Dictionary<string, (int Edge, long Time)>();
        int jumps = 0, moves = 0;
        foreach (var t in run.TruthProbes)
        {
            double speed = t.GetProperty("speed_kmh").GetDouble();
            // No scenario: nobody drives faster than the limit (drivers aim at most 15 % above 90 % of it).
            Assert.InRange(speed, 0, (t.GetProperty("limit_kmh").GetDouble() * 1.05) + 0.5);
            string id = t.GetProperty("vehicle_id").GetString()!;
            int edge = t.GetProperty("edge").GetInt32();
            if (lastEdge.TryGetValue(id, out var prev) && prev.Edge != edge)
            {
                moves++;
                // Within one fix interval a vehicle can cross several short edges; far jumps would be a bug.
                var (l1, a1) = net.PointAt(prev.Edge, net.LengthM(prev.Edge));
                var (l2, a2) = net.PointAt(edge, 0);
                if (GeoMath.Distance(l1, a1, l2, a2) > 600) jumps++;
            }
            lastEdge[id] = (edge, t.GetProperty("time").GetInt64());
        }
        Assert.True(moves > 500);
        Assert.Equal(0, jumps);
    }

    private static IEnumerable<(JsonElement Probe, JsonElement Truth)> Pairs(SimRun run)
    {
        var truths = run.TruthProbes.ToList();
        Assert.Equal(run.ProbeLines.Length, truths.Count);
        for (int i = 0; i < truths.Count; i++) yield return (JsonDocument.Parse(run.ProbeLines[i]).RootElement, truths[i]);
    }
}

/// <summary>Drivers rest as real shifts have them; only the fatigue scenario's driver never does.</summary>
public sealed class DriverBreakTests
{
    [Fact]
    public void Every_driver_rests_twenty_minutes_within_four_hours_but_the_fatigued_one()
    {
        var scenario = new Scenario { Fleet = new FleetMix { Taxis = 12, Buses = 3, Hazmat = 3 } };
        scenario.Events.Add(new ScenarioEvent { Kind = "fatigue" });
        var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 5 * 3600, Seed = 4, Scenario = scenario });
        string fatigued = run.Event("fatigue").GetProperty("vehicle_id").GetString()!;
        var longest = new Dictionary<string, double>();
        foreach (var track in run.TruthProbes.GroupBy(p => p.GetProperty("vehicle_id").GetString()!))
        {
            // The longest stretch without a stop of 20 minutes or more (a stop: true speed below 1 km/h throughout).
            double best = 0, drivingSince = double.NaN, stoppedSince = double.NaN;
            foreach (var p in track.OrderBy(p => p.GetProperty("time").GetInt64()))
            {
                double t = p.GetProperty("time").GetInt64() / 1000.0;
                if (double.IsNaN(drivingSince)) drivingSince = t;
                if (p.GetProperty("speed_kmh").GetDouble() < 1)
                {
                    if (double.IsNaN(stoppedSince)) stoppedSince = t;
                    if (t - stoppedSince >= 1200) drivingSince = t;   // rested: the time at the wheel starts again
                }
                else
                {
                    stoppedSince = double.NaN;
                    best = Math.Max(best, t - drivingSince);
                }
            }
            longest[track.Key] = best;
        }
        Assert.True(longest[fatigued] > 4 * 3600, $"the fatigued driver drove at most {longest[fatigued] / 3600:N1} h without a rest");
        var tired = longest.Where(kv => kv.Key != fatigued && kv.Value >= 4 * 3600).Select(kv => kv.Key).ToList();
        Assert.True(tired.Count == 0, $"drivers without a 20-minute rest in 4 h: {string.Join(", ", tired)}");
    }
}
