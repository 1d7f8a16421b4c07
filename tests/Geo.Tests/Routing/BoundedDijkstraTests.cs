using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Routing;

public class BoundedDijkstraTests
{
    private const double Tolerance = 1e-6;
    private static readonly double[] s_bounds = [0, 50, 300, 1000, 3000];

    private static readonly Lazy<RoadNetwork> s_cebu = new(() => KubickaGraphReader.Read(SharedData.Kubicka("00000042"), out _));
    private static readonly Lazy<RoadNetwork> s_belgium = new(() => KubickaGraphReader.Read(SharedData.Kubicka("00000015"), out _));

    private static RoadNetwork Net(string name) => name == "cebu" ? s_cebu.Value : s_belgium.Value;

    /// <summary>
    /// Each target's own bound: a target is found exactly as without the others' bounds (the same double) when its
    /// distance is within its own, and not otherwise; a negative bound finds nothing.
    /// </summary>
    [Theory]
    [InlineData("cebu", 0.0)]
    [InlineData("cebu", 50.0)]
    [InlineData("belgium", 50.0)]
    public void Own_bounds_per_target_change_nothing_within_them(string network, double uTurnPenaltyM)
    {
        var net = Net(network);
        var rng = new Random(7);
        var dijkstra = new BoundedDijkstra(net) { UTurnPenaltyM = uTurnPenaltyM };
        var targets = new List<EdgePosition>();
        var all = new double[16];
        var own = new double[16];
        var bounds = new double[16];
        int within = 0, beyond = 0;
        for (int s = 0; s < 300; s++)
        {
            int sourceEdge = rng.Next(net.EdgeCount);
            var source = new EdgePosition(sourceEdge, rng.NextDouble() * net.LengthM(sourceEdge));
            double[] cost = PlainEdgeCosts(net, sourceEdge, uTurnPenaltyM, 1000);
            PickTargets(net, rng, source, cost, targets);
            var t = targets.ToArray();
            dijkstra.Run(source, t, 1000, all);
            for (int i = 0; i < t.Length; i++)
            {
                // Around the target's own distance (when it has one), or anywhere, or no bound, or none at all.
                double d = double.IsPositiveInfinity(all[i]) ? 500 : all[i];
                bounds[i] = rng.Next(5) switch { 0 => double.NaN, 1 => -1, 2 => rng.NextDouble() * 1200, _ => d + ((rng.NextDouble() - 0.5) * 40) };
            }
            dijkstra.Run(source, t, 1000, bounds.AsSpan(0, t.Length), own);
            for (int i = 0; i < t.Length; i++)
            {
                double limit = double.IsNaN(bounds[i]) ? 1000 : Math.Min(1000, bounds[i]);
                if (all[i] <= limit)
                {
                    Assert.True(all[i].Equals(own[i]), $"source {source}, target {t[i]}, own bound {bounds[i]}: {own[i]}, without bounds {all[i]}");
                    within++;
                }
                else
                {
                    Assert.True(double.IsPositiveInfinity(own[i]), $"source {source}, target {t[i]}, own bound {bounds[i]}: {own[i]}, without bounds {all[i]}");
                    beyond++;
                }
            }
        }
        Assert.True(within > 300 && beyond > 300, $"{within} within their bounds, {beyond} beyond");
    }

    [Theory]
    [InlineData("cebu", 0.0, 400)]
    [InlineData("cebu", 75.0, 200)]
    [InlineData("belgium", 0.0, 400)]
    [InlineData("belgium", 75.0, 200)]
    public void Distances_and_paths_match_a_plain_dijkstra(string network, double uTurnPenaltyM, int sources)
    {
        var net = Net(network);
        var rng = new Random(42);
        var dijkstra = new BoundedDijkstra(net) { UTurnPenaltyM = uTurnPenaltyM };
        var targets = new List<EdgePosition>();
        var distances = new double[16];
        var path = new int[net.EdgeCount + 2];
        int checkedFinite = 0, checkedInfinite = 0;

        for (int s = 0; s < sources; s++)
        {
            int sourceEdge = rng.Next(net.EdgeCount);
            var source = new EdgePosition(sourceEdge, rng.NextDouble() * net.LengthM(sourceEdge));
            double[] cost = PlainEdgeCosts(net, sourceEdge, uTurnPenaltyM, s_bounds[^1]);
            PickTargets(net, rng, source, cost, targets);

            foreach (double bound in s_bounds)
            {
                dijkstra.Run(source, targets.ToArray(), bound, distances);
                for (int i = 0; i < targets.Count; i++)
                {
                    double plain = Plain(net, source, targets[i], cost);
                    double fast = distances[i];
                    if (plain <= bound - Tolerance)
                    {
                        Assert.True(Math.Abs(plain - fast) <= Tolerance, $"source {source}, target {targets[i]}, bound {bound}: plain {plain}, bounded {fast}");
                        CheckPath(net, dijkstra, i, source, targets[i], fast, uTurnPenaltyM, path);
                        checkedFinite++;
                    }
                    else if (plain > bound + Tolerance)
                    {
                        Assert.True(double.IsPositiveInfinity(fast), $"source {source}, target {targets[i]}, bound {bound}: plain {plain}, bounded {fast}");
                        Assert.Equal(-1, dijkstra.PathTo(i, path));
                        checkedInfinite++;
                    }
                    else if (!double.IsPositiveInfinity(fast))
                    {
                        // A tie with the bound: either answer is right, but a finite one must be correct.
                        Assert.True(Math.Abs(plain - fast) <= Tolerance);
                    }
                }
            }
        }
        // The targets are chosen so that both outcomes occur often.
        Assert.True(checkedFinite > sources * 5, $"only {checkedFinite} finite comparisons");
        Assert.True(checkedInfinite > sources, $"only {checkedInfinite} infinite comparisons");
    }

    [Fact]
    public void An_unbounded_run_reaches_everything_the_plain_search_reaches()
    {
        var net = s_belgium.Value;
        var rng = new Random(7);
        var dijkstra = new BoundedDijkstra(net);
        var distances = new double[32];
        var targets = new EdgePosition[32];
        for (int s = 0; s < 50; s++)
        {
            int sourceEdge = rng.Next(net.EdgeCount);
            var source = new EdgePosition(sourceEdge, rng.NextDouble() * net.LengthM(sourceEdge));
            double[] cost = PlainEdgeCosts(net, sourceEdge, 0, double.PositiveInfinity);
            for (int i = 0; i < targets.Length; i++)
            {
                int e = rng.Next(net.EdgeCount);
                targets[i] = new EdgePosition(e, rng.NextDouble() * net.LengthM(e));
            }
            dijkstra.Run(source, targets, double.PositiveInfinity, distances);
            for (int i = 0; i < targets.Length; i++)
            {
                double plain = Plain(net, source, targets[i], cost);
                if (double.IsPositiveInfinity(plain)) Assert.True(double.IsPositiveInfinity(distances[i]));
                else Assert.Equal(plain, distances[i], Tolerance);
            }
        }
    }

    [Fact]
    public void Same_edge_ahead_is_the_direct_difference_and_behind_goes_round()
    {
        // A one-way ring A -> B -> C -> A.
        var (net, ab, bc, ca) = Ring();
        var dijkstra = new BoundedDijkstra(net);
        double lab = net.LengthM(ab), lbc = net.LengthM(bc), lca = net.LengthM(ca);
        var source = new EdgePosition(ab, 0.5 * lab);
        EdgePosition[] targets = [new(ab, 0.75 * lab), new(ab, 0.5 * lab), new(ab, 0.1 * lab), new(bc, 10), new(ca, 20)];
        var distances = new double[targets.Length];
        dijkstra.Run(source, targets, 10_000, distances);

        Assert.Equal(0.25 * lab, distances[0], Tolerance);
        Assert.Equal(0, distances[1], Tolerance);
        Assert.Equal((0.5 * lab) + lbc + lca + (0.1 * lab), distances[2], Tolerance);
        Assert.Equal((0.5 * lab) + 10, distances[3], Tolerance);
        Assert.Equal((0.5 * lab) + lbc + 20, distances[4], Tolerance);

        var path = new int[8];
        Assert.Equal(1, dijkstra.PathTo(0, path));
        Assert.Equal(ab, path[0]);
        Assert.Equal(4, dijkstra.PathTo(2, path));
        Assert.Equal([ab, bc, ca, ab], path[..4]);
        Assert.Equal(2, dijkstra.PathTo(3, path));
        Assert.Equal([ab, bc], path[..2]);
        Assert.Equal(3, dijkstra.PathTo(4, path));
        Assert.Equal([ab, bc, ca], path[..3]);

        // Going round the ring is longer than a small bound; the ahead target is not.
        dijkstra.Run(source, targets, 0.3 * lab, distances);
        Assert.Equal(0.25 * lab, distances[0], Tolerance);
        Assert.True(double.IsPositiveInfinity(distances[2]));
        Assert.Equal(-1, dijkstra.PathTo(2, path));
    }

    [Fact]
    public void A_one_way_street_forces_a_detour_and_the_u_turn_pays_its_penalty()
    {
        // Square A(0,0) B(1,0) C(1,1) D(0,1), ~111 m sides: A -> B is one-way, the other sides two-way.
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int a = b.AddNode(0, 0), bn = b.AddNode(0.001, 0), c = b.AddNode(0.001, 0.001), d = b.AddNode(0, 0.001);
        Street(b, a, bn, oneWay: true);
        Street(b, bn, c, oneWay: false);
        Street(b, c, d, oneWay: false);
        Street(b, d, a, oneWay: false);
        var net = b.Build();
        int cb = Edge(net, c, bn), bc = Edge(net, bn, c), cd = Edge(net, c, d), da = Edge(net, d, a);
        Assert.Equal(-1, Edge(net, bn, a));

        // From C -> B towards A: no B -> A, so turn at B and go round by C and D.
        var source = new EdgePosition(cb, 30);
        EdgePosition[] targets = [new(da, 40)];
        var distances = new double[1];
        var dijkstra = new BoundedDijkstra(net);
        dijkstra.Run(source, targets, 10_000, distances);
        double expected = (net.LengthM(cb) - 30) + net.LengthM(bc) + net.LengthM(cd) + 40;
        Assert.Equal(expected, distances[0], Tolerance);
        var path = new int[8];
        Assert.Equal(4, dijkstra.PathTo(0, path));
        Assert.Equal([cb, bc, cd, da], path[..4]);

        dijkstra.UTurnPenaltyM = 100;
        dijkstra.Run(source, targets, 10_000, distances);
        Assert.Equal(expected + 100, distances[0], Tolerance);

        // The twin itself as the target also pays it.
        dijkstra.Run(source, [new(bc, 5)], 10_000, distances);
        Assert.Equal(net.LengthM(cb) - 30 + 100 + 5, distances[0], Tolerance);
        Assert.Equal(2, dijkstra.PathTo(0, path));
        Assert.Equal([cb, bc], path[..2]);

        // An infinite penalty forbids the U-turn, and there is no other way.
        dijkstra.UTurnPenaltyM = double.PositiveInfinity;
        dijkstra.Run(source, targets, double.PositiveInfinity, distances);
        Assert.True(double.IsPositiveInfinity(distances[0]));
        dijkstra.Run(source, [new(bc, 5)], double.PositiveInfinity, distances);
        Assert.True(double.IsPositiveInfinity(distances[0]));
        Assert.Equal(-1, dijkstra.PathTo(0, path));
    }

    [Fact]
    public void A_loop_back_to_the_start_node_beats_a_large_u_turn_penalty()
    {
        // A -> B two-way, and a small one-way loop B -> L -> B; a U-turn at B costs 1 km.
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int a = b.AddNode(0, 0), bn = b.AddNode(0.001, 0), l1 = b.AddNode(0.0012, 0.0001), l2 = b.AddNode(0.0012, -0.0001);
        Street(b, a, bn, oneWay: false);
        Street(b, bn, l1, oneWay: true);
        Street(b, l1, l2, oneWay: true);
        Street(b, l2, bn, oneWay: true);
        var net = b.Build();
        int ab = Edge(net, a, bn), ba = Edge(net, bn, a);
        double loop = net.LengthM(Edge(net, bn, l1)) + net.LengthM(Edge(net, l1, l2)) + net.LengthM(Edge(net, l2, bn));

        var dijkstra = new BoundedDijkstra(net) { UTurnPenaltyM = 1000 };
        var distances = new double[2];
        var source = new EdgePosition(ab, 10);
        dijkstra.Run(source, [new(ba, 5), new(ab, 5)], 10_000, distances);
        double toB = net.LengthM(ab) - 10;
        Assert.Equal(toB + loop + 5, distances[0], Tolerance);
        // Back on the source edge behind the source: A is a dead end, so that U-turn pays too.
        Assert.Equal(toB + loop + net.LengthM(ba) + 1000 + 5, distances[1], Tolerance);
        var path = new int[8];
        Assert.Equal(5, dijkstra.PathTo(0, path));
        Assert.Equal(ab, path[0]);
        Assert.Equal(ba, path[4]);
        Assert.Equal(6, dijkstra.PathTo(1, path));
    }

    [Fact]
    public void A_dead_end_spur_is_no_free_place_to_turn()
    {
        // Z - A two-way (~111 m); at A a dead-end spur A - S (~22 m) and a one-way loop A -> L1 -> L2 -> A (~72 m).
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int z = b.AddNode(0, 0), a = b.AddNode(0.001, 0), sp = b.AddNode(0.001, 0.0002);
        int l1 = b.AddNode(0.0012, -0.0001), l2 = b.AddNode(0.0012, 0.0001);
        Street(b, z, a, oneWay: false);
        Street(b, a, sp, oneWay: false);
        Street(b, a, l1, oneWay: true);
        Street(b, l1, l2, oneWay: true);
        Street(b, l2, a, oneWay: true);
        var net = b.Build();
        int za = Edge(net, z, a), az = Edge(net, a, z), aS = Edge(net, a, sp), sa = Edge(net, sp, a);
        int al1 = Edge(net, a, l1), l1l2 = Edge(net, l1, l2), l2a = Edge(net, l2, a);
        double spur = net.LengthM(aS) + net.LengthM(sa);
        double loop = net.LengthM(al1) + net.LengthM(l1l2) + net.LengthM(l2a);
        Assert.InRange(spur, 40, 50);
        Assert.InRange(loop, 60, 100);

        var source = new EdgePosition(za, 10);
        double prefix = net.LengthM(za) - 10;
        // Back along the source edge's twin, and the way out of the spur (only reached through its dead end).
        EdgePosition[] targets = [new(az, 5), new(sa, 5)];
        var distances = new double[2];
        var path = new int[8];
        var dijkstra = new BoundedDijkstra(net);

        // No penalty: turn straight round at A; into the spur, turn at S and come back out.
        dijkstra.Run(source, targets, 10_000, distances);
        Assert.Equal(prefix + 5, distances[0], Tolerance);
        Assert.Equal(2, dijkstra.PathTo(0, path));
        Assert.Equal([za, az], path[..2]);
        Assert.Equal(prefix + net.LengthM(aS) + 5, distances[1], Tolerance);
        Assert.Equal(3, dijkstra.PathTo(1, path));
        Assert.Equal([za, aS, sa], path[..3]);

        // 100 m a U-turn: the turn at S pays as much as the one at A, so the spur (44 m + 100) is no way
        // round; the loop (72 m) is. The spur's own way out has no alternative and pays.
        dijkstra.UTurnPenaltyM = 100;
        dijkstra.Run(source, targets, 10_000, distances);
        Assert.Equal(prefix + loop + 5, distances[0], Tolerance);
        Assert.Equal(5, dijkstra.PathTo(0, path));
        Assert.Equal([za, al1, l1l2, l2a, az], path[..5]);
        Assert.Equal(prefix + net.LengthM(aS) + 100 + 5, distances[1], Tolerance);
        Assert.Equal(3, dijkstra.PathTo(1, path));
        Assert.Equal([za, aS, sa], path[..3]);

        // In the middle of the path too: out of the spur to Z, a dead end, and back towards A.
        var fromSpur = new EdgePosition(sa, 0);
        double outAndBack = net.LengthM(sa) + net.LengthM(az) + 7;
        dijkstra.Run(fromSpur, [new(za, 7)], 10_000, distances);
        Assert.Equal(outAndBack + 100, distances[0], Tolerance);
        Assert.Equal(3, dijkstra.PathTo(0, path));
        Assert.Equal([sa, az, za], path[..3]);
        dijkstra.UTurnPenaltyM = 0;
        dijkstra.Run(fromSpur, [new(za, 7)], 10_000, distances);
        Assert.Equal(outAndBack, distances[0], Tolerance);
        // A bound that the penalty pushes it past.
        dijkstra.UTurnPenaltyM = 100;
        dijkstra.Run(fromSpur, [new(za, 7)], outAndBack + 50, distances);
        Assert.True(double.IsPositiveInfinity(distances[0]));
    }

    [Fact]
    public void Results_stay_right_across_the_generation_wrap_around()
    {
        var net = s_belgium.Value;
        var rng = new Random(11);
        var fresh = new BoundedDijkstra(net);
        var wrapping = new BoundedDijkstra(net);
        int e = rng.Next(net.EdgeCount);
        var source = new EdgePosition(e, 0.5 * net.LengthM(e));
        var targets = new EdgePosition[6];
        var expected = new double[6];
        var actual = new double[6];

        // Generation 1 settles the whole reachable graph; the next run wraps round to generation 1,
        // where that state would look current (settled, so never queued again) if it were not cleared.
        wrapping.Run(source, targets, double.PositiveInfinity, actual);
        Assert.Equal(1, wrapping.Generation);
        wrapping.Generation = int.MaxValue;
        int finite = 0;
        for (int k = 0; k < 5; k++)
        {
            for (int i = 0; i < targets.Length; i++)
            {
                int t = rng.Next(net.EdgeCount);
                targets[i] = new EdgePosition(t, rng.NextDouble() * net.LengthM(t));
            }
            fresh.Run(source, targets, double.PositiveInfinity, expected);
            wrapping.Run(source, targets, double.PositiveInfinity, actual);
            Assert.Equal(expected, actual);
            finite += expected.Count(double.IsFinite);
        }
        Assert.Equal(5, wrapping.Generation);
        Assert.True(finite > 15, $"only {finite} reachable targets");
    }

    [Fact]
    public void Buffers_that_are_too_short_are_refused()
    {
        var (net, ab, bc, _) = Ring();
        var dijkstra = new BoundedDijkstra(net);
        Assert.Throws<ArgumentException>(() => dijkstra.Run(new(ab, 0), [new(bc, 1), new(bc, 2)], 1000, new double[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => dijkstra.Run(new(net.EdgeCount, 0), [new(bc, 1)], 1000, new double[1]));
        dijkstra.Run(new(ab, 0), [new(bc, 1)], 1000, new double[1]);
        Assert.Equal(2, dijkstra.PathLength(0));
        Assert.Throws<ArgumentException>(() => dijkstra.PathTo(0, new int[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => dijkstra.PathTo(1, new int[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => dijkstra.UTurnPenaltyM = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => dijkstra.UTurnPenaltyM = double.NaN);
        dijkstra.UTurnPenaltyM = double.PositiveInfinity;
    }

    [Fact]
    public void Steady_state_runs_allocate_nothing()
    {
        var net = s_cebu.Value;
        var rng = new Random(3);
        var dijkstra = new BoundedDijkstra(net);
        const int Cases = 50;
        var sources = new EdgePosition[Cases];
        var targets = new EdgePosition[Cases * 8];
        for (int k = 0; k < Cases; k++)
        {
            int e = rng.Next(net.EdgeCount);
            sources[k] = new EdgePosition(e, rng.NextDouble() * net.LengthM(e));
            // Targets a short walk away, so that the searches do real work.
            int w = e;
            for (int j = 0; j < 8; j++)
            {
                int v = net.To(w);
                int deg = net.EndOutEdge(v) - net.FirstOutEdge(v);
                if (deg > 0) w = net.FirstOutEdge(v) + rng.Next(deg);
                targets[(k * 8) + j] = new EdgePosition(w, rng.NextDouble() * net.LengthM(w));
            }
        }
        Span<double> distances = stackalloc double[8];
        Span<int> path = stackalloc int[4096];
        long checksum = 0;
        for (int round = 0; round < 2; round++) checksum += RunAll(dijkstra, sources, targets, distances, path, 10);

        // A run that allocates would do so in every measurement of 1,000 runs; the runtime's tier-up (which
        // other tests running alongside can delay past the warm-up) allocates on this thread once. So one
        // clean measurement out of a few is the steady state.
        long allocated = -1;
        for (int attempt = 0; attempt < 5 && allocated != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            checksum += RunAll(dijkstra, sources, targets, distances, path, 20);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.Equal(0, allocated);
        Assert.True(checksum > 0);
    }

    private static long RunAll(BoundedDijkstra dijkstra, EdgePosition[] sources, EdgePosition[] targets, Span<double> distances, Span<int> path, int repeat)
    {
        long sum = 0;
        for (int r = 0; r < repeat; r++)
        {
            for (int k = 0; k < sources.Length; k++)
            {
                dijkstra.Run(sources[k], targets.AsSpan(k * 8, 8), 1000, distances);
                for (int i = 0; i < 8; i++) sum += Math.Max(0, dijkstra.PathTo(i, path));
            }
        }
        return sum; // 20 x 50 = 1,000 runs in the measured call
    }

    // ---- The plain reference: Dijkstra over edges, unbounded up to `cap`, written for obviousness. ----

    /// <summary>
    /// cost[e] = shortest distance from the end of the source edge to the start of edge e, with the
    /// penalty for every U-turn (an edge followed by its twin), the first hop's included.
    /// </summary>
    private static double[] PlainEdgeCosts(RoadNetwork net, int sourceEdge, double uTurnPenaltyM, double cap)
    {
        var cost = new double[net.EdgeCount];
        Array.Fill(cost, double.PositiveInfinity);
        var queue = new PriorityQueue<int, double>();
        int start = net.To(sourceEdge);
        for (int e = net.FirstOutEdge(start); e < net.EndOutEdge(start); e++)
        {
            double c = e == net.Twin(sourceEdge) ? uTurnPenaltyM : 0;
            cost[e] = c;
            queue.Enqueue(e, c);
        }
        while (queue.TryDequeue(out int e, out double c))
        {
            if (c > cost[e]) continue;
            if (c > cap) break;
            double next = c + net.LengthM(e);
            int v = net.To(e);
            for (int f = net.FirstOutEdge(v); f < net.EndOutEdge(v); f++)
            {
                // Every U-turn pays, wherever it is on the path.
                double toF = f == net.Twin(e) ? next + uTurnPenaltyM : next;
                if (toF < cost[f])
                {
                    cost[f] = toF;
                    queue.Enqueue(f, toF);
                }
            }
        }
        return cost;
    }

    private static double Plain(RoadNetwork net, EdgePosition source, EdgePosition target, double[] cost)
    {
        if (target.Edge == source.Edge && target.OffsetM >= source.OffsetM) return target.OffsetM - source.OffsetM;
        return net.LengthM(source.Edge) - source.OffsetM + cost[target.Edge] + target.OffsetM;
    }

    private static void PickTargets(RoadNetwork net, Random rng, EdgePosition source, double[] cost, List<EdgePosition> targets)
    {
        targets.Clear();
        var near = new List<int>();
        for (int e = 0; e < cost.Length; e++)
        {
            if (cost[e] <= 3000) near.Add(e);
        }
        for (int k = 0; k < 5 && near.Count > 0; k++) targets.Add(Random(near[rng.Next(near.Count)]));
        targets.Add(Random(rng.Next(net.EdgeCount)));
        targets.Add(Random(source.Edge));
        if (net.Twin(source.Edge) >= 0) targets.Add(Random(net.Twin(source.Edge)));
        int start = net.To(source.Edge);
        if (net.EndOutEdge(start) > net.FirstOutEdge(start)) targets.Add(Random(net.FirstOutEdge(start)));

        EdgePosition Random(int e) => new(e, rng.NextDouble() * net.LengthM(e));
    }

    private static void CheckPath(RoadNetwork net, BoundedDijkstra dijkstra, int i, EdgePosition source, EdgePosition target,
        double distance, double uTurnPenaltyM, int[] path)
    {
        int count = dijkstra.PathTo(i, path);
        Assert.Equal(dijkstra.PathLength(i), count);
        Assert.True(count >= 1);
        Assert.Equal(source.Edge, path[0]);
        Assert.Equal(target.Edge, path[count - 1]);
        if (count == 1)
        {
            Assert.Equal(target.OffsetM - source.OffsetM, distance, Tolerance);
            return;
        }
        double sum = net.LengthM(source.Edge) - source.OffsetM + target.OffsetM;
        for (int k = 0; k + 1 < count; k++)
        {
            Assert.Equal(net.To(path[k]), net.From(path[k + 1]));
            if (k > 0) sum += net.LengthM(path[k]);
            if (path[k + 1] == net.Twin(path[k])) sum += uTurnPenaltyM;
        }
        Assert.Equal(distance, sum, Tolerance);
    }

    // ---- Hand-built networks ----

    private static (RoadNetwork Net, int Ab, int Bc, int Ca) Ring()
    {
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int a = b.AddNode(0, 0), bn = b.AddNode(0.002, 0), c = b.AddNode(0.001, 0.0015);
        Street(b, a, bn, oneWay: true);
        Street(b, bn, c, oneWay: true);
        Street(b, c, a, oneWay: true);
        var net = b.Build();
        return (net, Edge(net, a, bn), Edge(net, bn, c), Edge(net, c, a));
    }

    private static void Street(NetworkBuilder b, int from, int to, bool oneWay)
    {
        int e = AddEdge(b, from, to, oneWay ? EdgeFlags.OneWay : EdgeFlags.None);
        if (!oneWay) b.SetTwins(e, AddEdge(b, to, from, EdgeFlags.None));
    }

    private static int AddEdge(NetworkBuilder b, int from, int to, EdgeFlags flags)
    {
        double[] lons = [b.NodeLon(from), b.NodeLon(to)], lats = [b.NodeLat(from), b.NodeLat(to)];
        return b.AddEdge(from, to, lons, lats, RoadClass.Residential, flags, 50, 1, null);
    }

    private static int Edge(RoadNetwork net, int from, int to)
    {
        for (int e = net.FirstOutEdge(from); e < net.EndOutEdge(from); e++)
        {
            if (net.To(e) == to) return e;
        }
        return -1;
    }
}
