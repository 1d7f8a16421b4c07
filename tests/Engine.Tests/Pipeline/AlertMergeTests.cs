using System.Globalization;
using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

public class AlertMergeTests
{
    private static AlertEvent Alert(string id, long timeMs, AlertState state = AlertState.Open) =>
        new() { AlertId = id, Kind = id.Split(':')[0], State = state, TimeMs = timeMs, StartMs = timeMs };

    /// <summary>The lines of <c>alerts.ndjson</c> so far (the file is open for writing: read it as a consumer tailing it would).</summary>
    private static string[] Written(string dir)
    {
        using var stream = new FileStream(Path.Combine(dir, "alerts.ndjson"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            var a = JsonDocument.Parse(line).RootElement;
            lines.Add($"{a.GetProperty("alert_id").GetString()} {a.GetProperty("state").GetString()}");
        }
        return [.. lines];
    }

    [Fact]
    public void Alerts_are_written_once_every_shard_has_passed_them_in_the_order_of_a_whole_sort()
    {
        string dir = TestDirectory.New("alert-merge");
        Directory.CreateDirectory(dir);
        using (var merge = new AlertMerge(shards: 2, dir))
        {
            merge.Add(0, Alert("speeding:B:1", 10_000));
            merge.Add(0, Alert("speeding:A:1", 10_000));
            merge.Add(0, Alert("zone:A:1", 50_000));
            merge.Through(0, 40_000);
            Assert.Empty(Written(dir));                 // shard 1 has said nothing: it may still raise one at 0 s

            merge.Add(1, Alert("congestion:1", 20_000));
            merge.Through(1, 20_000);
            Assert.Equal(["speeding:A:1 open", "speeding:B:1 open"], Written(dir)); // before 20 s; one at 20 s may still come

            merge.Add(1, Alert("congestion:1", 20_000, AlertState.Update));
            merge.Add(1, Alert("congestion:2", 45_000));
            merge.Through(1, 60_000);
            Assert.Equal(["speeding:A:1 open", "speeding:B:1 open", "congestion:1 open", "congestion:1 update"], Written(dir));

            merge.Through(0, long.MaxValue);
            merge.Through(1, long.MaxValue);
            Assert.Equal(0, merge.OutOfOrder);
            Assert.Equal(6, merge.Written);
            Assert.Equal(new Dictionary<string, long> { ["congestion"] = 2, ["speeding"] = 2, ["zone"] = 1 }, merge.OpenedByKind);
        }
        Assert.Equal(["speeding:A:1 open", "speeding:B:1 open", "congestion:1 open", "congestion:1 update", "congestion:2 open", "zone:A:1 open"],
            Written(dir));
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "alerts"), "*.arrow"));
    }

    [Fact]
    public void An_alert_below_what_a_shard_said_was_final_is_still_written_and_counted()
    {
        string dir = TestDirectory.New("alert-merge");
        Directory.CreateDirectory(dir);
        using (var merge = new AlertMerge(shards: 1, dir))
        {
            merge.Add(0, Alert("speeding:A:1", 10_000));
            merge.Through(0, 30_000);
            merge.Add(0, Alert("speeding:B:1", 5_000));   // the shard's floor was not one
            merge.Through(0, 40_000);
            Assert.Equal(1, merge.OutOfOrder);
        }
        Assert.Equal(["speeding:A:1 open", "speeding:B:1 open"], Written(dir));
    }

    [Fact]
    public async Task A_replay_writes_an_alert_while_it_reads_on_not_once_the_file_is_read()
    {
        // A car at 120 km/h on a road of 40 or more in the first minute, then an hour of ten cars driving slowly: by the
        // time the reader reaches the last record, the shards are past the first minute, and the speeding alert must be
        // in alerts.ndjson already (a paced replay is a live feed; before, every alert was written at the end).
        RoadNetwork net = SimRun.Shenzhen;
        int edge = Enumerable.Range(0, net.EdgeCount).Where(e => net.SpeedLimitKmh(e) is >= 40 and <= 60).MaxBy(net.LengthM);
        long start = new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var lines = new List<(long Time, string Line)>();
        void Drive(string id, double kmh, double fromM, long startMs, int seconds)
        {
            for (int t = 0; t <= seconds; t++)
            {
                var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), fromM + (kmh / 3.6 * t)));
                long time = startMs + (t * 1000L);
                lines.Add((time, string.Create(CultureInfo.InvariantCulture,
                    $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7},\"speed_kmh\":{kmh}}}")));
            }
        }
        Drive("粤B-FAST1", 120, 5, start, 20);
        for (int i = 0; i < 10; i++) Drive($"粤B-SLOW{i}", 1, 5 + (i * 10), start + (i * 100), 3600);
        string dir = TestDirectory.New("alert-live");
        Directory.CreateDirectory(dir);
        string input = Path.Combine(dir, "probes.ndjson"), output = Path.Combine(dir, "out");
        File.WriteAllLines(input, lines.OrderBy(l => l.Time).Select(l => l.Line));
        var observer = new WaitForLineAt(lines.Count, Path.Combine(output, "alerts.ndjson"), "\"kind\":\"speeding\"");

        var summary = await new ReplayEngine(net, null, null, new VehicleIds(), new ReplayOptions { VehicleShards = 2, Observer = observer }).RunAsync(input, output);

        Assert.True(observer.SeenBeforeTheEnd, "the speeding alert was not in alerts.ndjson while the reader held the last record");
        Assert.Equal(1, summary.AlertsByKind["speeding"]);
        Assert.Equal(0, summary.AlertsOutOfOrder);
    }
}
