using System.Text.Json;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Evaluation;

/// <summary>
/// An injected event as <c>truth.ndjson</c> records it (docs/simulator.md): its kind, its subject (a vehicle, or a
/// road and its OSM ways), its span and the alert a correct engine raises for it.
/// </summary>
public sealed record InjectedEvent
{
    /// <summary>The scenario kind (an alert kind, or <c>long_stop</c>).</summary>
    public required string Kind { get; init; }

    public string? VehicleId { get; init; }

    /// <summary>Road name of a congestion event.</summary>
    public string? Road { get; init; }

    /// <summary>OSM ways of the road of a congestion event.</summary>
    public IReadOnlyList<long> WayIds { get; init; } = [];

    /// <summary>Zone id of a zone event, or the corridor id of a <c>hazmat_off_corridor</c> event.</summary>
    public string? Zone { get; init; }

    /// <summary>The condition's own span, epoch ms; null when it never happened within the run.</summary>
    public long? StartMs { get; init; }

    public long? EndMs { get; init; }

    /// <summary>The alert kind an engine should raise; null when none is expected.</summary>
    public string? ExpectedAlert { get; init; }

    /// <summary>Whether this event is scored: an alert is expected and the condition happened.</summary>
    public bool IsExpected => ExpectedAlert != null && StartMs != null;
}

/// <summary>
/// The true state of a vehicle at one of its fixes (a <c>probe</c> record of the truth). Fields ordered widest
/// first: 56 bytes, a whole truth is held in memory.
/// </summary>
public readonly record struct TruthProbe(long TimeMs, long WayId, double Lon, double Lat, double SpeedKmh, double LimitKmh,
    int Edge, bool Backward, bool Stopped, bool AgainstOneWay, bool Sent);

/// <summary>
/// The simulator's ground truth, read back: the injected events, every probe's true state per vehicle in time
/// order, and the zones written beside it (optional: without them, zone alerts cannot be confirmed).
/// </summary>
public sealed class GroundTruth
{
    private static readonly IComparer<TruthProbe> s_byTime = Comparer<TruthProbe>.Create((a, b) => a.TimeMs.CompareTo(b.TimeMs));

    private readonly Dictionary<string, TruthProbe[]> _tracks;

    private GroundTruth(List<InjectedEvent> events, Dictionary<string, TruthProbe[]> tracks, ZoneSet? zones)
    {
        Events = events;
        _tracks = tracks;
        Zones = zones;
        foreach (var track in tracks.Values)
        {
            foreach (var p in track)
            {
                if (p.Sent) ProbesSent++;
            }
        }
    }

    public IReadOnlyList<InjectedEvent> Events { get; }

    /// <summary>The zones of the run (the simulator's <c>zones.geojson</c>), or null.</summary>
    public ZoneSet? Zones { get; }

    /// <summary>Probes written to the probes file as readable lines (neither dropped nor malformed).</summary>
    public long ProbesSent { get; }

    /// <summary>The vehicles with probes in the truth.</summary>
    public IEnumerable<string> Vehicles => _tracks.Keys;

    /// <summary>A vehicle's true states in time order (empty when it has none).</summary>
    public ReadOnlySpan<TruthProbe> Track(string vehicleId) => _tracks.TryGetValue(vehicleId, out var t) ? t : [];

    /// <summary>
    /// Reads <c>truth.ndjson</c> (<paramref name="path"/> is the file or the simulation's folder) and the zones:
    /// <paramref name="zonesPath"/>, else <c>zones.geojson</c> beside the truth when there is one.
    /// </summary>
    /// <exception cref="FileNotFoundException">No truth file there.</exception>
    /// <exception cref="InvalidDataException">A line that is not a truth record.</exception>
    public static GroundTruth Load(string path, string? zonesPath = null)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "truth.ndjson") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"truth file not found: {file}", file);
        if (zonesPath == null)
        {
            string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "zones.geojson");
            if (File.Exists(beside)) zonesPath = beside;
        }
        ZoneSet? zones = zonesPath != null ? ZoneSet.Load(zonesPath) : null;
        try
        {
            return Parse(File.ReadLines(file), zones);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{file}: {e.Message}", e);
        }
    }

    /// <summary>Reads truth records, one JSON object a line (blank lines skipped).</summary>
    /// <exception cref="InvalidDataException">A line that is not a truth record (its number in the message).</exception>
    public static GroundTruth Parse(IEnumerable<string> lines, ZoneSet? zones = null)
    {
        var events = new List<InjectedEvent>();
        var tracks = new Dictionary<string, List<TruthProbe>>(StringComparer.Ordinal);
        long number = 0;
        foreach (string line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                JsonElement r = doc.RootElement;
                switch (JsonFields.String(r, "type"))
                {
                    case "probe":
                        string vehicle = JsonFields.String(r, "vehicle_id") ?? throw new InvalidDataException("probe without vehicle_id");
                        if (!tracks.TryGetValue(vehicle, out var track)) tracks[vehicle] = track = [];
                        track.Add(ReadProbe(r));
                        break;
                    case "event":
                        events.Add(ReadEvent(r));
                        break;
                    case "stop":
                        break;
                    case var t:
                        throw new InvalidDataException(t == null ? "record without a type" : $"unknown record type '{t}'");
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or InvalidDataException)
            {
                throw new InvalidDataException($"line {number}: not a truth record: {e.Message}", e);
            }
        }
        var sorted = new Dictionary<string, TruthProbe[]>(tracks.Count, StringComparer.Ordinal);
        foreach (var (vehicle, list) in tracks)
        {
            // Held-back (out-of-order) probes are recorded where they were written: put them in time order.
            TruthProbe[] array = [.. list];
            Array.Sort(array, s_byTime);
            sorted[vehicle] = array;
        }
        return new GroundTruth(events, sorted, zones);
    }

    private static TruthProbe ReadProbe(JsonElement r)
    {
        bool sent = r.GetProperty("line").ValueKind == JsonValueKind.Number && JsonFields.String(r, "fault") != "malformed";
        return new TruthProbe(
            r.GetProperty("time").GetInt64(),
            r.GetProperty("way_id").GetInt64(),
            r.GetProperty("lon").GetDouble(),
            r.GetProperty("lat").GetDouble(),
            r.GetProperty("speed_kmh").GetDouble(),
            r.GetProperty("limit_kmh").GetDouble(),
            r.GetProperty("edge").GetInt32(),
            JsonFields.String(r, "direction") == "backward",
            JsonFields.String(r, "state") == "stopped",
            r.TryGetProperty("against_oneway", out var against) && against.ValueKind == JsonValueKind.True,
            sent);
    }

    private static InjectedEvent ReadEvent(JsonElement r)
    {
        var ways = new List<long>();
        if (r.TryGetProperty("way_ids", out var w) && w.ValueKind == JsonValueKind.Array)
        {
            foreach (var id in w.EnumerateArray()) ways.Add(id.GetInt64());
        }
        return new InjectedEvent
        {
            Kind = JsonFields.String(r, "kind") ?? throw new InvalidDataException("event without kind"),
            VehicleId = JsonFields.String(r, "vehicle_id"),
            Road = JsonFields.String(r, "road"),
            WayIds = ways,
            Zone = JsonFields.String(r, "zone"),
            StartMs = JsonFields.Int64(r, "start"),
            EndMs = JsonFields.Int64(r, "end"),
            ExpectedAlert = JsonFields.String(r, "expected_alert"),
        };
    }
}

/// <summary>Optional fields of a JSON object: absent and null read alike.</summary>
internal static class JsonFields
{
    public static string? String(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetString() : null;

    public static long? Int64(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt64() : null;
}
