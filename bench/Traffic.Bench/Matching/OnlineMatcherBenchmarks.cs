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

    /// <summary>
    /// 00000042: Cebu, 101,128 arcs, 7,739 probes; 00000015: Belgium, 6,854 probes (Kubicka: no speed limits). shenzhen:
    /// 20 synthetic trips of 5 km on the Nanshan OSM network (2,610 edges with class limits), a fix every 5 s with 10 m
    /// noise, one after another as one vehicle's trace; shenzhen-reported: the same trips whose probes
    /// also report speed (± 2 km/h) and heading (± 5°), as `eval synthetic --reported speed,heading`.
    /// </summary>
    [Params("00000042", "00000015", "shenzhen", "shenzhen-reported")]
    public string Track { get; set; } = "00000042";

    /// <summary>
    /// The matcher's sigma, metres, with a min move of twice it: 0 its defaults (15 m and 30 m, for a unit of unknown
    /// noise); 10 the noise of the Shenzhen trips and the defaults before (10 m, 20 m), so that one run gives the ratio.
    /// </summary>
    [Params(0.0, 10.0)]
    public double Sigma { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Traffic.Geo.Network.RoadNetwork network;
        if (Track.StartsWith("shenzhen", StringComparison.Ordinal))
        {
            network = Traffic.Geo.Import.NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
            var rng = new Random(1);
            var points = new List<GpsPoint>();
            long start = 1_700_000_000_000;
            for (int v = 0; v < 20; v++)
            {
                // Each trip starts 10 minutes after the one before ended: a time gap, so a new chain.
                var (probes, _) = SyntheticTraces.Drive(network, rng, 5000, 5, 10, start,
                    reported: Track == "shenzhen-reported" ? ReportedCourse.Speed | ReportedCourse.Heading : ReportedCourse.None);
                foreach (var tp in probes) points.Add(tp.Probe with { Id = points.Count });
                start = probes[^1].Probe.TimeMs + 600_000;
            }
            _points = [.. points];
        }
        else
        {
            var track = KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka(Track))!);
            _points = track.Points;
            network = track.Network;
        }
        var index = new EdgeIndex(network);
        var options = Sigma > 0 ? new MatcherOptions { SigmaM = Sigma, MinMoveM = 2 * Sigma } : new MatcherOptions();
        _matcher = new OnlineMatcher(index, options);
        _offline = new OnlineMatcher(index, options.AsOffline());
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
