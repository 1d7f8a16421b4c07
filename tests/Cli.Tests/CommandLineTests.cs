using Traffic.Testing;

namespace Traffic.Cli.Tests;

public class CommandLineTests
{
    public static TheoryData<string[]> Commands() => new()
    {
        Array.Empty<string>(),
        new[] { "network" },
        new[] { "network", "build" },
        new[] { "network", "info" },
        new[] { "eval" },
        new[] { "eval", "kubicka" },
        new[] { "eval", "synthetic" },
        new[] { "replay" },
        new[] { "score" },
        new[] { "gateway" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_command_has_help(string[] command)
    {
        var (exit, output, _) = CliRunner.Run([.. command, "--help"]);
        Assert.Equal(0, exit);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_option_gives_one_line_on_stderr_and_a_nonzero_exit()
    {
        var (exit, _, error) = CliRunner.Run("network", "info", "x.tnet", "--bogus");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
    }

    [Theory]
    // A value not among an option's choices: the parser's message ran over four lines (its suggestions one a line).
    [InlineData(new[] { "replay", "--network", "n.tnet", "--input", "p.ndjson", "--out", "o", "--order", "sideways" }, "sideways")]
    // An unknown command: "Required command was not provided.", not naming what was typed.
    [InlineData(new[] { "bogus" }, "bogus")]
    [InlineData(new[] { "network", "bogus", "x.osm" }, "bogus")]
    // A value of the wrong kind: the parser's message named the .NET type ('Traffic.Engine.Pipeline.InputOrder', 'System.Int32').
    [InlineData(new[] { "replay", "--network", "n.tnet", "--input", "p.ndjson", "--out", "o", "--order", "sideways" }, "--order: 'sideways' is not one of auto, file, time")]
    [InlineData(new[] { "replay", "--network", "n.tnet", "--input", "p.ndjson", "--out", "o", "--shards", "two" }, "--shards: 'two' is not a whole number")]
    [InlineData(new[] { "replay", "--network", "n.tnet", "--input", "p.ndjson", "--out", "o", "--speed", "fast" }, "--speed: 'fast' is not a number")]
    public void A_bad_value_or_unknown_command_gives_one_line_naming_it(string[] args, string named)
    {
        var (exit, _, error) = CliRunner.Run(args);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("traffic:", error, StringComparison.Ordinal);
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Traffic.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_gives_one_line_on_stderr_and_a_nonzero_exit()
    {
        var (exit, _, error) = CliRunner.Run("network", "info", "/nonexistent/file.osm");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("/nonexistent/file.osm", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_time_zone_gives_one_line_before_any_work()
    {
        var (exit, _, error) = CliRunner.Run("replay", "--network", "/nonexistent/net.osm", "--input", "/nonexistent/p.ndjson", "--out",
            TestDirectory.New("routes"), "--timezone", "Mars/Olympus_Mons");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--timezone: 'Mars/Olympus_Mons'", error, StringComparison.Ordinal); // not the missing network
    }

    [Fact]
    public void Zones_that_no_vehicle_of_the_network_can_reach_are_warned_of()
    {
        // A zones file of another city (Haikou's coordinates on the Nanshan network), and an empty one: both ran as no
        // zones, saying nothing.
        string dir = TestDirectory.New("routes");
        string probes = Path.Combine(dir, "probes.ndjson"), far = Path.Combine(dir, "haikou.geojson"), empty = Path.Combine(dir, "empty.geojson");
        File.WriteAllText(probes, """{"vehicle_id":"a","time":1772413200000,"lon":113.95,"lat":22.54}""" + "\n");
        File.WriteAllText(far, """
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"港区禁行","kind":"hazmat_forbidden"},
             "geometry":{"type":"Polygon","coordinates":[[[110.30,20.00],[110.31,20.00],[110.31,20.01],[110.30,20.00]]]}}]}
            """);
        File.WriteAllText(empty, """{"type":"FeatureCollection","features":[]}""");
        string net = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", probes, "--zones", far, "--out", Path.Combine(dir, "o1"), "-q");
        Assert.True(exit == 0, error);
        Assert.Contains("warning: 1 of 1 zones lie wholly outside the network, so no vehicle on it can enter them: 港区禁行", error, StringComparison.Ordinal);
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", probes, "--zones", empty, "--out", Path.Combine(dir, "o2"), "-q");
        Assert.True(exit == 0, error);
        Assert.Contains("warning: the zones file holds no zones", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_network_file_gives_one_clear_line()
    {
        string path = Path.Combine(TestDirectory.New("routes"), "bad.tnet");
        File.WriteAllBytes(path, "TNET garbage that is not a network"u8.ToArray());
        var (exit, _, error) = CliRunner.Run("network", "info", path);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_engine_whose_brokers_cannot_be_reached_ends_with_one_clear_line_not_a_stack_trace()
    {
        // A wrong -b, the commonest slip: the engine died with "Unhandled exception. Confluent.Kafka.KafkaException", a
        // stack trace and exit 134 (SIGABRT). librdkafka's own log lines ("%3|...") may come before the last line.
        var (exit, _, error) = CliRunner.Run("engine", "-b", "127.0.0.1:1", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"),
            "--state-dir", TestDirectory.New("routes"), "-q");
        Assert.Equal(1, exit);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
        Assert.StartsWith("traffic: Kafka: ", error.Trim().Split('\n')[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Build_then_info_describes_the_Shenzhen_network()
    {
        string tnet = Path.Combine(TestDirectory.New("routes"), "shenzhen.tnet");
        var (exit, output, error) = CliRunner.Run("network", "build", SharedData.Path("osm", "shenzhen-nanshan.osm"), "-o", tnet);
        Assert.True(exit == 0, error);
        Assert.Contains("OpenStreetMap contributors", output, StringComparison.Ordinal);
        (exit, output, error) = CliRunner.Run("network", "info", tnet);
        Assert.True(exit == 0, error);
        Assert.Contains("深南大道", output, StringComparison.Ordinal);
        Assert.Contains("one-way", output, StringComparison.Ordinal);
        Assert.Contains("bounding box", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_of_a_Kubicka_graph_tells_its_nodes_and_arcs_not_ways_kept_none()
    {
        // It printed "read 299 nodes, 649 ways, 0 relations; kept 0 road ways", then wrote 649 edges.
        string tnet = Path.Combine(TestDirectory.New("routes"), "k46.tnet");
        var (exit, output, error) = CliRunner.Run("network", "build", SharedData.Kubicka("00000046") + ".arcs", "-o", tnet);
        Assert.True(exit == 0, error);
        Assert.Contains("read 299 nodes, 649 arcs", output, StringComparison.Ordinal);
        Assert.DoesNotContain("kept 0", output, StringComparison.Ordinal);
        Assert.DoesNotContain("OpenStreetMap", output, StringComparison.Ordinal);
        Assert.Contains("649 edges", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Simulate_then_replay_writes_every_output_and_prints_a_summary()
    {
        string dir = TestDirectory.New("routes");
        string net = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, _, error) = CliRunner.Run("simulate", "--network", net, "--vehicles", "30", "--duration", "600", "--out", Path.Combine(dir, "probes.ndjson"), "-q");
        Assert.True(exit == 0, error);
        string outDir = Path.Combine(dir, "out");
        (exit, string output, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"),
            "--vehicles", Path.Combine(dir, "vehicles.ndjson"), "--out", outDir, "--shards", "2", "-q");
        Assert.True(exit == 0, error);
        Assert.Contains("accepted", output, StringComparison.Ordinal);
        Assert.Contains("probes/s", output, StringComparison.Ordinal);
        foreach (string f in new[] { "alerts.ndjson", "segments.ndjson", "segments-5m.ndjson", "tpi.ndjson", "dead-letter.ndjson", "late.ndjson", "summary.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "matched"), "*.arrow", SearchOption.AllDirectories));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "segments-5m"), "*.arrow"));
        Assert.Contains("sliding views published", output, StringComparison.Ordinal);
        Assert.Contains("network traffic performance index", output, StringComparison.Ordinal);

        // Another span names its outputs after it; 0 turns the view off; out of range is one clear line.
        string three = Path.Combine(dir, "out3");
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--out", three, "--sliding-minutes", "3", "-q");
        Assert.True(exit == 0, error);
        Assert.True(File.Exists(Path.Combine(three, "segments-3m.ndjson")));
        Assert.False(File.Exists(Path.Combine(three, "segments-5m.ndjson")));
        string none = Path.Combine(dir, "out0");
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--out", none, "--sliding-minutes", "0", "-q");
        Assert.True(exit == 0, error);
        Assert.Empty(Directory.GetFiles(none, "segments-*"));
        Assert.True(File.Exists(Path.Combine(none, "tpi.ndjson")));
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--out", none, "--sliding-minutes", "61", "-q");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--sliding-minutes", error, StringComparison.Ordinal);

        // The matcher's decision lag: a shorter one runs; none at all is one clear line.
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--out", Path.Combine(dir, "lag"), "--match-lag", "2", "--match-lag-seconds", "20", "-q");
        Assert.True(exit == 0, error);
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", Path.Combine(dir, "probes.ndjson"), "--out", Path.Combine(dir, "lag"), "--match-lag", "0", "-q");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--match-lag", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_at_a_multiple_of_the_recorded_speed_takes_the_span_over_the_factor_and_gives_the_same_outputs()
    {
        string dir = TestDirectory.New("routes");
        string net = SharedData.Path("osm", "shenzhen-nanshan.osm");
        string probes = Path.Combine(dir, "probes.ndjson");
        var (exit, _, error) = CliRunner.Run("simulate", "--network", net, "--vehicles", "12", "--duration", "160", "--out", probes, "-q");
        Assert.True(exit == 0, error);
        var times = File.ReadLines(probes).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("time").GetInt64()).ToArray();
        double spanS = (times.Max() - times.Min()) / 1000.0;
        Assert.True(spanS > 120, $"{spanS} s of probes");

        string fast = Path.Combine(dir, "fast"), paced = Path.Combine(dir, "paced");
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", probes, "--out", fast, "-q");
        Assert.True(exit == 0, error);
        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", probes, "--out", paced, "--speed", "50", "-q");
        Assert.True(exit == 0, error);
        // The last probe is handed on no sooner than the span over the factor after the first (the reader sleeps).
        double seconds = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(paced, "summary.json"))).RootElement.GetProperty("seconds").GetDouble();
        Assert.True(seconds >= (spanS / 50) - 0.01, $"{seconds} s for {spanS} s of probes at 50x");
        foreach (string f in new[] { "alerts.ndjson", "segments.ndjson", "late.ndjson" })
            Assert.Equal(File.ReadAllText(Path.Combine(fast, f)), File.ReadAllText(Path.Combine(paced, f)));

        (exit, _, error) = CliRunner.Run("replay", "--network", net, "--input", probes, "--out", paced, "--speed", "-2", "-q");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--speed", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/nonexistent/p.ndjson", null, "input not found: /nonexistent/p.ndjson")]
    [InlineData("{tmp}", null, "input is a folder")]
    [InlineData("{probes}", "{probes}/out", "cannot write the output folder")]
    public void Replay_of_a_missing_input_or_into_an_unwritable_folder_gives_one_clear_line(string input, string? outDir, string expected)
    {
        // A file standing where the output folder's parent should be.
        string probes = TestDirectory.NewFile("probes", ".ndjson");
        File.WriteAllText(probes, "{\"vehicle_id\":\"A\",\"time\":1772413200000,\"lon\":113.95,\"lat\":22.54}\n");
        string tmp = Path.GetTempPath().TrimEnd('/');
        input = input.Replace("{tmp}", tmp, StringComparison.Ordinal).Replace("{probes}", probes, StringComparison.Ordinal);
        outDir = outDir?.Replace("{probes}", probes, StringComparison.Ordinal) ?? Path.GetTempPath();
        var (exit, _, error) = CliRunner.Run("replay", "--network", SharedData.Path("osm", "shenzhen-nanshan.osm"), "--input", input, "--out", outDir);
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_kubicka_ends_with_the_overall_line_and_writes_routes()
    {
        string outDir = TestDirectory.New("routes");
        string track = Path.GetDirectoryName(SharedData.Kubicka("00000046"))!;
        var (exit, output, error) = CliRunner.Run("eval", "kubicka", track, "--mode", "online", "--write-routes", outDir);
        Assert.True(exit == 0, error);
        string last = output.Trim().Split('\n')[^1];
        Assert.Matches(@"^overall accuracy \d+\.\d\d% over 1 tracks$", last);
        string[] arcs = File.ReadAllLines(Path.Combine(outDir, "00000046.matched"));
        Assert.NotEmpty(arcs);
        Assert.All(arcs, a => Assert.True(long.TryParse(a, out _)));
    }

    [Fact]
    public async Task SIGTERM_during_a_replay_ends_it_with_one_line_and_exit_130_not_a_stack_trace()
    {
        // Two probes an hour apart replayed at recorded speed: the run waits for the second when the signal comes.
        string dir = TestDirectory.New("sigterm");
        string input = Path.Combine(dir, "p.ndjson");
        File.WriteAllLines(input,
        [
            """{"vehicle_id":"A1","time":"2026-01-05T00:00:00Z","lon":7.4200,"lat":43.7380}""",
            """{"vehicle_id":"A1","time":"2026-01-05T01:00:00Z","lon":7.4210,"lat":43.7385}""",
        ]);
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "traffic.dll"), "replay", "--network", SharedData.Path("osm", "monaco.osm.pbf"),
            "--input", input, "--out", Path.Combine(dir, "out"), "--speed", "1", "-q" })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await Task.Delay(5000);
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        Assert.True(p.WaitForExit(40_000), "the replay did not stop on SIGTERM");
        Assert.Equal(130, p.ExitCode);
        Assert.Equal("traffic: interrupted; the outputs written so far are incomplete", (await stderr).Trim());
    }
}
