using System.Text.Encodings.Web;
using System.Text.Json;

namespace Traffic.Engine.Evaluation;

/// <summary>How a run is scored against the truth (docs/scoring.md).</summary>
public sealed record ScoreOptions
{
    /// <summary>Seconds by which an injected event's span is extended on both sides when alerts are matched to it.</summary>
    public double ToleranceS { get; init; } = 120;

    /// <summary>
    /// Count every alert that matches no injected event as a false positive, even when the truth confirms its
    /// condition (a taxi really inside a restricted zone on its normal trips).
    /// </summary>
    public bool Strict { get; init; }
}

/// <summary>The figures of one alert kind.</summary>
public sealed record KindScore
{
    public required string Kind { get; init; }

    /// <summary>Injected events that expect this kind and happened within the run.</summary>
    public int Expected { get; init; }

    /// <summary>Alerts of this kind the run raised (distinct alert ids).</summary>
    public int Raised { get; init; }

    /// <summary>Expected events matched by at least one alert (several alerts of one event count once).</summary>
    public int TruePositives { get; init; }

    /// <summary>Alerts that match no injected event and whose condition the truth does not confirm.</summary>
    public int FalsePositives { get; init; }

    /// <summary>Expected events no alert matched.</summary>
    public int FalseNegatives { get; init; }

    /// <summary>Further alerts of events already matched by an earlier alert (neither true nor false positives).</summary>
    public int Extra { get; init; }

    /// <summary>Alerts that match no injected event but whose condition the truth confirms (0 with <see cref="ScoreOptions.Strict"/>).</summary>
    public int Unplanned { get; init; }

    /// <summary>TP / (TP + FP); null when both are 0.</summary>
    public double? Precision => TruePositives + FalsePositives > 0 ? TruePositives / (double)(TruePositives + FalsePositives) : null;

    /// <summary>TP / expected; null when the scenario expects none of this kind.</summary>
    public double? Recall => Expected > 0 ? TruePositives / (double)Expected : null;

    /// <summary>The ids of the false-positive alerts.</summary>
    public IReadOnlyList<string> FalseAlerts { get; init; } = [];

    /// <summary>The expected events no alert matched.</summary>
    public IReadOnlyList<InjectedEvent> Missed { get; init; } = [];
}

/// <summary>Map matching against the true edges: the run's matched probes joined to the truth by vehicle and time.</summary>
public sealed record MatchingScore
{
    /// <summary>Probes the truth says were written as readable lines.</summary>
    public long ProbesSent { get; init; }

    /// <summary>Truth probes found among the run's matched probes (vehicle and time).</summary>
    public long ProbesCompared { get; init; }

    /// <summary>Compared probes the run put on an edge.</summary>
    public long Matched { get; init; }

    /// <summary>Compared probes the run left without an edge (off the network).</summary>
    public long Unmatched { get; init; }

    /// <summary>Matched probes on their true edge (same direction).</summary>
    public long SameEdge { get; init; }

    /// <summary>Matched probes on their true OSM way, either direction.</summary>
    public long SameWay { get; init; }

    /// <summary>Matched probes of vehicles truly moving (the truth's <c>state</c>); a standing vehicle gives no direction.</summary>
    public long MatchedMoving { get; init; }

    /// <summary>Matched probes of moving vehicles on their true edge.</summary>
    public long SameEdgeMoving { get; init; }

    /// <summary>Sent probes missing from the matched output (refused as duplicates or out of order, late).</summary>
    public long NotInOutput => ProbesSent - ProbesCompared;

    /// <summary>Matched rows with no probe of that vehicle and time in the truth (a different truth file?).</summary>
    public long NotInTruth { get; init; }

    /// <summary>SameEdge / Matched.</summary>
    public double? EdgeAccuracy => Matched > 0 ? SameEdge / (double)Matched : null;

    /// <summary>SameEdgeMoving / MatchedMoving.</summary>
    public double? EdgeAccuracyMoving => MatchedMoving > 0 ? SameEdgeMoving / (double)MatchedMoving : null;

    /// <summary>SameWay / Matched.</summary>
    public double? WayAccuracy => Matched > 0 ? SameWay / (double)Matched : null;
}

/// <summary>A run scored against the simulator's truth: per alert kind and for map matching.</summary>
public sealed record ScoreReport
{
    private static readonly JsonWriterOptions s_json = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public required ScoreOptions Options { get; init; }

    /// <summary>Every kind expected by the truth or raised by the run, in the order of INTERFACES.md.</summary>
    public required IReadOnlyList<KindScore> Kinds { get; init; }

    public required MatchingScore Matching { get; init; }

    /// <summary>Injected events that expect no alert (e.g. fatigue in a run under 4 h) or never happened.</summary>
    public int EventsNotScored { get; init; }

    /// <summary>The number of probes compared with their truth.</summary>
    public long ProbesCompared => Matching.ProbesCompared;

    /// <summary>The figures of one kind, or null when neither expected nor raised.</summary>
    public KindScore? Kind(string kind) => Kinds.FirstOrDefault(k => k.Kind == kind);

    /// <summary>Writes the report as an indented JSON object (the format of docs/scoring.md).</summary>
    public void WriteJson(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, s_json);
        w.WriteStartObject();
        w.WriteNumber("tolerance_s", Options.ToleranceS);
        w.WriteBoolean("strict", Options.Strict);
        w.WriteStartArray("kinds");
        foreach (var k in Kinds)
        {
            w.WriteStartObject();
            w.WriteString("kind", k.Kind);
            w.WriteNumber("expected", k.Expected);
            w.WriteNumber("raised", k.Raised);
            w.WriteNumber("true_positives", k.TruePositives);
            w.WriteNumber("false_positives", k.FalsePositives);
            w.WriteNumber("false_negatives", k.FalseNegatives);
            w.WriteNumber("extra", k.Extra);
            w.WriteNumber("unplanned", k.Unplanned);
            Ratio(w, "precision", k.Precision);
            Ratio(w, "recall", k.Recall);
            w.WriteStartArray("false_alerts");
            foreach (string id in k.FalseAlerts) w.WriteStringValue(id);
            w.WriteEndArray();
            w.WriteStartArray("missed");
            foreach (var e in k.Missed)
            {
                w.WriteStartObject();
                w.WriteString("kind", e.Kind);
                if (e.VehicleId != null) w.WriteString("vehicle_id", e.VehicleId);
                if (e.Road != null) w.WriteString("road", e.Road);
                if (e.Zone != null) w.WriteString("zone", e.Zone);
                if (e.StartMs is long s) w.WriteNumber("start", s);
                if (e.EndMs is long end) w.WriteNumber("end", end);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("events_not_scored", EventsNotScored);
        var m = Matching;
        w.WriteStartObject("matching");
        w.WriteNumber("probes_sent", m.ProbesSent);
        w.WriteNumber("probes_compared", m.ProbesCompared);
        w.WriteNumber("matched", m.Matched);
        w.WriteNumber("unmatched", m.Unmatched);
        w.WriteNumber("same_edge", m.SameEdge);
        w.WriteNumber("same_way", m.SameWay);
        w.WriteNumber("matched_moving", m.MatchedMoving);
        w.WriteNumber("same_edge_moving", m.SameEdgeMoving);
        w.WriteNumber("not_in_output", m.NotInOutput);
        w.WriteNumber("not_in_truth", m.NotInTruth);
        Ratio(w, "edge_accuracy", m.EdgeAccuracy);
        Ratio(w, "edge_accuracy_moving", m.EdgeAccuracyMoving);
        Ratio(w, "way_accuracy", m.WayAccuracy);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Ratio(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, Math.Round(v, 4));
        else w.WriteNull(name);
    }
}
