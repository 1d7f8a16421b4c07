using System.Text;
using Traffic.Engine.Output;

namespace Traffic.Engine.Alerts;

/// <summary>
/// Writes alert events as NDJSON lines in the format of INTERFACES.md (times as RFC 3339 UTC); <c>lineByLine</c>: as
/// <see cref="NdjsonWriter"/>'s.
/// </summary>
public sealed class AlertWriter(Stream stream, bool lineByLine = false) : IDisposable
{
    private readonly NdjsonWriter _lines = new(stream, lineByLine);

    public long Count => _lines.Lines;

    public void Write(AlertEvent a)
    {
        var w = _lines.Begin();
        w.WriteString("alert_id"u8, a.AlertId);
        w.WriteString("kind"u8, a.Kind);
        w.WriteString("state"u8, StateName(a.State));
        Span<byte> time = stackalloc byte[Rfc3339Length];
        w.WriteString("time"u8, Rfc3339(a.TimeMs, time));
        w.WriteString("start"u8, Rfc3339(a.StartMs, time));
        if (a.EndMs is long end) w.WriteString("end"u8, Rfc3339(end, time));
        if (a.VehicleId != null) w.WriteString("vehicle_id"u8, a.VehicleId);
        if (a.Class != null) w.WriteString("class"u8, a.Class);
        if (a.Hazmat != null) w.WriteString("hazmat"u8, a.Hazmat);
        if (a.Road != null) w.WriteString("road"u8, a.Road);
        if (a.WayId is long way) w.WriteNumber("way_id"u8, way);
        if (a.Direction != null) w.WriteString("direction"u8, a.Direction);
        if (a.Zone != null) w.WriteString("zone"u8, a.Zone);
        if (a.Lon is double lon) w.WriteNumber("lon"u8, Math.Round(lon, 7));
        if (a.Lat is double lat) w.WriteNumber("lat"u8, Math.Round(lat, 7));
        if (a.Severity is int severity) w.WriteNumber("severity"u8, severity);
        w.WriteStartObject("evidence"u8);
        foreach (var (name, value) in a.Evidence) w.WriteNumber(name, Math.Round(value, 3));
        w.WriteEndObject();
        _lines.End();
    }

    /// <summary>The state as written: <c>open</c>, <c>update</c>, <c>close</c>.</summary>
    public static string StateName(AlertState state) => state switch { AlertState.Open => "open", AlertState.Update => "update", _ => "close" };

    /// <summary>Bytes of an RFC 3339 time as written: <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public const int Rfc3339Length = 24;

    /// <summary>The UTC time of Unix milliseconds as RFC 3339 text, <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public static string Rfc3339(long ms)
    {
        Span<byte> text = stackalloc byte[Rfc3339Length];
        return Encoding.ASCII.GetString(Rfc3339(ms, text));
    }

    /// <summary>
    /// <see cref="Rfc3339(long)"/> as UTF-8 in the first <see cref="Rfc3339Length"/> bytes of <paramref name="utf8"/>,
    /// which it returns: no string and no format string to parse (a segment row writes two times, a replay hundreds of
    /// thousands of rows).
    /// </summary>
    public static Span<byte> Rfc3339(long ms, Span<byte> utf8)
    {
        DateTime t = DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime;
        long date = (t.Year * 10_000L) + (t.Month * 100) + t.Day;                                     // yyyyMMdd
        long time = (t.Hour * 10_000_000L) + (t.Minute * 100_000) + (t.Second * 1_000) + t.Millisecond;  // HHmmssfff
        long digits = (date * 1_000_000_000) + time;
        utf8 = utf8[..Rfc3339Length];
        "0000-00-00T00:00:00.000Z"u8.CopyTo(utf8);
        // The digits of yyyyMMddHHmmssfff from the last, into the template's zeros (its separators are no digit).
        for (int i = Rfc3339Length - 2; i >= 0; i--)
        {
            if (utf8[i] != (byte)'0') continue;
            utf8[i] = (byte)('0' + (digits % 10));
            digits /= 10;
        }
        return utf8;
    }

    public void Dispose() => _lines.Dispose();
}
