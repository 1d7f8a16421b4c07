using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>Marks a follower column that is an outlier (no route reached it), in its break field.</summary>
    private const ChainBreak OutlierMark = (ChainBreak)255;

    private readonly RoadNetwork _net;
    private readonly EdgeIndex _index;
    private readonly BoundedDijkstra _router;
    private readonly MatcherOptions _options;
    private readonly double _invSigma2;
    private readonly double _invHeadingSigma2;
    private readonly double _backwardM;      // backward movement along one edge taken as noise, metres
    // Speed plausibility: per edge, the seconds a metre of it takes at the most plausible speed (0: no known limit), and
    // the largest of them. Null when the network knows no limit.
    private readonly float[]? _slowness;
    private readonly double _maxSlowness;
    private readonly double _noise2;          // 2 sigma^2: the variance of a route length between two fixes
    private readonly double _betaNoise;       // BetaNoiseFactor sigma^2: beta's noise term is this over the distance (and the fixes averaged)

    // Scratch, reused for every probe.
    private readonly int _search;            // candidates scored a probe, at most
    private EdgeCandidate[] _found;          // the candidate search's buffer: _search, or Alongside's capacity when larger
    private readonly EdgePosition[] _targets;
    private readonly int[] _targetFrom;      // each target's start node
    private readonly double[] _distances;
    private readonly double[] _reach;
    private readonly double[] _likelihood;   // scratch of AcceptModel: exp of each kept candidate's score
    private readonly float[] _newScore;
    private readonly byte[] _newBack;
    private readonly int[] _order;
    private int[] _chosen;
    private byte[] _shares;      // scratch of EmitThrough: each emitted column's confidence
    private double[] _through;   // scratch of PathShares: the paths' weight through each emitted column's candidate
    // The route of the leg being emitted: edges, the range of each driven, and where each starts along it.
    private int[] _path = new int[256];
    private double[] _legFrom = new double[256];
    private double[] _legTo = new double[256];
    private double[] _legStart = new double[256];
    private int _pathLength;
    private double _legX;            // route coordinate of the last probe emitted on the current path
    private TraversedEdge[] _route = new TraversedEdge[256];

    public OnlineMatcher(EdgeIndex index, MatcherOptions? options = null) : this(index, options, router: null)
    {
    }

    /// <summary>
    /// A matcher that runs its route searches on <paramref name="router"/> (of the index's network), which other matchers
    /// used on the same thread may share: a search's arrays are as long as the network (36 bytes an edge), and a shard runs
    /// a matcher per vehicle class. Null: a router of its own.
    /// </summary>
    public OnlineMatcher(EdgeIndex index, MatcherOptions? options, BoundedDijkstra? router)
    {
        _index = index;
        _net = index.Network;
        _options = options ?? new MatcherOptions();
        if (router != null && router.Network != _net) throw new ArgumentException("the router is of another network than the index", nameof(router));
        _router = router ?? new BoundedDijkstra(_net);
        _router.UTurnPenaltyM = _options.UTurnPenaltyM;
        _invSigma2 = 1.0 / (_options.SigmaM * _options.SigmaM);
        _invHeadingSigma2 = 1.0 / (_options.HeadingSigmaDeg * _options.HeadingSigmaDeg);
        // Two fixes' along-road errors differ by sigma·√2 (standard deviation): up to twice that is noise.
        _backwardM = Math.Max(_options.BackwardToleranceM, 2 * Math.Sqrt(2) * _options.SigmaM);
        (_slowness, _maxSlowness) = Slowness(_net, _options.PlausibleSpeedFactor);
        _noise2 = 2 * _options.SigmaM * _options.SigmaM;
        _betaNoise = _options.BetaNoiseFactor * _options.SigmaM * _options.SigmaM;
        int k = _options.MaxCandidates;
        int search = Math.Max(k, _options.SearchCandidates);
        _search = search;
        _found = new EdgeCandidate[search];
        _targets = new EdgePosition[search];
        _targetFrom = new int[search];
        _distances = new double[search];
        _reach = new double[search];
        _likelihood = new double[search];
        _newScore = new float[search];
        _newBack = new byte[search];
        _order = new int[search];
        _chosen = new int[64];
        _shares = new byte[64];
        _through = new double[64];
    }

    public MatcherOptions Options => _options;

    public RoadNetwork Network => _net;

    /// <summary>
    /// A smaller search (a rule's roads around the fix) that each candidate search fills at the same point from its own
    /// result, or null. It changes nothing here: the matcher's own candidates are the same.
    /// </summary>
    public NearbySearch? Alongside
    {
        get => _alongside;
        set
        {
            // The search then keeps as many as the rule's, of which the first _search are the matcher's own (a
            // result is the first edges of one order, whatever the buffer), and the rule's are read off it.
            if (value != null && value.Capacity > _found.Length) _found = new EdgeCandidate[value.Capacity];
            _alongside = value;
        }
    }

    private NearbySearch? _alongside;

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
        if (!s.Accommodates(p.TimeMs, p.Id))
        {
            // Ids more than 2^31 apart, or a chain over 24 days old: the compact columns cannot hold both. Decide what
            // is pending; a chain that old ends, as after a time gap.
            FlushAll(s, ref sink);
            if (!s.Accommodates(p.TimeMs, p.Id))
            {
                s.Clear();
                s.NextBreak = ChainBreak.TimeGap;
            }
        }
        s.HasInput = true;
        s.LastTime = p.TimeMs;
        s.LastLon = p.Lon;
        s.LastLat = p.Lat;
        Accept(s, in p, allowFollower: true, ref sink);
        return PushResult.Accepted;
    }

    /// <summary>Adds an accepted probe to the model: as a follower, unmatched, or as a column of candidates.</summary>
    private void Accept<TSink>(VehicleMatchState s, in GpsPoint p, bool allowFollower, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (s.Length > 0 && allowFollower)
        {
            // A probe that moved less than the noise from the last one used adds no independent
            // evidence (GPS error is correlated while standing): it follows that probe's match.
            // Online, a run of followers must leave room in the ring for the next probe the model uses,
            // so that they are placed on the route to it rather than forced out where the last one was.
            // A unit that reports standing (speed at most StandingSpeedKmh) follows too while it is within
            // 8 sigma of it (two fixes' noise rarely reaches 4 sigma): its match stays where it is, and a ring
            // full of such followers decides the oldest rather than turning a noisy fix into evidence.
            double moved = GeoMath.FastDistance(s.KeptLon, s.KeptLat, p.Lon, p.Lat);
            bool standing = p.SpeedKmh <= _options.StandingSpeedKmh && moved < 8 * _options.SigmaM;
            if (standing || (moved < _options.MinMoveM && (s.CanGrow || TrailingFollowers(s) < s.Capacity - 3)))
            {
                AppendFollower(s, in p);
                Decide(s, ref sink); // only the lag or a full ring decides a follower before the next real probe
                return;
            }
        }

        // The model sees the fix averaged with the followers just before it; the column keeps the fix itself.
        var (lon, lat) = ModelPosition(s, s.Length, p.Lon, p.Lat, p.TimeMs, out int fixes);
        AcceptModel(s, in p, p with { Lon = lon, Lat = lat }, fixes, ref sink);
    }

    /// <summary>
    /// Where the model places the probe of column <paramref name="column"/> (fix <paramref name="lon"/>,
    /// <paramref name="lat"/> at <paramref name="timeMs"/>; the column need not exist yet): the mean of the fix and of the
    /// followers just before it, at most <see cref="MatcherOptions.SmoothFollowers"/>, none older than
    /// <see cref="MatcherOptions.SmoothWindowS"/>, outliers left out; the fix alone when that mean is further from it
    /// than the search radius. The same at emission as when the probe was accepted: followers are decided only after
    /// the model probe that follows them.
    /// </summary>
    private (double Lon, double Lat) ModelPosition(VehicleMatchState s, int column, double lon, double lat, long timeMs, out int fixes)
    {
        fixes = 1;
        double sumLon = lon, sumLat = lat;
        int n = 1;
        long oldest = timeMs - (long)(_options.SmoothWindowS * 1000);
        for (int c = column - 1; c >= 0 && n <= _options.SmoothFollowers; c--)
        {
            int slot = s.Slot(c);
            ref var col = ref s.Col(slot);
            if (col.Count != 0 || s.Time(slot) < oldest) break;
            if (col.Break == OutlierMark) continue;
            var (fLon, fLat) = s.Position(slot);
            sumLon += fLon;
            sumLat += fLat;
            n++;
        }
        if (n == 1) return (lon, lat);
        double meanLon = sumLon / n, meanLat = sumLat / n;
        // A fix far from the followers before it jumped (a bad fix, or the first after a gap): it stands alone.
        if (GeoMath.FastDistance(lon, lat, meanLon, meanLat) > _options.SearchRadiusM) return (lon, lat);
        fixes = n;
        return (meanLon, meanLat);
    }

    /// <summary>
    /// Adds a probe the model uses (not a follower): <paramref name="fix"/> as the unit reported it, which its column
    /// keeps, and <paramref name="p"/>, where the model places it (<see cref="ModelPosition"/>), the mean of
    /// <paramref name="fixes"/> fixes.
    /// </summary>
    private void AcceptModel<TSink>(VehicleMatchState s, in GpsPoint fix, in GpsPoint p, int fixes, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int found = Math.Min(_index.Within(p.Lon, p.Lat, _options.SearchRadiusM, _found, _alongside), _search);
        if (found == 0)
        {
            FlushPending(s, ref sink);
            s.Clear();
            EmitUnmatched(fix, ref sink);
            s.NextBreak = ChainBreak.NoCandidates;
            return;
        }

        Span<float> score = _newScore.AsSpan(0, found);
        Span<byte> back = _newBack.AsSpan(0, found);
        for (int j = 0; j < found; j++) score[j] = (float)Emission(in _found[j], in p);

        if (s.Length > 0 && !Transition(s, in p, fixes, found, score, back))
        {
            if (s.Outliers < _options.MaxOutliers)
            {
                // No route from the previous probe: most often one bad fix (or a fix whose road is not
                // among the candidates). Keep it as a follower, placed on the route the chain takes next,
                // and break only if the next probes do not reconnect either.
                s.Outliers++;
                AppendFollower(s, in fix);
                s.Col(s.Slot(s.Length - 1)).Break = OutlierMark;
                Decide(s, ref sink);
                return;
            }
            // Still no route: end that chain, start anew here.
            FlushPending(s, ref sink);
            s.Clear();
            s.NextBreak = ChainBreak.NoRoute;
            for (int j = 0; j < found; j++) score[j] = (float)Emission(in _found[j], in p);
        }

        // Keep the most likely candidates (path score, not just distance: at a junction of short edges the
        // road the vehicle is on need not be among the nearest few), best first.
        Span<int> order = _order.AsSpan(0, found);
        for (int j = 0; j < found; j++) order[j] = j;
        for (int j = 1; j < found; j++)
        {
            int o = order[j];
            int i = j - 1;
            while (i >= 0 && score[order[i]] < score[o])
            {
                order[i + 1] = order[i];
                i--;
            }
            order[i + 1] = o;
        }
        found = Math.Min(found, s.K);

        // Normalise so that the best is 0: scores stay small in float over any trace length.
        float max = score[order[0]];

        int slot = AppendColumn(s, in fix, (byte)found, s.Length == 0 ? s.NextBreak : ChainBreak.None);
        s.KeptTime = p.TimeMs;
        s.KeptLon = p.Lon;
        s.KeptLat = p.Lat;
        s.Outliers = 0;
        if (s.Length == 1) s.NextBreak = ChainBreak.Start;
        var cands = s.Cands(slot);
        var scores = s.NewestScores;
        var offsets = s.NewestOffsets;
        double sum = 0;
        // Each live candidate's likelihood, computed once for the sum and its share.
        Span<double> likelihood = _likelihood.AsSpan(0, found);
        for (int j = 0; j < found; j++)
        {
            float v = score[order[j]] - max;
            scores[j] = v < -_options.PruneLogProbability ? Dead : v;
            if (scores[j] != Dead) sum += likelihood[j] = Math.Exp(v);
        }
        for (int j = 0; j < found; j++)
        {
            ref var c = ref cands[j];
            int o = order[j];
            c.Edge = _found[o].Edge;
            offsets[j] = EncodeOffset(c.Edge, _found[o].OffsetM);
            c.Back = scores[j] == Dead ? VehicleMatchState.Candidate.Dead : back[o];
            c.Confidence = scores[j] == Dead ? (byte)0 : (byte)Math.Round(255 * likelihood[j] / sum);
        }

        Decide(s, ref sink);
        return;
    }

    /// <summary>Appends a probe that carries no evidence of its own: it is placed later on the route around it.</summary>
    private static void AppendFollower(VehicleMatchState s, in GpsPoint p) => AppendColumn(s, in p, 0, ChainBreak.None);

    /// <summary>Appends a column for a probe (its candidates are written by the caller) and returns its ring slot.</summary>
    private static int AppendColumn(VehicleMatchState s, in GpsPoint p, byte count, ChainBreak brk)
    {
        s.MakeRoom();
        int slot = s.Slot(s.Length);
        s.Length++;
        ref var col = ref s.Col(slot);
        s.SetId(slot, p.Id);
        col.ReportedSpeed = p.SpeedKmh;
        col.Count = count;
        col.Break = brk;
        if (count > 0) s.TakeBlock(slot);
        s.SetTime(slot, p.TimeMs);
        s.SetPosition(slot, p.Lon, p.Lat);
        return slot;
    }

    /// <summary>
    /// Continues in <paramref name="into"/>, a fresh state of this matcher, a vehicle whose state <paramref name="from"/> was
    /// matched on another road network (its edges are not this network's): the probes it held undecided are pushed again,
    /// in order, without the course the ring does not keep, and start a new chain here (decisions go to the sink); its
    /// last input is kept, so that a probe older than the last one accepted, or a duplicate of it, is still refused.
    /// Returns how many probes were pushed again.
    /// </summary>
    public int Resume<TSink>(VehicleMatchState into, VehicleMatchState from, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentNullException.ThrowIfNull(from);
        if (into.HasInput || into.Length > 0) throw new ArgumentException("the state to continue in is not fresh", nameof(into));
        GpsPoint[] pending = from.PendingProbes();
        foreach (ref readonly GpsPoint p in pending.AsSpan()) Push(into, in p, ref sink);
        if (from.HasInput && (!into.HasInput || from.LastTime >= into.LastTime))
        {
            into.HasInput = true;
            into.LastTime = from.LastTime;
            into.LastLon = from.LastLon;
            into.LastLat = from.LastLat;
        }
        return pending.Length;
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
    private bool Transition(VehicleMatchState s, in GpsPoint p, int fixes, int found, Span<float> score, Span<byte> back)
    {
        int prevSlot = s.Slot(NewestReal(s));
        double gc = GeoMath.Distance(s.KeptLon, s.KeptLat, p.Lon, p.Lat);
        double dt = (p.TimeMs - s.KeptTime) / 1000.0;
        double bound = (2 * gc) + (2 * _options.SearchRadiusM);
        if (dt > 0) bound = Math.Min(bound, (_options.MaxSpeedKmh / 3.6 * dt) + (2 * _options.SearchRadiusM));

        // The spread of |route − great circle| grows with the distance between probes (turns, detours
        // around blocks), so beta does too: a fixed share of the distance on top of the base. Noise across
        // the road stretches the straight line between two fixes by about sigma²/distance on average: close
        // probes (dense sampling, slow vehicles) need the larger scale. A position averaged from n fixes has
        // 1/n of the variance (the probe before taken to be averaged alike).
        double beta = _options.BetaM + (_options.BetaPerMetre * gc) + (_betaNoise / fixes / Math.Max(gc, _options.SigmaM)), invBeta = 1.0 / beta;
        // A reported speed says how far the vehicle drove: compare the route with that too (the
        // distance is uncertain by the speed's own error and by acceleration over the interval).
        bool useSpeed = _options.UseReportedSpeed && dt > 0 && p.SpeedKmh >= _options.HeadingMinSpeedKmh && float.IsFinite(p.SpeedKmh);
        double driven = useSpeed ? p.SpeedKmh / 3.6 * dt : 0;
        double invSpeedBeta = useSpeed ? 1.0 / (_options.BetaM + (0.25 * driven)) : 0;
        bool limits = _slowness is not null && dt > 0;
        Span<EdgePosition> targets = _targets.AsSpan(0, found);
        // Each target's start node, read once a probe rather than once for each predecessor.
        Span<int> targetFrom = _targetFrom.AsSpan(0, found);
        for (int j = 0; j < found; j++)
        {
            targets[j] = new EdgePosition(_found[j].Edge, _found[j].OffsetM);
            targetFrom[j] = _net.EdgeFrom[_found[j].Edge];
        }
        Span<double> dist = _distances.AsSpan(0, found);
        Span<float> best = stackalloc float[found];
        best.Fill(Dead);

        var prev = s.Cands(prevSlot)[..s.Col(prevSlot).Count];
        // A decided column (the anchor) has one candidate of score 0; the newest pending one has its scores.
        bool isAnchor = s.HasAnchor && prevSlot == s.Slot(0);
        var prevScores = s.NewestScores;
        var prevOffsets = s.NewestOffsets;
        Span<double> reach = _reach.AsSpan(0, found);
        // The best score (emission and transition) of any new candidate so far: a candidate that cannot come within
        // the pruning margin of it will be dead whatever its route, so its route need not be looked for.
        float leader = Dead;
        for (int i = 0; i < prev.Length; i++)
        {
            if (!prev[i].Alive) continue;
            float prevScore = isAnchor ? 0 : prevScores[i];
            var from = new EdgePosition(prev[i].Edge, DecodeOffset(prev[i].Edge, isAnchor ? s.DecidedOffset : prevOffsets[i]));
            // The routes known without a search (along the same edge, onto an edge leaving its end) set the leader
            // before this predecessor's search, which the first search would otherwise run with nothing to bound it.
            // Only a target on the predecessor's edge or leaving its end node can have one: those are marked without a
            // branch and visited in order (which target qualifies follows the data; most do not).
            int fromEdge = from.Edge, fromEnd = _net.EdgeTo[fromEdge];
            for (int b = 0; b < found; b += 64)
            {
                int end = Math.Min(found, b + 64);
                ulong direct = 0;
                for (int j = b; j < end; j++) direct |= (ulong)BranchFree.Bit((targets[j].Edge == fromEdge) | (targetFrom[j] == fromEnd)) << (j - b);
                for (; direct != 0; direct &= direct - 1)
                {
                    int j = b + BitOperations.TrailingZeroCount(direct);
                    double d = DirectRoute(from, targets[j], bound);
                    if (double.IsNaN(d)) continue;
                    double cost = (Math.Abs(d - gc) * invBeta) + (Math.Abs(d - driven) * invSpeedBeta);
                    // The speed-plausibility cost is never negative: look for it only when the route could still lead.
                    if (limits && score[j] + (prevScore - (float)cost) > leader) cost += DirectLimitCost(from, targets[j], d, dt);
                    float v = prevScore - (float)cost;
                    leader = Math.Max(leader, score[j] + v);
                }
            }
            if (!WinnableRoutes(prevScore, best, score, leader, gc, beta, reach)) continue;
            RouteDistances(from, targets, bound, reach, dist);
            // The targets the search reached, marked without a branch and visited in order, as above.
            for (int b = 0; b < found; b += 64)
            {
                int end = Math.Min(found, b + 64);
                ulong reached = 0;
                for (int j = b; j < end; j++) reached |= (ulong)BranchFree.Bit(!double.IsPositiveInfinity(dist[j])) << (j - b);
                for (; reached != 0; reached &= reached - 1)
                {
                    int j = b + BitOperations.TrailingZeroCount(reached);
                    double cost = (Math.Abs(dist[j] - gc) * invBeta) + (Math.Abs(dist[j] - driven) * invSpeedBeta);
                    // Nor here: a route that does not beat the best so far without it cannot with it.
                    if (limits && prevScore - (float)cost > best[j]) cost += SearchedLimitCost(from, targets[j], j, dist[j], dt);
                    float v = prevScore - (float)cost;
                    if (v > best[j])
                    {
                        best[j] = v;
                        back[j] = (byte)i;
                        leader = Math.Max(leader, score[j] + v);
                    }
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

    /// <summary>
    /// The longest route to each new candidate by which a predecessor scoring <paramref name="prevScore"/> could still
    /// beat the best transition found so far (<paramref name="best"/>), into <paramref name="reach"/>; false when it can
    /// beat none. A transition scores prevScore − |d − gc|/β (less a reported-speed term, never negative) and must be
    /// strictly better to count, so a route longer than gc + (prevScore − best)·β cannot count: searching no further
    /// changes nothing (1 m more for the rounding to float). A predecessor no better than the best cannot win at all.
    /// </summary>
    /// <remarks>
    /// A candidate also counts only if it can stay alive: a score more than <see cref="MatcherOptions.PruneLogProbability"/>
    /// below the best one makes it dead (inert: the alive candidates, their order and scores are the same whatever the
    /// dead ones scored), and the best score is at least <paramref name="leader"/>, the best reached so far. So from this
    /// predecessor a route to candidate j longer than gc + (prevScore + emission_j − leader + prune)·β cannot matter
    /// either (a margin of 0.01 in score for the float arithmetic, and 1 m).
    /// </remarks>
    private bool WinnableRoutes(float prevScore, ReadOnlySpan<float> best, ReadOnlySpan<float> emission, float leader, double gc, double beta, Span<double> reach)
    {
        double alive = _options.PruneLogProbability + 0.01 - leader + prevScore;
        if (!(beta > 0)) return WinnableRoutesAnyBeta(prevScore, best, emission, alive, gc, beta, reach);
        return WinnableRoutesPositiveBeta(prevScore, best, emission, alive, gc, beta, reach, vector: Avx.IsSupported);
    }

    /// <summary>
    /// <see cref="WinnableRoutes"/> for β &gt; 0, four candidates at a time with <paramref name="vector"/> (AVX, the same
    /// operations lane by lane, so the same bits) and the rest one by one. Apart so that a test holds the two to each other.
    /// </summary>
    internal static bool WinnableRoutesPositiveBeta(float prevScore, ReadOnlySpan<float> best, ReadOnlySpan<float> emission, double alive, double gc, double beta, Span<double> reach, bool vector)
    {
        bool any = false;
        int j = 0;
        if (vector && Avx.IsSupported && reach.Length >= 4)
        {
            if (best.Length < reach.Length || emission.Length < reach.Length) ThrowShortScores();
            ref float b0 = ref MemoryMarshal.GetReference(best);
            ref float e0 = ref MemoryMarshal.GetReference(emission);
            ref double r0 = ref MemoryMarshal.GetReference(reach);
            Vector256<double> vGc = Vector256.Create(gc), vBeta = Vector256.Create(beta), vAlive = Vector256.Create(alive), one = Vector256<double>.One;
            Vector256<double> vPrev = Vector256.Create((double)prevScore), minusOne = Vector256.Create(-1.0);
            Vector256<double> anyMask = Vector256<double>.Zero;
            for (; j <= reach.Length - 4; j += 4)
            {
                // Widening floats to doubles is exact, so the comparison and the sums are the scalar loop's.
                Vector256<double> b = Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref b0, (nuint)j));
                Vector256<double> e = Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref e0, (nuint)j));
                Vector256<double> live = ((vAlive + e) * vBeta) + vGc + one;
                // Vector256.Min is Math.Min lane by lane (NaN and signed zeros alike).
                Vector256<double> r = Vector256.Min(((vPrev - b) * vBeta) + vGc + one, live);
                r = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(vPrev, b), minusOne, r);
                r.StoreUnsafe(ref r0, (nuint)j);
                anyMask |= Vector256.GreaterThanOrEqual(r, Vector256<double>.Zero);
            }
            any = anyMask != Vector256<double>.Zero;
        }
        for (; j < reach.Length; j++)
        {
            // With no leader yet (−∞), alive is +∞ and so is this bound.
            double live = gc + ((alive + emission[j]) * beta) + 1;
            // With no transition yet (best −∞) the first bound is +∞ (β > 0) and the smaller is live, to the bit; a
            // predecessor no better than the best gets −1. Selected without branches: which candidates have a transition
            // yet, and which this predecessor can beat, follow the data.
            double r = Math.Min(gc + (((double)prevScore - best[j]) * beta) + 1, live);
            r = BranchFree.Select(prevScore <= best[j], -1.0, r);
            reach[j] = r;
            any |= r >= 0;
        }
        return any;
    }

    [DoesNotReturn]
    private static void ThrowShortScores() => throw new ArgumentException("a score for every candidate");

    /// <summary><see cref="WinnableRoutes"/> for any β (0 or NaN too, where ∞·β is no longer ∞), with branches.</summary>
    private static bool WinnableRoutesAnyBeta(float prevScore, ReadOnlySpan<float> best, ReadOnlySpan<float> emission, double alive, double gc, double beta, Span<double> reach)
    {
        bool any = false;
        for (int j = 0; j < reach.Length; j++)
        {
            double live = gc + ((alive + emission[j]) * beta) + 1;
            if (best[j] == Dead) reach[j] = live;
            else if (prevScore <= best[j]) reach[j] = -1;
            else reach[j] = Math.Min(gc + (((double)prevScore - best[j]) * beta) + 1, live);
            any |= reach[j] >= 0;
        }
        return any;
    }

    /// <summary>
    /// The route distance <see cref="RouteDistances"/> gives for a target that needs no search: ahead on the source's
    /// edge, jitter behind on it, or on an edge leaving the source edge's end without a U-turn (the route search's own
    /// shortcuts, to the bit); NaN for any other target, or one beyond the bound.
    /// </summary>
    private double DirectRoute(EdgePosition from, EdgePosition to, double bound)
    {
        if (to.Edge == from.Edge)
        {
            if (to.OffsetM >= from.OffsetM) return to.OffsetM - from.OffsetM <= bound ? to.OffsetM - from.OffsetM : double.NaN;
            return Jitter(from, to);
        }
        if (_net.EdgeFrom[to.Edge] == _net.EdgeTo[from.Edge] && (to.Edge != _net.EdgeTwin[from.Edge] || _options.UTurnPenaltyM == 0))
        {
            double d = _net.EdgeLengthM[from.Edge] - from.OffsetM + to.OffsetM;
            return d <= bound ? d : double.NaN;
        }
        return double.NaN;
    }

    /// <summary>
    /// Per edge, the seconds a metre takes at <paramref name="factor"/> times its speed limit, 0 where the network knows no
    /// limit (<c>maxspeed=none</c>, or class road or unknown without a tag: Kubicka's arcs), and the largest; null when
    /// no edge has a limit or the factor is off.
    /// </summary>
    // Per network and plausible-speed factor, the slowness array (read-only once made): every matcher of every shard of a
    // process reads the one array, where each made its own (4 bytes an edge each).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<RoadNetwork, Dictionary<double, (float[]?, double)>> s_slowness = new();

    private static (float[]? Slowness, double Max) Slowness(RoadNetwork net, double factor)
    {
        Dictionary<double, (float[]?, double)> byFactor = s_slowness.GetOrCreateValue(net);
        lock (byFactor)
        {
            if (!byFactor.TryGetValue(factor, out var made)) byFactor[factor] = made = MakeSlowness(net, factor);
            return made;
        }
    }

    private static (float[]? Slowness, double Max) MakeSlowness(RoadNetwork net, double factor)
    {
        if (!(factor > 0) || double.IsPositiveInfinity(factor)) return (null, 0);
        var slowness = new float[net.EdgeCount];
        double max = 0;
        for (int e = 0; e < slowness.Length; e++)
        {
            if (!net.HasKnownLimit(e)) continue;
            float limit = net.SpeedLimitKmh(e);
            slowness[e] = (float)(3.6 / (factor * limit));
            max = Math.Max(max, slowness[e]);
        }
        return max > 0 ? (slowness, max) : (null, 0);
    }

    /// <summary>
    /// The cost (natural log) of a route of <paramref name="lengthM"/> metres that takes <paramref name="seconds"/> at the
    /// most plausible speeds when the probes are <paramref name="dt"/> apart: the metres it could not have driven in dt at
    /// the route's own plausible speed, as the Gaussian tail of a spread whose variance is the route length's (2σ²) and
    /// that of the drivable distance (<see cref="MatcherOptions.PlausibleSpeedSpread"/> of it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double LimitCost(double seconds, double lengthM, double dt)
    {
        if (seconds <= dt) return 0;
        double reach = dt * lengthM / seconds; // metres drivable in dt at the route's most plausible speed
        double excess = lengthM - reach, spread = _options.PlausibleSpeedSpread * reach;
        return excess * excess / (2 * (_noise2 + (spread * spread)));
    }

    /// <summary>The speed-plausibility cost of a route <see cref="DirectRoute"/> gave (distance <paramref name="d"/>).</summary>
    private double DirectLimitCost(EdgePosition from, EdgePosition to, double d, double dt)
    {
        if (d * _maxSlowness <= dt) return 0;
        var w = _slowness!;
        if (to.Edge == from.Edge) return to.OffsetM >= from.OffsetM ? LimitCost(d * w[from.Edge], d, dt) : 0; // behind: jitter, standing
        double head = _net.EdgeLengthM[from.Edge] - from.OffsetM;
        return LimitCost((head * w[from.Edge]) + (to.OffsetM * w[to.Edge]), d, dt);
    }

    /// <summary>The speed-plausibility cost of the route the last search found to target <paramref name="j"/> (distance <paramref name="d"/>, U-turn penalties included).</summary>
    private double SearchedLimitCost(EdgePosition from, EdgePosition to, int j, double d, double dt)
    {
        if (d * _maxSlowness <= dt) return 0;
        if (to.Edge == from.Edge && to.OffsetM < from.OffsetM && !double.IsNaN(Jitter(from, to))) return 0; // jitter: standing
        double seconds = _router.PathSum(j, _slowness, out double length);
        return double.IsNaN(seconds) ? 0 : LimitCost(seconds, length, dt);
    }

    /// <summary>The router, with this matcher's U-turn penalty (another matcher sharing it may have set its own).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private BoundedDijkstra Router()
    {
        if (_router.UTurnPenaltyM != _options.UTurnPenaltyM) _router.UTurnPenaltyM = _options.UTurnPenaltyM;
        return _router;
    }

    /// <summary>Route distances with backward jitter along one edge taken as noise, not a loop.</summary>
    private void RouteDistances(EdgePosition from, ReadOnlySpan<EdgePosition> targets, double bound, ReadOnlySpan<double> reach, Span<double> dist)
    {
        Router().Run(from, targets, bound, reach, dist);
        for (int j = 0; j < targets.Length; j++)
        {
            if (targets[j].Edge == from.Edge && targets[j].OffsetM < from.OffsetM && Jitter(from, targets[j]) is var d && !double.IsNaN(d)) dist[j] = d;
        }
    }

    /// <summary>
    /// The distance counted for a target behind the source on its edge: jitter up to the tolerance counts as the distance
    /// moved (a crawling vehicle); a larger step back, up to what only the noise of two fixes explains, as standing still,
    /// so that a path driving the wrong way along a two-way road pays the great-circle distance at every step; NaN
    /// beyond (the route search's loop).
    /// </summary>
    private double Jitter(EdgePosition from, EdgePosition to)
    {
        double back = from.OffsetM - to.OffsetM;
        if (back > _backwardM) return double.NaN;
        return back <= _options.BackwardToleranceM ? back : 0;
    }

    /// <summary>
    /// Where along its edge candidate <paramref name="cand"/> of column <paramref name="column"/> lies, metres: the
    /// anchor's decided offset, the newest column's kept offsets, or the projection on the edge of where the model
    /// placed the probe (what the candidate search found for it, from the stored positions).
    /// </summary>
    private double CandidateOffset(VehicleMatchState s, int column, int cand)
    {
        int slot = s.Slot(column);
        int edge = s.Cands(slot)[cand].Edge;
        if (s.HasAnchor && column == 0) return DecodeOffset(edge, s.DecidedOffset);
        if (column == NewestReal(s)) return DecodeOffset(edge, s.NewestOffsets[cand]);
        var (lon, lat) = s.Position(slot);
        (lon, lat) = ModelPosition(s, column, lon, lat, s.Time(slot), out _);
        return DecodeOffset(edge, EncodeOffset(edge, ProjectOnEdge(edge, lon, lat)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort EncodeOffset(int edge, double offsetM)
    {
        double len = _net.EdgeLengthM[edge];
        double f = len > 0 ? offsetM / len : 0;
        return (ushort)Math.Round(Math.Clamp(f, 0, 1) * ushort.MaxValue);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double DecodeOffset(int edge, ushort offset) => offset * _net.EdgeLengthM[edge] / ushort.MaxValue;

    /// <summary>The offset along an edge of its point nearest to a position, metres (the candidate search's projection).</summary>
    private double ProjectOnEdge(int edge, double lon, double lat)
    {
        NearestOnEdge(edge, lon, lat, GeoMath.MetresPerDegreeLon(lat), 0, _net.EdgeLengthM[edge], out double offset);
        return offset;
    }

    /// <summary>
    /// The point of an edge's shape nearest to a position: its distance in metres, and its offset along the edge
    /// clamped to [<paramref name="from"/>, <paramref name="to"/>] (the first of equally near points).
    /// </summary>
    private double NearestOnEdge(int edge, double lon, double lat, double kx, double from, double to, out double offset)
    {
        var lons = _net.ShapeLons(edge);
        var lats = _net.ShapeLats(edge);
        int s0 = _net.ShapeStart[edge];
        double bestD = double.MaxValue;
        offset = from;
        for (int j = 0; j + 1 < lons.Length; j++)
        {
            double d = GeoMath.ProjectOnSegment(lon, lat, lons[j], lats[j], lons[j + 1], lats[j + 1], kx, out double t);
            if (d < bestD)
            {
                bestD = d;
                offset = Math.Clamp(_net.ShapeOffsetM[s0 + j] + (t * (_net.ShapeOffsetM[s0 + j + 1] - _net.ShapeOffsetM[s0 + j])), from, to);
            }
        }
        return bestD;
    }

    private static int TrailingFollowers(VehicleMatchState s)
    {
        int n = 0;
        for (int c = s.Length - 1; c >= 0 && s.Col(s.Slot(c)).Count == 0; c--) n++;
        return n;
    }

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
                    EmitThrough(s, c, BitOperations.TrailingZeroCount(mask), forced: false, ref sink, agreed: true);
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
            long waitedMs = s.Time(s.Slot(s.Length - 1)) - s.Time(s.Slot(first));
            if ((s.CanGrow || s.Length < s.Capacity) && RealPending(s) <= _options.LagProbes && waitedMs <= _options.LagSeconds * 1000) break;
            if (s.Col(s.Slot(first)).Count == 0) EmitFollowers(s, first, ref sink);
            else EmitThrough(s, first, BestPathCandidate(s, first), forced: true, ref sink);
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

    /// <summary>
    /// The chain's last probe, when the model placed it at the mean of its fix and the followers just before it: each of
    /// its candidates is moved to where the fix itself lies on its edge. Nothing follows to place it, and the mean lags a
    /// moving vehicle by up to a step, so the route would end short of the trace (GraphHopper's issue-13 trace, fixes 8 m
    /// apart: 5 m short with a min move of 24 m). The candidates and their scores stay the model's.
    /// </summary>
    private void AtOwnFix(VehicleMatchState s)
    {
        if (s.Length == 0) return;
        int column = s.Length - 1;
        int slot = s.Slot(column);
        int count = s.Col(slot).Count;
        if (count == 0 || (s.HasAnchor && column == 0)) return;
        var (lon, lat) = s.Position(slot);
        _ = ModelPosition(s, column, lon, lat, s.Time(slot), out int fixes);
        if (fixes == 1) return;
        var cands = s.Cands(slot);
        var offsets = s.NewestOffsets;
        for (int j = 0; j < count; j++)
        {
            if (!cands[j].Alive) continue;
            offsets[j] = EncodeOffset(cands[j].Edge, ProjectOnEdge(cands[j].Edge, lon, lat));
        }
    }

    /// <summary>
    /// Decides everything pending, by the best path, and emits it. The last probe of a chain always carries
    /// evidence: a trailing follower is first made a column of its own, so that the followers before it
    /// are placed on the route rather than left where the last model probe was.
    /// </summary>
    private void FlushAll<TSink>(VehicleMatchState s, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (s.Pending == 0) return;
        if (s.Length > 1 && s.Col(s.Slot(s.Length - 1)).Count == 0)
        {
            int slot = s.Slot(s.Length - 1);
            ref var col = ref s.Col(slot);
            var (lon, lat) = s.Position(slot);
            // Its reported speed goes with it: the matched probe carries it, and the transition may use it.
            var last = new GpsPoint(s.Time(slot), lon, lat) { Id = s.Id(slot), SpeedKmh = col.ReportedSpeed };
            s.Length--;
            Accept(s, in last, allowFollower: false, ref sink);
        }
        AtOwnFix(s);
        FlushPending(s, ref sink);
    }

    /// <summary>Decides everything pending, by the best path, and emits it.</summary>
    private void FlushPending<TSink>(VehicleMatchState s, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        if (s.Pending == 0) return;
        int newest = NewestReal(s);
        if (newest > 0 || !s.HasAnchor) EmitThrough(s, newest, BestPathCandidate(s, newest), forced: false, ref sink);
        EmitFollowers(s, 1, ref sink);
    }

    /// <summary>
    /// Fixes candidate <paramref name="cand"/> at real column <paramref name="column"/>, emits the pending
    /// columns up to it along its back pointers (followers placed on the route between the real columns
    /// around them), makes it the anchor and kills later candidates not descending from it. Followers after
    /// it wait for the next real column, which decides where on the road they lie.
    /// </summary>
    /// <param name="agreed">Every surviving path passes through the candidate: each column emitted is certain (confidence 1).
    /// Otherwise each column's confidence is its candidate's share of the surviving paths (<see cref="PathShares"/>).</param>
    private void EmitThrough<TSink>(VehicleMatchState s, int column, int cand, bool forced, ref TSink sink, bool agreed = false) where TSink : IMatchSink, allows ref struct
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
        if (_shares.Length < n) Array.Resize(ref _shares, Math.Max(n, _shares.Length * 2));
        Span<byte> shares = _shares.AsSpan(0, n);
        if (agreed) shares.Fill(byte.MaxValue);
        else PathShares(s, first, column, chosen, shares);
        for (int c = first; c <= column; c++)
        {
            int followers = c;
            while (s.Col(s.Slot(c)).Count == 0) c++; // column itself is real, so this stops
            EmitLeg(s, followers, c, chosen[c - first], shares[c - first], forced && c == column, ref sink);
        }
        AdvanceAnchor(s, column);

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

    /// <summary>
    /// Emits followers that no real column follows yet (a flush, or a vehicle standing so long that the ring
    /// fills): they stay where the anchor is. The last emitted becomes the anchor.
    /// </summary>
    private void EmitFollowers<TSink>(VehicleMatchState s, int column, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int c = column;
        _legX = 0;
        while (c < s.Length && s.Col(s.Slot(c)).Count == 0)
        {
            ref var anchor = ref s.Decided;
            double offset = DecodeOffset(anchor.Edge, s.DecidedOffset);
            _pathLength = 1;
            _path[0] = anchor.Edge;
            _legFrom[0] = offset;
            _legTo[0] = offset;
            _legStart[0] = 0;
            EmitAt(s, c, 0, anchor.Confidence, forced: false, ref sink);
            c++;
        }
        if (c > column) AdvanceAnchor(s, c - 1);
    }

    /// <summary>
    /// For each real column from <paramref name="first"/> to <paramref name="column"/>, the share of the surviving paths'
    /// probability, at the newest probe, carried by the paths through its chosen candidate, in 255ths, into
    /// <paramref name="shares"/> (indexed from <paramref name="first"/>): how sure the model is of the candidate given every
    /// probe so far (the probes after it too). The share a candidate had when its probe arrived ignores the probes that
    /// decided it: a fix just past a junction is shared among the roads that leave it until the next fix shows which one
    /// the vehicle took. One walk back from each surviving candidate of the newest probe serves every column.
    /// </summary>
    private void PathShares(VehicleMatchState s, int first, int column, ReadOnlySpan<int> chosen, Span<byte> shares)
    {
        int n = column - first + 1;
        if (_through.Length < n) Array.Resize(ref _through, Math.Max(n, _through.Length * 2));
        Span<double> through = _through.AsSpan(0, n);
        through.Clear();
        int newest = NewestReal(s), slot = s.Slot(newest);
        var cands = s.Cands(slot)[..s.Col(slot).Count];
        var scores = s.NewestScores;
        double total = 0;
        for (int i = 0; i < cands.Length; i++)
        {
            if (!cands[i].Alive) continue;
            double w = Math.Exp(scores[i]);
            total += w;
            // k: the path's candidate at column c, for each real column walked back from the newest.
            for (int c = newest, k = i; c >= first && k >= 0; c--)
            {
                int sl = s.Slot(c);
                if (s.Col(sl).Count == 0) continue;
                if (c <= column && k == chosen[c - first]) through[c - first] += w;
                k = s.Cands(sl)[k].Alive ? s.Cands(sl)[k].Back : -1;
            }
        }
        for (int c = first; c <= column; c++)
        {
            if (chosen[c - first] < 0) continue;
            shares[c - first] = total > 0 ? (byte)Math.Round(255 * through[c - first] / total) : s.Cands(s.Slot(c))[chosen[c - first]].Confidence;
        }
    }

    /// <summary>Makes emitted column <paramref name="column"/> the anchor, dropping the columns before it.</summary>
    private static void AdvanceAnchor(VehicleMatchState s, int column)
    {
        s.Start = s.Slot(column);
        s.Length -= column;
        s.HasAnchor = true;
    }

    /// <summary>
    /// Emits the followers in columns [<paramref name="followers"/>, <paramref name="column"/>) and the real
    /// column <paramref name="column"/> matched to candidate <paramref name="cand"/>: one route from the
    /// column before them, each follower placed at its nearest point along it (never backwards), each
    /// emitted probe with the slice of the route driven since the one before and times interpolated
    /// within the slice.
    /// </summary>
    private void EmitLeg<TSink>(VehicleMatchState s, int followers, int column, int cand, byte confidence, bool forced, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        ref var target = ref s.Cands(s.Slot(column))[cand];
        var to = new EdgePosition(target.Edge, CandidateOffset(s, column, cand));
        if (column == 0 || s.Col(s.Slot(column)).Break != ChainBreak.None)
        {
            // A chain starts here: nothing driven before it.
            _pathLength = 1;
            _path[0] = to.Edge;
            _legFrom[0] = to.OffsetM;
            _legTo[0] = to.OffsetM;
            _legStart[0] = 0;
            EmitAt(s, column, 0, confidence, forced, ref sink);
            return;
        }
        // The previous column is emitted already (or the anchor): its match is the decided one.
        double total = BuildPath(new EdgePosition(s.Decided.Edge, DecodeOffset(s.Decided.Edge, s.DecidedOffset)), to);
        double x = 0;
        for (int c = followers; c < column; c++)
        {
            // An outlier's position is not to be believed: it stays where the vehicle was.
            var (lon, lat) = s.Position(s.Slot(c));
            if (s.Col(s.Slot(c)).Break != OutlierMark) x = Math.Max(x, NearestAlongPath(lon, lat));
            EmitAt(s, c, x, confidence, forced: false, ref sink);
        }
        EmitAt(s, column, total, confidence, forced, ref sink);
    }

    /// <summary>
    /// Emits column <paramref name="column"/> at route coordinate <paramref name="x"/> of the current path
    /// (<see cref="_path"/>), with the slice driven since the previous column, and collapses the column to
    /// that position so that it can serve as the anchor.
    /// </summary>
    private void EmitAt<TSink>(VehicleMatchState s, int column, double x, byte confidence, bool forced, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        int slot = s.Slot(column);
        ref var col = ref s.Col(slot);
        int prevSlot = s.Slot(Math.Max(0, column - 1));
        bool hasPrev = column > 0 && col.Break is ChainBreak.None or OutlierMark;
        long time = s.Time(slot);
        long prevTime = hasPrev ? s.Time(prevSlot) : time;
        double prevX = hasPrev ? _legX : x;
        int routeLength = hasPrev ? Slice(prevX, x, prevTime, time) : 0;

        var (edge, offset) = PositionAt(x);
        var (lon, lat) = _net.PointAt(edge, offset);
        var (probeLon, probeLat) = s.Position(slot);
        double driven = Math.Max(0, x - prevX);
        double dt = (time - prevTime) / 1000.0;
        var match = new MatchedProbe
        {
            ProbeId = s.Id(slot),
            ReportedSpeedKmh = col.ReportedSpeed,
            TimeMs = time,
            Edge = edge,
            OffsetM = offset,
            Lon = lon,
            Lat = lat,
            DistanceM = GeoMath.Distance(probeLon, probeLat, lon, lat),
            ProbeLon = probeLon,
            ProbeLat = probeLat,
            RouteDistanceM = driven,
            SpeedKmh = hasPrev && dt > 0 ? driven / dt * 3.6 : double.NaN,
            Confidence = confidence / 255.0,
            Break = col.Break == OutlierMark ? ChainBreak.None : col.Break,
            Outlier = col.Break == OutlierMark,
            Forced = forced,
        };
        _legX = x; // the next slice starts here (each new path starts again at 0)

        bool follower = col.Count == 0;
        // The match becomes the decided one, the start of the next leg (and the anchor's, once this column is it).
        ref var own = ref s.Decided;
        own.Edge = edge;
        own.Back = 0;
        own.Confidence = confidence;
        s.DecidedOffset = EncodeOffset(edge, offset);
        col.Count = 1;
        if (follower)
        {
            // A follower that becomes the anchor stands for the last probe the model used: take its position.
            ref var before = ref s.Col(prevSlot);
            col.DLon = before.DLon;
            col.DLat = before.DLat;
        }
        sink.OnMatch(in match, _route.AsSpan(0, routeLength));
    }

    /// <summary>
    /// Shortest path between two decided positions into <see cref="_path"/> with each edge's covered range
    /// and its start along the route; returns the route length. Backward jitter along one edge is no move.
    /// </summary>
    private double BuildPath(EdgePosition from, EdgePosition to)
    {
        _legX = 0;
        if (from.Edge == to.Edge && to.OffsetM >= from.OffsetM - _backwardM && to.OffsetM <= from.OffsetM)
            return SinglePathEdge(from.Edge, from.OffsetM, from.OffsetM);
        if (from.Edge == to.Edge && to.OffsetM >= from.OffsetM)
            return SinglePathEdge(from.Edge, from.OffsetM, to.OffsetM);
        Span<EdgePosition> target = [to];
        Span<double> d = stackalloc double[1];
        var (lon0, lat0) = _net.PointAt(from.Edge, from.OffsetM);
        var (lon1, lat1) = _net.PointAt(to.Edge, to.OffsetM);
        double gc = GeoMath.Distance(lon0, lat0, lon1, lat1);
        Router().Run(from, target, (3 * gc) + (4 * _options.SearchRadiusM) + 1000, d);
        int n = _router.PathLength(0);
        if (n < 0 || double.IsPositiveInfinity(d[0]))
        {
            // Only possible if a forced decision crossed a gap the bound does not cover: stay put, then appear.
            return SinglePathEdge(to.Edge, to.OffsetM, to.OffsetM);
        }
        EnsurePathCapacity(n);
        _router.PathTo(0, _path);
        double acc = 0;
        for (int i = 0; i < n; i++)
        {
            int e = _path[i];
            _legFrom[i] = i == 0 ? from.OffsetM : 0;
            _legTo[i] = i == n - 1 ? to.OffsetM : _net.LengthM(e);
            _legStart[i] = acc;
            acc += Math.Max(0, _legTo[i] - _legFrom[i]);
        }
        _pathLength = n;
        return acc;
    }

    private double SinglePathEdge(int edge, double a, double b)
    {
        _path[0] = edge;
        _legFrom[0] = a;
        _legTo[0] = b;
        _legStart[0] = 0;
        _pathLength = 1;
        return b - a;
    }

    private void EnsurePathCapacity(int n)
    {
        if (_path.Length >= n) return;
        int size = Math.Max(n, _path.Length * 2);
        Array.Resize(ref _path, size);
        Array.Resize(ref _legFrom, size);
        Array.Resize(ref _legTo, size);
        Array.Resize(ref _legStart, size);
        Array.Resize(ref _route, size);
    }

    /// <summary>Edge and offset at route coordinate <paramref name="x"/> of the current path.</summary>
    private (int Edge, double Offset) PositionAt(double x)
    {
        int i = 0;
        while (i < _pathLength - 1 && _legStart[i + 1] <= x) i++;
        return (_path[i], Math.Min(_legTo[i], _legFrom[i] + (x - _legStart[i])));
    }

    /// <summary>The route coordinate of the point of the current path nearest to a position.</summary>
    private double NearestAlongPath(double lon, double lat)
    {
        double bestD = double.MaxValue, bestX = 0, kx = GeoMath.MetresPerDegreeLon(lat);
        for (int i = 0; i < _pathLength; i++)
        {
            double d = NearestOnEdge(_path[i], lon, lat, kx, _legFrom[i], _legTo[i], out double off);
            if (d < bestD)
            {
                bestD = d;
                bestX = _legStart[i] + (off - _legFrom[i]);
            }
        }
        return bestX;
    }

    /// <summary>The edges of the current path between route coordinates x0 and x1, timed linearly from t0 to t1.</summary>
    private int Slice(double x0, double x1, long t0, long t1)
    {
        double span = x1 - x0;
        if (span <= 0)
        {
            // Standing (or jitter): the vehicle stays at one point of one edge for the whole interval.
            var (edge, offset) = PositionAt(x0);
            _route[0] = new TraversedEdge(edge, offset, offset, t0, t1);
            return 1;
        }
        int n = 0;
        for (int i = 0; i < _pathLength; i++)
        {
            double start = _legStart[i], end = start + (_legTo[i] - _legFrom[i]);
            if (end <= x0 || start >= x1) continue;
            double a = Math.Max(x0, start), b = Math.Min(x1, end);
            long enter = t0 + (long)Math.Round((t1 - t0) * ((a - x0) / span));
            long exit = t0 + (long)Math.Round((t1 - t0) * ((b - x0) / span));
            _route[n++] = new TraversedEdge(_path[i], _legFrom[i] + (a - start), _legFrom[i] + (b - start), enter, exit);
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
            ProbeLon = p.Lon,
            ProbeLat = p.Lat,
            RouteDistanceM = 0,
            SpeedKmh = double.NaN,
            Confidence = 0,
            Break = ChainBreak.NoCandidates,
            Forced = false,
            ReportedSpeedKmh = p.SpeedKmh,
        };
        sink.OnMatch(in match, []);
    }
}
