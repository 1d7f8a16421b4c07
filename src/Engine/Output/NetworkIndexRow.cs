using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Segments;

namespace Traffic.Engine.Output;

/// <summary>A window of the network index as JSON (docs/outputs.md "Network index"): one line of tpi.ndjson, one message of the index feed.</summary>
public static class NetworkIndexRow
{
    /// <summary>Writes the row's fields into an object that the caller has started.</summary>
    public static void WriteFields(Utf8JsonWriter w, in NetworkIndexValue v)
    {
        Span<byte> time = stackalloc byte[AlertWriter.Rfc3339Length];
        w.WriteString("window_start"u8, AlertWriter.Rfc3339(v.WindowStartMs, time));
        w.WriteString("window_end"u8, AlertWriter.Rfc3339(v.WindowEndMs, time));
        w.WriteNumber("tpi"u8, v.Tpi);
        w.WriteNumber("level"u8, v.Level);
        w.WriteNumber("severe_share"u8, v.SevereShare);
        w.WriteNumber("segments"u8, v.Segments);
        w.WriteNumber("vehicle_km"u8, v.VehicleKm);
        w.WriteNumber("length_km"u8, v.LengthKm);
    }
}
