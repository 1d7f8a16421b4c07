using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Probes;

public class ProbeCsvReaderTests
{
    [Fact]
    public void Rows_decode_in_any_column_order_and_bad_rows_are_rejected_alone()
    {
        string csv = """
            lat,lon,time,vehicle_id,speed_kmh,class,hazmat,fix,status
            20.02,110.35,1764028800000,琼A12345,42.5,hazmat,3,false,7
            20.03,110.36,2025-11-25T00:00:01Z,"粤B,77",,,,,
            95,110.36,1764028802000,琼A12345,,,,,
            20.03,110.36,1764028803000,琼A12345,fast,,,,
            20.03,110.36,1764028804000,琼A12345,,tram,,,
            20.03,110.36
            20.04,110.37,1764028805000,琼A12345,10,taxi,,true,

            """ + "\n";
        var ids = new VehicleIds();
        var sink = new Sink();
        var summary = new ProbeCsvReader(ids).Read(new MemoryStream(Encoding.UTF8.GetBytes(csv)), sink);
        Assert.Equal(7, summary.Records); // the blank lines at the end are no records, nor dead letters
        Assert.Equal(3, summary.Accepted);
        Assert.Equal(["lat:out_of_range", "speed_kmh:wrong_type", "class:unknown_value", "record:malformed"], sink.Rejected.Select(r => r.Code));
        Assert.Equal([4L, 5, 6, 7], sink.Rejected.Select(r => r.Line));
        Assert.Equal("95,110.36,1764028802000,琼A12345,,,,,", sink.Rejected[0].Raw);

        var first = sink.Probes[0];
        Assert.Equal("琼A12345", ids.Name(first.Vehicle));
        Assert.Equal(42.5f, first.SpeedKmh);
        Assert.Equal(VehicleClass.Hazmat, first.Class);
        Assert.Equal(30, first.Hazmat);
        Assert.False(first.Fix);
        Assert.Equal(7u, first.Status);
        var second = sink.Probes[1];
        Assert.Equal("粤B,77", ids.Name(second.Vehicle));
        Assert.True(float.IsNaN(second.SpeedKmh));
        Assert.True(second.Fix);
        Assert.Equal(1764028801000, second.TimeMs);
    }

    [Fact]
    public void A_stray_quote_rejects_its_own_line_and_the_rows_after_it_are_read()
    {
        // A quote that never closes: RFC 4180 reads a cell running to the end of the file, and every row after it went
        // into one dead letter with it (31 good probes of a hand-written file lost to one stray quote).
        string csv = "vehicle_id,time,lon,lat,speed_kmh,note\r\n"
            + "a,1764028800000,110.35,20.02,40,\r\n"
            + "c,1764028801000,110.35,20.02,,\"a note\r\non two lines\"\r\n"
            + "\"b,1764028802000,110.35,20.02,40,\r\n"
            + "a,1764028803000,110.35,20.02,40,\r\n"
            + "a,1764028804000,abc,20.02,40,\r\n"
            + "d,1764028805000,110.35,20.02,-3,\r\n"
            + "a,1764028806000,110.35,20.02,40,\r\n";
        var ids = new VehicleIds();
        var sink = new Sink();
        var summary = new ProbeCsvReader(ids).Read(new MemoryStream(Encoding.UTF8.GetBytes(csv)), sink);
        Assert.Equal([1764028800000L, 1764028801000, 1764028803000, 1764028806000], sink.Probes.Select(p => p.TimeMs));
        Assert.Equal(7, summary.Records);
        Assert.Equal(4, summary.Accepted);
        Assert.Equal("c", ids.Name(sink.Probes[1].Vehicle)); // a quoted cell spanning lines, in a column of its own, is one row
        Assert.Equal(["record:malformed", "lon:wrong_type", "speed_kmh:out_of_range"], sink.Rejected.Select(r => r.Code));
        Assert.Equal([5L, 7, 8], sink.Rejected.Select(r => r.Line));
        Assert.Equal("\"b,1764028802000,110.35,20.02,40,", sink.Rejected[0].Raw);
    }

    [Fact]
    public void Fix_reads_true_and_false_in_any_case()
    {
        // Python's csv module writes a bool as True / False, Excel as TRUE / FALSE: each was fix:wrong_type.
        string csv = "vehicle_id,time,lon,lat,fix\n"
            + "a,1764028800000,110.35,20.02,False\n"
            + "a,1764028801000,110.35,20.02,True\n"
            + "a,1764028802000,110.35,20.02,FALSE\n"
            + "a,1764028803000,110.35,20.02,TRUE\n"
            + "a,1764028804000,110.35,20.02,0\n"
            + "a,1764028805000,110.35,20.02,yes\n";
        var sink = new Sink();
        var summary = new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream(Encoding.UTF8.GetBytes(csv)), sink);
        Assert.Equal([false, true, false, true, false], sink.Probes.Select(p => p.Fix));
        Assert.Equal(["fix:wrong_type"], sink.Rejected.Select(r => r.Code));
        Assert.Equal(5, summary.Accepted);
    }

    [Fact]
    public void A_header_in_other_case_and_cells_with_spaces_round_them_read_as_meant()
    {
        // Hand-written with a space after each comma, and a spreadsheet's capitals: the file was refused as lacking 'time'.
        string csv = "Vehicle_ID, Time, LON, lat, Speed_kmh, class, fix\n"
            + "粤B-1, 1764028800000, 110.35, 20.02, 40, Taxi, true\n"
            + "粤B-1, 2025-11-25T00:00:01Z, 110.36, 20.03, , , \n"
            + "\"粤B, 2\", 1764028802000, 110.37, 20.04, 12.5, truck, false\n";
        var ids = new VehicleIds();
        var sink = new Sink();
        var summary = new ProbeCsvReader(ids).Read(new MemoryStream(Encoding.UTF8.GetBytes(csv)), sink);
        Assert.Equal(3, summary.Accepted);
        Assert.Equal(["粤B-1", "粤B-1", "粤B, 2"], sink.Probes.Select(p => ids.Name(p.Vehicle)));
        Assert.Equal([1764028800000L, 1764028801000, 1764028802000], sink.Probes.Select(p => p.TimeMs));
        Assert.Equal(VehicleClass.Taxi, sink.Probes[0].Class);
        Assert.True(float.IsNaN(sink.Probes[1].SpeedKmh));
        Assert.False(sink.Probes[2].Fix);
    }

    [Fact]
    public void A_header_without_a_required_column_is_refused_with_a_clear_error()
    {
        var e = Assert.Throws<InvalidDataException>(() =>
            new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream("vehicle_id,time,lon\na,1764028800000,1\n"u8.ToArray()), new Sink()));
        Assert.Contains("lat", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_naming_a_column_twice_is_refused_with_a_clear_error()
    {
        var e = Assert.Throws<InvalidDataException>(() =>
            new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream("vehicle_id,time,lon,lat,,\na,1764028800000,1,1,,\n"u8.ToArray()), new Sink()));
        Assert.Contains("distinct", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Lines_ended_by_runs_of_CRs_read_the_same_from_a_stream_that_delivers_a_few_bytes_at_a_time(int chunk)
    {
        // "\r\r\n" (a CRLF file converted twice) and bare CRs: Sep's rows and line numbers followed where its reads ended
        // (found by fuzzing): read 1 or 2 bytes at a time, "1,2" was on line 2, read whole on line 3.
        byte[] csv = "vehicle_id,time,lon,lat\r\r\nA1,1764028800000,113.9,22.5\r\r\nA1,x,113.9,22.5\r\r\r\rA1,1764028802000,113.9,22.5\r\nA1,1764028803000,113.9,99\n"u8.ToArray();
        var whole = new Sink();
        var split = new Sink();
        new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream(csv), whole);
        new ProbeCsvReader(new VehicleIds()).Read(new Traffic.Testing.TrickleStream(csv, chunk), split);
        Assert.Equal([(5L, "time:malformed", "A1,x,113.9,22.5"), (10L, "lat:out_of_range", "A1,1764028803000,113.9,99")], whole.Rejected);
        Assert.Equal(whole.Rejected, split.Rejected);
        Assert.Equal(whole.Probes.Select(p => p.TimeMs), split.Probes.Select(p => p.TimeMs));
        Assert.Equal(2, whole.Probes.Count);
    }

    private sealed class Sink : IProbeHandler
    {
        public List<Probe> Probes { get; } = [];
        public List<(long Line, string Code, string Raw)> Rejected { get; } = [];

        public void OnProbe(in Probe probe, in RecordSource source) => Probes.Add(probe);

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw) =>
            Rejected.Add((source.Record, error.Code, Encoding.UTF8.GetString(raw)));
    }
}
