using System.Buffers;
using System.Globalization;
using System.Text;
using nietras.SeparatedValues;

namespace Traffic.Engine.Probes;

/// <summary>
/// Reads probes from CSV (RFC 4180, comma-separated, a header naming the probe format's fields in any
/// order; empty cells are absent optional fields) with the Sep library, applying the same checks as the
/// other formats. A file without the required columns is refused as a whole; a bad row is rejected alone.
/// </summary>
public sealed class ProbeCsvReader(VehicleIds ids)
{
    private static readonly string[] s_columns =
        ["vehicle_id", "time", "lon", "lat", "speed_kmh", "heading", "class", "hazmat", "fix", "accuracy_m", "alarm", "status"];

    private long _newestMs = long.MinValue;

    public VehicleIds Ids { get; } = ids;

    public ReadSummary Read<THandler>(Stream stream, THandler handler) where THandler : IProbeHandler
    {
        // Sep splits rows at runs of bare CRs ("\r\r\n", a CRLF file converted twice) by where its reads end: the same file
        // through a pipe that delivers a few bytes at a time gave other line numbers, and other rows, than read whole
        // (found by fuzzing, docs/fuzzing.md). Reads filled to what Sep asks for give it the same text in the same pieces
        // from any source.
        using SepReader reader = Header(new FullReads(stream));
        Span<int> col = stackalloc int[s_columns.Length];
        // Header names in any case and with spaces round them (a hand-written "vehicle_id, time, lon, lat", a
        // spreadsheet's "Vehicle_ID"): each was a file refused for lacking a column it has.
        IReadOnlyList<string> names = reader.Header.ColNames;
        for (int i = 0; i < s_columns.Length; i++)
        {
            col[i] = -1;
            for (int c = 0; c < names.Count && col[i] < 0; c++)
            {
                if (names[c].AsSpan().Trim().Equals(s_columns[i], StringComparison.OrdinalIgnoreCase)) col[i] = c;
            }
        }
        for (int i = 0; i < 4; i++)
        {
            if (col[i] < 0) throw new InvalidDataException($"CSV probes need a header with the column '{s_columns[i]}' (found: {string.Join(",", reader.Header.ColNames)})");
        }
        int needed = 0;
        foreach (int c in col) needed = Math.Max(needed, c + 1);

        var counts = new Counts();
        Rows(reader, col, needed, 0, handler, ref counts);
        return new ReadSummary(counts.Records, counts.Accepted, counts.Rejected, stream.CanSeek ? stream.Position : 0);
    }

    /// <summary>A reader past its header; a header Sep refuses (a name twice, as ",," is) is a file refused as a whole.</summary>
    private static SepReader Header(Stream stream)
    {
        try
        {
            return Reader(hasHeader: true).From(stream);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"CSV probes need a header of distinct column names: {e.Message}", e);
        }
    }

    /// <summary>How probe CSV is read: quoted cells unescaped, spaces round cells trimmed, rows of any length.</summary>
    private static SepReaderOptions Reader(bool hasHeader) =>
        new Sep(',').Reader(o => o with { Unescape = true, DisableColCountCheck = true, HasHeader = hasHeader, Trim = SepTrim.Outer });

    private struct Counts
    {
        public long Records, Accepted, Rejected;
    }

    /// <summary>
    /// The rows of <paramref name="reader"/>, whose line 1 is the file's line <paramref name="lineOffset"/> + 1. A row
    /// that spans several lines and does not decode is a stray quote (<c>"粤B-1,…</c> with no closing quote), which RFC 4180
    /// reads as a cell running on to the next quote, to the end of the file if none: its first line alone is rejected and
    /// the lines after it are read again as rows of their own (no probe field holds a line break, so a record split across
    /// lines is never a probe; a well-formed quoted cell spanning lines, in a column of its own, still reads as one row).
    /// Before, one stray quote sent every record after it into one dead letter.
    /// </summary>
    private void Rows<THandler>(SepReader reader, ReadOnlySpan<int> col, int needed, int lineOffset, THandler handler, ref Counts counts)
        where THandler : IProbeHandler
    {
        foreach (SepReader.Row row in reader)
        {
            if (row.Span.Trim(" \t").IsEmpty) continue; // a blank line is no record (as in NDJSON)
            var source = new RecordSource(row.LineNumberFrom + lineOffset, -1);
            DecodeError error;
            Probe p = Probe.Empty;
            if (row.ColCount < needed) error = new(ProbeField.Record, DecodeReason.Malformed);
            else error = Decode(row, col, ref p);
            if (!error.IsError) error = ProbeRules.Validate(ref p, _newestMs);
            ReadOnlySpan<char> text = row.Span;
            int lineBreak = row.LineNumberToExcl - row.LineNumberFrom > 1 ? text.IndexOfAny('\r', '\n') : -1;
            if (error.IsError && lineBreak >= 0)
            {
                string rest = text[lineBreak..].ToString();
                counts.Records++;
                counts.Rejected++;
                Reject(new(ProbeField.Record, DecodeReason.Malformed), source, text[..lineBreak], handler);
                // The first line ends at the break; the rest starts on the next line (a CRLF's two characters are one).
                int skip = rest.StartsWith("\r\n", StringComparison.Ordinal) ? 2 : 1;
                using SepReader again = Reader(hasHeader: false).FromText(rest[skip..]);
                Rows(again, col, needed, lineOffset + row.LineNumberFrom, handler, ref counts);
                continue;
            }
            counts.Records++;
            if (!error.IsError)
            {
                if (p.TimeMs > _newestMs) _newestMs = p.TimeMs;
                counts.Accepted++;
                handler.OnProbe(in p, in source);
                continue;
            }
            counts.Rejected++;
            Reject(error, source, text, handler);
        }
    }

    private static void Reject<THandler>(in DecodeError error, in RecordSource source, ReadOnlySpan<char> text, THandler handler)
        where THandler : IProbeHandler
    {
        byte[] raw = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            int n = Encoding.UTF8.GetBytes(text, raw);
            handler.OnRejected(in error, in source, raw.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    private DecodeError Decode(SepReader.Row row, ReadOnlySpan<int> col, ref Probe p)
    {
        ReadOnlySpan<char> id = row[col[0]].Span;
        if (id.IsEmpty) return new(ProbeField.VehicleId, DecodeReason.Missing);
        if (Encoding.UTF8.GetByteCount(id) > VehicleIds.MaxIdBytes) return new(ProbeField.VehicleId, DecodeReason.TooLong);
        p.Vehicle = Ids.Intern(id);

        ReadOnlySpan<char> time = row[col[1]].Span;
        if (time.IsEmpty) return new(ProbeField.Time, DecodeReason.Missing);
        if (long.TryParse(time, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ms)) p.TimeMs = ms;
        else if (double.TryParse(time, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        {
            if (!ProbeRules.TryTimeFromNumber(d, out p.TimeMs)) return new(ProbeField.Time, DecodeReason.OutOfRange);
        }
        else if (ProbeRules.ParseTimeText(time, out p.TimeMs) is var why && why != DecodeReason.None) return new(ProbeField.Time, why);

        DecodeError e;
        if ((e = Number(row, col[2], ProbeField.Lon, required: true, out double lon)).IsError) return e;
        if ((e = Number(row, col[3], ProbeField.Lat, required: true, out double lat)).IsError) return e;
        p.Lon = lon;
        p.Lat = lat;
        if ((e = Number(row, col[4], ProbeField.SpeedKmh, required: false, out double speed)).IsError) return e;
        if ((e = Number(row, col[5], ProbeField.Heading, required: false, out double heading)).IsError) return e;
        if ((e = Number(row, col[9], ProbeField.AccuracyM, required: false, out double accuracy)).IsError) return e;
        p.SpeedKmh = (float)speed;
        p.Heading = (float)heading;
        p.AccuracyM = (float)accuracy;

        Span<byte> utf8 = stackalloc byte[32];
        ReadOnlySpan<char> cls = Cell(row, col[6]);
        if (!cls.IsEmpty && (!TryUtf8(cls, utf8, out int n) || !ProbeRules.TryParseClass(utf8[..n], out p.Class)))
            return new(ProbeField.Class, DecodeReason.UnknownValue);
        ReadOnlySpan<char> hazmat = Cell(row, col[7]);
        if (!hazmat.IsEmpty && (!TryUtf8(hazmat, utf8, out n) || !ProbeRules.TryParseHazmat(utf8[..n], out p.Hazmat)))
            return new(ProbeField.Hazmat, DecodeReason.UnknownValue);
        ReadOnlySpan<char> fix = Cell(row, col[8]);
        if (!fix.IsEmpty)
        {
            // In any case: CSV has no boolean type, and Python's csv module writes True and False, Excel TRUE and FALSE.
            if (fix is "1" || fix.Equals("true", StringComparison.OrdinalIgnoreCase)) p.Fix = true;
            else if (fix is "0" || fix.Equals("false", StringComparison.OrdinalIgnoreCase)) p.Fix = false;
            else return new(ProbeField.Fix, DecodeReason.WrongType);
        }
        ReadOnlySpan<char> alarm = Cell(row, col[10]);
        if (!alarm.IsEmpty)
        {
            if (!uint.TryParse(alarm, NumberStyles.None, CultureInfo.InvariantCulture, out p.Alarm)) return new(ProbeField.Alarm, DecodeReason.OutOfRange);
            p.HasAlarm = true;
        }
        ReadOnlySpan<char> status = Cell(row, col[11]);
        if (!status.IsEmpty)
        {
            if (!uint.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out p.Status)) return new(ProbeField.Status, DecodeReason.OutOfRange);
            p.HasStatus = true;
        }
        return default;
    }

    private static ReadOnlySpan<char> Cell(SepReader.Row row, int col) => col >= 0 && col < row.ColCount ? row[col].Span : [];

    private static DecodeError Number(SepReader.Row row, int col, ProbeField field, bool required, out double value)
    {
        value = double.NaN;
        ReadOnlySpan<char> text = Cell(row, col);
        if (text.IsEmpty) return required ? new(field, DecodeReason.Missing) : default;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return new(field, DecodeReason.WrongType);
        if (!double.IsFinite(value)) return new(field, DecodeReason.NotFinite);
        return default;
    }

    private static bool TryUtf8(ReadOnlySpan<char> text, Span<byte> utf8, out int written) =>
        Encoding.UTF8.TryGetBytes(text, utf8, out written);
}

/// <summary>A read-only view of a stream whose reads return as many bytes as asked for, short only at its end.</summary>
internal sealed class FullReads(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => inner.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
