using System.Text.Json;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Registry;

/// <summary>What the registry says of one vehicle.</summary>
public readonly record struct VehicleInfo(VehicleClass Class, ushort Hazmat, string? Corridor, string? Company);

/// <summary>
/// The vehicle registry (<c>--vehicles</c>, NDJSON: <c>vehicle_id</c>, <c>class</c>, optional <c>hazmat</c>,
/// <c>corridor</c>, <c>company</c>), keyed by the same dense ids the probe decoders give, so a shard
/// looks a vehicle up by index. A probe's own class and hazmat win over the registry's; a vehicle in
/// neither is a car.
/// </summary>
public sealed class VehicleRegistry
{
    private readonly VehicleIds _ids;
    private VehicleInfo?[] _info = [];
    private readonly List<int> _listed = [];   // each vehicle once, by its canonical id (an id padded or in full-width forms also holds under itself)

    public VehicleRegistry(VehicleIds ids) => _ids = ids;

    /// <summary>Vehicles listed.</summary>
    public int Count { get; private set; }

    /// <summary>The registry's entry for a vehicle, or null.</summary>
    public VehicleInfo? Get(int vehicle) => (uint)vehicle < (uint)_info.Length ? _info[vehicle] : null;

    /// <summary>The class and hazardous cargo that apply to a probe: its own where given, else the registry's, else car.</summary>
    public (VehicleClass Class, ushort Hazmat) Resolve(in Probe p) => Resolve(this, in p);

    /// <summary>The same with or without a registry (without one: the probe's own, else car).</summary>
    public static (VehicleClass Class, ushort Hazmat) Resolve(VehicleRegistry? registry, in Probe p)
    {
        VehicleInfo? info = registry?.Get(p.Vehicle);
        VehicleClass c = p.Class != VehicleClass.Unspecified ? p.Class : info?.Class ?? VehicleClass.Car;
        ushort hazmat = p.Hazmat != 0 ? p.Hazmat : info?.Hazmat ?? 0;
        return (c == VehicleClass.Unspecified ? VehicleClass.Car : c, hazmat);
    }

    /// <summary>
    /// The corridors vehicles are assigned that no zone of <paramref name="zones"/> has (none at all without zones),
    /// with how many vehicles name each: their <c>hazmat_off_corridor</c> rule has nothing to judge by.
    /// </summary>
    public IReadOnlyList<(string Corridor, int Vehicles)> MissingCorridors(Zones.ZoneSet? zones)
    {
        // A corridor must be a corridor zone: an id naming a restricted zone or a permitted stop has no band to keep to
        // (judged against it, a truck was "off its corridor" whenever it was outside a truck ban).
        return [.. _listed.Select(v => _info[v]).Where(i => i?.Corridor is { } c && zones?.TryGetCorridor(c, out _) != true).GroupBy(i => i!.Value.Corridor!, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count())).OrderBy(g => g.Key, StringComparer.Ordinal)];
    }

    /// <summary>Loads a registry file; a bad line is refused with its file and line number.</summary>
    public static VehicleRegistry Load(string path, VehicleIds ids)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"vehicle registry not found: {path}", path);
        var registry = new VehicleRegistry(ids);
        using (var reader = new StreamReader(path))
        {
            // A JSON array of the entries (pandas' to_json(orient="records"), mongoexport --jsonArray), not NDJSON: the
            // entries are the same, one element each.
            while (reader.Peek() is int c && c >= 0 && char.IsWhiteSpace((char)c)) reader.Read();
            if (reader.Peek() == '[')
            {
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(reader.ReadToEnd());
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"{path}: not a JSON array of vehicles (nor NDJSON): {e.Message}", e);
                }
                using (doc)
                {
                    int element = 0;
                    foreach (JsonElement entry in doc.RootElement.EnumerateArray())
                    {
                        try
                        {
                            registry.Add(entry.GetRawText());
                        }
                        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException)
                        {
                            throw new InvalidDataException($"{path}: element {element}: {e.Message}", e);
                        }
                        element++;
                    }
                }
                return registry;
            }
        }
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                registry.Add(text);
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException)
            {
                throw new InvalidDataException($"{path}:{line}: {e.Message}", e);
            }
        }
        return registry;
    }

    /// <summary>Adds one registry line (a JSON object).</summary>
    public void Add(string json)
    {
        using var doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("expected a JSON object");
        // A terminal id exported from a numeric column (13800138000) reads as its digits.
        string id = !root.TryGetProperty("vehicle_id", out var v) ? "" : v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Number when v.TryGetInt64(out long number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
            JsonValueKind.Null => "",
            _ => throw new InvalidDataException($"vehicle_id: wrong type: {v.GetRawText()}"),
        };
        if (id.Length == 0) throw new InvalidDataException("vehicle_id: required field missing");
        if (!root.TryGetProperty("class", out var cls)) throw new InvalidDataException("class: required field missing");
        // A class the fleet database leaves empty (null, "") is unknown: the probes' class holds, else car, as for a
        // vehicle not listed; its dangerous goods and corridor still hold.
        VehicleClass c = VehicleClass.Unspecified;
        if (cls.ValueKind == JsonValueKind.String && cls.GetString()!.Trim().Length > 0)
        {
            if (!ProbeRules.TryParseClass(cls.GetString()!.Trim(), out c))
                throw new InvalidDataException($"class: unknown value '{cls.GetString()}'");
        }
        else if (cls.ValueKind is not (JsonValueKind.Null or JsonValueKind.String))
        {
            throw new InvalidDataException($"class: wrong type: {cls.GetRawText()}");
        }
        ushort hazmat = 0;
        if (root.TryGetProperty("hazmat", out var hz) && hz.ValueKind != JsonValueKind.Null)
        {
            // 3 is "3"; 3.0 too (pandas writes a column with nulls as floats); 0 is none, as a numeric column says it.
            string? un = hz.ValueKind switch
            {
                JsonValueKind.String => hz.GetString()!.Trim(),
                JsonValueKind.Number when hz.TryGetDecimal(out decimal d) && d == decimal.Truncate(d) && d is >= 0 and < 10 => ((int)d).ToString(System.Globalization.CultureInfo.InvariantCulture),
                JsonValueKind.Number => hz.GetRawText(),
                _ => null,
            };
            if (un == null || !ProbeRules.TryParseHazmat(un, out hazmat))
                throw new InvalidDataException($"hazmat: not a UN class: {hz.GetRawText()}");
        }
        string? corridor = Text(root, "corridor");
        string? company = Text(root, "company");
        var info = new VehicleInfo(c, hazmat, corridor, company);
        // An id as a database pads or types it (a CHAR column's trailing spaces, full-width letters and digits of an
        // input method: "粤Ｂ１２３４５ ") is the plate the units send ("粤B12345"): the entry holds under both. Before,
        // such a vehicle matched no probe, and a hazardous-cargo truck was judged a car with no corridor, silently.
        string canonical = Canonical(id);
        bool isNew = Set(canonical, info, id);
        if (canonical != id) Set(id, info, id);
        if (!isNew) return;
        Count++;
        _listed.Add(_ids.Intern(canonical.AsSpan()));
    }

    /// <summary>Adds registry lines (JSON objects) in order.</summary>
    public void AddAll(params string[] lines)
    {
        foreach (string line in lines) Add(line);
    }

    /// <summary>
    /// An id without surrounding white space, its full-width forms (U+FF01–U+FF5E: Ｂ, ６) folded to ASCII and the
    /// ideographic space to a space, as NFKC folds them (the engine runs with invariant globalization, whose
    /// normalisation leaves them).
    /// </summary>
    internal static string Canonical(string id)
    {
        Span<char> folded = id.Length <= 256 ? stackalloc char[id.Length] : new char[id.Length];
        for (int i = 0; i < id.Length; i++)
        {
            char ch = id[i];
            folded[i] = ch is >= '\uFF01' and <= '\uFF5E' ? (char)(ch - 0xFEE0) : ch == '\u3000' ? ' ' : ch;
        }
        return new string(folded.Trim());
    }

    // Sets the entry of one id; returns whether it is new.
    private bool Set(string key, VehicleInfo info, string listed)
    {
        int vehicle = _ids.Intern(key.AsSpan());
        if (vehicle >= _info.Length) Array.Resize(ref _info, Math.Max(vehicle + 1, _info.Length * 2));
        // Listed twice alike is no matter; listed twice otherwise, which entry holds cannot be told (a later line of an
        // export is not always the newer), and its class and dangerous goods decide its rules.
        if (_info[vehicle] is { } earlier && earlier != info)
            throw new InvalidDataException($"vehicle_id '{listed}' is listed before{(key != listed ? $" as '{key}'" : "")} with another entry ({Describe(earlier)}; here {Describe(info)})");
        bool isNew = _info[vehicle] == null;
        _info[vehicle] = info;
        return isNew;
    }

    private static string Describe(VehicleInfo i) =>
        $"class {(i.Class == VehicleClass.Unspecified ? "unknown" : ProbeRules.ClassName(i.Class))}, hazmat {ProbeRules.HazmatText(i.Hazmat) ?? "none"}, corridor {i.Corridor ?? "none"}, company {i.Company ?? "none"}";

    // A string, or a number read by its digits (a corridor's zone id may be one: 7 names the zone with id 7).
    private static string? Text(JsonElement root, string name) => !root.TryGetProperty(name, out var e) ? null : e.ValueKind switch
    {
        // Trimmed as a database's padded column writes it; empty is none, as null is.
        JsonValueKind.String => e.GetString()!.Trim() is { Length: > 0 } text ? text : null,
        JsonValueKind.Number => e.GetRawText(),
        JsonValueKind.Null => null,
        _ => throw new InvalidDataException($"{name}: wrong type: {e.GetRawText()}"),
    };
}
