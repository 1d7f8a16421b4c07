using Traffic.Testing;

namespace Traffic.Cli.Tests;

public class SimulateCommandTests
{
    [Fact]
    public void Simulate_has_help()
    {
        var (exit, output, _) = CliRunner.Run("simulate", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--scenario", output, StringComparison.Ordinal);
        Assert.Contains("--gtfs", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Simulate_writes_probes_truth_and_registry()
    {
        string dir = Path.Combine(Path.GetTempPath(), "traffic-cli-tests", Guid.NewGuid().ToString("N"));
        string probes = Path.Combine(dir, "probes.ndjson");
        var (exit, output, error) = CliRunner.Run("simulate", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
            "--scenario", Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml"), "--duration", "600", "--out", probes);
        Assert.True(exit == 0, error);
        Assert.Contains("OpenStreetMap", output, StringComparison.Ordinal);
        foreach (string f in new[] { "probes.ndjson", "truth.ndjson", "vehicles.ndjson", "zones.geojson" })
            Assert.True(new FileInfo(Path.Combine(dir, f)).Length > 0, f);
    }

    [Theory]
    [InlineData("--start", "yesterday")]
    [InlineData("--duration", "-5")]
    [InlineData("--scenario", "/nonexistent/scenario.yaml")]
    [InlineData("--gtfs", "/nonexistent/feed.zip")]
    public void Bad_input_gives_one_line_on_stderr(string option, string value)
    {
        var (exit, _, error) = CliRunner.Run("simulate", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
            "--out", Path.Combine(Path.GetTempPath(), "traffic-cli-tests", "never.ndjson"), option, value);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
    }
}
