using System.CommandLine;
using System.Globalization;
using Traffic.Engine.Evaluation;

namespace Traffic.Cli.Commands;

/// <summary><c>traffic score</c>: a run's alerts and matched probes against the simulator's ground truth.</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var truth = new Option<string>("--truth") { Description = "The simulator's truth.ndjson, or the folder holding it (its zones.geojson confirms zone alerts).", Required = true };
        var run = new Option<string>("--run") { Description = "The output folder of traffic replay (alerts.ndjson, matched/).", Required = true };
        var tolerance = new Option<double>("--tolerance") { Description = "Seconds by which an event's span is extended on both sides when alerts are matched to it.", DefaultValueFactory = _ => 120 };
        var zones = new Option<string?>("--zones") { Description = "Zones file to confirm unplanned zone alerts with (default: zones.geojson beside the truth)." };
        var strict = new Option<bool>("--strict") { Description = "Count every alert that matches no injected event as a false positive, even when the truth confirms it." };
        var json = new Option<string?>("--json") { Description = "Also write the figures as JSON to this file." };
        var command = new Command("score", "Score a replay's alerts and map matching against the simulator's ground truth: precision and recall per alert kind, edge accuracy.")
        {
            truth, run, tolerance, zones, strict, json,
        };
        command.SetAction(parse =>
        {
            double tol = parse.GetValue(tolerance);
            if (!(tol >= 0) || double.IsInfinity(tol)) throw new ArgumentException("--tolerance must be a number of seconds ≥ 0");
            var report = Scorer.Score(parse.GetValue(truth)!, parse.GetValue(run)!, new ScoreOptions { ToleranceS = tol, Strict = parse.GetValue(strict) }, parse.GetValue(zones));
            Print(report, Console.Out);
            if (parse.GetValue(json) is string path)
            {
                using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
                report.WriteJson(stream);
            }
            return 0;
        });
        return command;
    }

    internal static void Print(ScoreReport r, TextWriter o)
    {
        var ci = CultureInfo.InvariantCulture;
        o.WriteLine("| kind | expected | raised | TP | FP | FN | extra | unplanned | precision | recall |");
        o.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var k in r.Kinds)
        {
            o.WriteLine(string.Create(ci, $"| {k.Kind} | {k.Expected} | {k.Raised} | {k.TruePositives} | {k.FalsePositives} | {k.FalseNegatives} | {k.Extra} | {k.Unplanned} | {Ratio(k.Precision)} | {Ratio(k.Recall)} |"));
        }
        int tp = r.Kinds.Sum(k => k.TruePositives), fp = r.Kinds.Sum(k => k.FalsePositives), expected = r.Kinds.Sum(k => k.Expected);
        o.WriteLine(string.Create(ci, $"| all | {expected} | {r.Kinds.Sum(k => k.Raised)} | {tp} | {fp} | {r.Kinds.Sum(k => k.FalseNegatives)} | {r.Kinds.Sum(k => k.Extra)} | {r.Kinds.Sum(k => k.Unplanned)} | {Ratio(tp + fp > 0 ? tp / (double)(tp + fp) : null)} | {Ratio(expected > 0 ? tp / (double)expected : null)} |"));
        o.WriteLine();
        o.WriteLine(string.Create(ci, $"tolerance {r.Options.ToleranceS:0.###} s{(r.Options.Strict ? ", strict" : "")}; injected events not scored (no alert expected, or it never happened): {r.EventsNotScored}"));
        o.WriteLine("extra: further alerts of an event already found; unplanned: no injected event, but the truth confirms the condition"
            + (r.Options.Strict ? "" : " (--strict counts them as FP)") + "; n/a: nothing to divide by");
        var m = r.Matching;
        o.WriteLine(string.Create(ci, $"map matching: {m.ProbesCompared:N0} of {m.ProbesSent:N0} probes sent compared ({m.NotInOutput:N0} not in the output: refused, late or without a fix); {m.Matched:N0} matched, {m.Unmatched:N0} with no match"));
        o.WriteLine(string.Create(ci, $"edge accuracy {Percent(m.EdgeAccuracy)} ({m.SameEdge:N0} of {m.Matched:N0} matched probes on their true edge); moving vehicles {Percent(m.EdgeAccuracyMoving)} ({m.SameEdgeMoving:N0} of {m.MatchedMoving:N0}); same OSM way {Percent(m.WayAccuracy)}"));
        if (m.NotInTruth > 0) o.WriteLine(string.Create(ci, $"warning: {m.NotInTruth:N0} matched probes have no probe of that vehicle and time in the truth: is it the truth of this run?"));
    }

    private static string Ratio(double? v) => v is double d ? d.ToString("0.000", CultureInfo.InvariantCulture) : "n/a";

    private static string Percent(double? v) => v is double d ? (d * 100).ToString("0.00", CultureInfo.InvariantCulture) + " %" : "n/a";
}
