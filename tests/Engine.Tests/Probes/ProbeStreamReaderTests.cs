using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Probes;

public class ProbeStreamReaderTests
{
    private static readonly string s_file = string.Join("\n",
        """{"vehicle_id":"琼A1","time":1764028800000,"lon":110.1,"lat":20.1,"speed_kmh":30}""",
        "",
        """{"vehicle_id":"琼A2","time":1764028801000,"lon":110.2,"lat":95}""",
        """{"vehicle_id":"琼A1","time":1764028802000,"lon":110.1,"lat":20.1}""" + "\r",
        """{broken""",
        """{"vehicle_id":"琼A3","time":"2025-11-25T00:00:03Z","lon":110.3,"lat":20.3}""") + "\n";

    [Fact]
    public async Task A_file_is_read_with_every_record_accepted_or_rejected_in_order()
    {
        var sink = new Collector();
        var summary = await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(s_file)), sink);
        Assert.Equal(3, summary.Accepted);
        Assert.Equal(2, summary.Rejected);
        Assert.Equal(5, summary.Records); // the blank line is no record, though it counts in the line numbers
        Assert.Equal([1, 4, 6], sink.Accepted.Select(a => a.Line));
        Assert.Equal([(3L, "lat:out_of_range"), (5L, "record:malformed")], sink.Rejected.Select(r => (r.Line, r.Code)));
        Assert.Equal("{broken", sink.Rejected[1].Raw);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task Records_split_across_buffer_segments_read_the_same(int segment)
    {
        var whole = new Collector();
        await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(s_file)), whole);

        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 1, pauseWriterThreshold: 0));
        byte[] bytes = Encoding.UTF8.GetBytes(s_file);
        var writing = Task.Run(async () =>
        {
            for (int i = 0; i < bytes.Length; i += segment)
            {
                await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(segment, bytes.Length - i)));
            }
            await pipe.Writer.CompleteAsync();
        });
        var split = new Collector();
        await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(pipe.Reader, split);
        await writing;
        Assert.Equal(whole.Accepted, split.Accepted);
        Assert.Equal(whole.Rejected, split.Rejected);
    }

    [Fact]
    public async Task The_segmented_test_reader_hands_out_the_bytes_as_cut()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s_file);
        var reader = SegmentedPipeReader.Cut(bytes, 5, 6, 40);
        var sizes = new List<long>();
        ReadResult result;
        do
        {
            result = await reader.ReadAsync();
            sizes.Add(result.Buffer.Length);
            if (result.IsCompleted) Assert.Equal(bytes, result.Buffer.ToArray());
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        while (!result.IsCompleted);
        Assert.Equal([5L, 6, 40, bytes.Length], sizes);
    }

    [Fact]
    public async Task Records_cut_at_every_byte_read_the_same_values_lines_and_offsets()
    {
        // Lines wholly inside a segment are read from its span, the rest through the sequence: cut anywhere (inside a
        // number, a name, a multi-byte character, between CR and LF, right after a newline), a file reads the same.
        string text = s_file
            + """{"vehicle_id":"琼B7","time":1764028803000,"lon":113.9292371,"lat":22.5494954,"speed_kmh":12.25,"heading":276.8,"class":"taxi","fix":true,"alarm":12345678,"status":3}""" + "\r\n"
            + "\n"
            + " \t \r\n" // blank: no record
            + """ {"vehicle_id":"琼B9","time":1764028803500,"lon":110,"lat":20,"speed_kmh":0}""" + "\n" // a space before the object: a record
            + """{"vehicle_id":"琼B7","time":1764028804000,"lon":-0.000001234567890123,"lat":1e-3,"accuracy_m":5}""" + "\n"
            + """{"vehicle_id":"琼B8","time":17640288050001,"lon":110,"lat":20}""";
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        // The reference: every byte a segment of its own, so that no line is read from one span.
        var whole = new Collector();
        var read = await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(
            SegmentedPipeReader.Cut(bytes, [.. Enumerable.Range(1, bytes.Length - 1)]), whole);
        Assert.Equal(6, whole.Accepted.Count);
        Assert.Equal(3, whole.Rejected.Count); // two in s_file, and the last line's time lies centuries ahead
        long[] lineStarts = [0, .. bytes.Select((b, i) => (b, i)).Where(x => x.b == (byte)'\n').Select(x => (long)x.i + 1)];
        Assert.All(whole.Sources, s => Assert.Equal(lineStarts[s.Record - 1], s.Offset));
        for (int cut = 1; cut < bytes.Length; cut++)
        {
            foreach (int[] at in new[] { new[] { cut }, new[] { cut / 2, cut }, new[] { cut, Math.Min(cut + 3, bytes.Length - 1) } })
            {
                if (at.Length == 2 && (at[0] == 0 || at[0] >= at[1])) continue;
                var split = new Collector();
                var summary = await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(SegmentedPipeReader.Cut(bytes, at), split);
                Assert.Equal(read, summary);
                Assert.Equal(whole.Accepted, split.Accepted);
                Assert.Equal(whole.Probes, split.Probes);
                Assert.Equal(whole.Sources, split.Sources);
                Assert.Equal(whole.Rejected, split.Rejected);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task A_file_with_a_byte_order_mark_and_CRLF_lines_reads_every_record(int segment)
    {
        // As Windows tools write text: a UTF-8 byte order mark before the first record, CRLF at every line's end.
        byte[] bytes = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(s_file.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal))];
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 1, pauseWriterThreshold: 0));
        var writing = Task.Run(async () =>
        {
            for (int i = 0; i < bytes.Length; i += segment) await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(segment, bytes.Length - i)));
            await pipe.Writer.CompleteAsync();
        });
        var sink = new Collector();
        await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(pipe.Reader, sink);
        await writing;
        Assert.Equal([1, 4, 6], sink.Accepted.Select(a => a.Line));
        Assert.Equal([(3L, "lat:out_of_range"), (5L, "record:malformed")], sink.Rejected.Select(r => (r.Line, r.Code)));
    }

    [Fact]
    public async Task A_last_line_without_a_newline_is_read()
    {
        var sink = new Collector();
        await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(
            new MemoryStream("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1}"""u8.ToArray()), sink);
        Assert.Single(sink.Accepted);
    }

    [Fact]
    public async Task A_line_longer_than_the_limit_is_rejected_once_and_the_next_line_is_read()
    {
        string longLine = "{\"vehicle_id\":\"" + new string('x', ProbeStreamReader.MaxRecordBytes * 2) + "\"}";
        string text = longLine + "\n" + """{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1}""" + "\n";
        var sink = new Collector();
        var summary = await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), sink);
        Assert.Equal(1, summary.Accepted);
        Assert.Equal("record:too_long", Assert.Single(sink.Rejected).Code);
    }

    [Fact]
    public async Task Binary_records_round_trip_and_a_truncated_one_is_rejected()
    {
        var ids = new VehicleIds();
        var d = new ProbeJsonDecoder(ids);
        Assert.True(d.TryDecode("""{"vehicle_id":"琼A12345","time":1764028800000,"lon":110.35,"lat":20.02,"speed_kmh":42.5,"class":"hazmat","hazmat":"3","fix":false,"status":7}"""u8, out var p, out _));
        var stream = new MemoryStream();
        byte[] record = new byte[ProbeBinaryRecord.Size];
        Assert.True(ProbeBinaryRecord.TryWrite(p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), record));
        stream.Write(record);
        stream.Write(record);
        stream.Write(record.AsSpan(0, 50)); // truncated
        stream.Position = 0;
        var sink = new Collector();
        var readIds = new VehicleIds();
        var summary = await new ProbeStreamReader(ProbeFormat.Binary, readIds).ReadAsync(stream, sink);
        Assert.Equal(2, summary.Accepted);
        Assert.Equal("record:malformed", Assert.Single(sink.Rejected).Code);
        var back = sink.Probes[0];
        Assert.Equal("琼A12345", readIds.Name(back.Vehicle));
        Assert.Equal(p.TimeMs, back.TimeMs);
        Assert.Equal(p.Lon, back.Lon);
        Assert.Equal(p.Lat, back.Lat);
        Assert.Equal(p.SpeedKmh, back.SpeedKmh);
        Assert.True(float.IsNaN(back.Heading));
        Assert.Equal(VehicleClass.Hazmat, back.Class);
        Assert.Equal(30, back.Hazmat);
        Assert.False(back.Fix);
        Assert.True(back.HasStatus && !back.HasAlarm);
        Assert.Equal(7u, back.Status);
    }

    [Theory]
    [InlineData(99)]   // "9.9"
    [InlineData(31)]   // "3.1"
    [InlineData(17)]   // "1.7"
    [InlineData(5)]
    [InlineData(100)]
    public async Task A_binary_record_whose_hazmat_code_is_no_UN_class_or_division_is_rejected(int code)
    {
        var ids = new VehicleIds();
        Assert.True(new ProbeJsonDecoder(ids).TryDecode("""{"vehicle_id":"琼A12345","time":1764028800000,"lon":110.35,"lat":20.02,"hazmat":"2.1"}"""u8, out var p, out _));
        byte[] record = new byte[ProbeBinaryRecord.Size];
        Assert.True(ProbeBinaryRecord.TryWrite(p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), record));
        var stream = new MemoryStream();
        stream.Write(record);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(2), (ushort)code);
        stream.Write(record);
        stream.Position = 0;
        var sink = new Collector();
        var summary = await new ProbeStreamReader(ProbeFormat.Binary, new VehicleIds()).ReadAsync(stream, sink);
        Assert.Equal(1, summary.Accepted);
        Assert.Equal(21, sink.Probes[0].Hazmat);
        Assert.Equal("hazmat:unknown_value", Assert.Single(sink.Rejected).Code);
    }

    [Fact]
    public void Dead_letters_carry_reason_source_and_original_bytes()
    {
        var stream = new MemoryStream();
        using (var dead = new DeadLetterWriter(stream, "probes.ndjson"))
        {
            dead.Write(new DecodeError(ProbeField.Lat, DecodeReason.OutOfRange), new RecordSource(3, 120), "{\"lat\":95}"u8, binary: false);
            dead.Write(new DecodeError(ProbeField.Record, DecodeReason.Malformed), new RecordSource(2, 128), new byte[] { 0xff, 0x00, 0x01 }, binary: true);
            Assert.Equal(2, dead.Count);
            Assert.Equal(1, dead.ByReason["lat:out_of_range"]);
        }
        string[] lines = Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        using var first = System.Text.Json.JsonDocument.Parse(lines[0]);
        Assert.Equal("lat: out of range", first.RootElement.GetProperty("reason").GetString());
        Assert.Equal(3, first.RootElement.GetProperty("source").GetProperty("line").GetInt64());
        Assert.Equal("probes.ndjson", first.RootElement.GetProperty("source").GetProperty("file").GetString());
        Assert.Equal("{\"lat\":95}", first.RootElement.GetProperty("original").GetString());
        using var second = System.Text.Json.JsonDocument.Parse(lines[1]);
        Assert.Equal(Convert.ToBase64String(new byte[] { 0xff, 0x00, 0x01 }), second.RootElement.GetProperty("original_base64").GetString());
    }

    [Fact]
    public void A_csv_rows_dead_letter_names_its_line_and_no_offset()
    {
        // A CSV row has a line and no byte offset: its dead letter said "offset":-1.
        var stream = new MemoryStream();
        using (var dead = new DeadLetterWriter(stream, "probes.csv"))
            dead.Write(new DecodeError(ProbeField.Lon, DecodeReason.WrongType), new RecordSource(24, -1), "a,1,abc,2"u8, binary: false);
        using var doc = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(stream.ToArray()));
        var source = doc.RootElement.GetProperty("source");
        Assert.Equal(24, source.GetProperty("line").GetInt64());
        Assert.False(source.TryGetProperty("offset", out _));
    }

    private sealed class Collector : IProbeHandler
    {
        public List<(long Line, int Vehicle, long Time)> Accepted { get; } = [];
        public List<Probe> Probes { get; } = [];
        public List<RecordSource> Sources { get; } = [];
        public List<(long Line, string Code, string Raw)> Rejected { get; } = [];

        public void OnProbe(in Probe probe, in RecordSource source)
        {
            Accepted.Add((source.Record, probe.Vehicle, probe.TimeMs));
            Probes.Add(probe);
            Sources.Add(source);
        }

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
            Rejected.Add((source.Record, error.Code, Encoding.UTF8.GetString(raw)));
            Sources.Add(source);
        }
    }
}
