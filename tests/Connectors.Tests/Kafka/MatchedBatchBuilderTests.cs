using Apache.Arrow;
using Apache.Arrow.Ipc;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Testing;

namespace Traffic.Connectors.Tests.Kafka;

public class MatchedBatchBuilderTests
{
    private static MatchedProbe Row(long time, int edge, ChainBreak brk = ChainBreak.None) => new()
    {
        ProbeId = time, TimeMs = time, Edge = edge, OffsetM = 3, Lon = 113.9, Lat = 22.5, DistanceM = 2,
        RouteDistanceM = 10, SpeedKmh = edge < 0 ? double.NaN : 30, Confidence = 0.9, Break = brk, Forced = false, ReportedSpeedKmh = double.NaN,
    };

    [Fact]
    public void A_batch_is_a_whole_Arrow_stream_with_only_its_own_vehicles_and_roads()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        for (int i = 0; i < 50; i++) ids.Intern($"粤B{i:D5}");
        int named = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0);
        int unnamed = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length == 0);
        var builder = new MatchedBatchBuilder(net, ids);
        builder.Append(7, Row(1_700_000_000_000, named, ChainBreak.Start));
        builder.Append(42, Row(1_700_000_001_000, unnamed));
        builder.Append(7, Row(1_700_000_002_000, -1, ChainBreak.NoCandidates));
        byte[] bytes = builder.TakeIpcStream();
        Assert.Equal(0, builder.Rows);

        using var reader = new ArrowStreamReader(new MemoryStream(bytes));
        var batch = reader.ReadNextRecordBatch();
        Assert.NotNull(batch);
        Assert.Equal(3, batch.Length);
        Assert.Equal(MatchedProbeColumns.Schema.FieldsList.Select(f => f.Name), batch.Schema.FieldsList.Select(f => f.Name));
        var vehicles = (DictionaryArray)batch.Column("vehicle_id");
        var names = (StringArray)vehicles.Dictionary;
        Assert.Equal(2, names.Length);
        Assert.Equal(["粤B00007", "粤B00042", "粤B00007"], Enumerable.Range(0, 3).Select(i => names.GetString(((Int32Array)vehicles.Indices).GetValue(i)!.Value)));
        var roads = (DictionaryArray)batch.Column("road");
        Assert.Equal(net.Name(named), ((StringArray)roads.Dictionary).GetString(((Int32Array)roads.Indices).GetValue(0)!.Value));
        Assert.True(roads.IsNull(1));
        Assert.True(((Int32Array)batch.Column("edge")).IsNull(2));
        Assert.Null(reader.ReadNextRecordBatch());
    }

    [Fact]
    public void A_vehicle_number_released_and_given_to_another_vehicle_while_a_batch_fills_names_each_row_rightly()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        int gone = ids.Intern("粤B00001");
        var builder = new MatchedBatchBuilder(net, ids);
        builder.Append(gone, Row(1_700_000_000_000, -1, ChainBreak.Start));
        ids.Release(gone);
        Assert.Equal(gone, ids.Intern("粤B00002"));   // the next new id takes the number
        builder.Append(gone, Row(1_700_000_001_000, -1, ChainBreak.Start));
        using var reader = new ArrowStreamReader(new MemoryStream(builder.TakeIpcStream()));
        var batch = reader.ReadNextRecordBatch()!;
        var vehicles = (DictionaryArray)batch.Column("vehicle_id");
        var names = (StringArray)vehicles.Dictionary;
        Assert.Equal(["粤B00001", "粤B00002"], Enumerable.Range(0, 2).Select(i => names.GetString(((Int32Array)vehicles.Indices).GetValue(i)!.Value)));
    }

    [Fact]
    public void A_batch_of_unmatched_probes_only_writes_too()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        ids.Intern("v");
        var builder = new MatchedBatchBuilder(net, ids);
        builder.Append(0, Row(1_700_000_000_000, -1, ChainBreak.NoCandidates));
        using var reader = new ArrowStreamReader(new MemoryStream(builder.TakeIpcStream()));
        Assert.Equal(1, reader.ReadNextRecordBatch()!.Length);
    }
}

public class MatchedBatchBuilderShapes
{
    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(true, true, true)]
    public void Every_shape_of_batch_writes(bool allNamed, bool allNoBreak, bool allSpeedless)
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        ids.Intern("v");
        int named = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0);
        var builder = new MatchedBatchBuilder(net, ids);
        for (int i = 0; i < 5; i++)
        {
            builder.Append(0, new MatchedProbe
            {
                ProbeId = i, TimeMs = 1_700_000_000_000 + i, Edge = allNamed ? named : i, OffsetM = 3, Lon = 113.9, Lat = 22.5, DistanceM = 2,
                RouteDistanceM = 10, SpeedKmh = allSpeedless ? double.NaN : 30, Confidence = 0.9, Break = allNoBreak ? ChainBreak.None : ChainBreak.Start,
                Forced = false, ReportedSpeedKmh = double.NaN,
            });
        }
        using var reader = new ArrowStreamReader(new MemoryStream(builder.TakeIpcStream()));
        Assert.Equal(5, reader.ReadNextRecordBatch()!.Length);
    }
}

public class MatchedBatchRoundTrip
{
    [Fact]
    public void A_batch_read_from_its_stream_writes_as_an_Arrow_file_that_reads_back()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        ids.Intern("v");
        var builder = new MatchedBatchBuilder(net, ids);
        int named = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0);
        builder.Append(0, new MatchedProbe
        {
            ProbeId = 1, TimeMs = 1_700_000_000_000, Edge = named, OffsetM = 3, Lon = 113.9, Lat = 22.5, DistanceM = 2,
            RouteDistanceM = 10, SpeedKmh = 30, Confidence = 0.9, Break = ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
        });
        var file = new MemoryStream();
        Assert.Equal(1, MatchedBatchBuilder.WriteAsFile(builder.TakeIpcStream(), file));
        file.Position = 0;
        using var back = new ArrowFileReader(file);
        Assert.Equal(1, back.ReadNextRecordBatch()!.Length);
    }
}

public class MatchedBatchFuzz
{
    [Fact]
    public void Batches_of_any_mix_of_present_and_absent_fields_write_and_read_back()
    {
        var net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        var ids = new VehicleIds();
        for (int i = 0; i < 20; i++) ids.Intern($"v{i}");
        var random = new Random(5);
        var builder = new MatchedBatchBuilder(net, ids);
        for (int b = 0; b < 300; b++)
        {
            int rows = random.Next(1, b % 10 == 0 ? 5000 : 40);
            double pUnmatched = random.NextDouble(), pNoSpeed = random.NextDouble(), pBreak = random.NextDouble();
            for (int i = 0; i < rows; i++)
            {
                bool unmatched = random.NextDouble() < pUnmatched;
                builder.Append(random.Next(20), new MatchedProbe
                {
                    ProbeId = i, TimeMs = 1_700_000_000_000 + i, Edge = unmatched ? -1 : random.Next(net.EdgeCount), OffsetM = 3, Lon = 113.9, Lat = 22.5,
                    DistanceM = 2, RouteDistanceM = 10, SpeedKmh = random.NextDouble() < pNoSpeed ? double.NaN : 30, Confidence = 0.9,
                    Break = random.NextDouble() < pBreak ? ChainBreak.TimeGap : ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
                    Outlier = random.Next(10) == 0,
                });
            }
            var file = new MemoryStream();
            Assert.Equal(rows, MatchedBatchBuilder.WriteAsFile(builder.TakeIpcStream(), file));
            file.Position = 0;
            using var back = new ArrowFileReader(file);
            Assert.Equal(rows, back.ReadNextRecordBatch()!.Length);
        }
    }
}
