using BenchmarkDotNet.Attributes;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Testing;

namespace Traffic.Bench.Routing;

/// <summary>
/// Bounded one-to-many shortest paths on the Cebu network (00000042, 101,128 arcs) as the map matcher
/// asks them between consecutive probes: the bound is what 1 s, 10 s and 30 s sampling gives in a city
/// (50, 300, 1000 m), and the targets are the candidate edges around a point half the bound away along a
/// random drive (the end edge, its twin and the edges in and out of both its nodes: up to 8).
/// </summary>
[MemoryDiagnoser]
public class BoundedDijkstraBenchmarks
{
    private const int Cases = 512;
    private const int MaxTargets = 8;

    private BoundedDijkstra _dijkstra = null!;
    private EdgePosition[] _sources = null!;
    private EdgePosition[] _targets = null!;
    private int[] _targetCounts = null!;
    private readonly double[] _distances = new double[MaxTargets];
    private readonly int[] _path = new int[4096];

    [Params(50, 300, 1000)]
    public double BoundM { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RoadNetwork net = KubickaGraphReader.Read(SharedData.Kubicka("00000042"), out _);
        _dijkstra = new BoundedDijkstra(net);
        var rng = new Random(2009);
        _sources = new EdgePosition[Cases];
        _targets = new EdgePosition[Cases * MaxTargets];
        _targetCounts = new int[Cases];
        for (int k = 0; k < Cases; k++)
        {
            int e = rng.Next(net.EdgeCount);
            double offset = rng.NextDouble() * net.LengthM(e);
            _sources[k] = new EdgePosition(e, offset);

            // Drive at random (no immediate U-turn where there is a choice) for half the bound.
            double driven = net.LengthM(e) - offset;
            while (driven < BoundM / 2)
            {
                int v = net.To(e);
                int first = net.FirstOutEdge(v), deg = net.EndOutEdge(v) - first;
                if (deg == 0) break;
                int next = first + rng.Next(deg);
                if (next == net.Twin(e) && deg > 1) next = first + ((next - first + 1) % deg);
                e = next;
                driven += net.LengthM(e);
            }

            // The candidates of the probe there: the edge, its twin, and the edges (both directions) at
            // both of its nodes, up to 8.
            var candidates = new List<int> { e };
            if (net.Twin(e) >= 0) candidates.Add(net.Twin(e));
            foreach (int node in new[] { net.To(e), net.From(e) })
            {
                for (int f = net.FirstOutEdge(node); f < net.EndOutEdge(node); f++)
                {
                    if (!candidates.Contains(f)) candidates.Add(f);
                    if (net.Twin(f) >= 0 && !candidates.Contains(net.Twin(f))) candidates.Add(net.Twin(f));
                }
            }
            int n = Math.Min(candidates.Count, MaxTargets);
            for (int i = 0; i < n; i++)
            {
                int c = candidates[i];
                _targets[(k * MaxTargets) + i] = new EdgePosition(c, rng.NextDouble() * net.LengthM(c));
            }
            _targetCounts[k] = n;
        }
    }

    [Benchmark(OperationsPerInvoke = Cases)]
    public double Run()
    {
        double sum = 0;
        for (int k = 0; k < Cases; k++)
        {
            int n = _targetCounts[k];
            _dijkstra.Run(_sources[k], _targets.AsSpan(k * MaxTargets, n), BoundM, _distances);
            sum += _distances[0];
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Cases)]
    public int RunAndPaths()
    {
        int sum = 0;
        for (int k = 0; k < Cases; k++)
        {
            int n = _targetCounts[k];
            _dijkstra.Run(_sources[k], _targets.AsSpan(k * MaxTargets, n), BoundM, _distances);
            for (int i = 0; i < n; i++) sum += _dijkstra.PathTo(i, _path);
        }
        return sum;
    }
}
