using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>A replay of probe lines written to a fresh temporary folder, as a user would run one on a file.</summary>
internal static class TestReplay
{
    /// <summary>Writes the lines as they are listed to <c>probes.ndjson</c> and replays them; the run's output goes to <c>out/</c>.</summary>
    public static async Task<(ReplaySummary Summary, string Out)> RunAsync(RoadNetwork network, IEnumerable<string> lines, ReplayOptions options)
    {
        string dir = TestDirectory.New("replay");
        Directory.CreateDirectory(dir);
        string input = Path.Combine(dir, "probes.ndjson");
        File.WriteAllLines(input, lines);
        string output = Path.Combine(dir, "out");
        var summary = await new ReplayEngine(network, null, null, new VehicleIds(), options).RunAsync(input, output);
        return (summary, output);
    }

    /// <summary>The alert events of a replay of the lines in time order, none of them rejected.</summary>
    public static async Task<JsonElement[]> AlertsAsync(RoadNetwork network, IEnumerable<string> lines)
    {
        var (summary, output) = await RunAsync(network, lines, new ReplayOptions { Order = InputOrder.Time });
        if (summary.Rejected != 0) Assert.Fail($"{summary.Rejected} rejected, the first: {File.ReadLines(Path.Combine(output, "dead-letter.ndjson")).First()}");
        return Alerts(output);
    }

    /// <summary>The alert events of a run (<c>alerts.ndjson</c>), in the file's order.</summary>
    public static JsonElement[] Alerts(string outDir) =>
        [.. File.ReadLines(Path.Combine(outDir, "alerts.ndjson")).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
}
