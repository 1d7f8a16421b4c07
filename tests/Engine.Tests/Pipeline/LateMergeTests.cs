using System.Globalization;
using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

public class LateMergeTests
{
    [Fact]
    public void Entries_are_written_by_record_once_every_shard_has_passed_them_or_at_the_end_when_not_streaming()
    {
        string dir = TestDirectory.New("late-merge");
        Directory.CreateDirectory(dir);
        var ids = new VehicleIds();
        var probe = Probe.Empty;
        probe.Vehicle = ids.Intern("粤B-LATE1".AsSpan());
        (probe.TimeMs, probe.Lon, probe.Lat) = (1_767_542_400_000, 113.93, 22.53);
        long[] Records(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var records = new List<long>();
            while (reader.ReadLine() is { } line) records.Add(JsonDocument.Parse(line).RootElement.GetProperty("record").GetInt64());
            return [.. records];
        }

        string streamed = Path.Combine(dir, "streamed.ndjson"), held = Path.Combine(dir, "held.ndjson");
        using (var merge = new LateMerge(2, streamed, ids, streaming: true))
        using (var atEnd = new LateMerge(2, held, ids, streaming: false))
        {
            foreach (var m in new[] { merge, atEnd })
            {
                m.Add(0, 12, in probe, PushResult.Accepted);
                m.Add(1, 7, in probe, PushResult.Duplicate);
                m.Through(0, 20);
                m.Through(1, 9);
            }
            Assert.Equal([7L], Records(streamed));   // shard 1 may still add records 10 to 20
            Assert.Empty(Records(held));
            foreach (var m in new[] { merge, atEnd })
            {
                m.Add(1, 15, in probe, PushResult.Accepted);
                m.Through(1, 30);
            }
            Assert.Equal([7L, 12, 15], Records(streamed));
        }
        Assert.Equal([7L, 12, 15], Records(streamed));
        Assert.Equal([7L, 12, 15], Records(held));
    }

    [Fact]
    public async Task A_replay_in_file_order_writes_a_late_probe_while_it_reads_on()
    {
        // A probe 5 minutes old in the first minute of an hour of ten cars: late at once; by the time the reader reaches
        // the last record, late.ndjson must hold it (before, it was written at the end with the rest).
        RoadNetwork net = SimRun.Shenzhen;
        int edge = Enumerable.Range(0, net.EdgeCount).Where(e => net.SpeedLimitKmh(e) is >= 40 and <= 60).MaxBy(net.LengthM);
        long start = new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        string Line(string id, long time, double along)
        {
            var (lon, lat) = net.PointAt(edge, Math.Min(net.LengthM(edge), along));
            return string.Create(CultureInfo.InvariantCulture, $"{{\"vehicle_id\":\"{id}\",\"time\":{time},\"lon\":{lon:F7},\"lat\":{lat:F7},\"speed_kmh\":1}}");
        }
        var lines = new List<string>();
        for (int t = 0; t <= 3600; t++)
        {
            for (int i = 0; i < 10; i++) lines.Add(Line($"粤B-SLOW{i}", start + (t * 1000L) + (i * 100), 5 + (i * 10) + (t / 3.6)));
            if (t == 60) lines.Add(Line("粤B-OLD01", start + (t * 1000L) - 300_000, 5));
        }
        string dir = TestDirectory.New("late-live");
        Directory.CreateDirectory(dir);
        string input = Path.Combine(dir, "probes.ndjson"), output = Path.Combine(dir, "out");
        File.WriteAllLines(input, lines);
        var observer = new WaitForLineAt(lines.Count, Path.Combine(output, "late.ndjson"), "粤B-OLD01");

        var summary = await new ReplayEngine(net, null, null, new VehicleIds(), new ReplayOptions { VehicleShards = 2, Order = InputOrder.File, Observer = observer })
            .RunAsync(input, output);

        Assert.True(observer.SeenBeforeTheEnd, "the late probe was not in late.ndjson while the reader held the last record");
        Assert.Equal(1, summary.Late);
    }
}
