using System.Text.Json;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>
/// The probe rules of INTERFACES.md, written out independently of the simulator (the engine's decoder
/// does not exist yet): required fields present and well typed, coordinates in range, numbers finite,
/// a time after 2000.
/// </summary>
internal static class ProbeRules
{
    private const long Year2000Ms = 946_684_800_000;

    public static bool IsValid(string line, out string reason)
    {
        JsonElement o;
        try
        {
            o = JsonDocument.Parse(line).RootElement;
        }
        catch (JsonException)
        {
            reason = "not JSON";
            return false;
        }
        if (o.ValueKind != JsonValueKind.Object) return Fail("not an object", out reason);
        if (!o.TryGetProperty("vehicle_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString()!.Length == 0)
            return Fail("vehicle_id", out reason);
        if (!o.TryGetProperty("time", out var time)) return Fail("time missing", out reason);
        if (time.ValueKind == JsonValueKind.Number)
        {
            if (!time.TryGetInt64(out long ms) || ms < Year2000Ms) return Fail("time", out reason);
        }
        else if (time.ValueKind != JsonValueKind.String || !DateTimeOffset.TryParse(time.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
        {
            return Fail("time", out reason);
        }
        if (!Number(o, "lon", -180, 180, required: true)) return Fail("lon", out reason);
        if (!Number(o, "lat", -90, 90, required: true)) return Fail("lat", out reason);
        if (!Number(o, "speed_kmh", 0, double.MaxValue, required: false)) return Fail("speed_kmh", out reason);
        if (!Number(o, "heading", 0, 359.9999999, required: false)) return Fail("heading", out reason);
        if (o.TryGetProperty("class", out var cls) && cls.GetString() is not ("bus" or "taxi" or "truck" or "hazmat" or "car"))
            return Fail("class", out reason);
        if (o.TryGetProperty("fix", out var fix) && fix.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return Fail("fix", out reason);
        reason = "";
        return true;
    }

    private static bool Number(JsonElement o, string name, double min, double max, bool required)
    {
        if (!o.TryGetProperty(name, out var v)) return !required;
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) && d >= min && d <= max;
    }

    private static bool Fail(string why, out string reason)
    {
        reason = why;
        return false;
    }
}
