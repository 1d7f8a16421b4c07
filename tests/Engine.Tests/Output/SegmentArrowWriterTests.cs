using Traffic.Testing;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;

namespace Traffic.Engine.Tests.Output;

public class SegmentArrowWriterTests
{
    private static readonly string[] s_expectedTypes =
    [
        "way_id int64 not null",
        "direction dictionary<values=string, indices=int32, ordered=0> not null",
        "road dictionary<values=string, indices=int32, ordered=0>",
        "edge int32 not null",
        "window_start timestamp[ms, tz=UTC] not null",
        "window_end timestamp[ms, tz=UTC] not null",
        "vehicles int32 not null",
        "speed_kmh double not null",
        "free_flow_kmh double not null",
        "travel_time_s double not null",
        "level uint8 not null",
    ];

    internal static IEnumerable<string> Describe(Schema schema) =>
        schema.FieldsList.Select(f => $"{f.Name} {ArrowTestFiles.TypeName(f.DataType)}{(f.IsNullable ? "" : " not null")}");

    /// <summary>Windows on named and unnamed edges of both directions, times across a day.</summary>
    private static List<SegmentStat> Windows(int count)
    {
        var net = SimRun.Shenzhen;
        int named = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0 && net.Direction(e) == "forward");
        int unnamed = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length == 0);
        int backward = Enumerable.Range(0, net.EdgeCount).First(e => net.Direction(e) == "backward" && net.Name(e).Length > 0);
        int[] edges = [named, unnamed, backward];
        long t0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        return Enumerable.Range(0, count).Select(i => new SegmentStat(edges[i % 3], t0 + i * 60_000L, t0 + (i + 1) * 60_000L,
            3 + i, 10 + i * 1.23456, 50.005 + i, 12.3456 * (i + 1), 1 + i % 5)).ToList();
    }

    [Fact]
    public void Segment_windows_roll_into_Arrow_files_that_read_back_with_their_schema_and_values()
    {
        var net = SimRun.Shenzhen;
        string dir = TestDirectory.New("tmp");
        var windows = Windows(20);
        string[] written;
        using (var writer = new SegmentArrowWriter(dir, net, rowsPerFile: 7))
        {
            foreach (var w in windows) writer.Append(w);
            Assert.Equal(2, writer.Files.Count);
            Assert.Equal(6, writer.PendingRows);
            written = [.. writer.Files];
        }
        string[] files = ArrowTestFiles.Files(dir);
        Assert.Equal(["segments-000001.arrow", "segments-000002.arrow", "segments-000003.arrow"], files.Select(Path.GetFileName));
        Assert.Equal(written, files.Take(2));
        Assert.Empty(Directory.GetFiles(dir, "*.partial"));

        var rows = new List<Dictionary<string, object?>>();
        foreach (string file in files)
        {
            var (schema, fileRows) = ArrowTestFiles.Read(file);
            Assert.Equal(s_expectedTypes, Describe(schema));
            var time = Assert.IsType<TimestampType>(schema.GetFieldByName("window_start").DataType);
            Assert.Equal((TimeUnit.Millisecond, "UTC"), (time.Unit, time.Timezone));
            var road = Assert.IsType<DictionaryType>(schema.GetFieldByName("road").DataType);
            Assert.IsType<StringType>(road.ValueType);
            rows.AddRange(fileRows);
        }
        Assert.Equal([7, 7, 6], files.Select(f => ArrowTestFiles.Read(f).Rows.Count));
        Assert.Equal(windows.Count, rows.Count);
        // The same rows as segments.ndjson writes them (SegmentRow), field by field ...
        using (var ms = new MemoryStream())
        {
            using (var lines = new NdjsonWriter(ms))
            {
                foreach (var w in windows)
                {
                    SegmentRow.WriteFields(lines.Begin(), net, in w);
                    lines.End();
                }
            }
            string[] ndjson = System.Text.Encoding.UTF8.GetString(ms.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(windows.Count, ndjson.Length);
            for (int i = 0; i < ndjson.Length; i++) ArrowTestFiles.AssertSameRow(ArrowTestFiles.FromJson(ndjson[i]), rows[i]);
        }
        // ... and as the windows hold them.
        for (int i = 0; i < windows.Count; i++)
        {
            var w = windows[i];
            var r = rows[i];
            Assert.Equal(net.WayId(w.Edge), r["way_id"]);
            Assert.Equal(net.Direction(w.Edge), r["direction"]);
            Assert.Equal(net.Name(w.Edge).Length == 0 ? null : net.Name(w.Edge), r["road"]);
            Assert.Equal(w.Edge, r["edge"]);
            Assert.Equal(AlertWriter.Rfc3339(w.WindowStartMs), r["window_start"]);
            Assert.Equal(AlertWriter.Rfc3339(w.WindowEndMs), r["window_end"]);
            Assert.Equal(w.Vehicles, r["vehicles"]);
            Assert.Equal(Math.Round(w.SpeedKmh, 2), r["speed_kmh"]);
            Assert.Equal(Math.Round(w.FreeFlowKmh, 2), r["free_flow_kmh"]);
            Assert.Equal(Math.Round(w.TravelTimeS, 2), r["travel_time_s"]);
            Assert.Equal((byte)w.Level, r["level"]);
        }
    }

    [Fact]
    public void Each_file_carries_only_the_road_names_its_rows_use_and_nulls_for_unnamed_roads()
    {
        var net = SimRun.Shenzhen;
        string dir = TestDirectory.New("tmp");
        var windows = Windows(6);
        using (var writer = new SegmentArrowWriter(dir, net, rowsPerFile: 100))
        {
            foreach (var w in windows) writer.Append(w);
        }
        using var stream = File.OpenRead(Assert.Single(ArrowTestFiles.Files(dir)));
        using var reader = new ArrowFileReader(stream);
        using var batch = reader.ReadNextRecordBatch();
        var road = (DictionaryArray)batch.Column("road");
        var names = (StringArray)road.Dictionary;
        Assert.Equal(windows.Select(w => net.Name(w.Edge)).Where(n => n.Length > 0).Distinct(), Enumerable.Range(0, names.Length).Select(i => names.GetString(i)));
        Assert.Equal(2, road.NullCount);
    }

    [Fact]
    public void Flush_writes_what_is_held_and_a_writer_without_rows_leaves_one_empty_file_with_the_schema()
    {
        var net = SimRun.Shenzhen;
        string streaming = TestDirectory.New("tmp");
        var windows = Windows(5);
        var writer = new SegmentArrowWriter(streaming, net, rowsPerFile: 1000, name: "segments-p3");
        writer.Append(windows[0]);
        writer.Flush();
        writer.Flush();   // nothing held: no file
        writer.Append(windows[1]);
        writer.Append(windows[2]);
        Assert.Single(writer.Files);
        writer.Dispose();
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.Append(windows[3]));
        Assert.Equal(["segments-p3-000001.arrow", "segments-p3-000002.arrow"], ArrowTestFiles.Files(streaming).Select(Path.GetFileName));
        Assert.Equal([1, 2], ArrowTestFiles.Files(streaming).Select(f => ArrowTestFiles.Read(f).Rows.Count));

        string empty = TestDirectory.New("tmp");
        new SegmentArrowWriter(empty, net).Dispose();
        var (schema, rows) = ArrowTestFiles.Read(Assert.Single(ArrowTestFiles.Files(empty)));
        Assert.Equal(s_expectedTypes, Describe(schema));
        Assert.Empty(rows);
    }
}
