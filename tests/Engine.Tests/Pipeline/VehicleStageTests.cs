using System.Text.Json;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Tests.Pipeline;

public class VehicleStageTests
{
    private static readonly Lazy<SimRun> s_run = new(() => SimRun.Run(SimRun.Shenzhen, new SimulationOptions { Vehicles = 60, DurationS = 1200, Seed = 11 }));

    [Fact]
    public async Task Simulated_probes_are_matched_to_their_true_edges_in_order()
    {
        var run = s_run.Value;
        var net = SimRun.Shenzhen;
        var output = new Collector();
        var stage = new VehicleStage(new EdgeIndex(net));
        var ids = new VehicleIds();
        var handler = new StageFeeder(stage, output);
        await new ProbeStreamReader(ProbeFormat.NdJson, ids).ReadAsync(File.OpenRead(Path.Combine(run.Dir, "probes.ndjson")), handler);
        stage.Complete(output);

        // Every accepted probe comes out exactly once, and each vehicle's matches in time order.
        Assert.Equal(stage.Accepted, output.Matches.Count);
        Assert.Equal(output.Matches.Count, output.Matches.Select(m => m.Line).Distinct().Count());
        foreach (var g in output.Matches.GroupBy(m => m.Vehicle))
            Assert.True(g.Select(m => m.Time).SequenceEqual(g.Select(m => m.Time).Order()), $"vehicle {ids.Name(g.Key)} out of order");

        // Against the simulator's truth: the share of probes on their true edge (85.1 % measured; per-probe misses are mostly
        // probes near a junction put on the neighbouring edge, see bench/RESULTS.md).
        var truth = run.TruthProbes.Where(t => t.GetProperty("line").ValueKind == JsonValueKind.Number)
            .ToDictionary(t => t.GetProperty("line").GetInt64(), t => t.GetProperty("edge").GetInt32());
        int scored = 0, correct = 0;
        foreach (var m in output.Matches)
        {
            if (!truth.TryGetValue(m.Line, out int edge)) continue;
            scored++;
            if (edge == m.Edge) correct++;
        }
        Assert.True(scored > 1000);
        Assert.True(correct >= 0.84 * scored, $"{correct} of {scored} probes on their true edge");

        // The traversals feed the segment stage, which publishes windows with at least three vehicles.
        var segments = new SegmentAggregator(net);
        foreach (var t in output.Traversals) segments.Add(t.Vehicle, t.Edge.Edge, t.Edge.FromOffsetM, t.Edge.ToOffsetM, t.Edge.EnterTimeMs, t.Edge.ExitTimeMs);
        var stats = new List<SegmentStat>();
        segments.Advance(long.MaxValue, stats);
        Assert.NotEmpty(stats);
        Assert.All(stats, s => Assert.True(s.Vehicles >= 3 && s.SpeedKmh > 0 && s.Level is >= 1 and <= 5));
    }

    [Fact]
    public void Probes_behind_the_watermark_go_to_the_late_output()
    {
        var net = SimRun.Shenzhen;
        var stage = new VehicleStage(new EdgeIndex(net));
        var output = new Collector();
        var (lon, lat) = net.PointAt(0, 1);
        var p = Probe.Empty;
        p.Vehicle = 0;
        p.Lon = lon;
        p.Lat = lat;
        p.TimeMs = 1_764_028_800_000;
        stage.AdvanceWatermark(p.TimeMs + 1, output);
        stage.Accept(p, VehicleClass.Car, new RecordSource(1, 0), output);
        Assert.Equal(1, stage.LateCount);
        Assert.Single(output.LateLines);
        p.TimeMs += 10;
        stage.Accept(p, VehicleClass.Car, new RecordSource(2, 0), output);
        stage.Accept(p, VehicleClass.Car, new RecordSource(3, 0), output);
        Assert.Equal(1, stage.RefusedCount); // the exact repeat
        Assert.Equal([(3L, PushResult.Duplicate)], output.RefusedLines);
    }

    [Fact]
    public async Task A_match_lag_of_one_probe_and_one_second_decides_each_probe_when_the_next_arrives()
    {
        var run = s_run.Value;
        var probes = new ProbeList();
        await new ProbeStreamReader(ProbeFormat.NdJson, new VehicleIds()).ReadAsync(File.OpenRead(Path.Combine(run.Dir, "probes.ndjson")), probes);
        int vehicle = probes.Items.GroupBy(p => p.Probe.Vehicle).OrderByDescending(g => g.Count()).First().Key;
        var track = probes.Items.Where(p => p.Probe.Vehicle == vehicle).ToList();

        // Behind: how many of the vehicle's probes are still undecided, at worst, after each one is taken.
        long MostPending(VehicleStageOptions options)
        {
            var stage = new VehicleStage(new EdgeIndex(SimRun.Shenzhen), options);
            var output = new Collector();
            long most = 0, taken = 0;
            foreach (var (probe, source) in track)
            {
                stage.Accept(in probe, VehicleRegistry.Resolve(null, in probe).Class, in source, output);
                taken++;
                most = Math.Max(most, taken - stage.RefusedCount - output.Matches.Count);
            }
            return most;
        }

        // The lag in probes counts probes that carry evidence: a standing taxi's fixes (reported speed 0) and fixes within
        // the min move of the last move are followers, decided with the next move, and the lag in seconds bounds them.
        Assert.True(track.Count > 50);
        Assert.Equal(1L, MostPending(new VehicleStageOptions().WithMatchLag(1, 1)));
        Assert.True(MostPending(new VehicleStageOptions()) > 1); // by default the matcher waits for later fixes to agree
        Assert.Throws<ArgumentOutOfRangeException>(() => new VehicleStageOptions().WithMatchLag(0, null));
    }

    private sealed class ProbeList : IProbeHandler
    {
        public List<(Probe Probe, RecordSource Source)> Items { get; } = [];

        public void OnProbe(in Probe probe, in RecordSource source) => Items.Add((probe, source));

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
        }
    }

    private sealed class StageFeeder(VehicleStage stage, Collector output) : IProbeHandler
    {
        public void OnProbe(in Probe probe, in RecordSource source) =>
            stage.Accept(in probe, VehicleRegistry.Resolve(null, in probe).Class, in source, output);

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
        }
    }

    private sealed class Collector : IVehicleStageOutput
    {
        public List<(int Vehicle, long Line, long Time, int Edge)> Matches { get; } = [];
        public List<(int Vehicle, TraversedEdge Edge)> Traversals { get; } = [];
        public List<long> LateLines { get; } = [];
        public List<(long, PushResult)> RefusedLines { get; } = [];

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            Matches.Add((vehicle, match.ProbeId, match.TimeMs, match.Edge));
            foreach (var t in route) Traversals.Add((vehicle, t));
        }

        public void Late(in Probe probe, in RecordSource source) => LateLines.Add(source.Record);

        public void Refused(in Probe probe, in RecordSource source, PushResult reason) => RefusedLines.Add((source.Record, reason));
    }
}
