using System.Text.Json;
using Traffic.Testing;

namespace Traffic.Cli.Tests;

public class ScoreCommandTests
{
    private static readonly Lazy<(string Sim, string Run)> s_run = new(SimulateAndReplay);

    // The example scenario for 20 minutes: long enough for the speeding, zone and wrong-way events.
    private static (string Sim, string Run) SimulateAndReplay()
    {
        string dir = TestDirectory.New("tmp");
        string net = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, _, error) = CliRunner.Run("simulate", "--network", net, "--scenario", Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml"),
            "--duration", "1200", "--seed", "7", "--out", Path.Combine(dir, "probes.ndjson"), "-q");
        Assert.True(exit == 0, error);
        string run = Path.Combine(dir, "run");
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--vehicles", Path.Combine(dir, "vehicles.ndjson"),
            "--zones", Path.Combine(dir, "zones.geojson"), "--out", run, "--shards", "2", "-q");
        Assert.True(exit == 0, error);
        return (dir, run);
    }

    [Fact]
    public void Score_prints_a_table_per_kind_and_the_edge_accuracy_and_writes_the_same_as_JSON()
    {
        var (sim, run) = s_run.Value;
        string json = Path.Combine(sim, "score.json");
        var (exit, output, error) = CliRunner.Run("score", "--truth", Path.Combine(sim, "truth.ndjson"), "--run", run, "--tolerance", "90", "--json", json);
        Assert.True(exit == 0, error);
        Assert.Contains("| kind | expected | raised | TP | FP | FN | extra | unplanned | precision | recall |", output, StringComparison.Ordinal);
        Assert.Matches(@"\| speeding \| 2 \| \d+ \| 2 \| \d+ \| 0 \| \d+ \| \d+ \| \d\.\d{3} \| 1\.000 \|", output);
        Assert.Contains("tolerance 90 s", output, StringComparison.Ordinal);
        Assert.Matches(@"edge accuracy \d+\.\d\d %", output);

        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = doc.RootElement;
        Assert.Equal(90, root.GetProperty("tolerance_s").GetDouble());
        var speeding = root.GetProperty("kinds").EnumerateArray().Single(k => k.GetProperty("kind").GetString() == "speeding");
        Assert.Equal(2, speeding.GetProperty("true_positives").GetInt32());
        Assert.Equal(1.0, speeding.GetProperty("recall").GetDouble());
        var matching = root.GetProperty("matching");
        Assert.True(matching.GetProperty("edge_accuracy").GetDouble() > 0.75);
        Assert.Contains($"{matching.GetProperty("same_edge").GetInt64():N0} of {matching.GetProperty("matched").GetInt64():N0} matched probes", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_truth_may_be_given_as_the_simulation_folder()
    {
        var (sim, run) = s_run.Value;
        var (exit, byFolder, error) = CliRunner.Run("score", "--truth", sim, "--run", run);
        Assert.True(exit == 0, error);
        var (_, byFile, _) = CliRunner.Run("score", "--truth", Path.Combine(sim, "truth.ndjson"), "--run", run);
        Assert.Equal(byFile, byFolder);
    }

    public static TheoryData<string, string, string> BadInputs() => new()
    {
        { "/nonexistent/truth.ndjson", "", "/nonexistent/truth.ndjson" },
        { "", "/nonexistent/run", "/nonexistent/run" },
        { "", "EMPTY", "alerts.ndjson" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void A_missing_truth_or_run_gives_one_line_on_stderr(string truth, string runDir, string mentioned)
    {
        var (sim, run) = s_run.Value;
        if (truth.Length == 0) truth = sim;
        if (runDir.Length == 0) runDir = run;
        else if (runDir == "EMPTY") runDir = TestDirectory.New("tmp");
        var (exit, _, error) = CliRunner.Run("score", "--truth", truth, "--run", runDir);
        Assert.Equal(1, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
        Assert.Contains(mentioned, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truth_file_that_is_not_a_truth_gives_one_line_with_the_line_number()
    {
        var (_, run) = s_run.Value;
        string bad = Path.Combine(TestDirectory.New("tmp"), "truth.ndjson");
        File.WriteAllText(bad, "{\"type\":\"event\",\"kind\":\"zone\",\"start\":null,\"end\":null,\"expected_alert\":null}\nnot json\n");
        var (exit, _, error) = CliRunner.Run("score", "--truth", bad, "--run", run);
        Assert.Equal(1, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("line 2", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--tolerance", "-1")]
    [InlineData("--tolerance", "soon")]
    public void A_bad_tolerance_is_refused(string option, string value)
    {
        var (sim, run) = s_run.Value;
        var (exit, _, error) = CliRunner.Run("score", "--truth", sim, "--run", run, option, value);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
    }
}
