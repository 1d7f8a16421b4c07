using BenchmarkDotNet.Attributes;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Bench.Network;

/// <summary>
/// Building a network from OpenStreetMap (parse, filter, split, build the arrays) and loading the
/// built <c>.tnet</c> file, which is what the engine does at start-up.
/// </summary>
[MemoryDiagnoser]
public class NetworkBuildBenchmarks
{
    private string _input = "";
    private string _tnet = "";

    [Params("shenzhen-nanshan.osm", "monaco.osm.pbf")]
    public string Input { get; set; } = "shenzhen-nanshan.osm";

    [GlobalSetup]
    public void Setup()
    {
        _input = SharedData.Path("osm", Input);
        _tnet = Path.Combine(Path.GetTempPath(), "traffic-bench-" + Input + ".tnet");
        NetworkFile.Write(NetworkImport.Read(_input, out _), _tnet);
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_tnet);

    [Benchmark(Description = "build from OSM")]
    public int Build() => NetworkImport.Read(_input, out _).EdgeCount;

    [Benchmark(Description = "load .tnet")]
    public int Load() => NetworkFile.Read(_tnet).EdgeCount;
}
