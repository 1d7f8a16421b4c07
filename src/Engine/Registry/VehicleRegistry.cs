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
        var known = new HashSet<string>(zones?.Zones.Select(z => z.Id) ?? [], StringComparer.Ordinal);
        return [.. _info.Where(i => i?.Corridor is { } c && !known.Contains(c)).GroupBy(i => i!.Value.Corridor!, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count())).OrderBy(g => g.Key, StringComparer.Ordinal)];
    }

    /// <summary>Loads a registry file; a bad line is refused with its file and line number.</summary>
    public static VehicleRegistry Load(string path, VehicleIds ids)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"vehicle registry not found: {path}", path);
        var registry = new VehicleRegistry(ids);
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
        string id = root.TryGetProperty("vehicle_id", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        if (id.Length == 0) throw new InvalidDataException("vehicle_id: required field missing");
        if (!root.TryGetProperty("class", out var cls) || cls.ValueKind != JsonValueKind.String)
            throw new InvalidDataException("class: required field missing");
        if (!ProbeRules.TryParseClass(cls.GetString()!, out VehicleClass c))
            throw new InvalidDataException($"class: unknown value '{cls.GetString()}'");
        ushort hazmat = 0;
        if (root.TryGetProperty("hazmat", out var hz) && hz.ValueKind != JsonValueKind.Null)
        {
            string? un = hz.ValueKind switch { JsonValueKind.String => hz.GetString(), JsonValueKind.Number => hz.GetRawText(), _ => null }; // 3 is "3"
            if (un == null || !ProbeRules.TryParseHazmat(un, out hazmat))
                throw new InvalidDataException($"hazmat: not a UN class: {hz.GetRawText()}");
        }
        string? corridor = Text(root, "corridor");
        string? company = Text(root, "company");
        int vehicle = _ids.Intern(id.AsSpan());
        if (vehicle >= _info.Length) Array.Resize(ref _info, Math.Max(vehicle + 1, _info.Length * 2));
        var info = new VehicleInfo(c, hazmat, corridor, company);
        // Listed twice alike is no matter; listed twice otherwise, which entry holds cannot be told (a later line of an
        // export is not always the newer), and its class and dangerous goods decide its rules.
        if (_info[vehicle] is { } earlier && earlier != info)
            throw new InvalidDataException($"vehicle_id '{id}' is listed before with another entry ({Describe(earlier)}; here {Describe(info)})");
        if (_info[vehicle] == null) Count++;
        _info[vehicle] = info;
    }

    private static string Describe(VehicleInfo i) =>
        $"class {ProbeRules.ClassName(i.Class)}, hazmat {ProbeRules.HazmatText(i.Hazmat) ?? "none"}, corridor {i.Corridor ?? "none"}, company {i.Company ?? "none"}";

    // A string, or a number read by its digits (a corridor's zone id may be one: 7 names the zone with id 7).
    private static string? Text(JsonElement root, string name) => !root.TryGetProperty(name, out var e) ? null : e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetRawText(),
        JsonValueKind.Null => null,
        _ => throw new InvalidDataException($"{name}: wrong type: {e.GetRawText()}"),
    };
}
