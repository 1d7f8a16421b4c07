using BenchmarkDotNet.Attributes;
using Traffic.Geo.Evaluation;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Bench.Matching;

/// <summary>
/// Online map matching throughput on one core: a whole Kubicka track pushed probe by probe through
/// one matcher and one vehicle state, reported per probe (OperationsPerInvoke = probes).
/// </summary>
[MemoryDiagnoser]
public class OnlineMatcherBenchmarks
{
    private GpsPoint[] _points = [];
    private OnlineMatcher _matcher = null!;
    private OnlineMatcher _offline = null!;
    private VehicleMatchState _state = null!;
    private long _shift;

    /// <summary>00000042: Cebu, 101,128 arcs, 7,739 probes; 00000015: Belgium, 6,854 probes.</summary>
    [Params("00000042", "00000015")]
    public string Track { get; set; } = "00000042";

    [GlobalSetup]
    public void Setup()
    {
        var track = KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka(Track))!);
        _points = track.Points;
        var index = new EdgeIndex(track.Network);
        _matcher = new OnlineMatcher(index);
        _offline = new OnlineMatcher(index, new MatcherOptions().AsOffline());
        _state = _matcher.NewState();
    }

    /// <summary>Probes pushed per invocation; the figure is per probe.</summary>
    private const int ProbesPerInvoke = 4096;

    private int _next;

    [Benchmark(Description = "online, per probe", OperationsPerInvoke = ProbesPerInvoke)]
    public int Online()
    {
        // The same vehicle drives the track again and again, later each time, so its state stays warm.
        var sink = new CountingSink();
        for (int i = 0; i < ProbesPerInvoke; i++)
        {
            if (_next == _points.Length)
            {
                _next = 0;
                _shift += _points[^1].TimeMs + 3_600_000;
            }
            var p = _points[_next++];
            _matcher.Push(_state, p with { TimeMs = p.TimeMs + _shift }, ref sink);
        }
        return sink.Count;
    }

    /// <summary>The whole track matched offline (batch Viterbi); divide by the track's probes for a per-probe figure.</summary>
    [Benchmark(Description = "offline, whole track")]
    public int Offline()
    {
        var sink = new CountingSink();
        var state = _offline.NewState();
        foreach (ref readonly var p in _points.AsSpan()) _offline.Push(state, in p, ref sink);
        _offline.Flush(state, ref sink);
        return sink.Count;
    }

    private struct CountingSink : IMatchSink
    {
        public int Count;

        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route) => Count++;
    }
}
