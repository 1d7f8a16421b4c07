using BenchmarkDotNet.Attributes;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Bench.Spatial;

/// <summary>
/// Candidate search on the Shenzhen (Nanshan) OSM network, the demo's: radius 50 m around random points
/// near roads, 16 or 6 candidates, and the vehicle partition's search (10, with the wrong-way rule's alongside). Per query.
/// </summary>
[MemoryDiagnoser]
public class ShenzhenCandidateSearchBenchmarks
{
    private double[] _lon = null!;
    private double[] _lat = null!;
    private EdgeIndex _index = null!;
    private readonly EdgeCandidate[] _results16 = new EdgeCandidate[16];
    private readonly EdgeCandidate[] _results6 = new EdgeCandidate[6];
    private readonly EdgeCandidate[] _results10 = new EdgeCandidate[10];
    private NearbySearch _wrongWay = null!;

    [GlobalSetup]
    public void Setup()
    {
        RoadNetwork net = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        (_lon, _lat) = SpatialBenchData.Points(net);
        _index = new EdgeIndex(net);
        _wrongWay = new NearbySearch(_index, 35, 8);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int Within16()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Within(_lon[i], _lat[i], 50, _results16);
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int Within6()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Within(_lon[i], _lat[i], 50, _results6);
        return total;
    }

    /// <summary>What the vehicle partition does: the matcher's 10 candidates within 50 m, the wrong-way rule's 8 within 35 m alongside.</summary>
    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int Within10Alongside()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Within(_lon[i], _lat[i], 50, _results10, _wrongWay);
        return total;
    }
}
