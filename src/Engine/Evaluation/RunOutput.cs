using System.Globalization;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;

namespace Traffic.Engine.Evaluation;

/// <summary>
/// One alert of a run, folded from its lifecycle lines in <c>alerts.ndjson</c> (open, updates, close): its kind and
/// subject as the open gave them and the condition's span.
/// </summary>
public sealed record RaisedAlert
{
    public required string AlertId { get; init; }
    public required string Kind { get; init; }

    /// <summary>When the condition began, epoch ms.</summary>
    public required long StartMs { get; init; }

    /// <summary>When it ended (from the close), epoch ms; null while still open at the end of the run.</summary>
    public long? EndMs { get; init; }

    public string? VehicleId { get; init; }
    public string? Class { get; init; }

    /// <summary>The dangerous goods the vehicle carried (UN class), when it did.</summary>
    public string? Hazmat { get; init; }

    public string? Road { get; init; }
    public long? WayId { get; init; }

    /// <summary><c>forward</c> or <c>backward</c> along the way.</summary>
    public string? Direction { get; init; }

    public string? Zone { get; init; }
}

/// <summary>A matched probe of a run: the vehicle, the fix's time and the edge it was matched to (-1: no match).</summary>
public readonly record struct MatchedRow(string VehicleId, long TimeMs, int Edge, long WayId);

/// <summary>Reads what <c>traffic replay</c> wrote into its output folder: the alerts and the matched probes.</summary>
public static class RunOutput
{
    /// <summary>The alerts of <c>&lt;runDir&gt;/alerts.ndjson</c>, one per alert id, in order of first appearance.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="InvalidDataException">A line that is not an alert event.</exception>
    public static IReadOnlyList<RaisedAlert> ReadAlerts(string runDir)
    {
        string file = Path.Combine(runDir, "alerts.ndjson");
        if (!File.Exists(file)) throw new FileNotFoundException($"no alerts.ndjson in {runDir} (the output folder of traffic replay)", file);
        try
        {
            return ParseAlerts(File.ReadLines(file));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{file}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Folds alert lifecycle lines (INTERFACES.md) into one <see cref="RaisedAlert"/> per <c>alert_id</c>: kind and
    /// subject from its first line, <c>start</c> from its first line, <c>end</c> from its close.
    /// </summary>
    public static IReadOnlyList<RaisedAlert> ParseAlerts(IEnumerable<string> lines)
    {
        var alerts = new List<RaisedAlert>();
        var byId = new Dictionary<string, int>(StringComparer.Ordinal);
        long number = 0;
        foreach (string line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                JsonElement r = doc.RootElement;
                string id = JsonFields.String(r, "alert_id") ?? throw new InvalidDataException("alert_id missing");
                long? end = JsonFields.String(r, "end") is string e ? Time(e) : null;
                if (byId.TryGetValue(id, out int at))
                {
                    if (end != null) alerts[at] = alerts[at] with { EndMs = end };
                    continue;
                }
                byId[id] = alerts.Count;
                alerts.Add(new RaisedAlert
                {
                    AlertId = id,
                    Kind = JsonFields.String(r, "kind") ?? throw new InvalidDataException("kind missing"),
                    StartMs = Time(JsonFields.String(r, "start") ?? throw new InvalidDataException("start missing")),
                    EndMs = end,
                    VehicleId = JsonFields.String(r, "vehicle_id"),
                    Class = JsonFields.String(r, "class"),
                    Hazmat = JsonFields.String(r, "hazmat"),
                    Road = JsonFields.String(r, "road"),
                    WayId = JsonFields.Int64(r, "way_id"),
                    Direction = JsonFields.String(r, "direction"),
                    Zone = JsonFields.String(r, "zone"),
                });
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or InvalidDataException)
            {
                throw new InvalidDataException($"line {number}: not an alert event: {e.Message}", e);
            }
        }
        return alerts;
    }

    /// <summary>
    /// The rows of every <c>&lt;runDir&gt;/matched/*.arrow</c> file (docs/outputs.md), file by file in name order,
    /// read lazily: one file's batch is in memory at a time.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No <c>matched</c> folder.</exception>
    public static IEnumerable<MatchedRow> ReadMatched(string runDir)
    {
        string dir = Path.Combine(runDir, "matched");
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"no matched/ folder in {runDir} (the output folder of traffic replay)");
        string[] files = Directory.GetFiles(dir, "*.arrow", SearchOption.AllDirectories);
        System.Array.Sort(files, StringComparer.Ordinal);
        return Rows(files);
    }

    private static IEnumerable<MatchedRow> Rows(string[] files)
    {
        foreach (string file in files)
        {
            using var stream = File.OpenRead(file);
            using var reader = new ArrowFileReader(stream);
            RecordBatch? batch;
            while ((batch = Next(reader, file)) != null)
            {
                using (batch)
                {
                    if (batch.Column("vehicle_id") is not DictionaryArray { Indices: Int32Array vehicleIndex, Dictionary: StringArray vehicleNames }
                        || batch.Column("time") is not TimestampArray times
                        || batch.Column("edge") is not Int32Array edges
                        || batch.Column("way_id") is not Int64Array ways)
                        throw new InvalidDataException($"{file}: not a matched-probe file (docs/outputs.md)");
                    // Dictionary values decoded once per batch, not once per row.
                    var names = new string[vehicleNames.Length];
                    for (int i = 0; i < names.Length; i++) names[i] = vehicleNames.GetString(i);
                    for (int i = 0; i < batch.Length; i++)
                    {
                        int edge = edges.GetValue(i) ?? -1;
                        yield return new MatchedRow(names[vehicleIndex.GetValue(i)!.Value], times.GetTimestamp(i)!.Value.ToUnixTimeMilliseconds(),
                            edge, edge >= 0 ? ways.GetValue(i) ?? -1 : -1);
                    }
                }
            }
        }
    }

    private static RecordBatch? Next(ArrowFileReader reader, string file)
    {
        try
        {
            return reader.ReadNextRecordBatch();
        }
        catch (Exception e) when (e is not IOException and not OutOfMemoryException)
        {
            throw new InvalidDataException($"{file}: not an Arrow IPC file: {e.Message}", e);
        }
    }

    private static long Time(string rfc3339) =>
        DateTimeOffset.Parse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();
}
