using System.Text;
using System.Text.Json;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Output;

namespace Traffic.Cli.Commands;

/// <summary>What the demo collected from the output topics.</summary>
internal readonly record struct CollectedOutputs(int Alerts, int Segments, int SegmentViews, int NetworkIndex, long MatchedRows, int DeadLetters, long Lost);

/// <summary>
/// The engine's output topics read back, while they are produced, into the files of a replay run
/// (alerts.ndjson, segments.ndjson, segments-5m.ndjson, tpi.ndjson, matched/*.arrow, dead-letter.ndjson), deduplicated by key as any consumer
/// of the topics would: a record repeated after a restart is byte-identical to its original, so keeping the
/// first is enough. Reading as they come matters on the embedded cluster, which keeps only about 5 MiB per
/// partition: the matched-probe batches of a long run would be gone by its end.
/// </summary>
internal sealed class DemoOutputs : IDisposable
{
    private readonly KafkaTopics _topics;
    private readonly string _dir;
    private readonly string _matchedDir;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly List<byte[]> _alerts = [];
    private readonly List<TopicRecord> _segments = [];
    private readonly List<TopicRecord> _views = [];
    private readonly List<TopicRecord> _index = [];
    private readonly List<TopicRecord> _dead = [];
    private readonly TopicFollower _follower;
    private long _matchedRows;

    public DemoOutputs(KafkaConnection connection, KafkaTopics topics, string dir)
    {
        _topics = topics;
        _dir = dir;
        _matchedDir = Path.Combine(dir, "matched");
        Directory.CreateDirectory(_matchedDir);
        _follower = new TopicFollower(connection, [topics.Alerts, topics.Segments, topics.SegmentViews, topics.Tpi, topics.Matched, topics.DeadLetter], OnRecord);
    }

    /// <summary>Reads the topics to their current end, then writes the files.</summary>
    public CollectedOutputs Finish()
    {
        _follower.Drain(TimeSpan.FromMinutes(2));
        var ordered = _alerts.Select(v => (Value: v, Doc: JsonDocument.Parse(v)))
            .OrderBy(a => a.Doc.RootElement.GetProperty("time").GetString(), StringComparer.Ordinal)
            .ThenBy(a => a.Doc.RootElement.GetProperty("alert_id").GetString(), StringComparer.Ordinal)
            .ThenBy(a => StateOrder(a.Doc.RootElement.GetProperty("state").GetString()))
            .Select(a => a.Value);
        WriteLines(Path.Combine(_dir, "alerts.ndjson"), ordered);
        WriteLines(Path.Combine(_dir, "segments.ndjson"), _segments.OrderBy(WindowOf).ThenBy(Key, StringComparer.Ordinal).Select(r => r.Value!));
        WriteLines(Path.Combine(_dir, _topics.SegmentViewsName + ".ndjson"), _views.OrderBy(WindowOf).ThenBy(Key, StringComparer.Ordinal).Select(r => r.Value!));
        WriteLines(Path.Combine(_dir, "tpi.ndjson"), _index.OrderBy(r => long.Parse(Key(r), System.Globalization.CultureInfo.InvariantCulture)).Select(r => r.Value!));
        using (var stream = File.Create(Path.Combine(_dir, "dead-letter.ndjson")))
        using (var lines = new NdjsonWriter(stream))
        {
            foreach (var r in _dead)
            {
                var w = lines.Begin();
                w.WriteString("reason"u8, Header(r, "reason"));
                w.WriteString("code"u8, Header(r, "code"));
                w.WriteString("source"u8, Header(r, "source"));
                if (r.Value == null) w.WriteNull("original"u8); // a tombstone's
                else if (System.Text.Unicode.Utf8.IsValid(r.Value)) w.WriteString("original"u8, r.Value);
                else w.WriteBase64String("original_base64"u8, r.Value);
                lines.End();
            }
        }
        return new CollectedOutputs(_alerts.Count, _segments.Count, _views.Count, _index.Count, _matchedRows, _dead.Count, _follower.Lost);
    }

    public void Dispose() => _follower.Dispose();

    // On the follower's thread.
    private void OnRecord(TopicRecord r)
    {
        string key = r.Topic + "|" + Key(r) + (r.Topic == _topics.Alerts ? "|" + Header(r, "event") : "");
        if (!_seen.Add(key)) return;
        if (r.Topic == _topics.Alerts) _alerts.Add(r.Value ?? []);
        else if (r.Topic == _topics.Segments) _segments.Add(r);
        else if (r.Topic == _topics.SegmentViews) _views.Add(r);
        else if (r.Topic == _topics.Tpi) _index.Add(r);
        else if (r.Topic == _topics.DeadLetter) _dead.Add(r);
        else
        {
            // Each message is a whole Arrow IPC stream; written out in the Arrow file format, as a replay writes.
            using var file = File.Create(Path.Combine(_matchedDir, "matched-" + Key(r).Replace(':', '-') + ".arrow"));
            _matchedRows += MatchedBatchBuilder.WriteAsFile(r.Value ?? [], file);
        }
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
