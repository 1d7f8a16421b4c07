using System.Text.Json;
using System.Text.Json.Serialization;

namespace Traffic.Engine.Simulation;

/// <summary>
/// What a simulation run injects beyond normal driving: the fleet mix, GPS overrides, events that
/// should raise alerts, and transport faults. Read from YAML or JSON with snake_case keys
/// (docs/simulator.md). Times are seconds from the simulation start.
/// </summary>
public sealed class Scenario
{
    /// <summary>Fleet size per class; null: split <c>--vehicles</c> 70 % taxis, 20 % buses, 10 % hazmat.</summary>
    public FleetMix? Fleet { get; set; }

    /// <summary>GPS unit overrides per class (<c>bus</c>, <c>taxi</c>, <c>hazmat</c>).</summary>
    public Dictionary<string, GpsSettings> Gps { get; set; } = [];

    /// <summary>Where hazardous-cargo trucks load, <c>[lon, lat]</c>; null: the network's southernmost node.</summary>
    public double[]? Port { get; set; }

    /// <summary>A zones GeoJSON file, relative to the scenario file; copied beside the probes.</summary>
    public string? Zones { get; set; }

    public List<ScenarioEvent> Events { get; set; } = [];

    /// <summary>Give every hazmat truck an approved corridor (always on when a <c>hazmat_off_corridor</c> event needs one).</summary>
    public bool Corridors { get; set; }

    public FaultRates Faults { get; set; } = new();

    /// <summary>Where the scenario file lives: relative paths inside it resolve from here.</summary>
    [JsonIgnore]
    public string BaseDirectory { get; set; } = ".";

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        // YAML scalars arrive as JSON strings (YamlDotNet's JSON output quotes them): read numbers from them.
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Converters = { new LenientBoolConverter() },
    };

    /// <summary>Reads a scenario from a <c>.yaml</c>/<c>.yml</c> or <c>.json</c> file.</summary>
    public static Scenario Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"scenario not found: {path}", path);
        string text = File.ReadAllText(path);
        string lower = path.ToLowerInvariant();
        if (lower.EndsWith(".yaml", StringComparison.Ordinal) || lower.EndsWith(".yml", StringComparison.Ordinal))
            text = YamlToJson(text, path);
        Scenario s;
        try
        {
            s = JsonSerializer.Deserialize<Scenario>(text, s_json) ?? throw new InvalidDataException($"{path}: empty scenario");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        s.BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        s.Validate(path);
        return s;
    }

    // One model for both syntaxes: YAML is turned into JSON and read by System.Text.Json, so the
    // names, types and errors are the same whichever the user writes.
    private static string YamlToJson(string yaml, string path)
    {
        object? graph;
        try
        {
            graph = new YamlDotNet.Serialization.DeserializerBuilder().Build().Deserialize<object>(yaml);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        return new YamlDotNet.Serialization.SerializerBuilder().JsonCompatible().Build().Serialize(graph ?? new Dictionary<string, object>());
    }

    private void Validate(string path)
    {
        foreach (var e in Events)
        {
            if (!ScenarioEvent.Kinds.Contains(e.Kind))
                throw new InvalidDataException($"{path}: unknown event kind '{e.Kind}' (expected one of {string.Join(", ", ScenarioEvent.Kinds)})");
            if (e.Kind == "congestion" && string.IsNullOrEmpty(e.Road))
                throw new InvalidDataException($"{path}: a congestion event needs a 'road'");
            if (e.Kind is "zone" or "zone_dwell" or "hazmat_forbidden" && string.IsNullOrEmpty(e.Zone))
                throw new InvalidDataException($"{path}: a {e.Kind} event needs a 'zone' id");
        }
        foreach (double r in new[] { Faults.Drop, Faults.Duplicate, Faults.OutOfOrder, Faults.Malformed })
        {
            if (r is < 0 or > 1 || double.IsNaN(r)) throw new InvalidDataException($"{path}: fault rates must lie in [0, 1]");
        }
        if (Port is { Length: not 2 }) throw new InvalidDataException($"{path}: 'port' must be [lon, lat]");
    }
}

/// <summary>Booleans as JSON has them, or as strings (<c>"true"</c>) the way YAML's JSON output writes them.</summary>
internal sealed class LenientBoolConverter : JsonConverter<bool>
{
    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.String when bool.TryParse(reader.GetString(), out bool b) => b,
        _ => throw new JsonException("expected true or false"),
    };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
}

public sealed class FleetMix
{
    public int Taxis { get; set; }

    /// <summary>Buses on made-up routes; ignored when a GTFS feed drives the buses.</summary>
    public int Buses { get; set; }

    public int Hazmat { get; set; }
}

public sealed class GpsSettings
{
    public double? SigmaM { get; set; }

    public double? IntervalS { get; set; }
}

/// <summary>Transport faults, each a probability per probe.</summary>
public sealed class FaultRates
{
    public double Drop { get; set; }

    public double Duplicate { get; set; }

    public double OutOfOrder { get; set; }

    public double Malformed { get; set; }

    public bool Any => Drop > 0 || Duplicate > 0 || OutOfOrder > 0 || Malformed > 0;
}

/// <summary>One injected event. Which fields apply depends on <see cref="Kind"/> (docs/simulator.md).</summary>
public sealed class ScenarioEvent
{
    /// <summary>The scenario kinds: the alert kinds they should raise, plus <c>long_stop</c> for non-hazmat vehicles.</summary>
    public static readonly string[] Kinds =
    [
        "congestion", "speeding", "wrong_way", "zone", "zone_dwell", "hazmat_forbidden", "hazmat_long_stop",
        "long_stop", "hazmat_no_fix", "hazmat_off_corridor", "fatigue", "teleport", "signal_lost",
    ];

    public string Kind { get; set; } = "";

    /// <summary>A road name (congestion).</summary>
    public string? Road { get; set; }

    /// <summary>A zone id from the zones file (zone, zone_dwell, hazmat_forbidden).</summary>
    public string? Zone { get; set; }

    /// <summary>A vehicle id; null: the next free vehicle of <see cref="Class"/>.</summary>
    public string? Vehicle { get; set; }

    /// <summary>The class to pick vehicles from; default taxi, hazmat for hazmat kinds.</summary>
    public string? Class { get; set; }

    /// <summary>How many vehicles (speeding).</summary>
    public int Count { get; set; } = 1;

    /// <summary>Seconds from the simulation start when the event begins (for trip-based events: the first trip end after it).</summary>
    public double Start { get; set; }

    /// <summary>Seconds from the simulation start when it ends (congestion, speeding); null: the end of the run.</summary>
    public double? End { get; set; }

    /// <summary>Length in seconds (stops, silence, no fix, dwell in a zone).</summary>
    public double DurationS { get; set; } = 600;

    /// <summary>Speed factor: congestion multiplies road speeds by it (default 0.2), speeding drives at limit × it (default 1.4).</summary>
    public double? Factor { get; set; }

    /// <summary>Jump distance of a teleport, metres.</summary>
    public double DistanceM { get; set; } = 5000;
}
