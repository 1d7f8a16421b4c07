using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Traffic.Geo.Network;

namespace Traffic.Geo.Routing;

/// <summary>A point on a directed edge: <see cref="OffsetM"/> metres from the edge's source node.</summary>
public readonly record struct EdgePosition(int Edge, double OffsetM);

/// <summary>
/// Bounded one-to-many shortest driving distances between positions on edges: what the HMM map
/// matcher asks between consecutive probes. Dijkstra over nodes with a 4-ary heap (decrease-key via a
/// position array); per-node state lives in one array of structs reused across runs and invalidated
/// by a generation stamp, so a run touches only the nodes it reaches and allocates nothing.
/// </summary>
/// <remarks>
/// Not thread-safe: one instance per thread or shard. The result of <see cref="PathTo"/> is valid
/// until the next <see cref="Run"/>. The only allocation after construction is growth of the
/// per-target buffer when a run has more targets than any run before it.
/// </remarks>
public sealed class BoundedDijkstra
{
    // Heap position of a node that is stamped but not in the heap.
    private const int NotQueued = -2;
    // Heap position of a node whose distance is final.
    private const int Settled = -1;

    // The network's arrays, held directly so that the inner loop does no property calls.
    private readonly int[] _firstOut;
    private readonly int[] _edgeFrom;
    private readonly int[] _edgeTo;
    private readonly double[] _edgeLength;
    private readonly int[] _edgeTwin;

    // Per-node search state, valid only where Stamp == _generation (no clearing between runs).
    private readonly NodeState[] _nodes;
    // 4-ary min-heap with decrease-key: node ids and their keys in heap order, at most one entry per
    // node. Lazy insertion with stale checks measured the same on Cebu (within the noise of a shared
    // machine, see bench/RESULTS.md) but needs a heap sized by edges, not nodes.
    private readonly int[] _heapNode;
    private readonly double[] _heapKey;
    private int _heapCount;
    private int _generation;
    private double _uTurnPenaltyM;

    // The last run: its source and per-target outcome, read by PathTo.
    private int _sourceEdge = -1;
    private TargetState[] _targets = new TargetState[16];
    private int _targetCount;

    public BoundedDijkstra(RoadNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        Network = network;
        _firstOut = network.FirstOut;
        _edgeFrom = network.EdgeFrom;
        _edgeTo = network.EdgeTo;
        _edgeLength = network.EdgeLengthM;
        _edgeTwin = network.EdgeTwin;
        _nodes = new NodeState[network.NodeCount];
        _heapNode = new int[Math.Max(1, network.NodeCount)];
        _heapKey = new double[Math.Max(1, network.NodeCount)];
    }

    public RoadNetwork Network { get; }

    /// <summary>
    /// Metres added when the path leaves the source edge by its <see cref="RoadNetwork.Twin"/> straight
    /// away (a U-turn at the end of the source edge). Default 0. A path that comes back to that node
    /// by a loop and turns there pays no penalty, as in the edge-based definition.
    /// Must not be negative (Dijkstra needs non-negative costs); <see cref="double.PositiveInfinity"/> forbids
    /// the immediate U-turn.
    /// </summary>
    public double UTurnPenaltyM
    {
        get => _uTurnPenaltyM;
        set
        {
            if (!(value >= 0)) ThrowPenalty(nameof(value));
            _uTurnPenaltyM = value;
        }
    }

    /// <summary>
    /// Shortest driving distance from <paramref name="source"/> (travelling in its edge's direction) to each
    /// target, looking no further than <paramref name="maxDistanceM"/>. <c>distances[i]</c> is metres, or
    /// <see cref="double.PositiveInfinity"/> when target i is not reachable within the bound. A target on
    /// the source edge at or ahead of the source is the direct difference; any other target is
    /// <c>(length - source.OffsetM) + node-to-node + target.OffsetM</c>. Offsets are not clamped.
    /// </summary>
    public void Run(EdgePosition source, ReadOnlySpan<EdgePosition> targets, double maxDistanceM, Span<double> distances)
    {
        int edgeCount = _edgeTo.Length;
        if ((uint)source.Edge >= (uint)edgeCount) ThrowEdgeOutOfRange(nameof(source));
        if (distances.Length < targets.Length) ThrowDistancesTooShort(nameof(distances));
        if (targets.Length > _targets.Length) GrowTargets(targets.Length);

        NextGeneration();
        _heapCount = 0;
        _sourceEdge = source.Edge;
        _targetCount = targets.Length;

        int sourceEdge = source.Edge;
        int start = _edgeTo[sourceEdge];
        int uTurn = _edgeTwin[sourceEdge];
        // Distance from the source position to the end of its edge: every path but the direct one pays it.
        double prefix = _edgeLength[sourceEdge] - source.OffsetM;
        // Node distances (from `start`) beyond this cannot give a target within the bound.
        double nodeBound = maxDistanceM - prefix;

        // Classify targets; those that need the search mark their from-node and raise the search limit.
        int pending = 0;
        double limit = double.NegativeInfinity;
        TargetState[] ts = _targets;
        for (int i = 0; i < targets.Length; i++)
        {
            EdgePosition t = targets[i];
            if ((uint)t.Edge >= (uint)edgeCount) ThrowEdgeOutOfRange(nameof(targets));
            ref TargetState s = ref ts[i];
            s.Edge = t.Edge;
            s.OffsetM = t.OffsetM;
            s.FromNode = _edgeFrom[t.Edge];
            if (t.Edge == sourceEdge && t.OffsetM >= source.OffsetM)
            {
                s.Kind = TargetKind.SameEdge;
                s.DistanceM = WithinBound(t.OffsetM - source.OffsetM, maxDistanceM);
            }
            else if (s.FromNode == start && t.Edge == uTurn && UTurnPenaltyM > 0)
            {
                // The twin of the source edge: the U-turn pays the penalty, unless a loop back to the
                // start node is shorter than it, so search that far (the start node is never a seed).
                s.DistanceM = WithinBound(prefix + UTurnPenaltyM + t.OffsetM, maxDistanceM);
                s.Threshold = Math.Min(UTurnPenaltyM, nodeBound - t.OffsetM);
                if (s.Threshold < 0)
                {
                    s.Kind = TargetKind.FromStart;
                }
                else
                {
                    s.Kind = TargetKind.Pending;
                    Touch(start).IsTargetFrom = true;
                    pending++;
                    if (s.Threshold > limit) limit = s.Threshold;
                }
            }
            else if (s.FromNode == start)
            {
                // Fast path: the target's edge leaves the node the source edge ends at.
                s.Kind = TargetKind.FromStart;
                s.DistanceM = WithinBound(prefix + t.OffsetM, maxDistanceM);
            }
            else
            {
                s.Threshold = nodeBound - t.OffsetM;
                s.DistanceM = double.PositiveInfinity;
                if (s.Threshold < 0)
                {
                    // Node distances are non-negative, so even the best case is beyond the bound.
                    s.Kind = TargetKind.Unreachable;
                }
                else
                {
                    s.Kind = TargetKind.Pending;
                    ref NodeState f = ref Touch(s.FromNode);
                    f.IsTargetFrom = true;
                    pending++;
                    if (s.Threshold > limit) limit = s.Threshold;
                }
            }
        }

        if (pending > 0) Search(sourceEdge, start, prefix, maxDistanceM, pending, limit);

        for (int i = 0; i < targets.Length; i++)
        {
            ref TargetState s = ref ts[i];
            // Still pending: nothing within the bound beat its direct candidate (finite only for the U-turn).
            if (s.Kind == TargetKind.Pending) s.Kind = TargetKind.FromStart;
            if (s.Kind != TargetKind.Unreachable && double.IsPositiveInfinity(s.DistanceM)) s.Kind = TargetKind.Unreachable;
            distances[i] = s.DistanceM;
        }
    }

    /// <summary>
    /// The number of edges <see cref="PathTo"/> writes for target <paramref name="targetIndex"/> of the last
    /// run, or -1 when it was not reachable within the bound.
    /// </summary>
    public int PathLength(int targetIndex)
    {
        if ((uint)targetIndex >= (uint)_targetCount) ThrowTargetIndex(nameof(targetIndex));
        ref TargetState s = ref _targets[targetIndex];
        switch (s.Kind)
        {
            case TargetKind.SameEdge: return 1;
            case TargetKind.FromStart: return 2;
            case TargetKind.Reached:
                int count = 2;
                int v = s.FromNode;
                while (true)
                {
                    int p = _nodes[v].Pred;
                    count++;
                    if (p < 0) return count;
                    v = _edgeFrom[p];
                }
            default: return -1;
        }
    }

    /// <summary>
    /// After <see cref="Run"/>: the edges driven from the source edge to target <paramref name="targetIndex"/>,
    /// both inclusive (source edge first, target edge last; a single entry for a target ahead on the
    /// source edge). Returns the count written, or -1 when the target was not reachable within the bound.
    /// Throws <see cref="ArgumentException"/> when <paramref name="edges"/> is shorter than
    /// <see cref="PathLength"/>.
    /// </summary>
    public int PathTo(int targetIndex, Span<int> edges)
    {
        int count = PathLength(targetIndex);
        if (count < 0) return -1;
        if (edges.Length < count) ThrowPathBufferTooShort(count, nameof(edges));
        ref TargetState s = ref _targets[targetIndex];
        edges[0] = _sourceEdge;
        if (count == 1) return 1;
        edges[count - 1] = s.Edge;
        int v = s.FromNode;
        for (int k = count - 2; k >= 1; k--)
        {
            int p = _nodes[v].Pred;
            if (p < 0)
            {
                edges[k] = ~p;
                break;
            }
            edges[k] = p;
            v = _edgeFrom[p];
        }
        return count;
    }

    private void Search(int sourceEdge, int start, double prefix, double maxDistanceM, int pending, double limit)
    {
        NodeState[] nodes = _nodes;
        int[] firstOut = _firstOut, edgeTo = _edgeTo;
        double[] edgeLength = _edgeLength;

        // Seed with the start node's out-edges rather than the start node itself: the start node stays
        // unsettled, so a loop that comes back to it can still leave by the twin without the penalty, and
        // a predecessor stored as ~edge marks an edge that leaves the source directly.
        int uTurn = _edgeTwin[sourceEdge];
        for (int e = firstOut[start], end = firstOut[start + 1]; e < end; e++)
        {
            double nd = edgeLength[e];
            if (e == uTurn) nd += UTurnPenaltyM;
            Relax(nodes, edgeTo[e], nd, ~e, limit);
        }

        while (_heapCount > 0)
        {
            double d = _heapKey[0];
            // The heap minimum beyond the worst still-open target's threshold: nothing can improve.
            if (d > limit) break;
            int u = PopMin();
            ref NodeState su = ref nodes[u];
            su.HeapPos = Settled;

            if (su.IsTargetFrom)
            {
                TargetState[] ts = _targets;
                bool resolved = false;
                for (int i = 0; i < _targetCount; i++)
                {
                    ref TargetState t = ref ts[i];
                    if (t.Kind != TargetKind.Pending || t.FromNode != u) continue;
                    double candidate = WithinBound(prefix + d + t.OffsetM, maxDistanceM);
                    if (candidate < t.DistanceM)
                    {
                        t.DistanceM = candidate;
                        t.Kind = TargetKind.Reached;
                    }
                    else
                    {
                        // Only the U-turn target has a finite candidate before the search; it stands.
                        t.Kind = TargetKind.FromStart;
                    }
                    pending--;
                    resolved = true;
                }
                if (pending == 0) return;
                if (resolved)
                {
                    limit = double.NegativeInfinity;
                    for (int i = 0; i < _targetCount; i++)
                    {
                        if (ts[i].Kind == TargetKind.Pending && ts[i].Threshold > limit) limit = ts[i].Threshold;
                    }
                }
            }

            for (int e = firstOut[u], end = firstOut[u + 1]; e < end; e++)
            {
                Relax(nodes, edgeTo[e], d + edgeLength[e], e, limit);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Relax(NodeState[] nodes, int v, double nd, int pred, double limit)
    {
        // The limit only falls during a run, so a node beyond it now can never matter: don't queue it.
        if (nd > limit) return;
        ref NodeState s = ref nodes[v];
        if (s.Stamp != _generation)
        {
            s.Stamp = _generation;
            s.IsTargetFrom = false;
        }
        else if (s.HeapPos == Settled || nd >= s.DistanceM)
        {
            return;
        }
        else if (s.HeapPos >= 0)
        {
            s.DistanceM = nd;
            s.Pred = pred;
            SiftUp(s.HeapPos, v, nd);
            return;
        }
        s.DistanceM = nd;
        s.Pred = pred;
        SiftUp(_heapCount++, v, nd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref NodeState Touch(int v)
    {
        ref NodeState s = ref _nodes[v];
        if (s.Stamp != _generation)
        {
            s.Stamp = _generation;
            s.DistanceM = double.PositiveInfinity;
            s.HeapPos = NotQueued;
            s.IsTargetFrom = false;
        }
        return ref s;
    }

    private void SiftUp(int i, int v, double key)
    {
        int[] heapNode = _heapNode;
        double[] heapKey = _heapKey;
        NodeState[] nodes = _nodes;
        while (i > 0)
        {
            int parent = (i - 1) >> 2;
            double pk = heapKey[parent];
            if (pk <= key) break;
            int pn = heapNode[parent];
            heapKey[i] = pk;
            heapNode[i] = pn;
            nodes[pn].HeapPos = i;
            i = parent;
        }
        heapKey[i] = key;
        heapNode[i] = v;
        nodes[v].HeapPos = i;
    }

    private int PopMin()
    {
        int[] heapNode = _heapNode;
        double[] heapKey = _heapKey;
        NodeState[] nodes = _nodes;
        int top = heapNode[0];
        int count = --_heapCount;
        if (count == 0) return top;

        int v = heapNode[count];
        double key = heapKey[count];
        int i = 0;
        while (true)
        {
            int c = (i << 2) + 1;
            if (c >= count) break;
            int last = Math.Min(c + 4, count);
            int best = c;
            double bestKey = heapKey[c];
            for (int j = c + 1; j < last; j++)
            {
                double k = heapKey[j];
                if (k < bestKey)
                {
                    bestKey = k;
                    best = j;
                }
            }
            if (bestKey >= key) break;
            int bn = heapNode[best];
            heapKey[i] = bestKey;
            heapNode[i] = bn;
            nodes[bn].HeapPos = i;
            i = best;
        }
        heapKey[i] = key;
        heapNode[i] = v;
        nodes[v].HeapPos = i;
        return top;
    }

    private void NextGeneration()
    {
        if (_generation == int.MaxValue)
        {
            // Once in 2^31 runs: clear the stamps so that an old stamp can never look current.
            Array.Clear(_nodes);
            _generation = 0;
        }
        _generation++;
    }

    /// <summary>Lets a test reach the stamp wrap-around without 2^31 runs.</summary>
    internal int Generation
    {
        get => _generation;
        set => _generation = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double WithinBound(double d, double maxDistanceM) => d <= maxDistanceM ? d : double.PositiveInfinity;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowTargets(int count) => _targets = new TargetState[Math.Max(count, _targets.Length * 2)];

    [DoesNotReturn]
    private static void ThrowEdgeOutOfRange(string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, "edge id is not in the network");

    [DoesNotReturn]
    private static void ThrowPenalty(string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, "the U-turn penalty must be a non-negative number");

    [DoesNotReturn]
    private static void ThrowDistancesTooShort(string paramName) =>
        throw new ArgumentException("distances must have room for every target", paramName);

    [DoesNotReturn]
    private static void ThrowTargetIndex(string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, "no such target in the last run");

    [DoesNotReturn]
    private static void ThrowPathBufferTooShort(int needed, string paramName) =>
        throw new ArgumentException($"edges is too short: the path has {needed} edges (see PathLength)", paramName);

    // Mutable struct in an array, updated through refs: don't make it readonly. One struct rather than
    // four arrays keeps a node's state in one cache line.
    [StructLayout(LayoutKind.Sequential)]
    private struct NodeState
    {
        public double DistanceM;     // tentative or final distance from the source edge's end node
        public int Pred;             // edge into this node on the best path; ~edge when it leaves that end node
        public int Stamp;            // run generation that wrote this state; anything else is stale
        public int HeapPos;          // index in the heap, Settled or NotQueued
        public bool IsTargetFrom;    // some pending target's edge leaves this node
    }

    private enum TargetKind : byte
    {
        Pending,
        SameEdge,
        FromStart,
        Reached,
        Unreachable,
    }

    private struct TargetState
    {
        public int Edge;
        public double OffsetM;
        public int FromNode;
        public double Threshold;     // largest distance of FromNode that keeps this target within the bound
        public double DistanceM;
        public TargetKind Kind;
    }
}
