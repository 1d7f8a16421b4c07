using System.Numerics;
using System.Runtime.CompilerServices;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Matching;

/// <summary>
/// Hidden-Markov-model map matching (Newson &amp; Krumm 2009), probe by probe. One instance per thread
/// (it owns the route search and scratch buffers); the per-vehicle frontier lives in a
/// <see cref="VehicleMatchState"/>. A probe is emitted as soon as every surviving path agrees on it,
/// or when the lag bound forces the decision; matches come out in probe order. No allocation per
/// probe once warmed up (offline matching grows its state with the trace).
/// </summary>
public sealed class OnlineMatcher
{
    private const float Dead = float.NegativeInfinity;

    private readonly RoadNetwork _net;
    private readonly EdgeIndex _index;
    private readonly BoundedDijkstra _router;
    private readonly MatcherOptions _options;
    private readonly double _invSigma2;
    private readonly double _invBeta;
    private readonly double _invHeadingSigma2;

    // Scratch, reused for every probe.
    private readonly EdgeCandidate[] _found;
    private readonly EdgePosition[] _targets;
    private readonly double[] _distances;
    private readonly float[] _newScore;
    private readonly byte[] _newBack;
    private int[] _chosen;
    private int[] _path = new int[256];
    private TraversedEdge[] _route = new TraversedEdge[256];

    public OnlineMatcher(EdgeIndex index, MatcherOptions? options = null)
    {
        _index = index;
        _net = index.Network;
        _options = options ?? new MatcherOptions();
        _router = new BoundedDijkstra(_net) { UTurnPenaltyM = _options.UTurnPenaltyM };
        _invSigma2 = 1.0 / (_options.SigmaM * _options.SigmaM);
        _invBeta = 1.0 / _options.BetaM;
        _invHeadingSigma2 = 1.0 / (_options.HeadingSigmaDeg * _options.HeadingSigmaDeg);
        int k = _options.MaxCandidates;
        _found = new EdgeCandidate[k];
        _targets = new EdgePosition[k];
        _distances = new double[k];
        _newScore = new float[k];
        _newBack = new byte[k];
        _chosen = new int[64];
    }

    public MatcherOptions Options => _options;

    public RoadNetwork Network => _net;

    /// <summary>A fresh state for a vehicle, sized for these options.</summary>
    public VehicleMatchState NewState() => new(_options);

    /// <summary>Feeds one probe of a vehicle; decided matches (this one's or earlier ones') go to the sink.</summary>
    public PushResult Push<TSink>(VehicleMatchState s, in GpsPoint p, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (!double.IsFinite(p.Lon) || !double.IsFinite(p.Lat) || p.Lon is < -180 or > 180 || p.Lat is < -90 or > 90)
            return PushResult.Invalid;
        if (s.HasInput)
        {
            if (p.TimeMs < s.LastTime) return PushResult.OutOfOrder;
            if (p.TimeMs == s.LastTime && p.Lon == s.LastLon && p.Lat == s.LastLat) return PushResult.Duplicate;
            if (s.Length > 0 && (p.TimeMs - s.LastTime) > _options.MaxGapS * 1000)
            {
                FlushAll(s, ref sink);
                s.Clear();
                s.NextBreak = ChainBreak.TimeGap;
            }
        }
        s.HasInput = true;
        s.LastTime = p.TimeMs;
        s.LastLon = p.Lon;
        s.LastLat = p.Lat;

        if (s.Length > 0)
        {
            // A probe that moved less than the noise from the last one used adds no independent
            // evidence (GPS error is correlated while standing): it follows that probe's match.
            if (GeoMath.FastDistance(s.KeptLon, s.KeptLat, p.Lon, p.Lat) < _options.MinMoveM)
            {
                if (s.Length == s.Capacity) s.Grow();
                int fslot = s.Slot(s.Length);
                s.Length++;
                ref var fcol = ref s.Col(fslot);
                fcol.Time = p.TimeMs;
                fcol.Id = p.Id;
                fcol.Count = 0;
                fcol.Break = ChainBreak.None;
                s.SetPosition(fslot, p.Lon, p.Lat);
                if (s.Pending == 1) EmitFollowers(s, 1, ref sink); // follows the decided anchor: decided too
                else Decide(s, ref sink);
                return PushResult.Accepted;
            }
        }

        int found = _index.Within(p.Lon, p.Lat, _options.SearchRadiusM, _found);
        if (found == 0)
        {
            FlushAll(s, ref sink);
            s.Clear();
            EmitUnmatched(p, ref sink);
            s.NextBreak = ChainBreak.NoCandidates;
            return PushResult.Accepted;
        }

        Span<float> score = _newScore.AsSpan(0, found);
        Span<byte> back = _newBack.AsSpan(0, found);
        for (int j = 0; j < found; j++) score[j] = (float)Emission(in _found[j], in p);

        if (s.Length > 0 && !Transition(s, in p, found, score, back))
        {
            // No route from any candidate of the previous probe: end that chain, start anew here.
            FlushAll(s, ref sink);
            s.Clear();
            s.NextBreak = ChainBreak.NoRoute;
            for (int j = 0; j < found; j++) score[j] = (float)Emission(in _found[j], in p);
        }

        // Normalise so that the best is 0: scores stay small in float over any trace length.
        float max = Dead;
        for (int j = 0; j < found; j++) max = Math.Max(max, score[j]);

        if (s.Length == s.Capacity) s.Grow();
        int slot = s.Slot(s.Length);
        s.Length++;
        ref var col = ref s.Col(slot);
        col.Time = p.TimeMs;
        col.Id = p.Id;
        col.Count = (byte)found;
        col.Break = s.Length == 1 ? s.NextBreak : ChainBreak.None;
        s.SetPosition(slot, p.Lon, p.Lat);
        s.KeptTime = p.TimeMs;
        s.KeptLon = p.Lon;
        s.KeptLat = p.Lat;
        if (s.Length == 1) s.NextBreak = ChainBreak.Start;
        var cands = s.Cands(slot);
        var scores = s.NewestScores;
        double sum = 0;
        for (int j = 0; j < found; j++)
        {
            float v = score[j] - max;
            scores[j] = v < -_options.PruneLogProbability ? Dead : v;
            if (scores[j] != Dead) sum += Math.Exp(v);
        }
        for (int j = 0; j < found; j++)
        {
            ref var c = ref cands[j];
            c.Edge = _found[j].Edge;
            c.Offset = EncodeOffset(c.Edge, _found[j].OffsetM);
            c.Back = scores[j] == Dead ? VehicleMatchState.Candidate.Dead : back[j];
            c.Confidence = scores[j] == Dead ? (byte)0 : (byte)Math.Round(255 * Math.Exp(scores[j]) / sum);
        }

        Decide(s, ref sink);
        return PushResult.Accepted;
    }

    /// <summary>Decides and emits every pending probe (end of trace, or the vehicle went idle). The chain goes on.</summary>
    public void Flush<TSink>(VehicleMatchState s, ref TSink sink) where TSink : IMatchSink, allows ref struct => FlushAll(s, ref sink);

    /// <summary>Flushes the vehicle when its last probe is older than <paramref name="idleMs"/> at <paramref name="nowMs"/>.</summary>
    public bool FlushIfIdle<TSink>(VehicleMatchState s, long nowMs, long idleMs, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (s.Pending == 0 || nowMs - s.LastTime < idleMs) return false;
        FlushAll(s, ref sink);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Emission(in EdgeCandidate c, in GpsPoint p)
    {
        double e = -0.5 * c.DistanceM * c.DistanceM * _invSigma2;
        if (!float.IsNaN(p.Heading) && p.SpeedKmh >= _options.HeadingMinSpeedKmh)
        {
            double d = GeoMath.BearingDifference(p.Heading, _net.BearingAt(c.Edge, c.OffsetM));
            e -= 0.5 * d * d * _invHeadingSigma2;
        }
        return e;
    }

    /// <summary>
    /// Viterbi step from the newest column to the new candidates (in <see cref="_found"/>): adds the best
    /// predecessor's score and transition to each emission score. False when nothing connects.
    /// </summary>
    private bool Transition(VehicleMatchState s, in GpsPoint p, int found, Span<float> score, Span<byte> back)
    {
        int prevSlot = s.Slot(NewestReal(s));
        double gc = GeoMath.Distance(s.KeptLon, s.KeptLat, p.Lon, p.Lat);
        double dt = (p.TimeMs - s.KeptTime) / 1000.0;
        double bound = (2 * gc) + (2 * _options.SearchRadiusM);
        if (dt > 0) bound = Math.Min(bound, (_options.MaxSpeedKmh / 3.6 * dt) + (2 * _options.SearchRadiusM));

        Span<EdgePosition> targets = _targets.AsSpan(0, found);
        for (int j = 0; j < found; j++) targets[j] = new EdgePosition(_found[j].Edge, _found[j].OffsetM);
        Span<double> dist = _distances.AsSpan(0, found);
        Span<float> best = stackalloc float[found];
        best.Fill(Dead);

        var prev = s.Cands(prevSlot)[..s.Col(prevSlot).Count];
        // A decided column (the anchor) has one candidate of score 0; the newest pending one has its scores.
        bool isAnchor = s.HasAnchor && prevSlot == s.Slot(0);
        var prevScores = s.NewestScores;
        for (int i = 0; i < prev.Length; i++)
        {
            if (!prev[i].Alive) continue;
            float prevScore = isAnchor ? 0 : prevScores[i];
            var from = new EdgePosition(prev[i].Edge, DecodeOffset(in prev[i]));
            RouteDistances(from, targets, bound, dist);
            for (int j = 0; j < found; j++)
            {
                if (double.IsPositiveInfinity(dist[j])) continue;
                float v = prevScore - (float)(Math.Abs(dist[j] - gc) * _invBeta);
                if (v > best[j])
                {
                    best[j] = v;
                    back[j] = (byte)i;
                }
            }
        }
        bool any = false;
        for (int j = 0; j < found; j++)
        {
            if (best[j] == Dead) score[j] = Dead;
            else
            {
                score[j] += best[j];
                any = true;
            }
        }
        return any;
    }

    /// <summary>Route distances with backward jitter along one edge taken as noise, not a loop.</summary>
    private void RouteDistances(EdgePosition from, ReadOnlySpan<EdgePosition> targets, double bound, Span<double> dist)
    {
        _router.Run(from, targets, bound, dist);
        for (int j = 0; j < targets.Length; j++)
        {
            if (targets[j].Edge == from.Edge && targets[j].OffsetM < from.OffsetM
                && from.OffsetM - targets[j].OffsetM <= _options.BackwardToleranceM)
                dist[j] = from.OffsetM - targets[j].OffsetM;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort EncodeOffset(int edge, double offsetM)
    {
        double len = _net.EdgeLengthM[edge];
        double f = len > 0 ? offsetM / len : 0;
        return (ushort)Math.Round(Math.Clamp(f, 0, 1) * ushort.MaxValue);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double DecodeOffset(in VehicleMatchState.Candidate c) => c.Offset * _net.EdgeLengthM[c.Edge] / ushort.MaxValue;

    private static int RealPending(VehicleMatchState s)
    {
        int n = 0;
        for (int c = s.HasAnchor ? 1 : 0; c < s.Length; c++)
        {
            if (s.Col(s.Slot(c)).Count > 0) n++;
        }
        return n;
    }

    /// <summary>The newest column that has candidates (followers have none; the anchor always has one).</summary>
    private static int NewestReal(VehicleMatchState s)
    {
        int c = s.Length - 1;
        while (c > 0 && s.Col(s.Slot(c)).Count == 0) c--;
        return c;
    }

    /// <summary>Emits what is decided: probes every surviving path agrees on, then any beyond the lag.</summary>
    private void Decide<TSink>(VehicleMatchState s, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int first = s.HasAnchor ? 1 : 0;
        // Walk back from the newest column with the set of candidates that surviving paths pass through;
        // where that set is a single candidate, every path agrees and the column is decided.
        int c = NewestReal(s);
        if (c >= first)
        {
            uint mask = AliveMask(s, s.Slot(c));
            while (true)
            {
                if (BitOperations.PopCount(mask) == 1)
                {
                    EmitThrough(s, c, BitOperations.TrailingZeroCount(mask), forced: false, ref sink);
                    break;
                }
                var cands = s.Cands(s.Slot(c));
                uint prev = 0;
                for (uint m = mask; m != 0; m &= m - 1)
                    prev |= 1u << cands[BitOperations.TrailingZeroCount(m)].Back;
                mask = prev;
                do c--; while (c >= first && s.Col(s.Slot(c)).Count == 0);
                if (c < first) break;
            }
        }

        // Fixed lag: decide the oldest pending probe by the best path now, when more probes that carry
        // evidence (not followers) have come after it than the lag allows, when it is older than the lag
        // in time, or when the ring is full.
        while (s.Pending > 0)
        {
            first = s.HasAnchor ? 1 : 0;
            long waitedMs = s.Col(s.Slot(s.Length - 1)).Time - s.Col(s.Slot(first)).Time;
            if ((s.CanGrow || s.Length < s.Capacity) && RealPending(s) <= _options.LagProbes && waitedMs <= _options.LagSeconds * 1000) break;
            EmitThrough(s, first, BestPathCandidate(s, first), forced: true, ref sink);
        }
    }

    private static uint AliveMask(VehicleMatchState s, int slot)
    {
        uint mask = 0;
        var cands = s.Cands(slot)[..s.Col(slot).Count];
        for (int i = 0; i < cands.Length; i++)
        {
            if (cands[i].Alive) mask |= 1u << i;
        }
        return mask;
    }

    /// <summary>The candidate at real column <paramref name="column"/> on the best path to the newest real column.</summary>
    private static int BestPathCandidate(VehicleMatchState s, int column)
    {
        int newest = NewestReal(s), slot = s.Slot(newest);
        var cands = s.Cands(slot)[..s.Col(slot).Count];
        var scores = s.NewestScores;
        int cand = 0;
        float best = Dead;
        for (int i = 0; i < cands.Length; i++)
        {
            if (cands[i].Alive && scores[i] > best)
            {
                best = scores[i];
                cand = i;
            }
        }
        for (int c = newest; c > column; c--)
        {
            int sl = s.Slot(c);
            if (s.Col(sl).Count > 0) cand = s.Cands(sl)[cand].Back;
        }
        return cand;
    }

    /// <summary>Decides everything pending, by the best path, and emits it.</summary>
    private void FlushAll<TSink>(VehicleMatchState s, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (s.Pending == 0) return;
        int newest = NewestReal(s);
        if (newest == 0 && s.HasAnchor) EmitFollowers(s, 1, ref sink);
        else EmitThrough(s, newest, BestPathCandidate(s, newest), forced: false, ref sink);
    }

    /// <summary>
    /// Fixes candidate <paramref name="cand"/> at real column <paramref name="column"/>, emits the pending
    /// columns up to it along its back pointers and the followers after it, makes the last emitted the
    /// anchor and kills later candidates not descending from the decided one.
    /// </summary>
    private void EmitThrough<TSink>(VehicleMatchState s, int column, int cand, bool forced, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int first = s.HasAnchor ? 1 : 0;
        int n = column - first + 1;
        if (_chosen.Length < n) Array.Resize(ref _chosen, Math.Max(n, _chosen.Length * 2));
        Span<int> chosen = _chosen.AsSpan(0, n);
        int c2 = cand;
        for (int c = column; c >= first; c--)
        {
            int sl = s.Slot(c);
            if (s.Col(sl).Count == 0)
            {
                chosen[c - first] = -1;
                continue;
            }
            chosen[c - first] = c2;
            c2 = s.Cands(sl)[c2].Back;
        }
        for (int c = first; c <= column; c++) Emit(s, c, chosen[c - first], forced && c == column, ref sink);
        AdvanceAnchor(s, column);
        EmitFollowers(s, 1, ref sink);

        // Later columns: keep only paths through the decided candidate (now at index 0 of the anchor).
        uint alive = 1u << cand;
        bool firstReal = true;
        for (int c = 1; c < s.Length; c++)
        {
            int sl = s.Slot(c);
            var cands = s.Cands(sl)[..s.Col(sl).Count];
            if (cands.IsEmpty) continue;
            uint next = 0;
            for (int i = 0; i < cands.Length; i++)
            {
                if (!cands[i].Alive || (alive & (1u << cands[i].Back)) == 0) cands[i].Back = VehicleMatchState.Candidate.Dead;
                else
                {
                    next |= 1u << i;
                    if (firstReal) cands[i].Back = 0;
                }
            }
            firstReal = false;
            alive = next;
        }
    }

    /// <summary>Emits the followers from <paramref name="column"/> on, up to the next real column; the last emitted becomes the anchor.</summary>
    private void EmitFollowers<TSink>(VehicleMatchState s, int column, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int c = column;
        while (c < s.Length && s.Col(s.Slot(c)).Count == 0)
        {
            Emit(s, c, -1, forced: false, ref sink);
            c++;
        }
        if (c > column) AdvanceAnchor(s, c - 1);
    }

    /// <summary>Makes emitted column <paramref name="column"/> the anchor, dropping the columns before it.</summary>
    private static void AdvanceAnchor(VehicleMatchState s, int column)
    {
        s.Start = s.Slot(column);
        s.Length -= column;
        s.HasAnchor = true;
    }

    /// <summary>
    /// Emits column <paramref name="column"/> matched to candidate <paramref name="cand"/> (a follower, -1,
    /// takes the match of the column before it), with the route from the previous column, and collapses it
    /// to that one candidate so that the next emission routes from it.
    /// </summary>
    private void Emit<TSink>(VehicleMatchState s, int column, int cand, bool forced, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int slot = s.Slot(column);
        ref var col = ref s.Col(slot);
        var all = s.Cands(slot);
        int edge;
        double offset, confidence;
        if (cand < 0)
        {
            ref var before = ref s.Cands(s.Slot(column - 1))[0];
            edge = before.Edge;
            offset = DecodeOffset(in before);
            confidence = before.Confidence / 255.0;
        }
        else
        {
            ref var chosenCand = ref all[cand];
            edge = chosenCand.Edge;
            offset = DecodeOffset(in chosenCand);
            confidence = chosenCand.Confidence / 255.0;
        }
        var (lon, lat) = _net.PointAt(edge, offset);
        var (probeLon, probeLat) = s.Position(slot);
        double distToRoad = GeoMath.Distance(probeLon, probeLat, lon, lat);

        int routeLength = 0;
        double routeDistance = 0, speed = double.NaN;
        ChainBreak brk = col.Break;
        if (column > 0 && brk == ChainBreak.None)
        {
            int prevSlot = s.Slot(column - 1);
            // The previous column is already collapsed to its chosen candidate at index 0.
            ref var prev = ref s.Cands(prevSlot)[0];
            long prevTime = s.Col(prevSlot).Time;
            routeLength = BuildRoute(new EdgePosition(prev.Edge, DecodeOffset(in prev)), new EdgePosition(edge, offset), prevTime, col.Time, out routeDistance);
            double dt = (col.Time - prevTime) / 1000.0;
            if (dt > 0) speed = routeDistance / dt * 3.6;
        }
        var match = new MatchedProbe
        {
            ProbeId = col.Id,
            TimeMs = col.Time,
            Edge = edge,
            OffsetM = offset,
            Lon = lon,
            Lat = lat,
            DistanceM = distToRoad,
            RouteDistanceM = routeDistance,
            SpeedKmh = speed,
            Confidence = confidence,
            Break = brk,
            Forced = forced,
        };
        byte conf = cand < 0 ? s.Cands(s.Slot(column - 1))[0].Confidence : all[cand].Confidence;
        all[0].Edge = edge;
        all[0].Offset = EncodeOffset(edge, offset);
        all[0].Back = 0;
        all[0].Confidence = conf;
        col.Count = 1;
        if (cand < 0)
        {
            // A follower that becomes the anchor stands for the last probe the model used: take its position.
            ref var before = ref s.Col(s.Slot(column - 1));
            col.DLon = before.DLon;
            col.DLat = before.DLat;
        }
        sink.OnMatch(in match, _route.AsSpan(0, routeLength));
    }

    /// <summary>Route between two decided positions as traversed edges with interpolated times.</summary>
    private int BuildRoute(EdgePosition from, EdgePosition to, long t0, long t1, out double distance)
    {
        if (from.Edge == to.Edge && to.OffsetM >= from.OffsetM - _options.BackwardToleranceM && to.OffsetM <= from.OffsetM)
        {
            // Standing still (or jitter backwards): no distance driven.
            distance = 0;
            _route[0] = new TraversedEdge(from.Edge, from.OffsetM, from.OffsetM, t0, t1);
            return 1;
        }
        Span<EdgePosition> target = [to];
        Span<double> d = stackalloc double[1];
        var (lon0, lat0) = _net.PointAt(from.Edge, from.OffsetM);
        var (lon1, lat1) = _net.PointAt(to.Edge, to.OffsetM);
        double gc = GeoMath.Distance(lon0, lat0, lon1, lat1);
        double dtS = Math.Max(0, (t1 - t0) / 1000.0);
        double bound = Math.Max((2 * gc) + (4 * _options.SearchRadiusM), (_options.MaxSpeedKmh / 3.6 * dtS) + (2 * _options.SearchRadiusM));
        _router.Run(from, target, bound, d);
        distance = d[0];
        int n = _router.PathLength(0);
        if (n > _path.Length) Array.Resize(ref _path, Math.Max(n, _path.Length * 2));
        if (n > 0) n = _router.PathTo(0, _path);
        if (n < 0 || double.IsPositiveInfinity(distance))
        {
            // Only possible if the decision was forced across a gap the search bound no longer covers.
            distance = 0;
            _route[0] = new TraversedEdge(to.Edge, to.OffsetM, to.OffsetM, t1, t1);
            return 1;
        }
        if (_route.Length < n) Array.Resize(ref _route, Math.Max(n, _route.Length * 2));
        double acc = 0;
        for (int i = 0; i < n; i++)
        {
            int e = _path[i];
            double a = i == 0 ? from.OffsetM : 0;
            double b = i == n - 1 ? to.OffsetM : _net.LengthM(e);
            double len = Math.Max(0, b - a);
            long enter = distance > 0 ? t0 + (long)Math.Round((t1 - t0) * (acc / distance)) : t0;
            acc += len;
            long exit = distance > 0 ? t0 + (long)Math.Round((t1 - t0) * Math.Min(1, acc / distance)) : t1;
            _route[i] = new TraversedEdge(e, a, b, enter, exit);
        }
        return n;
    }

    private static void EmitUnmatched<TSink>(in GpsPoint p, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        var match = new MatchedProbe
        {
            ProbeId = p.Id,
            TimeMs = p.TimeMs,
            Edge = -1,
            OffsetM = 0,
            Lon = p.Lon,
            Lat = p.Lat,
            DistanceM = double.NaN,
            RouteDistanceM = 0,
            SpeedKmh = double.NaN,
            Confidence = 0,
            Break = ChainBreak.NoCandidates,
            Forced = false,
        };
        sink.OnMatch(in match, []);
    }
}
