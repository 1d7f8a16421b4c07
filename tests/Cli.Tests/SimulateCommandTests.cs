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
        string dir = TestDirectory.New("simulate");
        string probes = Path.Combine(dir, "probes.ndjson");
        var (exit, output, error) = CliRunner.Run("simulate", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
            "--scenario", Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml"), "--duration", "600", "--out", probes);
        Assert.True(exit == 0, error);
        Assert.Contains("OpenStreetMap", output, StringComparison.Ordinal);
        foreach (string f in new[] { "probes.ndjson", "truth.ndjson", "vehicles.ndjson", "zones.geojson" })
            Assert.True(new FileInfo(Path.Combine(dir, f)).Length > 0, f);
    }

    [Fact]
    public void Two_processes_with_the_same_seed_write_the_same_bytes()
    {
        // Within one process the engine tests compare runs; this catches anything salted per process (string hashing, HashCode).
        string root = TestDirectory.New("simulate");
        for (int i = 0; i < 2; i++)
        {
            var (exit, _, error) = CliRunner.Run("simulate", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
                "--scenario", Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml"), "--duration", "900", "--seed", "11",
                "--out", Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture), "probes.ndjson"), "--quiet");
            Assert.True(exit == 0, error);
        }
        foreach (string f in new[] { "probes.ndjson", "truth.ndjson", "vehicles.ndjson", "zones.geojson" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(root, "0", f)), File.ReadAllBytes(Path.Combine(root, "1", f)));
    }

    [Theory]
    [InlineData("--start", "yesterday")]
    [InlineData("--duration", "-5")]
    [InlineData("--scenario", "/nonexistent/scenario.yaml")]
    [InlineData("--gtfs", "/nonexistent/feed.zip")]
    public void Bad_input_gives_one_line_on_stderr(string option, string value)
    {
        var (exit, _, error) = CliRunner.Run("simulate", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
            "--out", TestDirectory.NewFile("never", ".ndjson"), option, value);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
    }
}
