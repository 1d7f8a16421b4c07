using Traffic.Testing;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;

namespace Traffic.Engine.Tests.Output;

public class AlertArrowWriterTests
{
    private static readonly string[] s_expectedTypes =
    [
        "alert_id string not null",
        "kind dictionary<values=string, indices=int32, ordered=0> not null",
        "state dictionary<values=string, indices=int32, ordered=0> not null",
        "time timestamp[ms, tz=UTC] not null",
        "start timestamp[ms, tz=UTC] not null",
        "end timestamp[ms, tz=UTC]",
        "vehicle_id dictionary<values=string, indices=int32, ordered=0>",
        "class dictionary<values=string, indices=int32, ordered=0>",
        "hazmat dictionary<values=string, indices=int32, ordered=0>",
        "road dictionary<values=string, indices=int32, ordered=0>",
        "way_id int64",
        "direction dictionary<values=string, indices=int32, ordered=0>",
        "zone dictionary<values=string, indices=int32, ordered=0>",
        "lon double",
        "lat double",
        "severity uint8",
        "evidence map<string, double> not null",
    ];

    /// <summary>Every kind of row: vehicle and segment alerts, open/update/close, missing optional fields, empty evidence.</summary>
    private static List<AlertEvent> Events()
    {
        long t = new DateTimeOffset(2026, 1, 5, 0, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var events = new List<AlertEvent>();
        for (int i = 0; i < 9; i++)
        {
            long start = t + i * 10_000;
            events.Add(new AlertEvent
            {
                AlertId = $"speeding:粤B{i % 3:D5}:{start}",
                Kind = "speeding",
                State = (AlertState)(i % 3),
                TimeMs = start + (i % 3) * 5_000,
                StartMs = start,
                EndMs = i % 3 == 2 ? start + 10_000 : null,
                VehicleId = $"粤B{i % 3:D5}",
                Class = i % 2 == 0 ? "taxi" : "hazmat",
                Hazmat = i % 2 == 0 ? null : "2.1",
                Road = i % 4 == 0 ? null : "深南大道",
                WayId = i % 4 == 0 ? null : 100_000_000_000L + i,
                Direction = i % 4 == 0 ? null : "forward",
                Lon = 113.9123456789 + i * 1e-4,
                Lat = 22.5123456789,
                Severity = 1 + i % 3,
                Evidence = new Dictionary<string, double> { ["speed_kmh"] = 88.123456 + i, ["limit_kmh"] = 60 },
            });
        }
        events.Add(new AlertEvent
        {
            AlertId = "congestion:123:backward:7:0",
            Kind = "congestion",
            State = AlertState.Open,
            TimeMs = t,
            StartMs = t - 180_000,
            Road = "科苑南路",
            WayId = 123,
            Direction = "backward",
            Severity = 4,
            Evidence = new SortedDictionary<string, double> { ["level"] = 4, ["speed_kmh"] = 12.5 },
        });
        events.Add(new AlertEvent { AlertId = "zone:x:1", Kind = "zone", State = AlertState.Close, TimeMs = t, StartMs = t - 1, EndMs = t, Zone = "Z1" });
        return events;
    }

    private static List<string> NdjsonLines(IEnumerable<AlertEvent> events)
    {
        using var ms = new MemoryStream();
        using (var writer = new AlertWriter(ms))
        {
            foreach (var a in events) writer.Write(a);
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    [Fact]
    public void Alerts_roll_into_Arrow_files_whose_rows_equal_the_NDJSON_lines()
    {
        var events = Events();
        string dir = TestDirectory.New("tmp");
        using (var writer = new AlertArrowWriter(dir, rowsPerFile: 4))
        {
            foreach (var a in events) writer.Append(a);
        }
        string[] files = ArrowTestFiles.Files(dir);
        Assert.Equal(3, files.Length);
        foreach (string file in files)
        {
            var (schema, _) = ArrowTestFiles.Read(file);
            Assert.Equal(s_expectedTypes, SegmentArrowWriterTests.Describe(schema));
            var end = Assert.IsType<TimestampType>(schema.GetFieldByName("end").DataType);
            Assert.Equal((TimeUnit.Millisecond, "UTC"), (end.Unit, end.Timezone));
        }
        var rows = ArrowTestFiles.ReadAll(dir);
        var lines = NdjsonLines(events);
        Assert.Equal(lines.Count, rows.Count);
        for (int i = 0; i < lines.Count; i++) ArrowTestFiles.AssertSameRow(ArrowTestFiles.FromJson(lines[i]), rows[i]);

        // Spot checks that do not go through the comparison helper.
        Assert.Equal("粤B00001", rows[1]["vehicle_id"]);
        Assert.Null(rows[0]["end"]);
        Assert.Equal(AlertWriter.Rfc3339(events[2].EndMs!.Value), rows[2]["end"]);
        Assert.Equal(113.9124457, rows[1]["lon"]);
        Assert.Equal("speed_kmh=89.123,limit_kmh=60", string.Join(",", ((Dictionary<string, object?>)rows[1]["evidence"]!).Select(e => $"{e.Key}={e.Value}")));
        Assert.Empty((Dictionary<string, object?>)rows[^1]["evidence"]!);
    }

    [Fact]
    public void Each_file_has_its_own_dictionaries_in_order_of_first_use()
    {
        string dir = TestDirectory.New("tmp");
        using (var writer = new AlertArrowWriter(dir, rowsPerFile: 6))
        {
            foreach (var a in Events()) writer.Append(a);
        }
        string[] files = ArrowTestFiles.Files(dir);
        using var stream = File.OpenRead(files[1]);
        using var reader = new ArrowFileReader(stream);
        using var batch = reader.ReadNextRecordBatch();
        var kinds = (StringArray)((DictionaryArray)batch.Column("kind")).Dictionary;
        Assert.Equal(["speeding", "congestion", "zone"], Enumerable.Range(0, kinds.Length).Select(i => kinds.GetString(i)));
        var states = (StringArray)((DictionaryArray)batch.Column("state")).Dictionary;
        Assert.Equal(["open", "update", "close"], Enumerable.Range(0, states.Length).Select(i => states.GetString(i)));
    }

    [Fact]
    public void A_streaming_writer_flushes_on_demand_and_closes_cleanly()
    {
        var events = Events();
        string dir = TestDirectory.New("tmp");
        var writer = new AlertArrowWriter(dir, rowsPerFile: 5, name: "alerts-p0");
        for (int i = 0; i < 3; i++) writer.Append(events[i]);
        writer.Flush();
        Assert.Equal(0, writer.PendingRows);
        for (int i = 3; i < events.Count; i++) writer.Append(events[i]);   // 8 more: one file at 5, 3 held
        Assert.Equal(2, writer.Files.Count);
        Assert.Equal(3, writer.PendingRows);
        writer.Dispose();
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.Flush());
        Assert.Equal([3, 5, 3], ArrowTestFiles.Files(dir).Select(f => ArrowTestFiles.Read(f).Rows.Count));
        Assert.Empty(Directory.GetFiles(dir, "*.partial"));

        string empty = TestDirectory.New("tmp");
        new AlertArrowWriter(empty).Dispose();
        var (schema, rows) = ArrowTestFiles.Read(Assert.Single(ArrowTestFiles.Files(empty)));
        Assert.Equal(s_expectedTypes, SegmentArrowWriterTests.Describe(schema));
        Assert.Empty(rows);
    }
}
