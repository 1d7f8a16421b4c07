using System.Text.Json;
using Traffic.Engine.Simulation;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>A finished simulation read back: probe lines, truth records, the run's folder.</summary>
internal sealed class SimRun
{
    private static readonly Lazy<RoadNetwork> s_shenzhen = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));
    private static readonly Lazy<RoadNetwork> s_monaco = new(() => NetworkImport.Read(SharedData.Path("osm", "monaco.osm.pbf"), out _));
    private static readonly Lazy<RoadNetwork> s_shanghai = new(() => NetworkImport.Read(SharedData.Path("osm", "shanghai.osm"), out _));

    public static RoadNetwork Shenzhen => s_shenzhen.Value;

    public static RoadNetwork Monaco => s_monaco.Value;

    public static RoadNetwork Shanghai => s_shanghai.Value;

    public required string Dir { get; init; }

    public required string[] ProbeLines { get; init; }

    public required List<JsonElement> Truth { get; init; }

    public IEnumerable<JsonElement> TruthProbes => Truth.Where(t => t.GetProperty("type").GetString() == "probe");

    public IEnumerable<JsonElement> Events => Truth.Where(t => t.GetProperty("type").GetString() == "event");

    public JsonElement Event(string kind) => Events.Single(e => e.GetProperty("kind").GetString() == kind);

    public static string ExampleScenario => Path.Combine(SharedData.RepoRoot(), "docs", "examples", "shenzhen-scenario.yaml");

    public static SimRun Run(RoadNetwork net, SimulationOptions options)
    {
        string dir = TestDirectory.New("sim");
        Directory.CreateDirectory(dir);
        string probes = Path.Combine(dir, "probes.ndjson");
        new FleetSimulator(net, options).Run(probes);
        return Read(dir);
    }

    public static SimRun Read(string dir)
    {
        var truth = new List<JsonElement>();
        foreach (string line in File.ReadLines(Path.Combine(dir, "truth.ndjson")))
            truth.Add(JsonDocument.Parse(line).RootElement.Clone());
        return new SimRun { Dir = dir, ProbeLines = File.ReadAllLines(Path.Combine(dir, "probes.ndjson")), Truth = truth };
    }

    public static long Ms(JsonElement e, string name) => e.GetProperty(name).GetInt64();
}
