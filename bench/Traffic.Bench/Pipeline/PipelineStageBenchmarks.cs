using BenchmarkDotNet.Attributes;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Segments;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;

namespace Traffic.Bench.Pipeline;

/// <summary>
/// The stages of a replay one at a time, on one thread, per probe of the input, in steady state: a
/// <see cref="VehiclePartition"/> (matching, every per-vehicle rule, the exchange messages, watermarks every 1,024
/// probes), a <see cref="SegmentPartition"/> taking what that partition sent (windows, free flow, congestion), and the
/// matched probes appended to the Arrow writer (files of 65,536 rows written to a temporary folder). 3,000 simulated
/// vehicles for 10 minutes on Shenzhen (138,000 probes). Each stage is made once and warmed; every invocation feeds it
/// the whole input again, an hour later than the last time (sequence numbers continued), so its state stays warm and
/// what it allocates per probe is the steady state's.
/// </summary>
[MemoryDiagnoser]
public class PipelineStageBenchmarks
{
    private ReplayBenchData _data = null!;
    private VehiclePartition _partition = null!;
    private SegmentPartition _segments = null!;
    private MatchedProbeArrowWriter _writer = null!;
    private Recorded _recorded = null!;
    private string _dir = "";
    private long _span;            // the input's event-time span plus an hour: the shift from one pass to the next
    private int _vehiclePass;
    private int _segmentPass;

    private const int Probes = 138_000;

    [GlobalSetup]
    public void Setup()
    {
        _data = ReplayBenchData.Simulate(3000, 600);
        if (_data.Probes.Length != Probes) throw new InvalidOperationException($"{_data.Probes.Length} probes, the suite counts {Probes}");
        _span = _data.Probes.Max(p => p.TimeMs) - _data.Probes.Min(p => p.TimeMs) + 3_600_000;
        var index = new EdgeIndex(_data.Network);
        // What a vehicle partition sends in one pass, recorded for the segment and writer stages.
        _recorded = new Recorded();
        _partition = new VehiclePartition(0, index, _data.Ids, _data.Registry, null);
        VehiclePass(_recorded);
        _segments = new SegmentPartition(_data.Network, 0, 1);
        SegmentPass(new Counting());
        _dir = Directory.CreateTempSubdirectory("traffic-bench-").FullName;
        _writer = new MatchedProbeArrowWriter(_dir, _data.Network, _data.Ids);
        MatchedArrowAppend();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Description = "VehiclePartition.OnProbe", OperationsPerInvoke = Probes)]
    public long VehiclePartitionOnProbe()
    {
        var output = new Counting();
        VehiclePass(output);
        return output.Traversals;
    }

    private void VehiclePass<TOutput>(TOutput output) where TOutput : IVehiclePartitionOutput
    {
        long shift = _vehiclePass++ * _span;
        var probes = _data.Probes;
        for (int i = 0; i < probes.Length; i++)
        {
            Probe p = probes[i];
            p.TimeMs += shift;
            _partition.OnProbe(in p, new RecordSource(i + 1, 0), output);
        }
    }

    /// <summary>The segment stage's work for the input's probes: every traversal and watermark they caused.</summary>
    [Benchmark(Description = "SegmentPartition (per probe)", OperationsPerInvoke = Probes)]
    public long SegmentPartitionPerProbe()
    {
        var output = new Counting();
        SegmentPass(output);
        return output.Windows;
    }

    private void SegmentPass(Counting output)
    {
        long shift = _segmentPass * _span, sequence = (long)_segmentPass * _recorded.Messages.Count;
        _segmentPass++;
        foreach (var m in _recorded.Messages)
        {
            if (m.IsWatermark)
            {
                var w = m.Watermark;
                _segments.OnWatermark(w with { Sequence = w.Sequence + sequence, WatermarkMs = w.WatermarkMs + shift }, output);
            }
            else
            {
                var t = m.Traversal;
                var e = t.Edge with { EnterTimeMs = t.Edge.EnterTimeMs + shift, ExitTimeMs = t.Edge.ExitTimeMs + shift };
                _segments.OnTraversal(t with { Sequence = t.Sequence + sequence, Edge = e });
            }
        }
    }

    [Benchmark(Description = "MatchedProbeArrowWriter.Append (per probe)", OperationsPerInvoke = Probes)]
    public int MatchedArrowAppend()
    {
        foreach (var (vehicle, m) in _recorded.Matches) _writer.Append(vehicle, in m);
        return _writer.Files.Count;
    }

    private sealed class Counting : IVehiclePartitionOutput, ISegmentPartitionOutput
    {
        public long Traversals;
        public long Windows;

        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match)
        {
        }

        public void Traversal(in SegmentTraversal traversal) => Traversals++;

        public void Watermark(in SegmentWatermark watermark)
        {
        }

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }

        public void Window(in SegmentStat window) => Windows++;

        public void View(in SegmentStat view) => Windows++;

        public void Network(in NetworkSums sums)
        {
        }
    }

    private sealed class Recorded : IVehiclePartitionOutput
    {
        public List<(SegmentTraversal Traversal, SegmentWatermark Watermark, bool IsWatermark)> Messages { get; } = [];
        public List<(int Vehicle, MatchedProbe Match)> Matches { get; } = [];

        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => Matches.Add((vehicle, match));

        public void Traversal(in SegmentTraversal traversal) => Messages.Add((traversal, default, false));

        public void Watermark(in SegmentWatermark watermark) => Messages.Add((default, watermark, true));

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }
}
