using Traffic.Engine.Output;

namespace Traffic.Engine.Alerts;

/// <summary>Writes alert events as NDJSON lines in the format of INTERFACES.md (times as RFC 3339 UTC).</summary>
public sealed class AlertWriter(Stream stream) : IDisposable
{
    private readonly NdjsonWriter _lines = new(stream);

    public long Count => _lines.Lines;

    public void Write(AlertEvent a)
    {
        var w = _lines.Begin();
        w.WriteString("alert_id"u8, a.AlertId);
        w.WriteString("kind"u8, a.Kind);
        w.WriteString("state"u8, StateName(a.State));
        w.WriteString("time"u8, Rfc3339(a.TimeMs));
        w.WriteString("start"u8, Rfc3339(a.StartMs));
        if (a.EndMs is long end) w.WriteString("end"u8, Rfc3339(end));
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

    public static string Rfc3339(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => _lines.Dispose();
}
