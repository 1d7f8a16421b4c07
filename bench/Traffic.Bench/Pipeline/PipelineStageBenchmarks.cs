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
/// The stages of a replay one at a time, on one thread, per probe of the input: a <see cref="VehiclePartition"/>
/// (matching, every per-vehicle rule, the exchange messages, watermarks every 1,024 probes), a
/// <see cref="SegmentPartition"/> taking what that partition sent (windows, free flow, congestion), and the matched
/// probes appended to the Arrow writer (files of 65,536 rows written to a temporary folder). 3,000 simulated vehicles
/// for 10 minutes on Shenzhen (138,000 probes); each invocation takes the whole input through a fresh stage.
/// </summary>
[MemoryDiagnoser]
public class PipelineStageBenchmarks
{
    private ReplayBenchData _data = null!;
    private EdgeIndex _index = null!;
    private VehiclePartition _partition = null!;
    private SegmentPartition _segments = null!;
    private MatchedProbeArrowWriter _writer = null!;
    private Recorded _recorded = null!;
    private string _dir = "";

    private const int Probes = 138_000;

    [GlobalSetup]
    public void Setup()
    {
        _data = ReplayBenchData.Simulate(3000, 600);
        if (_data.Probes.Length != Probes) throw new InvalidOperationException($"{_data.Probes.Length} probes, the suite counts {Probes}");
        _index = new EdgeIndex(_data.Network);
        // What a vehicle partition sends, recorded once for the segment and writer stages.
        _recorded = new Recorded();
        var partition = NewPartition();
        for (int i = 0; i < _data.Probes.Length; i++) partition.OnProbe(in _data.Probes[i], new RecordSource(i + 1, 0), _recorded);
        partition.OnEndOfInput(_recorded);
        _dir = Directory.CreateTempSubdirectory("traffic-bench-").FullName;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    private VehiclePartition NewPartition() => new(0, _index, _data.Ids, _data.Registry, null);

    [IterationSetup(Target = nameof(VehiclePartitionOnProbe))]
    public void NewVehiclePartition() => _partition = NewPartition();

    [Benchmark(Description = "VehiclePartition.OnProbe", OperationsPerInvoke = Probes)]
    public long VehiclePartitionOnProbe()
    {
        var output = new Counting();
        var probes = _data.Probes;
        for (int i = 0; i < probes.Length; i++) _partition.OnProbe(in probes[i], new RecordSource(i + 1, 0), output);
        return output.Traversals;
    }

    [IterationSetup(Target = nameof(SegmentPartitionPerProbe))]
    public void NewSegmentPartition() => _segments = new SegmentPartition(_data.Network, 0, 1);

    /// <summary>The segment stage's work for the input's probes: every traversal and watermark they caused.</summary>
    [Benchmark(Description = "SegmentPartition (per probe)", OperationsPerInvoke = Probes)]
    public long SegmentPartitionPerProbe()
    {
        var output = new Counting();
        foreach (var m in _recorded.Messages)
        {
            if (m.IsWatermark) _segments.OnWatermark(m.Watermark, output);
            else _segments.OnTraversal(m.Traversal);
        }
        _segments.OnEndOfInput(output);
        return output.Windows;
    }

    [IterationSetup(Target = nameof(MatchedArrowAppend))]
    public void NewWriter() => _writer = new MatchedProbeArrowWriter(Path.Combine(_dir, Guid.NewGuid().ToString("N")), _data.Network, _data.Ids);

    [Benchmark(Description = "MatchedProbeArrowWriter.Append (per probe)", OperationsPerInvoke = Probes)]
    public int MatchedArrowAppend()
    {
        foreach (var (vehicle, m) in _recorded.Matches) _writer.Append(vehicle, in m);
        _writer.Dispose();
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
