using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Traffic.Geo.Network;

namespace Traffic.Geo.Routing;

/// <summary>A point on a directed edge: <see cref="OffsetM"/> metres from the edge's source node.</summary>
public readonly record struct EdgePosition(int Edge, double OffsetM);

/// <summary>
/// Bounded one-to-many shortest driving distances between positions on edges: what the HMM map
/// matcher asks between consecutive probes. Dijkstra over edges (a label per directed edge, so that a
/// U-turn anywhere on the path can be charged) with a 4-ary heap (decrease-key via a position array);
/// per-edge state lives in one array of structs reused across runs and invalidated by a generation
/// stamp, so a run touches only the edges it reaches and allocates nothing. Per-node marks (same
/// stamps) keep the edge labels from costing a node's in-degree times its out-degree.
/// </summary>
/// <remarks>
/// An edge's key is the distance from the end of the source edge to the end of that edge, penalties
/// included. Keying by the end rather than the start means that an edge is queued only when it can be
/// driven through within the bound, and that a target is resolved when an edge into its edge's start
/// node is settled (the distance to the target's edge start is that key plus the U-turn penalty, if
/// the target's edge is the settled edge's twin), not when its own edge is, which would search up to an
/// edge length further. Not thread-safe: one instance per thread or shard. The result of
/// <see cref="PathTo"/> is valid until the next <see cref="Run"/>. The only allocation after
/// construction is growth of the per-target buffer when a run has more targets than any run before it.
/// </remarks>
public sealed class BoundedDijkstra
{
    // Heap position of an edge that is stamped but not in the heap.
    private const int NotQueued = -2;
    // Heap position of an edge whose distance is final.
    private const int Settled = -1;

    // The network's arrays, held directly so that the inner loop does no property calls.
    private readonly int[] _firstOut;
    private readonly int[] _edgeFrom;
    private readonly int[] _edgeTo;
    private readonly double[] _edgeLength;
    private readonly int[] _edgeTwin;

    // Per-edge search state, valid only where Stamp == _generation (no clearing between runs). The
    // out-edges of a node are contiguous, so relaxing them walks adjacent entries.
    private readonly EdgeState[] _edges;
    // Per-node pruning, same stamp rule: how many edges into the node have been settled and the first.
    // With only U-turn costs, the first settled edge into a node (key d1) gives every edge leaving it its
    // final start distance d1, except its own twin (d1 + penalty); a second settled edge into the node can
    // only improve that twin, and any later one nothing. So only the first two are relaxed (only the first
    // with no penalty), and an edge into a node that is done is not queued at all.
    private readonly NodeMark[] _nodeMarks;
    // 4-ary min-heap with decrease-key: edge ids and their keys in heap order, at most one entry per edge.
    private readonly int[] _heapEdge;
    private readonly double[] _heapKey;
    private int _heapCount;
    private int _generation;
    private double _uTurnPenaltyM;

    // The last run: its source and per-target outcome, read by PathTo.
    private int _sourceEdge = -1;
    private double _sourceOffset;
    private TargetState[] _targets = new TargetState[16];
    // Scratch of Run: the indices of the targets that need the search, as many as _targets.
    private int[] _open = new int[16];
    private int _targetCount;

    // The running search: targets not yet resolved and the largest key that can still matter to one.
    private int _pending;
    private double _limit;
    private double _prefix;

    public BoundedDijkstra(RoadNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        Network = network;
        _firstOut = network.FirstOut;
        _edgeFrom = network.EdgeFrom;
        _edgeTo = network.EdgeTo;
        _edgeLength = network.EdgeLengthM;
        _edgeTwin = network.EdgeTwin;
        _edges = new EdgeState[network.EdgeCount];
        _nodeMarks = new NodeMark[network.NodeCount];
        _heapEdge = new int[Math.Max(1, network.EdgeCount)];
        _heapKey = new double[Math.Max(1, network.EdgeCount)];
    }

    public RoadNetwork Network { get; }

    /// <summary>
    /// Metres added for every U-turn on the path: taking an edge's <see cref="RoadNetwork.Twin"/> right
    /// after the edge, at any node (the end of the source edge, a dead end, or anywhere on the way, and
    /// onto the target's edge too). Leaving a node by the twin of an edge other than the one arrived on
    /// is not a U-turn. Default 0. Must not be negative (Dijkstra needs non-negative costs);
    /// <see cref="double.PositiveInfinity"/> forbids U-turns.
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
    /// <c>(length - source.OffsetM) + edges in between + U-turn penalties + target.OffsetM</c>. Offsets are
    /// not clamped.
    /// </summary>
    public void Run(EdgePosition source, ReadOnlySpan<EdgePosition> targets, double maxDistanceM, Span<double> distances) =>
        Run(source, targets, maxDistanceM, default, distances);

    /// <summary>
    /// <see cref="Run(EdgePosition, ReadOnlySpan{EdgePosition}, double, Span{double})"/> with a bound of its own for each
    /// target as well: target i is looked for no further than the smaller of <paramref name="maxDistanceM"/> and
    /// <c>targetMaxM[i]</c> (a negative bound: not at all), so the search stops as soon as no target can still be found
    /// within its own bound. A target's distance within its bound is the same as without the other bounds.
    /// <paramref name="targetMaxM"/> empty: no bounds of their own.
    /// </summary>
    public void Run(EdgePosition source, ReadOnlySpan<EdgePosition> targets, double maxDistanceM, ReadOnlySpan<double> targetMaxM, Span<double> distances)
    {
        int edgeCount = _edgeTo.Length;
        if ((uint)source.Edge >= (uint)edgeCount) ThrowEdgeOutOfRange(nameof(source));
        if (distances.Length < targets.Length) ThrowDistancesTooShort(nameof(distances));
        bool ownBounds = !targetMaxM.IsEmpty;
        if (ownBounds && targetMaxM.Length < targets.Length) ThrowBoundsTooShort(nameof(targetMaxM));
        if (targets.Length > _targets.Length) GrowTargets(targets.Length);

        NextGeneration();
        _heapCount = 0;
        _sourceEdge = source.Edge;
        _sourceOffset = source.OffsetM;
        _targetCount = targets.Length;

        int sourceEdge = source.Edge;
        int start = _edgeTo[sourceEdge];
        int uTurn = _edgeTwin[sourceEdge];
        double penalty = _uTurnPenaltyM;
        // Distance from the source position to the end of its edge: every path but the direct one pays it.
        double prefix = _edgeLength[sourceEdge] - source.OffsetM;

        // Classify targets; those that need the search mark their edge and raise the search limit. Which kind a target is
        // follows the data (the matcher's targets beyond their own bound, on the source edge, just past its end, or to be
        // searched, in no order) and is not predicted: the kinds and distances are selected without branches, and the
        // targets to search are listed (an index written for every target, the count moved for those) and chained after.
        int pending = 0;
        double limit = double.NegativeInfinity;
        TargetState[] ts = _targets;
        int[] open = _open;
        double sourceOffset = source.OffsetM;
        bool penaltyFree = penalty == 0;
        for (int i = 0; i < targets.Length; i++)
        {
            EdgePosition t = targets[i];
            if ((uint)t.Edge >= (uint)edgeCount) ThrowEdgeOutOfRange(nameof(targets));
            ref TargetState s = ref ts[i];
            s.Edge = t.Edge;
            s.OffsetM = t.OffsetM;
            s.Pred = sourceEdge;
            // NaN counts as no bound of its own; a negative one finds nothing.
            double maxM = ownBounds ? BranchFree.Min(targetMaxM[i], maxDistanceM) : maxDistanceM;
            s.MaxM = maxM;
            // Ahead on the source edge: the direct difference.
            bool same = (t.Edge == sourceEdge) & (t.OffsetM >= sourceOffset);
            // Fast path: the target's edge leaves the node the source edge ends at, without a U-turn, so nothing can
            // beat driving straight onto it.
            bool fast = !same & (_edgeFrom[t.Edge] == start) & ((t.Edge != uTurn) | penaltyFree);
            double direct = BranchFree.Select(same, t.OffsetM - sourceOffset, prefix + t.OffsetM);
            // Everything else, the source edge's twin included (a loop back to the start node may beat the U-turn
            // penalty), is resolved by the search when an edge into the start of the target's edge is settled with a
            // key no greater than this (keys run from the end of the source edge). Keys are non-negative, so a negative
            // threshold is beyond the bound even in the best case. (Read only while the target is Pending.)
            double threshold = (maxM - prefix) - t.OffsetM;
            s.Threshold = threshold;
            bool known = same | fast;
            s.DistanceM = BranchFree.Select(known & (direct <= maxM), direct, double.PositiveInfinity);
            bool beyond = !known & (threshold < 0);
            // SameEdge 1, Reached 2, Unreachable 3, else Pending 0.
            s.Kind = (TargetKind)(BranchFree.Bit(same) | (BranchFree.Bit(fast) << 1) | (BranchFree.Bit(beyond) * 3));
            open[pending] = i;
            pending += BranchFree.Bit(!known & !beyond);
        }
        for (int k = 0; k < pending; k++)
        {
            // Chained from its edge, so that reaching the edge visits its targets only, not every target (in the order of
            // the targets, as each is put first).
            int i = open[k];
            ref TargetState s = ref ts[i];
            ref EdgeState te = ref Touch(s.Edge);
            s.NextOnEdge = te.Target - 1;
            te.Target = i + 1;
            limit = BranchFree.Max(s.Threshold, limit);
        }

        if (pending > 0)
        {
            _pending = pending;
            _limit = limit;
            _prefix = prefix;
            Search(sourceEdge);
        }

        for (int i = 0; i < targets.Length; i++)
        {
            ref TargetState s = ref ts[i];
            // Still pending: nothing within the bound beat its best candidate, if it has one (Pending, 0, becomes
            // Reached, 2); beyond the bound: Unreachable (3, all bits). Or-ed in without a branch: which targets are
            // still pending or beyond reach follows the data and is not predicted.
            double d = s.DistanceM;
            int kind = (int)s.Kind;
            kind |= (Unsafe.BitCast<bool, byte>(kind == (int)TargetKind.Pending) << 1) | (Unsafe.BitCast<bool, byte>(d == double.PositiveInfinity) * 3);
            s.Kind = (TargetKind)kind;
            distances[i] = d;
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
            case TargetKind.Reached:
                int count = 2;
                for (int e = s.Pred; e != _sourceEdge; e = _edges[e].Pred) count++;
                return count;
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
        int e = s.Pred;
        for (int k = count - 2; k >= 1; k--)
        {
            edges[k] = e;
            e = _edges[e].Pred;
        }
        return count;
    }

    /// <summary>
    /// After <see cref="Run"/>: the sum over the path to target <paramref name="targetIndex"/> of each edge's
    /// <paramref name="perMetre"/> times the metres of it driven (the source edge from the source on, the target's edge up
    /// to the target), and in <paramref name="lengthM"/> the metres driven (U-turn penalties not included). With seconds
    /// per metre, the time the path takes. NaN (and 0 m) when the target was not reachable within the bound.
    /// Walks the path's predecessor chain: no allocation.
    /// </summary>
    public double PathSum(int targetIndex, ReadOnlySpan<float> perMetre, out double lengthM)
    {
        if ((uint)targetIndex >= (uint)_targetCount) ThrowTargetIndex(nameof(targetIndex));
        ref TargetState s = ref _targets[targetIndex];
        lengthM = 0;
        switch (s.Kind)
        {
            case TargetKind.SameEdge:
                lengthM = s.OffsetM - _sourceOffset;
                return lengthM * perMetre[_sourceEdge];
            case TargetKind.Reached:
                double head = _edgeLength[_sourceEdge] - _sourceOffset;
                double sum = (head * perMetre[_sourceEdge]) + (s.OffsetM * perMetre[s.Edge]);
                double length = head + s.OffsetM;
                for (int e = s.Pred; e != _sourceEdge; e = _edges[e].Pred)
                {
                    double len = _edgeLength[e];
                    sum += len * perMetre[e];
                    length += len;
                }
                lengthM = length;
                return sum;
            default:
                return double.NaN;
        }
    }

    private void Search(int sourceEdge)
    {
        EdgeState[] edges = _edges;
        NodeMark[] marks = _nodeMarks;
        int[] firstOut = _firstOut, edgeTo = _edgeTo, edgeTwin = _edgeTwin;
        double[] edgeLength = _edgeLength;
        double penalty = _uTurnPenaltyM;
        bool uTurnsBarred = double.IsPositiveInfinity(penalty);
        double limit = _limit;
        int generation = _generation;

        // The source edge is settled with key 0 before anything else: no path through it again can be
        // shorter, and a predecessor chain ends there. It may also carry a target behind the source.
        ref EdgeState src = ref Touch(sourceEdge);
        src.DistanceM = 0;
        src.HeapPos = Settled;
        src.Pred = -1;

        // Once a node is entered, an edge into it is worth queueing only when a second entry can still help.
        byte doneAt = penalty > 0 ? (byte)2 : (byte)1;
        int e = sourceEdge;
        double d = 0;
        while (true)
        {
            // Relax the edges leaving the end of e (settled with key d): f costs its length, plus the
            // penalty when it is e's twin. A target on f is offered d (plus the penalty) as the distance
            // to the start of f.
            int v = edgeTo[e];
            ref NodeMark mv = ref marks[v];
            int f = firstOut[v], end = firstOut[v + 1];
            if (mv.Stamp != generation)
            {
                mv.Stamp = generation;
                mv.Entered = 1;
                mv.FirstIn = e;
            }
            else if (mv.Entered < doneAt)
            {
                // The second entry (penalty > 0 only): only the first entry's twin can gain.
                mv.Entered = 2;
                f = edgeTwin[mv.FirstIn];
                end = f + 1;
                if (f < 0) end = f;
            }
            else
            {
                f = end;
            }
            int twin = edgeTwin[e];
            for (; f < end; f++)
            {
                bool isUTurn = f == twin;
                // An infinite penalty bars U-turns: don't queue infinite keys (the bound may be infinite too).
                if (isUTurn && uTurnsBarred) continue;
                double atStart = isUTurn ? d + penalty : d;
                ref EdgeState s = ref edges[f];
                if (s.Stamp == generation)
                {
                    if (s.Target != 0)
                    {
                        // With no penalty a U-turn offer is as final as any other.
                        OfferTargets(f, e, atStart, isUTurn && penalty > 0);
                        if (_pending == 0) return;
                        limit = _limit;
                    }
                    double nd = atStart + edgeLength[f];
                    // The limit only falls during a run, so an edge beyond it now can never matter.
                    if (nd > limit || s.HeapPos == Settled || nd >= s.DistanceM || IsDone(marks, edgeTo[f], doneAt, generation)) continue;
                    s.DistanceM = nd;
                    s.Pred = e;
                    SiftUp(s.HeapPos >= 0 ? s.HeapPos : _heapCount++, f, nd);
                }
                else
                {
                    double nd = atStart + edgeLength[f];
                    if (nd > limit || IsDone(marks, edgeTo[f], doneAt, generation)) continue;
                    s.Stamp = generation;
                    s.Target = 0;
                    s.DistanceM = nd;
                    s.Pred = e;
                    SiftUp(_heapCount++, f, nd);
                }
            }

            if (_heapCount == 0) return;
            d = _heapKey[0];
            // The heap minimum beyond the worst still-open target's threshold: nothing can improve.
            if (d > limit) return;
            e = PopMin();
            edges[e].HeapPos = Settled;
        }
    }

    // A settled edge `via` reaches the start of edge f, a target edge, at key `atStart`. Settled keys
    // come in increasing order, so without a U-turn that is final for every target on f; after a U-turn
    // an edge settled later may still beat it by less than the penalty, so the target stays open until
    // the heap minimum passes its best candidate.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void OfferTargets(int f, int via, double atStart, bool isUTurn)
    {
        TargetState[] ts = _targets;
        bool open = false, limitMoves = false;
        double limit = _limit;
        for (int i = _edges[f].Target - 1; i >= 0; i = ts[i].NextOnEdge)
        {
            ref TargetState t = ref ts[i];
            if (t.Kind != TargetKind.Pending) continue;
            double candidate = WithinBound(_prefix + atStart + t.OffsetM, t.MaxM);
            if (candidate < t.DistanceM)
            {
                t.DistanceM = candidate;
                t.Pred = via;
            }
            if (!isUTurn)
            {
                // Only a target holding the limit can move it when it leaves: another holds it otherwise.
                limitMoves |= t.Threshold >= limit;
                t.Kind = TargetKind.Reached;
                _pending--;
            }
            else
            {
                if (atStart < t.Threshold)
                {
                    limitMoves |= t.Threshold >= limit;
                    t.Threshold = atStart;
                }
                open = true;
            }
        }
        if (!open) _edges[f].Target = 0;
        if (limitMoves && _pending > 0)
        {
            limit = double.NegativeInfinity;
            for (int i = 0; i < _targetCount; i++)
            {
                if (ts[i].Kind == TargetKind.Pending && ts[i].Threshold > limit) limit = ts[i].Threshold;
            }
            _limit = limit;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDone(NodeMark[] marks, int v, byte doneAt, int generation)
    {
        ref NodeMark m = ref marks[v];
        return m.Stamp == generation && m.Entered >= doneAt;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref EdgeState Touch(int e)
    {
        ref EdgeState s = ref _edges[e];
        if (s.Stamp != _generation)
        {
            s.Stamp = _generation;
            s.DistanceM = double.PositiveInfinity;
            s.HeapPos = NotQueued;
            s.Target = 0;
        }
        return ref s;
    }

    private void SiftUp(int i, int v, double key)
    {
        int[] heapEdge = _heapEdge;
        double[] heapKey = _heapKey;
        EdgeState[] edges = _edges;
        while (i > 0)
        {
            int parent = (i - 1) >> 2;
            double pk = heapKey[parent];
            if (pk <= key) break;
            int pn = heapEdge[parent];
            heapKey[i] = pk;
            heapEdge[i] = pn;
            edges[pn].HeapPos = i;
            i = parent;
        }
        heapKey[i] = key;
        heapEdge[i] = v;
        edges[v].HeapPos = i;
    }

    private int PopMin()
    {
        int[] heapEdge = _heapEdge;
        double[] heapKey = _heapKey;
        EdgeState[] edges = _edges;
        int top = heapEdge[0];
        int count = --_heapCount;
        if (count == 0) return top;

        int v = heapEdge[count];
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
            int bn = heapEdge[best];
            heapKey[i] = bestKey;
            heapEdge[i] = bn;
            edges[bn].HeapPos = i;
            i = best;
        }
        heapKey[i] = key;
        heapEdge[i] = v;
        edges[v].HeapPos = i;
        return top;
    }

    private void NextGeneration()
    {
        if (_generation == int.MaxValue)
        {
            // Once in 2^31 runs: clear the stamps so that an old stamp can never look current.
            Array.Clear(_edges);
            Array.Clear(_nodeMarks);
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
    private void GrowTargets(int count)
    {
        _targets = new TargetState[Math.Max(count, _targets.Length * 2)];
        _open = new int[_targets.Length];
    }

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
    private static void ThrowBoundsTooShort(string paramName) =>
        throw new ArgumentException("targetMaxM must have a bound for every target, or none", paramName);

    [DoesNotReturn]
    private static void ThrowTargetIndex(string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, "no such target in the last run");

    [DoesNotReturn]
    private static void ThrowPathBufferTooShort(int needed, string paramName) =>
        throw new ArgumentException($"edges is too short: the path has {needed} edges (see PathLength)", paramName);

    // Mutable struct in an array, updated through refs: don't make it readonly. One struct rather than
    // four arrays keeps an edge's state in one cache line.
    [StructLayout(LayoutKind.Sequential)]
    private struct EdgeState
    {
        public double DistanceM;     // tentative or final key: distance from the source edge's end to this edge's end
        public int Pred;             // edge before this one on the best path; -1 for the source edge
        public int Stamp;            // run generation that wrote this state; anything else is stale
        public int HeapPos;          // index in the heap, Settled or NotQueued
        public int Target;           // 1 + the first pending target on this edge (the rest chained by NextOnEdge); 0: none
    }

    private struct NodeMark
    {
        public int Stamp;            // run generation that wrote this mark; anything else is stale
        public int FirstIn;          // the first edge into this node to be settled
        public byte Entered;         // edges into this node settled and relaxed: 1, or 2 after the twin fix-up
    }

    // The values are bits that Run's last loop ors together: Pending | 2 is Reached, anything | 3 is Unreachable.
    private enum TargetKind : byte
    {
        Pending = 0,
        SameEdge = 1,
        Reached = 2,
        Unreachable = 3,
    }

    private struct TargetState
    {
        public int Edge;
        public double OffsetM;
        public int Pred;             // edge driven before the target's edge: the source edge, or a settled edge
        public double Threshold;     // largest key of an edge into the start of the target's edge that can still improve it
        public double DistanceM;     // best distance so far (final unless Pending), +inf beyond the bound
        public double MaxM;          // its bound: the run's, or its own when smaller
        public TargetKind Kind;
        public int NextOnEdge;       // the next pending target on the same edge, or -1
    }
}
