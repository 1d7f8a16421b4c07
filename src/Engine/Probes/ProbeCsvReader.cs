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
        using SepReader reader = new Sep(',').Reader(o => o with { Unescape = true, DisableColCountCheck = true, HasHeader = true }).From(stream);
        Span<int> col = stackalloc int[s_columns.Length];
        for (int i = 0; i < s_columns.Length; i++) col[i] = reader.Header.TryIndexOf(s_columns[i], out int c) ? c : -1;
        for (int i = 0; i < 4; i++)
        {
            if (col[i] < 0) throw new InvalidDataException($"CSV probes need a header with the column '{s_columns[i]}' (found: {string.Join(",", reader.Header.ColNames)})");
        }
        int needed = 0;
        foreach (int c in col) needed = Math.Max(needed, c + 1);

        long records = 0, accepted = 0, rejected = 0;
        foreach (SepReader.Row row in reader)
        {
            if (row.Span.Trim(" \t").IsEmpty) continue; // a blank line is no record (as in NDJSON)
            records++;
            var source = new RecordSource(row.LineNumberFrom, -1);
            DecodeError error;
            Probe p = Probe.Empty;
            if (row.ColCount < needed) error = new(ProbeField.Record, DecodeReason.Malformed);
            else error = Decode(row, col, ref p);
            if (!error.IsError) error = ProbeRules.Validate(ref p, _newestMs);
            if (!error.IsError)
            {
                if (p.TimeMs > _newestMs) _newestMs = p.TimeMs;
                accepted++;
                handler.OnProbe(in p, in source);
                continue;
            }
            rejected++;
            ReadOnlySpan<char> text = row.Span;
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
        return new ReadSummary(records, accepted, rejected, stream.CanSeek ? stream.Position : 0);
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
            if (fix is "true" or "1") p.Fix = true;
            else if (fix is "false" or "0") p.Fix = false;
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
