using System.Text.Json;

namespace Traffic.Engine.Simulation;

/// <summary>A polygon zone of a zones GeoJSON file (INTERFACES.md), as far as the simulator needs it.</summary>
public sealed record SimZone(string Id, string Kind, string[]? Classes, double? MaxDwellS, List<(double Lon, double Lat)[]> Rings)
{
    /// <summary>When the rule applies, local minutes of the day [from, to) (wrapping past midnight); null: always.</summary>
    public (int From, int To)? Hours { get; init; }

    /// <summary>Whether the rule applies at a local minute of the day.</summary>
    public bool AppliesAt(int minuteOfDay) => Hours is not { } h
        || (h.From <= h.To ? minuteOfDay >= h.From && minuteOfDay < h.To : minuteOfDay >= h.From || minuteOfDay < h.To);

    // "HH:MM-HH:MM", local time (INTERFACES.md).
    private static (int, int)? ParseHours(string? text, string path)
    {
        if (text == null) return null;
        var parts = text.Split('-');
        if (parts.Length == 2 && TimeOnly.TryParseExact(parts[0].Trim(), "HH:mm", out var a) && TimeOnly.TryParseExact(parts[1].Trim(), "HH:mm", out var b))
            return ((a.Hour * 60) + a.Minute, (b.Hour * 60) + b.Minute);
        throw new InvalidDataException($"{path}: zone hours '{text}' are not HH:MM-HH:MM");
    }

    /// <summary>Even-odd rule over all rings: holes of a polygon subtract, separate polygons add.</summary>
    public bool Contains(double lon, double lat)
    {
        bool inside = false;
        foreach (var ring in Rings)
        {
            for (int i = 0, j = ring.Length - 1; i < ring.Length; j = i++)
            {
                var (xi, yi) = ring[i];
                var (xj, yj) = ring[j];
                if ((yi > lat) != (yj > lat) && lon < ((xj - xi) * (lat - yi) / (yj - yi)) + xi) inside = !inside;
            }
        }
        return inside;
    }

    /// <summary>Mean of the outer ring's vertices: a point to drive to (the simulator's zones are convex-ish).</summary>
    public (double Lon, double Lat) Centre()
    {
        var ring = Rings[0];
        int n = ring.Length > 1 && ring[0] == ring[^1] ? ring.Length - 1 : ring.Length;
        double lon = 0, lat = 0;
        for (int i = 0; i < n; i++)
        {
            lon += ring[i].Lon;
            lat += ring[i].Lat;
        }
        return (lon / n, lat / n);
    }

    public bool AppliesTo(string vehicleClass) => Classes == null || Classes.Contains(vehicleClass);

    /// <summary>Reads the Polygon and MultiPolygon features of a FeatureCollection (corridor lines are skipped).</summary>
    public static List<SimZone> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"zones file not found: {path}", path);
        var zones = new List<SimZone>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            foreach (var f in doc.RootElement.GetProperty("features").EnumerateArray())
            {
                var props = f.GetProperty("properties");
                var geom = f.GetProperty("geometry");
                string type = geom.GetProperty("type").GetString() ?? "";
                var rings = new List<(double, double)[]>();
                if (type == "Polygon")
                {
                    foreach (var r in geom.GetProperty("coordinates").EnumerateArray()) rings.Add(Ring(r));
                }
                else if (type == "MultiPolygon")
                {
                    foreach (var p in geom.GetProperty("coordinates").EnumerateArray())
                        foreach (var r in p.EnumerateArray()) rings.Add(Ring(r));
                }
                else
                {
                    continue;
                }
                string[]? classes = props.TryGetProperty("classes", out var c) && c.ValueKind == JsonValueKind.Array
                    ? [.. c.EnumerateArray().Select(x => x.GetString() ?? "")] : null;
                double? dwell = props.TryGetProperty("max_dwell_s", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : null;
                string? hours = props.TryGetProperty("hours", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
                zones.Add(new SimZone(props.GetProperty("id").GetString() ?? "", props.GetProperty("kind").GetString() ?? "", classes, dwell, rings)
                {
                    Hours = ParseHours(hours, path),
                });
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a zones FeatureCollection ({e.Message})", e);
        }
        return zones;
    }

    private static (double, double)[] Ring(JsonElement ring) =>
        [.. ring.EnumerateArray().Select(p => (p[0].GetDouble(), p[1].GetDouble()))];
}
