using Traffic.Testing;
using System.Text.Json;
using Apache.Arrow;
using Traffic.Engine.Output;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;
using Xunit.Abstractions;

namespace Traffic.Engine.Tests.Output;

/// <summary>
/// The Arrow outputs of a real replay, read by the JavaScript apache-arrow implementation
/// (tests/arrow-js/check-arrow.mjs): every file opens, with the schema, row count and values written.
/// Skipped, with the reason, where node or the npm package is missing.
/// </summary>
public class ArrowJsCheckTests(ITestOutputHelper output)
{
    private static readonly Lazy<(string Out, ReplaySummary Summary)> s_replay = new(() =>
    {
        var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 2400, Seed = 3, Scenario = Scenario.Load(SimRun.ExampleScenario) });
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(Path.Combine(run.Dir, "vehicles.ndjson"), ids);
        var zones = ZoneSet.Load(Path.Combine(run.Dir, "zones.geojson"));
        string outDir = Path.Combine(run.Dir, "replay");
        var engine = new ReplayEngine(SimRun.Shenzhen, registry, zones, ids, new ReplayOptions { VehicleShards = 2, SegmentShards = 2 });
        var summary = engine.RunAsync(Path.Combine(run.Dir, "probes.ndjson"), outDir).GetAwaiter().GetResult();
        return (outDir, summary);
    });

    private static IEnumerable<string> Describe(JsonElement fields) =>
        fields.EnumerateArray().Select(f => $"{f.GetProperty("name").GetString()} {f.GetProperty("type").GetString()}{(f.GetProperty("nullable").GetBoolean() ? "" : " not null")}");

    [ArrowJsFact]
    public void The_JavaScript_reader_opens_every_replay_output_file_with_the_schema_rows_and_values_written()
    {
        var (outDir, summary) = s_replay.Value;
        var (exit, stdout, stderr) = ArrowJsCheck.Run(outDir);
        output.WriteLine(stderr);
        Assert.True(exit == 0, $"check-arrow.mjs exited {exit}: {stderr}");
        using var report = JsonDocument.Parse(stdout);
        output.WriteLine(report.RootElement.GetProperty("reader").GetString());
        Assert.Empty(report.RootElement.GetProperty("errors").EnumerateArray());

        var files = report.RootElement.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("path").GetString()!);
        Assert.Equal(ArrowTestFiles.Files(outDir), files.Keys.Order(StringComparer.Ordinal));
        var written = new Dictionary<string, Schema>
        {
            ["matched"] = MatchedProbeArrowWriter.Schema,
            ["segments"] = SegmentArrowWriter.Schema,
            ["segments-5m"] = SegmentArrowWriter.Schema,
            ["alerts"] = AlertArrowWriter.Schema,
        };
        foreach (var (folder, schema) in written)
        {
            string[] paths = ArrowTestFiles.Files(Path.Combine(outDir, folder));
            Assert.NotEmpty(paths);
            var ndjson = folder == "matched" ? null : File.ReadAllLines(Path.Combine(outDir, folder + ".ndjson"));
            int line = 0;
            long rows = 0;
            foreach (string path in paths)
            {
                JsonElement js = files[path];
                var (readSchema, readRows) = ArrowTestFiles.Read(path);
                // The schema JavaScript decoded is the one declared and the one the C# reader sees.
                Assert.Equal(SegmentArrowWriterTests.Describe(schema), Describe(js.GetProperty("fields")));
                Assert.Equal(SegmentArrowWriterTests.Describe(readSchema), Describe(js.GetProperty("fields")));
                int count = js.GetProperty("rows").GetInt32();
                Assert.Equal(readRows.Count, count);
                rows += count;
                if (count == 0) continue;
                // Values decoded by JavaScript: the first and last row of each file, against the NDJSON line (or the C# reader for matched probes).
                var first = ArrowTestFiles.FromJson(js.GetProperty("first"));
                var last = ArrowTestFiles.FromJson(js.GetProperty("last"));
                ArrowTestFiles.AssertSameRow(ndjson is null ? readRows[0] : ArrowTestFiles.FromJson(ndjson[line]), first);
                ArrowTestFiles.AssertSameRow(ndjson is null ? readRows[^1] : ArrowTestFiles.FromJson(ndjson[line + count - 1]), last);
                line += count;
            }
            long expected = folder switch
            {
                "matched" => summary.Matched + summary.Unmatched,
                "segments" => summary.SegmentWindows,
                "segments-5m" => summary.SegmentViews,
                _ => ndjson!.Length,
            };
            Assert.Equal(expected, rows);
            if (ndjson != null) Assert.Equal(ndjson.Length, rows);
            output.WriteLine($"{folder}: {paths.Length} files, {rows} rows");
        }
        Assert.True(summary.SegmentWindows > 0 && File.ReadLines(Path.Combine(outDir, "alerts.ndjson")).Any(), "the run has segment windows and alerts to check");
    }

    [ArrowJsFact]
    public void The_JavaScript_check_fails_on_what_it_cannot_read()
    {
        var (outDir, _) = s_replay.Value;
        string bad = TestDirectory.New("tmp");
        byte[] whole = File.ReadAllBytes(ArrowTestFiles.Files(Path.Combine(outDir, "alerts"))[0]);
        // Cut short; and cut in the middle with the footer's length and magic kept, so that only decoding can tell.
        File.WriteAllBytes(Path.Combine(bad, "a-truncated.arrow"), whole[..(whole.Length / 2)]);
        File.WriteAllBytes(Path.Combine(bad, "b-cut.arrow"), [.. whole[..(whole.Length / 2)], .. whole[^10..]]);
        File.WriteAllBytes(Path.Combine(bad, "c-whole.arrow"), whole);
        var (exit, stdout, stderr) = ArrowJsCheck.Run(bad);
        output.WriteLine(stderr);
        Assert.Equal(1, exit);
        Assert.Contains("a-truncated.arrow", stderr, StringComparison.Ordinal);
        Assert.Contains("b-cut.arrow", stderr, StringComparison.Ordinal);
        using (var report = JsonDocument.Parse(stdout))
        {
            Assert.Equal(2, report.RootElement.GetProperty("errors").GetArrayLength());
            Assert.Equal("c-whole.arrow", Path.GetFileName(Assert.Single(report.RootElement.GetProperty("files").EnumerateArray()).GetProperty("path").GetString()));
        }

        string empty = TestDirectory.New("tmp");
        Assert.Equal(1, ArrowJsCheck.Run(empty).Exit);
        Assert.Equal(2, ArrowJsCheck.Run().Exit);
    }
}
