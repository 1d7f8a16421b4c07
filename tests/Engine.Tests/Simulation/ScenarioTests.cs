using System.Text.Json;
using Traffic.Engine.Simulation;
using Traffic.Geo;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>The example scenario (docs/examples/shenzhen-scenario.yaml): every kind shows in the truth and in the probes.</summary>
public sealed class ScenarioTests
{
    private static readonly Lazy<SimRun> s_run = new(() =>
        SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 3600, Seed = 7, Scenario = Scenario.Load(SimRun.ExampleScenario) }));

    private static SimRun Run => s_run.Value;

    [Fact]
    public void EveryEventKind_IsInTheTruth_WithItsSpan()
    {
        var scenario = Scenario.Load(SimRun.ExampleScenario);
        foreach (var spec in scenario.Events)
        {
            var events = Run.Events.Where(e => e.GetProperty("kind").GetString() == spec.Kind).ToList();
            Assert.True(events.Count > 0, spec.Kind);
            foreach (var e in events)
            {
                Assert.True(e.GetProperty("start").ValueKind == JsonValueKind.Number, $"{spec.Kind} never happened");
                Assert.True(SimRun.Ms(e, "end") >= SimRun.Ms(e, "start"), spec.Kind);
            }
        }
        // The run is one hour: fatigue (over 4 h) is recorded but no alert is expected; everything else expects its own kind.
        Assert.Equal(JsonValueKind.Null, Run.Event("fatigue").GetProperty("expected_alert").ValueKind);
        Assert.Equal("hazmat_long_stop", Run.Event("hazmat_long_stop").GetProperty("expected_alert").GetString());
        Assert.Equal("zone_dwell", Run.Event("zone_dwell").GetProperty("expected_alert").GetString());
        Assert.Equal("wrong_way", Run.Event("wrong_way").GetProperty("expected_alert").GetString());
    }

    [Fact]
    public void A_wrong_way_drive_no_engine_could_tell_from_a_legal_one_expects_no_alert()
    {
        // Monaco has no stretch of one-way road long enough for three fixes 5 s apart with nothing alongside: the drive
        // falls back to a one-way edge whose other half runs a few metres off, and the truth expects nothing of it.
        var scenario = new Scenario { Fleet = new FleetMix { Taxis = 20 }, Events = [new ScenarioEvent { Kind = "wrong_way", Start = 300 }] };
        scenario.Gps["taxi"] = new GpsSettings { SigmaM = 8, IntervalS = 5 };
        var run = SimRun.Run(SimRun.Monaco, new SimulationOptions { DurationS = 1800, Seed = 5, Scenario = scenario,
            Start = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.FromHours(1)) });
        var e = run.Event("wrong_way");
        Assert.Equal(JsonValueKind.Number, e.GetProperty("start").ValueKind);
        Assert.Equal(JsonValueKind.Null, e.GetProperty("expected_alert").ValueKind);
        Assert.Equal(0, e.GetProperty("observable").GetDouble());
    }

    [Fact]
    public void WrongWay_DrivesAOneWayEdge_AgainstItsDirection()
    {
        var e = Run.Event("wrong_way");
        int edge = e.GetProperty("edge").GetInt32();
        Assert.True(SimRun.Shenzhen.IsOneWay(edge));
        var on = Probes(e).Where(t => t.GetProperty("edge").GetInt32() == edge).ToList();
        Assert.NotEmpty(on);
        foreach (var t in on)
        {
            Assert.True(t.GetProperty("against_oneway").GetBoolean());
            Assert.NotEqual(SimRun.Shenzhen.Direction(edge), t.GetProperty("direction").GetString());
        }
        // Nobody else drives against a one-way street.
        Assert.All(Run.TruthProbes.Where(t => t.TryGetProperty("against_oneway", out _)),
            t => Assert.Equal(e.GetProperty("vehicle_id").GetString(), t.GetProperty("vehicle_id").GetString()));
    }

    [Fact]
    public void WrongWay_LastsAtLeastThreeFixes_WithNoRoadAlongside()
    {
        // Long enough for the taxi's unit (a fix every 15 s) to send three fixes from the wrong-way stretch while moving,
        // and no road within 40 m running the way it drives: a drive any engine could judge.
        var e = Run.Event("wrong_way");
        var moving = Probes(e).Where(t => t.TryGetProperty("against_oneway", out _) && t.GetProperty("state").GetString() == "moving").ToList();
        Assert.True(moving.Count >= 3, $"{moving.Count} fixes moving against the one-way road");
        var net = SimRun.Shenzhen;
        var index = new Traffic.Geo.Spatial.EdgeIndex(net);
        var near = new Traffic.Geo.Spatial.EdgeCandidate[16];
        var stretch = moving.Select(t => t.GetProperty("edge").GetInt32()).ToHashSet();
        foreach (var t in moving)
        {
            int edge = t.GetProperty("edge").GetInt32();
            double lon = t.GetProperty("lon").GetDouble(), lat = t.GetProperty("lat").GetDouble();
            double course = (net.BearingAt(edge, t.GetProperty("offset_m").GetDouble()) + 180) % 360;
            int n = index.Within(lon, lat, 40, near);
            for (int i = 0; i < n; i++)
            {
                if (stretch.Contains(near[i].Edge)) continue;
                Assert.True(GeoMath.BearingDifference(course, net.BearingAt(near[i].Edge, near[i].OffsetM)) > 45, $"edge {near[i].Edge} runs alongside");
            }
        }
    }

    [Fact]
    public void Speeders_TrueSpeed_ExceedsTheLimit()
    {
        var speeders = Run.Events.Where(e => e.GetProperty("kind").GetString() == "speeding").ToList();
        Assert.Equal(2, speeders.Count);
        foreach (var e in speeders)
        {
            var over = Probes(e).Count(t => t.GetProperty("speed_kmh").GetDouble() > t.GetProperty("limit_kmh").GetDouble() * 1.2);
            Assert.True(over >= 10, $"{e.GetProperty("vehicle_id")}: {over} probes over the limit");
        }
    }

    [Fact]
    public void Congestion_SlowsEveryVehicleOnTheRoad()
    {
        var e = Run.Event("congestion");
        var ways = e.GetProperty("way_ids").EnumerateArray().Select(w => w.GetInt64()).ToHashSet();
        double factor = e.GetProperty("speed_factor").GetDouble();
        long start = SimRun.Ms(e, "start"), end = SimRun.Ms(e, "end");
        // A minute after the start, so that vehicles already on the road have braked.
        var on = Run.TruthProbes.Where(t => ways.Contains(t.GetProperty("way_id").GetInt64())
            && SimRun.Ms(t, "time") >= start + 60_000 && SimRun.Ms(t, "time") < end).ToList();
        Assert.True(on.Count >= 20, $"only {on.Count} probes on the congested road");
        int slow = on.Count(t => t.GetProperty("speed_kmh").GetDouble() <= (t.GetProperty("limit_kmh").GetDouble() * factor) + 1);
        Assert.True(slow >= on.Count * 0.95, $"{slow} of {on.Count} slowed");
    }

    [Theory]
    [InlineData("zone")]
    [InlineData("zone_dwell")]
    [InlineData("hazmat_forbidden")]
    public void ZoneVisits_StopInsideTheZone(string kind)
    {
        var e = Run.Event(kind);
        var zone = SimZone.Read(Path.Combine(Run.Dir, "zones.geojson")).Single(z => z.Id == e.GetProperty("zone").GetString());
        var inside = Probes(e).Where(t => zone.Contains(t.GetProperty("lon").GetDouble(), t.GetProperty("lat").GetDouble())).ToList();
        var stopped = inside.Where(t => t.GetProperty("speed_kmh").GetDouble() == 0).Select(t => SimRun.Ms(t, "time")).ToList();
        Assert.NotEmpty(stopped);
        double dwell = e.GetProperty("dwell_s").GetDouble();
        Assert.True((stopped.Max() - stopped.Min()) / 1000.0 >= dwell - 30, $"{kind}: stopped {(stopped.Max() - stopped.Min()) / 1000.0} s of {dwell}");
        Assert.True(inside.Count >= Probes(e).Count() * 0.8);
    }

    [Fact]
    public void HazmatLongStop_StandsStill()
    {
        var e = Run.Event("hazmat_long_stop");
        var during = Probes(e).ToList();
        Assert.True(during.Count > 100);
        Assert.All(during, t => Assert.Equal(0, t.GetProperty("speed_kmh").GetDouble()));
        Assert.Single(during.Select(t => t.GetProperty("edge").GetInt32()).Distinct());
    }

    [Fact]
    public void HazmatNoFix_ReportsNoFix_WhileMoving()
    {
        var e = Run.Event("hazmat_no_fix");
        var lines = Probes(e).Where(t => SimRun.Ms(t, "time") < SimRun.Ms(e, "end")
            && t.GetProperty("line").ValueKind == JsonValueKind.Number && !t.TryGetProperty("fault", out _)).ToList();
        Assert.True(lines.Count >= 20);
        var probes = lines.Select(t => JsonDocument.Parse(Run.ProbeLines[t.GetProperty("line").GetInt32() - 1]).RootElement).ToList();
        Assert.All(probes, p => Assert.False(p.GetProperty("fix").GetBoolean()));
        // The unit repeats one position while it reports the speed it measures.
        Assert.Single(probes.Select(p => (p.GetProperty("lon").GetDouble(), p.GetProperty("lat").GetDouble())).Distinct());
        Assert.Contains(probes, p => p.GetProperty("speed_kmh").GetDouble() > 5);
        Assert.Contains(lines, t => t.GetProperty("speed_kmh").GetDouble() > 5);
    }

    [Fact]
    public void HazmatOffCorridor_LeavesTheCorridor_AndOtherTrucksKeepToTheirs()
    {
        var registry = File.ReadLines(Path.Combine(Run.Dir, "vehicles.ndjson")).Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Where(v => v.GetProperty("class").GetString() == "hazmat").ToList();
        Assert.Equal(8, registry.Count);
        using var zones = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Run.Dir, "zones.geojson")));
        var lines = zones.RootElement.GetProperty("features").EnumerateArray()
            .Where(f => f.GetProperty("properties").GetProperty("kind").GetString() == "corridor")
            .ToDictionary(f => f.GetProperty("properties").GetProperty("id").GetString()!,
                f => f.GetProperty("geometry").GetProperty("coordinates").EnumerateArray().Select(p => (p[0].GetDouble(), p[1].GetDouble())).ToArray());
        var corridorOf = registry.ToDictionary(v => v.GetProperty("vehicle_id").GetString()!, v => lines[v.GetProperty("corridor").GetString()!]);

        var e = Run.Event("hazmat_off_corridor");
        string id = e.GetProperty("vehicle_id").GetString()!;
        Assert.Equal("corridor-" + id, e.GetProperty("zone").GetString());
        Assert.True(Probes(e).Max(t => Distance(corridorOf[id], t)) > 500);
        // Mostly outside the band (a detour may cross the corridor on its way).
        var during = Probes(e).Where(t => SimRun.Ms(t, "time") > SimRun.Ms(e, "start") + 15_000 && SimRun.Ms(t, "time") < SimRun.Ms(e, "end") - 15_000).ToList();
        Assert.True(during.Count(t => Distance(corridorOf[id], t) > 50) >= during.Count * 0.7);

        // Trucks with no event that takes them elsewhere drive inside their corridor's band the whole time.
        var elsewhere = Run.Events.Where(x => x.TryGetProperty("vehicle_id", out _) && x.GetProperty("kind").GetString() is "hazmat_forbidden" or "hazmat_off_corridor")
            .Select(x => x.GetProperty("vehicle_id").GetString()).ToHashSet();
        int checkedProbes = 0;
        foreach (var t in Run.TruthProbes)
        {
            string v = t.GetProperty("vehicle_id").GetString()!;
            if (!corridorOf.TryGetValue(v, out var line) || elsewhere.Contains(v)) continue;
            Assert.True(Distance(line, t) <= 50, $"{v} {Distance(line, t):F0} m off its corridor");
            checkedProbes++;
        }
        Assert.True(checkedProbes > 1000);
    }

    private static double Distance((double Lon, double Lat)[] line, JsonElement t)
    {
        double lon = t.GetProperty("lon").GetDouble(), lat = t.GetProperty("lat").GetDouble(), kx = GeoMath.MetresPerDegreeLon(lat);
        double best = double.MaxValue;
        for (int i = 0; i + 1 < line.Length; i++) best = Math.Min(best, GeoMath.ProjectOnSegment(lon, lat, line[i].Lon, line[i].Lat, line[i + 1].Lon, line[i + 1].Lat, kx, out _));
        return best;
    }

    [Fact]
    public void SignalLost_LeavesAGap()
    {
        var e = Run.Event("signal_lost");
        Assert.DoesNotContain(Probes(e), t => SimRun.Ms(t, "time") < SimRun.Ms(e, "end"));
        string id = e.GetProperty("vehicle_id").GetString()!;
        Assert.Contains(Run.TruthProbes, t => t.GetProperty("vehicle_id").GetString() == id && SimRun.Ms(t, "time") > SimRun.Ms(e, "end"));
    }

    [Fact]
    public void Teleport_PutsOneFixFarAway()
    {
        var e = Run.Event("teleport");
        string id = e.GetProperty("vehicle_id").GetString()!;
        var truth = Run.TruthProbes.Single(t => t.GetProperty("vehicle_id").GetString() == id && SimRun.Ms(t, "time") == SimRun.Ms(e, "start"));
        var probe = JsonDocument.Parse(Run.ProbeLines[truth.GetProperty("line").GetInt32() - 1]).RootElement;
        double d = GeoMath.Distance(probe.GetProperty("lon").GetDouble(), probe.GetProperty("lat").GetDouble(), truth.GetProperty("lon").GetDouble(), truth.GetProperty("lat").GetDouble());
        Assert.InRange(d, 4900, 5100);
    }

    [Fact]
    public void Fatigue_DrivesWithoutBreaks()
    {
        var e = Run.Event("fatigue");
        long stoppedSince = -1, longest = 0;
        foreach (var t in Probes(e))
        {
            long time = SimRun.Ms(t, "time");
            if (t.GetProperty("speed_kmh").GetDouble() > 0) stoppedSince = -1;
            else if (stoppedSince < 0) stoppedSince = time;
            else longest = Math.Max(longest, time - stoppedSince);
        }
        Assert.InRange(longest, 0, 30_000);
    }

    [Fact]
    public async Task TheEnginesDecoder_RejectsExactlyTheInjectedMalformedLines()
    {
        var malformed = Run.TruthProbes.Where(t => t.TryGetProperty("fault", out var f) && f.GetString() == "malformed")
            .Select(t => t.GetProperty("line").GetInt64()).ToHashSet();
        var rejected = new RejectedLines();
        var bytes = System.Text.Encoding.UTF8.GetBytes(string.Join("\n", Run.ProbeLines) + "\n");
        var summary = await new Traffic.Engine.Probes.ProbeStreamReader(Traffic.Engine.Probes.ProbeFormat.NdJson, new Traffic.Engine.Probes.VehicleIds())
            .ReadAsync(new MemoryStream(bytes), rejected);
        Assert.NotEmpty(malformed);
        Assert.Equal(malformed.Order(), rejected.Lines.Order());
        Assert.Equal(Run.ProbeLines.Length - malformed.Count, summary.Accepted);
    }

    private sealed class RejectedLines : Traffic.Engine.Probes.IProbeHandler
    {
        public List<long> Lines { get; } = [];

        public void OnProbe(in Traffic.Engine.Probes.Probe probe, in Traffic.Engine.Probes.RecordSource source)
        {
        }

        public void OnRejected(in Traffic.Engine.Probes.DecodeError error, in Traffic.Engine.Probes.RecordSource source, ReadOnlySpan<byte> raw) =>
            Lines.Add(source.Record);
    }

    [Fact]
    public void TransportFaults_AreInjected_AndRecorded()
    {
        var faults = Run.TruthProbes.Where(t => t.TryGetProperty("fault", out _)).GroupBy(t => t.GetProperty("fault").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        foreach (string kind in new[] { "dropped", "duplicated", "out_of_order", "malformed" }) Assert.True(faults.ContainsKey(kind), kind);

        var malformedLines = new HashSet<long>();
        foreach (var t in faults["malformed"])
        {
            long line = t.GetProperty("line").GetInt64();
            malformedLines.Add(line);
            Assert.False(ProbeRules.IsValid(Run.ProbeLines[line - 1], out _), Run.ProbeLines[line - 1]);
        }
        Assert.Equal(4, faults["malformed"].Select(t => t.GetProperty("variant").GetString()).Distinct().Count());
        for (int i = 0; i < Run.ProbeLines.Length; i++)
        {
            if (!malformedLines.Contains(i + 1)) Assert.True(ProbeRules.IsValid(Run.ProbeLines[i], out string why), $"line {i + 1}: {why}");
        }
        Assert.All(faults["dropped"], t => Assert.Equal(JsonValueKind.Null, t.GetProperty("line").ValueKind));
        foreach (var t in faults["duplicated"])
        {
            long line = t.GetProperty("line").GetInt64();
            Assert.Equal(Run.ProbeLines[line - 1], Run.ProbeLines[line]);
        }
        foreach (var t in faults["out_of_order"])
        {
            long line = t.GetProperty("line").GetInt64();
            string id = t.GetProperty("vehicle_id").GetString()!;
            long time = SimRun.Ms(t, "time");
            // Some earlier line of the same vehicle is later in time; or, held at the vehicle's last fix, it was
            // written at the end of the file behind every other vehicle's later probes.
            bool after = Run.ProbeLines.Take((int)line - 1).Any(l => l.Contains(id, StringComparison.Ordinal)
                && ProbeRules.IsValid(l, out _) && JsonDocument.Parse(l).RootElement.GetProperty("time").GetInt64() > time);
            bool last = !Run.ProbeLines.Skip((int)line).Any(l => l.Contains(id, StringComparison.Ordinal));
            Assert.True(after || last, $"line {line} is not out of order");
        }
        // Every line is accounted for by exactly one truth record (a duplicate by its first copy).
        long written = Run.TruthProbes.Count(t => t.GetProperty("line").ValueKind == JsonValueKind.Number) + faults["duplicated"].Count;
        Assert.Equal(Run.ProbeLines.Length, written);
    }

    [Fact]
    public void YamlAndJson_ReadTheSame_AndMistakesAreReported()
    {
        string dir = TestDirectory.New("scenario");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a.yaml"), "fleet: { taxis: 3, buses: 1, hazmat: 2 }\nevents:\n  - { kind: speeding, count: 2, start: 60, factor: 1.5 }\nfaults: { drop: 0.1 }\n");
        File.WriteAllText(Path.Combine(dir, "a.json"), """{"fleet":{"taxis":3,"buses":1,"hazmat":2},"events":[{"kind":"speeding","count":2,"start":60,"factor":1.5}],"faults":{"drop":0.1}}""");
        var y = Scenario.Load(Path.Combine(dir, "a.yaml"));
        var j = Scenario.Load(Path.Combine(dir, "a.json"));
        Assert.Equal(JsonSerializer.Serialize(y), JsonSerializer.Serialize(j));
        Assert.Equal(3, y.Fleet!.Taxis);
        Assert.Equal(1.5, y.Events[0].Factor);

        File.WriteAllText(Path.Combine(dir, "bad.yaml"), "events:\n  - { kind: meteor }\n");
        Assert.Contains("unknown event kind", Assert.Throws<InvalidDataException>(() => Scenario.Load(Path.Combine(dir, "bad.yaml"))).Message);
        File.WriteAllText(Path.Combine(dir, "typo.yaml"), "fleet: { taxi: 3 }\n");
        Assert.Throws<InvalidDataException>(() => Scenario.Load(Path.Combine(dir, "typo.yaml")));
        File.WriteAllText(Path.Combine(dir, "road.yaml"), "events:\n  - { kind: congestion, road: 不存在的路 }\n");
        var noRoad = new SimulationOptions { Scenario = Scenario.Load(Path.Combine(dir, "road.yaml")) };
        Assert.Contains("不存在的路", Assert.Throws<InvalidDataException>(() => new FleetSimulator(SimRun.Shenzhen, noRoad)).Message);
    }

    [Fact]
    public void ZoneHours_DecideTheExpectedAlert()
    {
        string dir = TestDirectory.New("scenario");
        Directory.CreateDirectory(dir);
        // H1 of the example with night hours only: a morning visit expects nothing.
        string zones = File.ReadAllText(Path.Combine(SharedData.RepoRoot(), "docs", "examples", "zones.geojson")).Replace("07:00-22:00", "22:00-06:00", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "zones.geojson"), zones);
        File.WriteAllText(Path.Combine(dir, "s.yaml"), "fleet: { taxis: 1, hazmat: 1 }\nzones: zones.geojson\nevents:\n  - { kind: hazmat_forbidden, zone: H1, duration_s: 60 }\n");
        var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 3600, Seed = 7, Scenario = Scenario.Load(Path.Combine(dir, "s.yaml")) });
        var e = run.Event("hazmat_forbidden");
        Assert.Equal(JsonValueKind.Number, e.GetProperty("start").ValueKind);
        Assert.Equal(JsonValueKind.Null, e.GetProperty("expected_alert").ValueKind);
        static SimZone Zone(string hours) => SimZone.Parse(
            $$$"""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"z","kind":"restricted","hours":"{{{hours}}}"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""").Single();
        Assert.True(Zone("22:00-06:00").AppliesAt(23 * 60));
        Assert.False(Zone("22:00-06:00").AppliesAt(12 * 60));
        Assert.True(Zone("07:00-22:00").AppliesAt(12 * 60));
    }

    // Truth probes of the event's vehicle within its span.
    private static IEnumerable<JsonElement> Probes(JsonElement e)
    {
        string id = e.GetProperty("vehicle_id").GetString()!;
        long start = SimRun.Ms(e, "start"), end = SimRun.Ms(e, "end");
        return Run.TruthProbes.Where(t => t.GetProperty("vehicle_id").GetString() == id && SimRun.Ms(t, "time") >= start && SimRun.Ms(t, "time") <= end);
    }
}
