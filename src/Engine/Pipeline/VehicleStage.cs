using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Geo.Matching;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Pipeline;

/// <summary>What the per-vehicle stage hands on, in each vehicle's order.</summary>
public interface IVehicleStageOutput
{
    /// <summary>A probe's decided match.</summary>
    void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match, ReadOnlySpan<TraversedEdge> route);

    /// <summary>A probe behind the watermark: not matched, kept for the late output.</summary>
    void Late(in Probe probe, in RecordSource source);

    /// <summary>A probe the matcher refused (a duplicate or one older than the vehicle's last), with the reason.</summary>
    void Refused(in Probe probe, in RecordSource source, PushResult reason);
}

/// <summary>Options of the per-vehicle stage.</summary>
public sealed record VehicleStageOptions
{
    /// <summary>Matcher options for each vehicle class (indexed by <see cref="VehicleClass"/>); the default for a class left null.</summary>
    public MatcherOptions?[] MatcherByClass { get; init; } = DefaultMatchers();

    /// <summary>A vehicle that has sent nothing for this long (by the watermark) is flushed: its pending probes are decided.</summary>
    public long IdleFlushMs { get; init; } = 120_000;

    /// <summary>
    /// These options with every class's matcher deciding a probe at most <paramref name="probes"/> probes or
    /// <paramref name="seconds"/> later (<see cref="MatcherOptions.LagProbes"/>, <see cref="MatcherOptions.LagSeconds"/>):
    /// the rules judge a match only once it is decided, so this bounds how long after its fix a map-based alert can come,
    /// at some cost in accuracy. Null leaves that bound as it is.
    /// </summary>
    public VehicleStageOptions WithMatchLag(int? probes, double? seconds)
    {
        if (probes is < 1) throw new ArgumentOutOfRangeException(nameof(probes), probes, "the match lag is at least one probe");
        if (seconds is not null && !(seconds > 0)) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "the match lag is more than 0 s");
        if (probes is null && seconds is null) return this;
        var byClass = new MatcherOptions?[MatcherByClass.Length];
        for (int c = 0; c < byClass.Length; c++)
        {
            MatcherOptions o = MatcherByClass[c] ?? new MatcherOptions();
            byClass[c] = o with { LagProbes = probes ?? o.LagProbes, LagSeconds = seconds ?? o.LagSeconds };
        }
        return this with { MatcherByClass = byClass };
    }

    /// <summary>
    /// Taxis' units are cheaper and noisier than buses': sigma per class (Newson &amp; Krumm use 4.07 m for clean units);
    /// fleet units of cars and trucks 10 m; a probe within 20 m of the last one used follows it. (The matcher's own
    /// defaults, for a unit of unknown noise, are wider.) A vehicle silent for over 3 minutes starts a new chain: the
    /// route across a longer gap would be matched, but the segment statistics would take its time (a stop, a detour
    /// the fixes do not show) for the time of driving it; the matcher's own default bridges up to an hour.
    /// </summary>
    public static MatcherOptions?[] DefaultMatchers()
    {
        var o = new MatcherOptions?[(int)VehicleClass.Hazmat + 1];
        var fleet = new MatcherOptions { SigmaM = 10, MinMoveM = 20, MaxGapS = 180 };
        o.AsSpan().Fill(fleet);
        o[(int)VehicleClass.Bus] = fleet with { SigmaM = 8 };
        o[(int)VehicleClass.Taxi] = fleet with { SigmaM = 12 };
        return o;
    }
}

/// <summary>
/// The per-vehicle stage of one shard: it owns the map-matching state of the vehicles keyed to it and
/// runs on one thread, so no lock is taken. Probes behind the event-time watermark go to the late output;
/// the rest are matched online (a matcher per vehicle class, so sigma follows the class) and their decided
/// matches, with the edges driven, go on in order. An idle vehicle is flushed when the watermark passes it.
/// </summary>
public sealed class VehicleStage
{
    private readonly OnlineMatcher[] _matchers;
    private readonly VehicleStageOptions _options;
    // Per vehicle (the partition's dense numbers), in pages rather than arrays grown by doubling, which held up to twice
    // the room the vehicles needed and copied all of it at each doubling.
    private readonly PagedArray<VehicleMatchState?> _states = new();
    private readonly PagedArray<VehicleClass> _classes = new();
    // Per vehicle: the time of its last accepted probe, the matcher state's last time (NoLastTime when not known, after a
    // restore): a watermark tests every vehicle for idleness from these pages, not from its state object.
    private readonly PagedArray<long> _lastTimes = new();
    private readonly List<int> _active = [];
    private const long NoLastTime = long.MinValue;
    private long _watermark = long.MinValue;
    private List<(int Vehicle, VehicleMatchState From)>? _resume;   // restored on another network: the old states, whose pending probes go again

    public VehicleStage(EdgeIndex index, VehicleStageOptions? options = null)
    {
        _options = options ?? new VehicleStageOptions();
        _matchers = new OnlineMatcher[(int)VehicleClass.Hazmat + 1];
        // One route search for the stage's matchers (they run one at a time on its thread): its arrays are the network's length.
        var router = new BoundedDijkstra(index.Network);
        for (int c = 0; c < _matchers.Length; c++)
            _matchers[c] = new OnlineMatcher(index, c < _options.MatcherByClass.Length ? _options.MatcherByClass[c] : null, router);
    }

    /// <summary>
    /// Has every matcher's candidate search fill <paramref name="alongside"/> at each probe's position too (see
    /// <see cref="OnlineMatcher.Alongside"/>), so that a rule asking it for the same probe does not search again.
    /// </summary>
    public void SearchAlongside(NearbySearch alongside)
    {
        foreach (var m in _matchers) m.Alongside = alongside;
    }

    public long Accepted { get; private set; }

    /// <summary>Probes taken without a fix (<c>fix: false</c>): judged by the rules on the vehicle's reports, not matched.</summary>
    public long NoFixCount { get; private set; }
    public long LateCount { get; private set; }
    public long RefusedCount { get; private set; }

    /// <summary>Vehicles with state in this shard.</summary>
    public int Vehicles => _active.Count;

    /// <summary>The event-time watermark: probes older than this are late.</summary>
    public long Watermark => _watermark;

    /// <summary>The noise σ the matcher of a vehicle class is told, metres.</summary>
    public double SigmaM(VehicleClass cls) => _matchers[(int)cls].Options.SigmaM;

    /// <summary>
    /// Feeds a probe of a vehicle whose class the caller resolved (<see cref="VehicleRegistry.Resolve(VehicleRegistry?, in Probe)"/>).
    /// Returns false when the probe was behind the watermark and went to the late output.
    /// </summary>
    public bool Accept<TOutput>(in Probe p, VehicleClass cls, in RecordSource source, TOutput output) where TOutput : IVehicleStageOutput
    {
        if (p.TimeMs < _watermark)
        {
            LateCount++;
            output.Late(in p, in source);
            return false;
        }
        if (!p.Fix)
        {
            // A unit without a fix reports no position (it repeats its last one, or sends zeros): the matcher takes none,
            // and the next fix's route runs from the last fix over the whole time between. Taken as the model's, a
            // repeated position made the vehicle stand through the loss and then drive the way it missed in one step:
            // a car doing 37 km/h read 90 on 深南大道, and its segments' speeds doubled.
            NoFixCount++;
            return true;
        }
        VehicleMatchState state = State(p.Vehicle, cls);
        VehicleClass kept = _classes[p.Vehicle];   // the class its state was made for, read once from its page
        var sink = new Forward<TOutput>(output, p.Vehicle, kept);
        var gps = new GpsPoint(p.TimeMs, p.Lon, p.Lat) { SpeedKmh = p.SpeedKmh, Heading = p.Heading, Id = source.Record };
        PushResult r = _matchers[(int)kept].Push(state, in gps, ref sink);
        if (r == PushResult.Accepted)
        {
            Accepted++;
            _lastTimes[p.Vehicle] = p.TimeMs;   // what an accepted probe makes the state's last time
        }
        else
        {
            RefusedCount++;
            output.Refused(in p, in source, r);
        }
        return true;
    }

    /// <summary>Asks for a vehicle's matcher state object ahead of its probe (see <see cref="VehicleMatchState.Prefetch"/>).</summary>
    public void PrefetchState(int vehicle) => VehicleMatchState.Prefetch(_states.GetOrDefault(vehicle));

    /// <summary>Asks for the ring of a vehicle's matcher state ahead of its probe; reads the state object.</summary>
    public void PrefetchRing(int vehicle) => _states.GetOrDefault(vehicle)?.PrefetchRing();

    /// <summary>Moves the watermark on and flushes the vehicles idle for longer than the option says.</summary>
    public void AdvanceWatermark<TOutput>(long watermarkMs, TOutput output) where TOutput : IVehicleStageOutput
    {
        if (watermarkMs <= _watermark) return;
        _watermark = watermarkMs;
        long idleMs = _options.IdleFlushMs;
        foreach (int v in _active)
        {
            // The matcher's own test (FlushIfIdle) on the copy of its last time: most vehicles are not idle, and their
            // state objects stay out of the cache. Not known: the matcher tests.
            long last = _lastTimes[v];
            if (last != NoLastTime && watermarkMs - last < idleMs) continue;
            VehicleClass cls = _classes[v];
            var sink = new Forward<TOutput>(output, v, cls);
            _matchers[(int)cls].FlushIfIdle(_states[v]!, watermarkMs, idleMs, ref sink);
        }
    }

    /// <summary>End of input: every vehicle's pending probes are decided and handed on.</summary>
    public void Complete<TOutput>(TOutput output) where TOutput : IVehicleStageOutput
    {
        foreach (int v in _active)
        {
            VehicleClass cls = _classes[v];
            var sink = new Forward<TOutput>(output, v, cls);
            _matchers[(int)cls].Flush(_states[v]!, ref sink);
        }
    }

    /// <summary>The class a vehicle's matcher state was made for; <see cref="VehicleClass.Unspecified"/> for a vehicle without one.</summary>
    public VehicleClass ClassOf(int vehicle) => _states.GetOrDefault(vehicle) != null ? _classes[vehicle] : VehicleClass.Unspecified;

    /// <summary>
    /// Forgets vehicles (the partition's, gone for good): their pending probes are decided and handed on, and their matcher
    /// state is dropped; the others keep their order. One that comes back starts a new chain, as after a long gap.
    /// </summary>
    public void Forget<TOutput>(ReadOnlySpan<int> vehicles, TOutput output) where TOutput : IVehicleStageOutput
    {
        int dropped = 0;
        foreach (int v in vehicles)
        {
            if (_states.GetOrDefault(v) is not { } state) continue;
            VehicleClass cls = _classes[v];
            var sink = new Forward<TOutput>(output, v, cls);
            _matchers[(int)cls].Flush(state, ref sink);
            _states[v] = null;
            _lastTimes[v] = NoLastTime;
            dropped++;
        }
        if (dropped > 0) _active.RemoveAll(v => _states[v] == null);   // the rest keep their order
    }

    /// <summary>Writes the watermark, the counters and every vehicle's class and matcher state, in the order the vehicles came (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        BinaryWriter o = w.Out;
        o.Write(_watermark);
        o.Write(Accepted);
        o.Write(NoFixCount);
        o.Write(LateCount);
        o.Write(RefusedCount);
        o.Write(_active.Count);
        foreach (int v in _active)
        {
            w.Vehicle(v);
            o.Write((byte)_classes[v]);
            _states[v]!.WriteTo(o);
        }
    }

    /// <summary>
    /// Restores what <see cref="Save"/> wrote into this fresh stage; each vehicle's state is read under its class's matcher
    /// options. Written on another road network (<paramref name="networkChanged"/>), a vehicle gets a fresh state here and
    /// the one read is kept for <see cref="ResumeRestored"/>, which pushes the probes it held undecided again.
    /// </summary>
    internal void Load(CheckpointReader r, bool networkChanged = false)
    {
        BinaryReader i = r.In;
        _watermark = i.ReadInt64();
        Accepted = i.ReadInt64();
        NoFixCount = i.ReadInt64();
        LateCount = i.ReadInt64();
        RefusedCount = i.ReadInt64();
        int n = r.Count();
        for (int k = 0; k < n; k++)
        {
            int v = r.Vehicle();
            var cls = (VehicleClass)i.ReadByte();
            CheckpointReader.Check(cls is > VehicleClass.Unspecified and <= VehicleClass.Hazmat, "checkpoint malformed: a vehicle class out of range");
            CheckpointReader.Check(_states.GetOrDefault(v) == null, "checkpoint malformed: a vehicle's matcher state twice");
            State(v, cls); // the vehicle, its class and its place in the order
            var state = VehicleMatchState.ReadFrom(i, _matchers[(int)cls].Options);
            if (!networkChanged) _states[v] = state;
            else (_resume ??= []).Add((v, state));
        }
    }

    /// <summary>Probes a restore on another road network still has to push again (<see cref="ResumeRestored"/>).</summary>
    internal int PendingResume
    {
        get
        {
            int n = 0;
            foreach (var (_, from) in _resume ?? []) n += from.Pending;
            return n;
        }
    }

    /// <summary>
    /// After a restore on another road network: each vehicle's probes its old state held undecided are pushed again, in
    /// order, into its fresh state (<see cref="OnlineMatcher.Resume"/>), vehicle by vehicle in the order they came; what
    /// they decide goes to <paramref name="output"/>. Returns the probes pushed again; nothing the second time.
    /// </summary>
    internal int ResumeRestored<TOutput>(TOutput output) where TOutput : IVehicleStageOutput
    {
        if (_resume == null) return 0;
        int n = 0;
        foreach (var (v, from) in _resume)
        {
            VehicleClass cls = _classes[v];
            var sink = new Forward<TOutput>(output, v, cls);
            n += _matchers[(int)cls].Resume(_states[v]!, from, ref sink);
        }
        _resume = null;
        return n;
    }

    private VehicleMatchState State(int vehicle, VehicleClass cls)
    {
        VehicleMatchState? s = _states[vehicle];
        if (s == null)
        {
            // A vehicle keeps the class it first came with: its matcher state is sized for that class's options.
            _classes[vehicle] = cls;
            _lastTimes[vehicle] = NoLastTime;   // no probe yet, or restored: the matcher's state knows
            _states[vehicle] = s = _matchers[(int)cls].NewState();
            _active.Add(vehicle);
        }
        return s;
    }

    private readonly struct Forward<TOutput>(TOutput output, int vehicle, VehicleClass cls) : IMatchSink where TOutput : IVehicleStageOutput
    {
        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route) => output.Matched(vehicle, cls, in match, route);
    }
}
