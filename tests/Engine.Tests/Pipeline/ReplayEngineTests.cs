using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Tests.Pipeline;

public class ReplayEngineTests
{
    private static readonly Lazy<SimRun> s_run = new(() =>
        SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 5400, Seed = 3, Scenario = Scenario.Load(SimRun.ExampleScenario) }));

    private static async Task<(ReplaySummary Summary, string Out)> Replay(int shards, int? segmentShards = null)
    {
        var run = s_run.Value;
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(Path.Combine(run.Dir, "vehicles.ndjson"), ids);
        var zones = ZoneSet.Load(Path.Combine(run.Dir, "zones.geojson"));
        string outDir = Path.Combine(run.Dir, $"replay-{shards}-{Guid.NewGuid():N}");
        var engine = new ReplayEngine(SimRun.Shenzhen, registry, zones, ids, new ReplayOptions { VehicleShards = shards, SegmentShards = segmentShards ?? shards });
        var summary = await engine.RunAsync(Path.Combine(run.Dir, "probes.ndjson"), outDir);
        return (summary, outDir);
    }

    [Fact]
    public async Task A_simulated_scenario_replays_with_every_record_accounted_for_and_the_injected_vehicle_alerts_raised()
    {
        var run = s_run.Value;
        var (s, outDir) = await Replay(shards: 2);

        // Nothing vanishes: every line is accepted or rejected, and every accepted probe is matched, without a fix, late or refused.
        Assert.Equal(run.ProbeLines.Length, s.Accepted + s.Rejected);
        Assert.Equal(s.Accepted, s.Matched + s.Unmatched + s.NoFix + s.Late + s.Refused);
        int malformed = run.TruthProbes.Count(t => t.TryGetProperty("fault", out var f) && f.GetString() == "malformed");
        Assert.Equal(malformed, s.Rejected);
        Assert.Equal(s.Rejected, File.ReadLines(Path.Combine(outDir, "dead-letter.ndjson")).Count());

        // The injected speeders, zone visits and dangerous-goods entry raise their alerts.
        var opened = File.ReadLines(Path.Combine(outDir, "alerts.ndjson")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(a => a.GetProperty("state").GetString() == "open" && a.TryGetProperty("vehicle_id", out _))
            .Select(a => (Kind: a.GetProperty("kind").GetString()!, Vehicle: a.GetProperty("vehicle_id").GetString()!)).ToHashSet();
        foreach (var e in run.Events)
        {
            string kind = e.GetProperty("kind").GetString()!;
            if (kind is not ("speeding" or "zone" or "zone_dwell" or "hazmat_forbidden" or "hazmat_long_stop" or "hazmat_no_fix" or "hazmat_off_corridor" or "teleport" or "signal_lost")) continue; // wrong_way: found for some seeds only (see docs/outputs.md)
            if (e.GetProperty("expected_alert").ValueKind != JsonValueKind.String) continue;
            if (e.GetProperty("start").ValueKind != JsonValueKind.Number) continue; // the event did not happen within the run
            string vehicle = e.GetProperty("vehicle_id").GetString()!;
            Assert.Contains((e.GetProperty("expected_alert").GetString()!, vehicle), opened);
        }

        // The injected congestion on a named road shows in its segment windows: moderate or worse during the event.
        // (With this small fleet most windows have too few vehicles for a run of three, so alerts are not asserted here.)
        var congestion = run.Event("congestion");
        string road = congestion.GetProperty("road").GetString()!;
        long from = congestion.GetProperty("start").GetInt64(), to = congestion.GetProperty("end").GetInt64();
        var windows = File.ReadLines(Path.Combine(outDir, "segments.ndjson")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(w => w.TryGetProperty("road", out var r) && r.GetString() == road).ToList();
        static long Ms(JsonElement w, string name) => DateTimeOffset.Parse(w.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        var during = windows.Where(w => Ms(w, "window_start") >= from && Ms(w, "window_end") <= to).ToList();
        var outside = windows.Where(w => Ms(w, "window_end") <= from || Ms(w, "window_start") >= to).ToList();
        Assert.NotEmpty(during);
        Assert.True(during.Average(w => w.GetProperty("level").GetInt32()) >= 4, "congested windows on the road");
        if (outside.Count > 0) Assert.True(outside.Average(w => w.GetProperty("level").GetInt32()) < during.Average(w => w.GetProperty("level").GetInt32()));
        // Every alert id names one alert: one open per id.
        var opens = File.ReadLines(Path.Combine(outDir, "alerts.ndjson")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(a => a.GetProperty("state").GetString() == "open").Select(a => a.GetProperty("alert_id").GetString()).ToList();
        Assert.Equal(opens.Count, opens.Distinct().Count());

        Assert.True(s.SegmentWindows > 0);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "matched"), "*.arrow", SearchOption.AllDirectories));
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        Assert.Equal(s.Accepted, summary.RootElement.GetProperty("accepted").GetInt64());
    }

    [Fact]
    public async Task One_shard_and_two_shards_give_the_same_alerts_and_segments()
    {
        var (_, one) = await Replay(shards: 1);
        var (_, two) = await Replay(shards: 2);
        // Three segment shards behind two vehicle shards: the rows, written as the shards make them final, are merged
        // into the one order.
        var (_, three) = await Replay(shards: 2, segmentShards: 3);
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, "alerts.ndjson")), File.ReadAllBytes(Path.Combine(two, "alerts.ndjson")));
        foreach (string other in new[] { two, three })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(one, "segments.ndjson")), File.ReadAllBytes(Path.Combine(other, "segments.ndjson")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(one, "segments-5m.ndjson")), File.ReadAllBytes(Path.Combine(other, "segments-5m.ndjson")));
        }
        foreach (string arrow in new[] { Path.Combine("alerts", "alerts-000001.arrow"), Path.Combine("segments", "segments-000001.arrow"), Path.Combine("segments-5m", "segments-5m-000001.arrow") })
            Assert.Equal(File.ReadAllBytes(Path.Combine(one, arrow)), File.ReadAllBytes(Path.Combine(two, arrow)));
        foreach (string arrow in new[] { Path.Combine("segments", "segments-000001.arrow"), Path.Combine("segments-5m", "segments-5m-000001.arrow") })
            Assert.Equal(File.ReadAllBytes(Path.Combine(one, arrow)), File.ReadAllBytes(Path.Combine(three, arrow)));
        // The sliding view and the network index too: each shard's part of a window adds up to the same figures.
        Assert.NotEmpty(File.ReadAllLines(Path.Combine(one, "segments-5m.ndjson")));
        Assert.NotEmpty(File.ReadAllLines(Path.Combine(one, "tpi.ndjson")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, "segments-5m.ndjson")), File.ReadAllBytes(Path.Combine(two, "segments-5m.ndjson")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, "tpi.ndjson")), File.ReadAllBytes(Path.Combine(two, "tpi.ndjson")));
    }

    [Fact]
    public async Task The_sliding_view_and_the_network_index_follow_the_segment_windows()
    {
        var (s, outDir) = await Replay(shards: 2);
        static JsonElement[] Lines(string path) => File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        static long Ms(JsonElement w, string name) => DateTimeOffset.Parse(w.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        var windows = Lines(Path.Combine(outDir, "segments.ndjson"));
        var views = Lines(Path.Combine(outDir, "segments-5m.ndjson"));
        var tpi = Lines(Path.Combine(outDir, "tpi.ndjson"));
        Assert.Equal(s.SegmentViews, views.Length);
        // The same columns as the segment rows; a 5-minute span ending on a window end.
        Assert.Equal(windows[0].EnumerateObject().Select(p => p.Name).Where(n => n != "road"), views[0].EnumerateObject().Select(p => p.Name).Where(n => n != "road"));
        Assert.All(views, v => Assert.Equal(300_000, Ms(v, "window_end") - Ms(v, "window_start")));
        Assert.All(views, v => Assert.True(v.GetProperty("vehicles").GetInt32() >= 3));
        // A segment's published window lies in the span of a view that ends at its end, with at least its vehicles.
        var viewByEnd = views.ToDictionary(v => (v.GetProperty("edge").GetInt32(), Ms(v, "window_end")));
        foreach (var w in windows)
        {
            var v = viewByEnd[(w.GetProperty("edge").GetInt32(), Ms(w, "window_end"))];
            Assert.True(v.GetProperty("vehicles").GetInt32() >= w.GetProperty("vehicles").GetInt32());
        }
        // One index per window with published rows, counting those rows.
        var rowsPerWindow = windows.GroupBy(w => Ms(w, "window_start")).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(rowsPerWindow.Keys.Order(), tpi.Select(t => Ms(t, "window_start")));
        Assert.All(tpi, t => Assert.Equal(rowsPerWindow[Ms(t, "window_start")], t.GetProperty("segments").GetInt32()));
        Assert.All(tpi, t => Assert.InRange(t.GetProperty("tpi").GetDouble(), 0, 10));
        Assert.Equal(tpi.Length, s.Tpi.Windows);
        Assert.Equal(tpi.Max(t => t.GetProperty("tpi").GetDouble()), s.Tpi.Peak);
        Assert.Equal(Math.Round(tpi.Average(t => t.GetProperty("tpi").GetDouble()), 2), s.Tpi.Mean);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
        Assert.Equal(s.Tpi.Peak, summary.RootElement.GetProperty("tpi").GetProperty("peak").GetDouble());
    }
}
