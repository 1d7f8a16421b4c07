using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Geo.Evaluation;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Output;

public class MatchedProbeArrowWriterTests
{
    [Fact]
    public void Matched_probes_roll_into_Arrow_files_that_read_back_with_their_schema()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var matcher = new OnlineMatcher(new EdgeIndex(net));
        var ids = new VehicleIds();
        string dir = TestDirectory.New("tmp");
        var expected = new List<(string Vehicle, long Time, int Edge)>();
        using (var writer = new MatchedProbeArrowWriter(dir, net, ids, rowsPerFile: 700))
        {
            var rng = new Random(4);
            for (int v = 0; v < 3; v++)
            {
                int vehicle = ids.Intern($"粤B{v:D5}".AsSpan());
                var sink = new Sink(writer, vehicle, expected, ids.Name(vehicle));
                var state = matcher.NewState();
                foreach (var tp in SyntheticTraces.Drive(net, rng, 4000, 2, 8).Probes) matcher.Push(state, tp.Probe, ref sink);
                matcher.Flush(state, ref sink);
            }
        }
        string[] files = Directory.GetFiles(dir, "matched-*.arrow").Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length >= 2, "rolled into several files");

        var read = new List<(string Vehicle, long Time, int Edge)>();
        foreach (string file in files)
        {
            using var stream = File.OpenRead(file);
            using var reader = new ArrowFileReader(stream);
            Assert.Equal(MatchedProbeArrowWriter.Schema.FieldsList.Select(f => f.Name), reader.Schema.FieldsList.Select(f => f.Name));
            var time = Assert.IsType<TimestampType>(reader.Schema.GetFieldByName("time").DataType);
            Assert.Equal(TimeUnit.Millisecond, time.Unit);
            Assert.Equal("UTC", time.Timezone);
            RecordBatch? batch;
            while ((batch = reader.ReadNextRecordBatch()) != null)
            {
                var vehicles = (DictionaryArray)batch.Column("vehicle_id");
                var names = (StringArray)vehicles.Dictionary;
                var indices = (Int32Array)vehicles.Indices;
                var times = (TimestampArray)batch.Column("time");
                var edges = (Int32Array)batch.Column("edge");
                var ways = (Int64Array)batch.Column("way_id");
                var roads = (DictionaryArray)batch.Column("road");
                for (int i = 0; i < batch.Length; i++)
                {
                    int edge = edges.GetValue(i) ?? -1;
                    read.Add((names.GetString(indices.GetValue(i)!.Value), times.GetTimestamp(i)!.Value.ToUnixTimeMilliseconds(), edge));
                    if (edge >= 0)
                    {
                        Assert.Equal(net.WayId(edge), ways.GetValue(i));
                        string? road = roads.Indices.IsNull(i) ? null : ((StringArray)roads.Dictionary).GetString(((Int32Array)roads.Indices).GetValue(i)!.Value);
                        Assert.Equal(net.Name(edge).Length == 0 ? null : net.Name(edge), road);
                    }
                }
            }
        }
        Assert.Equal(expected, read);
    }

    [Fact]
    public void Each_file_carries_the_vehicle_ids_its_rows_use_not_every_id_ever_seen()
    {
        // A process that runs for days has interned every vehicle it has seen (other shards', earlier days'); a file of
        // one vehicle's rows carried all of them, and each file's dictionary grew with the run.
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        for (int v = 0; v < 5000; v++) ids.Intern($"粤B-OLD{v:D5}".AsSpan());
        int a = ids.Intern("粤B-NEW01".AsSpan()), b = ids.Intern("粤B-NEW02".AsSpan());
        string dir = TestDirectory.New("tmp");
        using (var writer = new MatchedProbeArrowWriter(dir, net, ids, rowsPerFile: 4))
        {
            foreach (int v in new[] { b, a, b, a, a, a, a, a, 17 }) writer.Append(v, Row(v));
        }
        string[] files = Directory.GetFiles(dir, "matched-*.arrow").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, files.Length);
        var dictionaries = new List<string[]>();
        var read = new List<string>();
        foreach (string file in files)
        {
            using var stream = File.OpenRead(file);
            using var reader = new ArrowFileReader(stream);
            var batch = reader.ReadNextRecordBatch();
            var vehicles = (DictionaryArray)batch.Column("vehicle_id");
            var names = (StringArray)vehicles.Dictionary;
            dictionaries.Add([.. Enumerable.Range(0, names.Length).Select(i => names.GetString(i))]);
            for (int i = 0; i < batch.Length; i++) read.Add(names.GetString(((Int32Array)vehicles.Indices).GetValue(i)!.Value));
        }
        Assert.Equal(["粤B-NEW02", "粤B-NEW01"], dictionaries[0]);
        Assert.Equal(["粤B-NEW01"], dictionaries[1]);
        Assert.Equal(["粤B-OLD00017"], dictionaries[2]);
        Assert.Equal(new[] { b, a, b, a, a, a, a, a, 17 }.Select(ids.Name), read);
    }

    private static MatchedProbe Row(int vehicle) => new()
    {
        ProbeId = vehicle, TimeMs = 1_767_571_200_000 + vehicle, Edge = -1, OffsetM = 0, Lon = 113.93, Lat = 22.54, DistanceM = 0,
        RouteDistanceM = 0, SpeedKmh = double.NaN, Confidence = 1, Break = ChainBreak.Start, Forced = false, ReportedSpeedKmh = double.NaN,
    };

    [Fact]
    public void A_writer_without_rows_leaves_one_empty_file_with_the_schema_and_no_partial_file()
    {
        string dir = TestDirectory.New("tmp");
        var writer = new MatchedProbeArrowWriter(dir, Simulation.SimRun.Shenzhen, new VehicleIds());
        writer.Flush();
        Assert.Empty(writer.Files);
        writer.Dispose();
        writer.Dispose();
        var (schema, rows) = ArrowTestFiles.Read(Assert.Single(ArrowTestFiles.Files(dir)));
        Assert.Equal(SegmentArrowWriterTests.Describe(MatchedProbeArrowWriter.Schema), SegmentArrowWriterTests.Describe(schema));
        Assert.Empty(rows);
        Assert.Empty(Directory.GetFiles(dir, "*.partial"));
    }

    private readonly struct Sink(MatchedProbeArrowWriter writer, int vehicle, List<(string, long, int)> expected, string name) : IMatchSink
    {
        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            writer.Append(vehicle, match);
            expected.Add((name, match.TimeMs, match.Edge));
        }
    }
}
