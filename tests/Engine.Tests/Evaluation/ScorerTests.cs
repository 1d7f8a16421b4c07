using System.Text.Json;
using Traffic.Engine.Evaluation;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Tests.Evaluation;

public class ScorerTests
{
    private const long T0 = 1_767_571_200_000; // 2026-01-05T00:00:00Z, 08:00 local
    private const long Min = 60_000;
    private static readonly long s_tol = 120_000;

    // ---- hand-made truth and alerts ----

    private static string Line(Dictionary<string, object?> fields) => JsonSerializer.Serialize(fields);

    private static string Event(string kind, string? vehicle, long? start, long? end, string? expected, string? zone = null, string? road = null, long[]? ways = null)
    {
        var f = new Dictionary<string, object?> { ["type"] = "event", ["kind"] = kind };
        if (vehicle != null) f["vehicle_id"] = vehicle;
        if (road != null) f["road"] = road;
        if (ways != null) f["way_ids"] = ways;
        if (zone != null) f["zone"] = zone;
        f["start"] = start;
        f["end"] = end;
        f["expected_alert"] = expected;
        return Line(f);
    }

    private static string Probe(string vehicle, long time, int edge, long way = 100, double lon = 113.90, double lat = 22.50,
        double speed = 30, double limit = 50, string state = "moving", long? line = 1, string? fault = null, string direction = "forward")
    {
        var f = new Dictionary<string, object?>
        {
            ["type"] = "probe", ["line"] = line, ["vehicle_id"] = vehicle, ["time"] = time, ["edge"] = edge, ["way_id"] = way,
            ["direction"] = direction, ["offset_m"] = 1.0, ["speed_kmh"] = speed, ["limit_kmh"] = limit, ["lon"] = lon, ["lat"] = lat, ["state"] = state,
        };
        if (fault != null) f["fault"] = fault;
        return Line(f);
    }

    private static RaisedAlert Alert(string kind, string? vehicle, long start, long? end, string? id = null, string? zone = null, long? way = null, string? road = null, string? cls = "taxi") => new()
    {
        AlertId = id ?? $"{kind}:{vehicle ?? way?.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{start}",
        Kind = kind,
        StartMs = start,
        EndMs = end,
        VehicleId = vehicle,
        Class = vehicle != null ? cls : null,
        Zone = zone,
        WayId = way,
        Road = road,
        Direction = way != null ? "forward" : null,
    };

    private static ScoreReport Score(IEnumerable<string> truth, IEnumerable<RaisedAlert> alerts, ScoreOptions? options = null, ZoneSet? zones = null, IEnumerable<MatchedRow>? matched = null) =>
        Scorer.Score(GroundTruth.Parse(truth, zones), [.. alerts], matched ?? [], options);

    // ---- alerts against events ----

    [Fact]
    public void Hits_misses_and_alerts_without_an_event_are_counted_per_kind()
    {
        string[] truth =
        [
            Event("speeding", "A", T0, T0 + (20 * Min), "speeding"),
            Event("speeding", "B", T0, T0 + (20 * Min), "speeding"),
            Event("signal_lost", "C", T0 + (30 * Min), T0 + (45 * Min), "signal_lost"),
        ];
        var r = Score(truth,
        [
            Alert("speeding", "A", T0 + (5 * Min), T0 + (6 * Min)),     // hit
            Alert("speeding", "D", T0 + (5 * Min), T0 + (6 * Min)),     // nobody injected D's speeding
            Alert("signal_lost", "A", T0 + (31 * Min), T0 + (40 * Min)), // right kind, wrong vehicle
        ]);
        var speeding = r.Kind("speeding")!;
        Assert.Equal((2, 2, 1, 1, 1), (speeding.Expected, speeding.Raised, speeding.TruePositives, speeding.FalsePositives, speeding.FalseNegatives));
        Assert.Equal(0.5, speeding.Precision);
        Assert.Equal(0.5, speeding.Recall);
        Assert.Equal(new[] { "speeding:D:" + (T0 + (5 * Min)) }, speeding.FalseAlerts);
        Assert.Equal("B", Assert.Single(speeding.Missed).VehicleId);
        var lost = r.Kind("signal_lost")!;
        Assert.Equal((1, 1, 0, 1, 1), (lost.Expected, lost.Raised, lost.TruePositives, lost.FalsePositives, lost.FalseNegatives));
        Assert.Equal(0.0, lost.Precision);
        Assert.Equal(0.0, lost.Recall);
    }

    [Theory]
    [InlineData(0, true)]             // starts exactly at the event's end + tolerance
    [InlineData(1, false)]            // one millisecond later
    public void An_alert_after_the_event_counts_up_to_the_tolerance_inclusive(long late, bool hit)
    {
        long end = T0 + (10 * Min);
        var r = Score([Event("teleport", "A", end, end, "teleport")], [Alert("teleport", "A", end + s_tol + late, end + s_tol + late + 15_000)]);
        Assert.Equal(hit ? 1 : 0, r.Kind("teleport")!.TruePositives);
        Assert.Equal(hit ? 0 : 1, r.Kind("teleport")!.FalsePositives);
    }

    [Theory]
    [InlineData(0, true)]             // ends exactly at the event's start − tolerance
    [InlineData(1, false)]            // one millisecond earlier
    public void An_alert_before_the_event_counts_up_to_the_tolerance_inclusive(long early, bool hit)
    {
        long start = T0 + (10 * Min);
        var r = Score([Event("wrong_way", "A", start, start + 30_000, "wrong_way")], [Alert("wrong_way", "A", start - s_tol - Min, start - s_tol - early)]);
        Assert.Equal(hit ? 1 : 0, r.Kind("wrong_way")!.TruePositives);
    }

    [Fact]
    public void The_tolerance_is_configurable()
    {
        long end = T0 + (10 * Min);
        string[] truth = [Event("teleport", "A", end, end, "teleport")];
        RaisedAlert[] alerts = [Alert("teleport", "A", end + 30_000, end + 45_000)];
        Assert.Equal(1, Score(truth, alerts).Kind("teleport")!.TruePositives);
        Assert.Equal(0, Score(truth, alerts, new ScoreOptions { ToleranceS = 29.999 }).Kind("teleport")!.TruePositives);
        Assert.Equal(1, Score(truth, alerts, new ScoreOptions { ToleranceS = 30 }).Kind("teleport")!.TruePositives);
        Assert.Throws<ArgumentOutOfRangeException>(() => Score(truth, alerts, new ScoreOptions { ToleranceS = -1 }));
    }

    [Fact]
    public void An_alert_still_open_at_the_end_of_the_run_covers_everything_after_its_start()
    {
        var r = Score([Event("hazmat_long_stop", "H", T0 + (50 * Min), T0 + (60 * Min), "hazmat_long_stop")],
            [Alert("hazmat_long_stop", "H", T0 + (12 * Min), end: null)]);
        Assert.Equal(1, r.Kind("hazmat_long_stop")!.TruePositives);
    }

    [Fact]
    public void Several_alerts_of_one_event_are_one_true_positive_and_the_rest_extra()
    {
        var r = Score([Event("speeding", "A", T0, T0 + (20 * Min), "speeding")],
        [
            Alert("speeding", "A", T0 + (9 * Min), T0 + (10 * Min)),
            Alert("speeding", "A", T0 + Min, T0 + (2 * Min)),
            Alert("speeding", "A", T0 + (15 * Min), T0 + (16 * Min)),
        ]);
        var k = r.Kind("speeding")!;
        Assert.Equal((3, 1, 0, 0, 2), (k.Raised, k.TruePositives, k.FalsePositives, k.FalseNegatives, k.Extra));
        Assert.Equal(1.0, k.Precision);
    }

    [Fact]
    public void The_lifecycle_lines_of_one_alert_id_make_one_alert()
    {
        string[] lines =
        [
            """{"alert_id":"speeding:A:1","kind":"speeding","state":"open","time":"2026-01-05T00:05:10.000Z","start":"2026-01-05T00:05:00.000Z","vehicle_id":"A","evidence":{}}""",
            """{"alert_id":"speeding:A:1","kind":"speeding","state":"update","time":"2026-01-05T00:06:00.000Z","start":"2026-01-05T00:05:00.000Z","vehicle_id":"A","severity":3,"evidence":{}}""",
            """{"alert_id":"speeding:B:1","kind":"speeding","state":"open","time":"2026-01-05T00:07:10.000Z","start":"2026-01-05T00:07:00.000Z","vehicle_id":"B","evidence":{}}""",
            "",
            """{"alert_id":"speeding:A:1","kind":"speeding","state":"close","time":"2026-01-05T00:08:10.000Z","start":"2026-01-05T00:05:00.000Z","end":"2026-01-05T00:08:00.000Z","vehicle_id":"A","evidence":{}}""",
        ];
        var alerts = RunOutput.ParseAlerts(lines);
        Assert.Equal(2, alerts.Count);
        Assert.Equal((T0 + (5 * Min), (long?)(T0 + (8 * Min))), (alerts[0].StartMs, alerts[0].EndMs));
        Assert.Null(alerts[1].EndMs);
        var r = Scorer.Score(GroundTruth.Parse([Event("speeding", "A", T0, T0 + (20 * Min), "speeding")]), alerts, []);
        Assert.Equal((2, 1, 1), (r.Kind("speeding")!.Raised, r.Kind("speeding")!.TruePositives, r.Kind("speeding")!.FalsePositives));
    }

    [Fact]
    public void Congestion_on_a_road_is_found_on_any_of_its_ways_and_counted_once()
    {
        string[] truth = [Event("congestion", null, T0 + (10 * Min), T0 + (40 * Min), "congestion", road: "深南大道", ways: [11, 12, 13])];
        var r = Score(truth,
        [
            Alert("congestion", null, T0 + (14 * Min), T0 + (20 * Min), way: 12, road: "深南大道"),
            Alert("congestion", null, T0 + (15 * Min), T0 + (22 * Min), way: 13, road: "深南大道"),
            Alert("congestion", null, T0 + (16 * Min), T0 + (22 * Min), way: 99, road: "深南大道"),   // a way the truth does not list: by name
            Alert("congestion", null, T0 + (16 * Min), T0 + (22 * Min), way: 77, road: "桂庙路"),     // another road
            Alert("congestion", null, T0 + (50 * Min), T0 + (55 * Min), way: 11, road: "深南大道"),   // the road, long after
        ]);
        var k = r.Kind("congestion")!;
        Assert.Equal((1, 5, 1, 2, 0, 2), (k.Expected, k.Raised, k.TruePositives, k.FalsePositives, k.FalseNegatives, k.Extra));
        Assert.Equal(1 / 3.0, k.Precision);
        Assert.Equal(1.0, k.Recall);
    }

    [Fact]
    public void Zone_alerts_must_name_the_events_zone()
    {
        string[] truth = [Event("zone", "A", T0, T0 + (5 * Min), "zone", zone: "Z1")];
        Assert.Equal(0, Score(truth, [Alert("zone", "A", T0 + Min, T0 + (2 * Min), zone: "Z9")]).Kind("zone")!.TruePositives);
        Assert.Equal(1, Score(truth, [Alert("zone", "A", T0 + Min, T0 + (2 * Min), zone: "Z1")]).Kind("zone")!.TruePositives);
    }

    [Fact]
    public void A_kind_the_scenario_never_injects_has_precision_only()
    {
        var r = Score([Event("speeding", "A", T0, T0 + Min, "speeding")], [Alert("incident", null, T0, T0 + (3 * Min), way: 5)]);
        var k = r.Kind("incident")!;
        Assert.Equal((0, 1, 0, 1), (k.Expected, k.Raised, k.TruePositives, k.FalsePositives));
        Assert.Equal(0.0, k.Precision);
        Assert.Null(k.Recall);
        Assert.Null(r.Kind("fatigue"));
    }

    [Fact]
    public void Events_that_expect_no_alert_or_never_happened_are_not_scored_and_their_alerts_are_false()
    {
        string[] truth =
        [
            Event("fatigue", "A", T0, T0 + (60 * Min), null),                  // a run too short for fatigue
            Event("long_stop", "B", T0 + (10 * Min), T0 + (40 * Min), null),    // a taxi: no alert expected
            Event("zone", "C", null, null, "zone", zone: "Z1"),                 // never reached its zone
        ];
        var r = Score(truth, [Alert("hazmat_long_stop", "B", T0 + (10 * Min), T0 + (40 * Min))]);
        Assert.Equal(3, r.EventsNotScored);
        Assert.Null(r.Kind("zone"));
        Assert.Null(r.Kind("fatigue"));
        Assert.Equal((0, 1), (r.Kind("hazmat_long_stop")!.Expected, r.Kind("hazmat_long_stop")!.FalsePositives));
    }

    [Fact]
    public void Kinds_come_in_the_order_of_the_interfaces()
    {
        var r = Score([], [Alert("signal_lost", "A", T0, T0), Alert("zone", "A", T0, T0), Alert("congestion", null, T0, T0, way: 1), Alert("made_up", "A", T0, T0)]);
        Assert.Equal(new[] { "congestion", "zone", "signal_lost", "made_up" }, r.Kinds.Select(k => k.Kind));
    }

    // ---- unplanned alerts confirmed by the truth ----

    private const string Zones = """
        {"type":"FeatureCollection","features":[
         {"type":"Feature","properties":{"id":"Z1","kind":"restricted","classes":["taxi"]},
          "geometry":{"type":"Polygon","coordinates":[[[113.93,22.54],[113.94,22.54],[113.94,22.55],[113.93,22.55],[113.93,22.54]]]}},
         {"type":"Feature","properties":{"id":"Z2","kind":"restricted","max_dwell_s":300},
          "geometry":{"type":"Polygon","coordinates":[[[113.95,22.54],[113.96,22.54],[113.96,22.55],[113.95,22.55],[113.95,22.54]]]}}]}
        """;

    [Fact]
    public void A_zone_alert_without_an_event_is_unplanned_when_the_vehicle_truly_was_inside_and_false_otherwise()
    {
        var zones = ZoneSet.Parse(Zones);
        string[] truth =
        [
            Probe("A", T0, 1, lon: 113.92, lat: 22.545),
            Probe("A", T0 + Min, 1, lon: 113.935, lat: 22.545),   // inside Z1
            Probe("A", T0 + (2 * Min), 1, lon: 113.92, lat: 22.545),
            Probe("B", T0 + Min, 1, lon: 113.92, lat: 22.545),    // never inside
        ];
        RaisedAlert[] alerts = [Alert("zone", "A", T0 + (50 * 1000), T0 + (70 * 1000), zone: "Z1"), Alert("zone", "B", T0 + (50 * 1000), T0 + (70 * 1000), zone: "Z1")];
        var k = Score(truth, alerts, zones: zones).Kind("zone")!;
        Assert.Equal((2, 1, 1), (k.Raised, k.Unplanned, k.FalsePositives));
        Assert.Equal(new[] { "zone:B:" + (T0 + 50_000) }, k.FalseAlerts);

        // Strict: the brief's rule, every alert without an injected event is false.
        k = Score(truth, alerts, new ScoreOptions { Strict = true }, zones).Kind("zone")!;
        Assert.Equal((0, 2), (k.Unplanned, k.FalsePositives));
        // Without the zones file nothing can be confirmed.
        Assert.Equal(2, Score(truth, alerts).Kind("zone")!.FalsePositives);
        // Z1 does not apply to buses: a bus inside it confirms nothing.
        Assert.Equal(1, Score(truth, [Alert("zone", "A", T0 + 50_000, T0 + 70_000, zone: "Z1", cls: "bus")], zones: zones).Kind("zone")!.FalsePositives);
    }

    [Fact]
    public void A_zone_dwell_alert_is_confirmed_only_by_a_stay_as_long_as_the_zone_allows()
    {
        var zones = ZoneSet.Parse(Zones);
        // Inside Z2 (300 s allowed) from T0 for 4 minutes (with a tolerance of 120 s: 180 s are needed), then 1 minute.
        var truth = new List<string>();
        for (int s = 0; s <= 240; s += 15) truth.Add(Probe("A", T0 + (s * 1000), 1, lon: 113.955, lat: 22.545));
        truth.Add(Probe("B", T0, 1, lon: 113.955, lat: 22.545));
        truth.Add(Probe("B", T0 + Min, 1, lon: 113.955, lat: 22.545));
        truth.Add(Probe("B", T0 + (2 * Min), 1, lon: 113.90, lat: 22.545));
        var k = Score(truth, [Alert("zone_dwell", "A", T0, T0 + (4 * Min), zone: "Z2"), Alert("zone_dwell", "B", T0, T0 + Min, zone: "Z2")], zones: zones).Kind("zone_dwell")!;
        Assert.Equal((1, 1), (k.Unplanned, k.FalsePositives));
        Assert.StartsWith("zone_dwell:B:", Assert.Single(k.FalseAlerts), StringComparison.Ordinal);
    }

    [Fact]
    public void A_speeding_alert_without_an_event_is_unplanned_only_when_the_true_speed_was_above_the_limit()
    {
        string[] truth =
        [
            Probe("A", T0, 1, speed: 45, limit: 50),
            Probe("A", T0 + (15 * 1000), 1, speed: 56, limit: 50),
            Probe("B", T0, 1, speed: 45, limit: 50),
            Probe("B", T0 + (15 * 1000), 1, speed: 24, limit: 50),   // the engine took a 20 km/h road's limit: a false alarm
        ];
        var k = Score(truth, [Alert("speeding", "A", T0, T0 + 30_000), Alert("speeding", "B", T0, T0 + 30_000)]).Kind("speeding")!;
        Assert.Equal((1, 1), (k.Unplanned, k.FalsePositives));
        Assert.StartsWith("speeding:B:", Assert.Single(k.FalseAlerts), StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_stop_is_confirmed_only_when_the_vehicle_stood_throughout()
    {
        var truth = new List<string>();
        for (int m = 0; m <= 30; m++)
        {
            truth.Add(Probe("H", T0 + (m * Min), 1, speed: 0, state: "stopped"));
            truth.Add(Probe("K", T0 + (m * Min), 1, speed: m == 15 ? 30 : 0, state: m == 15 ? "moving" : "stopped"));
        }
        var k = Score(truth, [Alert("hazmat_long_stop", "H", T0, T0 + (30 * Min)), Alert("hazmat_long_stop", "K", T0, T0 + (30 * Min))]).Kind("hazmat_long_stop")!;
        Assert.Equal((1, 1), (k.Unplanned, k.FalsePositives));
    }

    [Fact]
    public void A_congestion_alert_without_an_event_is_unplanned_when_the_true_speeds_on_its_way_were_low()
    {
        string[] truth =
        [
            Probe("A", T0 + Min, 1, way: 7, speed: 10, limit: 60),
            Probe("B", T0 + (2 * Min), 1, way: 7, speed: 15, limit: 60),
            Probe("C", T0 + (2 * Min), 2, way: 7, speed: 60, limit: 60, direction: "backward"),   // the other direction runs freely
            Probe("A", T0 + (3 * Min), 3, way: 8, speed: 50, limit: 60),
        ];
        var k = Score(truth,
        [
            Alert("congestion", null, T0, T0 + (4 * Min), way: 7),
            Alert("congestion", null, T0, T0 + (4 * Min), way: 8),
            Alert("congestion", null, T0, T0 + (4 * Min), way: 9),   // no vehicle there: nothing confirms it
        ]).Kind("congestion")!;
        Assert.Equal((1, 2), (k.Unplanned, k.FalsePositives));
    }

    // ---- map matching ----

    [Fact]
    public void Edge_accuracy_compares_each_matched_probe_with_its_true_edge_once()
    {
        string[] truth =
        [
            Probe("A", T0, 1, way: 10),
            Probe("A", T0 + 30_000, 3, way: 11),
            Probe("A", T0 + 15_000, 2, way: 10, state: "stopped"),    // written out of order: tracks are sorted by time
            Probe("A", T0 + 45_000, 4, way: 12, line: null, fault: "dropped"),
            Probe("A", T0 + 60_000, 4, way: 12, fault: "malformed"),
            Probe("B", T0, 7, way: 20),
        ];
        MatchedRow[] matched =
        [
            new("A", T0, 1, 10),             // right
            new("A", T0 + 15_000, 5, 10),    // the twin: right way, wrong edge (standing)
            new("A", T0 + 15_000, 5, 10),    // written twice: compared once
            new("A", T0 + 30_000, 9, 13),    // wrong
            new("B", T0, -1, -1),            // no match
            new("Z", T0, 1, 10),             // not in the truth
        ];
        var m = Score(truth, [], matched: matched).Matching;
        Assert.Equal(4, m.ProbesSent);
        Assert.Equal(4, m.ProbesCompared);
        Assert.Equal((3L, 1L, 1L, 2L, 1L), (m.Matched, m.Unmatched, m.SameEdge, m.SameWay, m.NotInTruth));
        Assert.Equal(0, m.NotInOutput);
        Assert.Equal(1 / 3.0, m.EdgeAccuracy);
        Assert.Equal(2 / 3.0, m.WayAccuracy);
        Assert.Equal((2L, 1L), (m.MatchedMoving, m.SameEdgeMoving));
        Assert.Equal(0.5, m.EdgeAccuracyMoving);
    }

    [Fact]
    public void Probe_lookup_by_time_finds_exact_times_only()
    {
        TruthProbe[] track = [.. new[] { 10L, 20, 30, 40 }.Select(t => new TruthProbe(t, 0, 0, 0, 0, 0, 0, false, false, false, true))];
        Assert.Equal(new[] { 0, 1, 2, 3, -1, -1, -1 }, new long[] { 10, 20, 30, 40, 5, 25, 45 }.Select(t => Scorer.IndexOf(track, t)));
        Assert.Equal(new[] { 0, 0, 1, 2, 4 }, new long[] { 5, 10, 11, 30, 41 }.Select(t => Scorer.LowerBound(track, t)));
        Assert.Equal(-1, Scorer.IndexOf([], 10));
    }

    // ---- files ----

    [Fact]
    public void A_broken_truth_or_alert_line_is_refused_with_its_number()
    {
        var e = Assert.Throws<InvalidDataException>(() => GroundTruth.Parse([Event("teleport", "A", T0, T0, "teleport"), "{\"type\":\"probe\",\"vehicle_id\":\"A\""]));
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidDataException>(() => GroundTruth.Parse(["""{"type":"weather"}"""]));
        Assert.Contains("weather", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidDataException>(() => RunOutput.ParseAlerts(["""{"alert_id":"x","kind":"zone","state":"open","start":"yesterday"}"""]));
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_report_writes_as_JSON_with_null_for_what_cannot_be_divided()
    {
        var r = Score([Event("speeding", "A", T0, T0 + Min, "speeding")], [Alert("incident", null, T0, T0 + Min, way: 5)], new ScoreOptions { ToleranceS = 60 });
        using var stream = new MemoryStream();
        r.WriteJson(stream);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal(60, root.GetProperty("tolerance_s").GetDouble());
        var kinds = root.GetProperty("kinds").EnumerateArray().ToDictionary(k => k.GetProperty("kind").GetString()!);
        Assert.Equal(JsonValueKind.Null, kinds["incident"].GetProperty("recall").ValueKind);
        Assert.Equal(0, kinds["incident"].GetProperty("precision").GetDouble());
        Assert.Equal(JsonValueKind.Null, kinds["speeding"].GetProperty("precision").ValueKind);
        Assert.Equal(0, kinds["speeding"].GetProperty("recall").GetDouble());
        Assert.Equal("A", kinds["speeding"].GetProperty("missed")[0].GetProperty("vehicle_id").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("matching").GetProperty("edge_accuracy").ValueKind);
    }
}
