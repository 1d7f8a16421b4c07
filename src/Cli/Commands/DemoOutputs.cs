using System.Text;
using System.Text.Json;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Output;

namespace Traffic.Cli.Commands;

/// <summary>What the demo collected from the output topics.</summary>
internal readonly record struct CollectedOutputs(int Alerts, int Segments, long MatchedRows, int DeadLetters);

/// <summary>
/// The engine's output topics read back into the files of a replay run (alerts.ndjson, segments.ndjson,
/// matched/*.arrow, dead-letter.ndjson), deduplicated by key as any consumer of the topics would: a record
/// repeated after a restart is byte-identical to its original, so keeping the first is enough.
/// </summary>
internal static class DemoOutputs
{
    public static CollectedOutputs Collect(KafkaConnection connection, KafkaTopics topics, string dir)
    {
        Directory.CreateDirectory(dir);
        var alerts = Dedupe(TopicReader.ReadAll(connection, topics.Alerts), r => Key(r) + "|" + Header(r, "event"));
        var ordered = alerts.Select(r => (Record: r, Doc: JsonDocument.Parse(r.Value)))
            .OrderBy(a => a.Doc.RootElement.GetProperty("time").GetString(), StringComparer.Ordinal)
            .ThenBy(a => Key(a.Record), StringComparer.Ordinal)
            .ThenBy(a => StateOrder(a.Doc.RootElement.GetProperty("state").GetString()))
            .Select(a => a.Record.Value);
        WriteLines(Path.Combine(dir, "alerts.ndjson"), ordered);

        var segments = Dedupe(TopicReader.ReadAll(connection, topics.Segments), Key);
        WriteLines(Path.Combine(dir, "segments.ndjson"), segments.OrderBy(r => WindowOf(r)).ThenBy(Key, StringComparer.Ordinal).Select(r => r.Value));

        long matchedRows = 0;
        string matchedDir = Path.Combine(dir, "matched");
        Directory.CreateDirectory(matchedDir);
        foreach (var r in Dedupe(TopicReader.ReadAll(connection, topics.Matched), Key))
        {
            // Each message is a whole Arrow IPC stream; written out in the Arrow file format, as a replay writes.
            string name = "matched-" + Key(r).Replace(':', '-') + ".arrow";
            using var file = File.Create(Path.Combine(matchedDir, name));
            matchedRows += MatchedBatchBuilder.WriteAsFile(r.Value, file);
        }

        var dead = Dedupe(TopicReader.ReadAll(connection, topics.DeadLetter), Key);
        using (var stream = File.Create(Path.Combine(dir, "dead-letter.ndjson")))
        using (var lines = new NdjsonWriter(stream))
        {
            foreach (var r in dead)
            {
                var w = lines.Begin();
                w.WriteString("reason"u8, Header(r, "reason"));
                w.WriteString("code"u8, Header(r, "code"));
                w.WriteString("source"u8, Header(r, "source"));
                if (System.Text.Unicode.Utf8.IsValid(r.Value)) w.WriteString("original"u8, r.Value);
                else w.WriteBase64String("original_base64"u8, r.Value);
                lines.End();
            }
        }
        return new CollectedOutputs(alerts.Count, segments.Count, matchedRows, dead.Count);
    }

    private static List<TopicRecord> Dedupe(List<TopicRecord> records, Func<TopicRecord, string> key)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return records.Where(r => seen.Add(key(r))).ToList();
    }

    private static string Key(TopicRecord r) => r.Key == null ? "" : Encoding.UTF8.GetString(r.Key);

    private static string Header(TopicRecord r, string name) => r.Headers.TryGetValue(name, out var v) ? Encoding.UTF8.GetString(v) : "";

    private static int StateOrder(string? state) => state switch { "open" => 0, "update" => 1, _ => 2 };

    private static long WindowOf(TopicRecord r)
    {
        string key = Key(r);
        int at = key.LastIndexOf('@');
        return at >= 0 && long.TryParse(key.AsSpan(at + 1), System.Globalization.CultureInfo.InvariantCulture, out long ms) ? ms : 0;
    }

    private static void WriteLines(string path, IEnumerable<byte[]> values)
    {
        using var file = File.Create(path);
        foreach (byte[] v in values)
        {
            file.Write(v);
            file.WriteByte((byte)'\n');
        }
    }
}

/// <summary>The demo's closing figures: the run's alerts and matches scored against the simulator's truth.</summary>
internal static class DemoScore
{
    public static int Print(string simDir, string runDir, string outDir)
    {
        string zones = Path.Combine(simDir, "zones.geojson");
        var report = Traffic.Engine.Evaluation.Scorer.Score(Path.Combine(simDir, "truth.ndjson"), runDir, new Traffic.Engine.Evaluation.ScoreOptions(), File.Exists(zones) ? zones : null);
        Console.Out.WriteLine();
        Console.Out.WriteLine("Detected alerts against the injected ground truth (docs/scoring.md):");
        Console.Out.WriteLine();
        ScoreCommand.Print(report, Console.Out);
        using (var stream = File.Create(Path.Combine(outDir, "summary.json"))) report.WriteJson(stream);
        return 0;
    }
}
