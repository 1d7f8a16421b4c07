using BenchmarkDotNet.Attributes;
using NetTopologySuite.Index.HPRtree;
using NetTopologySuite.Index.Strtree;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Bench.Spatial;

/// <summary>
/// Candidate search as the map matcher does it: radius 50 m around a probe near a road, up to 16
/// candidates, on the Cebu graph. One invocation runs all query points, so results are per query.
/// Random points defeat the caches (each query lands somewhere new); the Track benchmarks replay the
/// real GPS track in order, as a matcher would.
/// </summary>
[MemoryDiagnoser]
public class CandidateSearchBenchmarks
{
    private const double RadiusM = 50;
    private const int Capacity = 16;

    private RoadNetwork _net = null!;
    private double[] _lon = null!;
    private double[] _lat = null!;
    private double[] _trackLon = null!;
    private double[] _trackLat = null!;
    private EdgeIndex _index = null!;
    private STRtree<int> _str = null!;
    private HPRtree<int> _hpr = null!;
    private SegmentVisitor _visitor = null!;
    private readonly EdgeCandidate[] _results = new EdgeCandidate[Capacity];

    [GlobalSetup]
    public void Setup()
    {
        _net = SpatialBenchData.Cebu;
        (_lon, _lat) = SpatialBenchData.Points(_net);
        (_trackLon, _trackLat) = SpatialBenchData.Track();
        _index = new EdgeIndex(_net);
        _str = new STRtree<int>();
        SpatialBenchData.ForEachSegment(_net, _str.Insert);
        _str.Build();
        _hpr = new HPRtree<int>();
        SpatialBenchData.ForEachSegment(_net, _hpr.Insert);
        _hpr.Build();
        _visitor = new SegmentVisitor(_net, Capacity);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int EdgeIndexWithin()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Within(_lon[i], _lat[i], RadiusM, _results);
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int EdgeIndexNearest4()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Nearest(_lon[i], _lat[i], RadiusM, _results.AsSpan(0, 4));
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int NtsStrTree()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++)
        {
            _str.Query(_visitor.Start(_lon[i], _lat[i], RadiusM), _visitor);
            total += _visitor.Count;
        }
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int NtsHprTree()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++)
        {
            _hpr.Query(_visitor.Start(_lon[i], _lat[i], RadiusM), _visitor);
            total += _visitor.Count;
        }
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int EdgeIndexWithinTrack()
    {
        int total = 0;
        for (int i = 0; i < _trackLon.Length; i++) total += _index.Within(_trackLon[i], _trackLat[i], RadiusM, _results);
        return total;
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int NtsHprTreeTrack()
    {
        int total = 0;
        for (int i = 0; i < _trackLon.Length; i++)
        {
            _hpr.Query(_visitor.Start(_trackLon[i], _trackLat[i], RadiusM), _visitor);
            total += _visitor.Count;
        }
        return total;
    }
}

/// <summary>The grid's one tuning knob: cell size against the 50 m radius, on Cebu.</summary>
[MemoryDiagnoser]
public class EdgeIndexCellSizeBenchmarks
{
    private double[] _lon = null!;
    private double[] _lat = null!;
    private EdgeIndex _index = null!;
    private readonly EdgeCandidate[] _results = new EdgeCandidate[16];

    [Params(32, 50, 64, 100, 150)]
    public double CellSizeM { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var net = SpatialBenchData.Cebu;
        (_lon, _lat) = SpatialBenchData.Points(net);
        _index = new EdgeIndex(net, CellSizeM);
    }

    [Benchmark(OperationsPerInvoke = SpatialBenchData.QueryCount)]
    public int Within50()
    {
        int total = 0;
        for (int i = 0; i < _lon.Length; i++) total += _index.Within(_lon[i], _lat[i], 50, _results);
        return total;
    }
}

/// <summary>Building each index over Cebu's segments.</summary>
[MemoryDiagnoser]
public class SpatialIndexBuildBenchmarks
{
    private RoadNetwork _net = null!;

    [GlobalSetup]
    public void Setup() => _net = SpatialBenchData.Cebu;

    [Benchmark(Baseline = true)]
    public EdgeIndex BuildEdgeIndex() => new(_net);

    [Benchmark]
    public STRtree<int> BuildStrTree()
    {
        var t = new STRtree<int>();
        SpatialBenchData.ForEachSegment(_net, t.Insert);
        t.Build();
        return t;
    }

    [Benchmark]
    public HPRtree<int> BuildHprTree()
    {
        var t = new HPRtree<int>();
        SpatialBenchData.ForEachSegment(_net, t.Insert);
        t.Build();
        return t;
    }
}
