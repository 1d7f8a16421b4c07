using System.Text.Json;

namespace Traffic.Engine.Probes;

/// <summary>
/// Writes a probe's fields as the NDJSON probe format names them (docs/probe-formats.md): the required ones, and each
/// optional one the probe carries, so that an output row of probes (the late output) reads back as the probe it was.
/// </summary>
public static class ProbeJsonWriter
{
    /// <summary>Writes the fields into the object <paramref name="w"/> has open; the caller adds its own after them.</summary>
    public static void WriteFields(Utf8JsonWriter w, string vehicleId, in Probe p)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteString("vehicle_id"u8, vehicleId);
        w.WriteNumber("time"u8, p.TimeMs);
        w.WriteNumber("lon"u8, p.Lon);
        w.WriteNumber("lat"u8, p.Lat);
        if (float.IsFinite(p.SpeedKmh)) w.WriteNumber("speed_kmh"u8, p.SpeedKmh);
        if (float.IsFinite(p.Heading)) w.WriteNumber("heading"u8, p.Heading);
        if (p.Class != VehicleClass.Unspecified) w.WriteString("class"u8, ProbeRules.ClassName(p.Class));
        if (p.HazmatText is { } hazmat) w.WriteString("hazmat"u8, hazmat);
        if (!p.Fix) w.WriteBoolean("fix"u8, false);
        if (float.IsFinite(p.AccuracyM)) w.WriteNumber("accuracy_m"u8, p.AccuracyM);
        if (p.HasAlarm) w.WriteNumber("alarm"u8, p.Alarm);
        if (p.HasStatus) w.WriteNumber("status"u8, p.Status);
    }
}
