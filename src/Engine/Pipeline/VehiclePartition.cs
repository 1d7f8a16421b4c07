using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Rules;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Pipeline;

/// <summary>What a <see cref="VehiclePartition"/> hands on, as it happens, in a deterministic order.</summary>
public interface IVehiclePartitionOutput
{
    /// <summary>A lifecycle event of a vehicle alert (speeding, wrong way, zones, dangerous goods, fatigue, teleport, signal lost).</summary>
    void Alert(AlertEvent alert);

    /// <summary>A probe's decided match (edge −1: off the network), for the matched-probe output; in each vehicle's order.</summary>
    void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match);

    /// <summary>A traversal for the segment exchange, to the segment partition that owns <c>traversal.Edge.Edge</c>.</summary>
    void Traversal(in SegmentTraversal traversal);

    /// <summary>
    /// The same traversal in its parts (what the partition calls): an output that stores messages of its own writes the
    /// parts straight into them, where a message built first and copied had to be read back from the stack whole.
    /// </summary>
    void Traversal(int source, long sequence, int vehicleKey, in TraversedEdge edge) => Traversal(new SegmentTraversal(source, sequence, vehicleKey, edge));

    /// <summary>A watermark for the segment exchange, to every segment partition.</summary>
    void Watermark(in SegmentWatermark watermark);

    /// <summary>A probe behind the watermark: not matched, not judged, kept for the late output.</summary>
    void Late(in Probe probe, in RecordSource source);

    /// <summary>A probe the matcher refused (a duplicate, or older than the vehicle's last), with the reason.</summary>
    void Refused(in Probe probe, in RecordSource source, PushResult reason);

    /// <summary>
    /// A vehicle (by its process id) that the partition forgot (<see cref="VehiclePartitionOptions.ForgetAfterMs"/>): it
    /// holds nothing of it any more, its last matches are handed on already and its alerts name it by its text. A host
    /// whose partitions share one <see cref="VehicleIds"/> may release the id when no other partition holds it.
    /// </summary>
    void Forgotten(int vehicle)
    {
    }
}

/// <summary>Options of a vehicle partition.</summary>
public sealed record VehiclePartitionOptions
{
    /// <summary>The watermark trails the newest event time seen by this much; probes behind it are late.</summary>
    public long AllowedLatenessMs { get; init; } = 30_000;

    /// <summary>
    /// The partition moves its watermark on every this many probes, and whenever the newest event time enters another
    /// 5 s (deterministic: the same input moves it at the same points). 0: only the caller moves it, through
    /// <see cref="VehiclePartition.AdvanceWatermark"/> (a file replay, whose reader sees every partition's
    /// probes and keeps one watermark for all).
    /// </summary>
    public int WatermarkEveryProbes { get; init; } = 1024;

    /// <summary>
    /// The segment stage's window (<see cref="Segments.SegmentOptions.WindowMs"/>): the exchange is sent a watermark
    /// only when the one it would get enters another window, since the stage acts on window ends alone.
    /// </summary>
    public long SegmentWindowMs { get; init; } = 60_000;

    /// <summary>Map matching and idle flush.</summary>
    public VehicleStageOptions Vehicles { get; init; } = new();

    /// <summary>Speeding rule options; defaults when null.</summary>
    public SpeedingOptions? Speeding { get; init; }

    /// <summary>Zone rule options; defaults when null.</summary>
    public ZoneRuleOptions? Zones { get; init; }

    /// <summary>Options of the rules on the vehicle's own reports (dangerous goods, fatigue, teleport, signal lost); defaults when null.</summary>
    public VehicleConditionOptions? Conditions { get; init; }

    /// <summary>Wrong-way rule options; defaults when null.</summary>
    public WrongWayOptions? WrongWay { get; init; }

    /// <summary>
    /// Standing: the unit reports <see cref="StandingReportedKmh"/> or less; without a reported speed, the step since the
    /// last fix is this slow.
    /// A vehicle standing at both ends of a step sends no traversal to the exchange: its fixes scatter round where it
    /// stands and the matcher reads the scatter as creeping along the roads there (on a junction's short edges, a crawl
    /// that would make a waiting taxi a congested road). A queue shows in the steps of the vehicles moving through it.
    /// </summary>
    public double StandingKmh { get; init; } = 3;

    /// <summary>
    /// Standing by the unit's own reported speed: this or less. A receiver's Doppler speed is good to a few tenths of a
    /// km/h and reads 0 at a standstill, so a unit reporting 2 km/h is crawling in a queue, not standing (with 3, a road
    /// jammed at 2 km/h published nothing).
    /// </summary>
    public double StandingReportedKmh { get; init; } = 1;

    /// <summary>
    /// A step in which the match of a moving vehicle stood still (the matcher holds a slow vehicle's fixes within its
    /// minimum move, and may decide them where the last decided probe was before the route on is known) is held, up to
    /// this long, and its time given to the next step that moves, spread over that step's route: a car crawling at 5–12
    /// km/h with a fix a second stood for 5–10 s at a time and then jumped 20 m in one, so the segment it stood on took
    /// the time and a junction stub the jump crossed took a share of one second (7–14 m stubs read 30–77 km/h, level 1,
    /// inside a jam). 0: off.
    /// </summary>
    public long StallMergeMs { get; init; } = 30_000;

    /// <summary>
    /// A vehicle that has sent nothing for this long (event time, by the watermark) is forgotten: every alert it still holds
    /// open closes (<c>signal_lost</c> among them, which otherwise waits for its return), and all its state goes — its
    /// matcher state, its rules' state, its place in the checkpoint. A control centre runs for weeks while units are
    /// replaced, plates change, buses run by day and trucks visit the port once: without this, the partition held every
    /// vehicle it had ever seen (3 KB each, and 2.3 KB of checkpoint) and each watermark walked them all. One that comes
    /// back later is a new vehicle (a new chain, no <c>signal_lost</c> for the silence). Checked when the watermark enters
    /// another minute. 0: never.
    /// </summary>
    public long ForgetAfterMs { get; init; } = 6 * 3600_000;
}

/// <summary>
/// The processor of one input partition keyed by vehicle: it owns all state of the vehicles in it and runs on one
/// thread (no locks). It takes decoded probes in partition order, matches them to the road (<see cref="VehicleStage"/>),
/// runs the per-vehicle rules (speeding and zones on the matches; wrong way, dangerous goods, fatigue, teleport and
/// signal lost on the probes), keeps its event-time watermark (the newest time less the allowed lateness, moved every
/// so many probes), flushes idle vehicles on it, and sends traversals and watermarks to the segment exchange, each
/// with this partition's id and the next number of its sequence.
/// <para>
/// Everything it does depends on its input only, never on time or thread scheduling; <see cref="Save"/> writes its
/// whole state and <see cref="Load"/> restores it in another process (with other dense vehicle ids) so that replaying
/// the input from the checkpointed position gives exactly the outputs of a run that never stopped. The caller keeps
/// the input position with the checkpoint.
/// </para>
/// </summary>
public sealed class VehiclePartition
{
    private readonly int _partition;
    private readonly VehicleIds _ids;
    private readonly PartitionVehicles _local;    // the partition's own numbers of its vehicles: what everything below is indexed by
    private readonly VehicleRegistry? _registry;
    private readonly VehicleStage _stage;
    private readonly SpeedingRule _speeding;
    private readonly ZoneRule? _zones;
    private readonly VehicleConditionRules _conditions;
    private readonly WrongWayRule _wrongWay;
    private readonly EventTimeWatermark _clock;
    private readonly long _matchDelayMs;         // matches trail the watermark by up to this: the exchange's watermark waits for them
    private readonly List<AlertEvent> _alerts = []; // the rules' output, handed on at once
    private readonly List<int> _vehicles = [];   // every vehicle held (seen, not forgotten), in the order it came (the checkpoint's vehicle table)
    private readonly List<int> _gone = [];       // scratch: the vehicles a watermark forgets …
    private readonly List<VehicleClass> _goneClasses = [];   // … and the class each was matched as
    private readonly PagedArray<Slot> _slots = new();   // per vehicle (the partition's number)
    // Per vehicle with a step held (a few at a time: a match that stood still, a positions-only unit's slow steps), the step:
    // in each vehicle's slot it cost every vehicle 32 bytes.
    private readonly Dictionary<int, Stall> _stalls = [];
    private long _sequence;                       // of the last message sent to the exchange
    private List<AlertEvent>? _restoredCloses;    // restored alerts on zones no longer given, closed: handed on with the first call
    private bool _ended;

    /// <param name="partition">This partition's id, sent with its exchange messages.</param>
    /// <param name="index">The road network's edge index.</param>
    /// <param name="ids">The vehicle ids the probes carry (the decoder's table; the registry keyed by the same).</param>
    /// <param name="registry">The vehicle registry, or null.</param>
    /// <param name="zones">Zones for the zone and dangerous-goods rules, or null.</param>
    /// <param name="options">Options; defaults when null.</param>
    public VehiclePartition(int partition, EdgeIndex index, VehicleIds ids, VehicleRegistry? registry, ZoneSet? zones, VehiclePartitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        Options = options ?? new VehiclePartitionOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(Options.WatermarkEveryProbes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.SegmentWindowMs);
        _partition = partition;
        _ids = ids;
        _local = new PartitionVehicles(ids);
        _registry = registry;
        Index = index;
        Zones = zones;
        _stage = new VehicleStage(index, Options.Vehicles);
        _matchDelayMs = Options.Vehicles.IdleFlushMs + (long)(Options.Vehicles.MatcherByClass.Max(o => o?.LagSeconds ?? new MatcherOptions().LagSeconds) * 1000);
        _speeding = new SpeedingRule(index, _local, Options.Speeding);
        _zones = zones is { Zones.Count: > 0 } ? new ZoneRule(zones, _local, registry, Options.Zones) : null;
        _conditions = new VehicleConditionRules(_local, zones, Options.Conditions);
        _wrongWay = new WrongWayRule(index, _local, Options.WrongWay);
        // The wrong-way rule looks at the roads around each moving fix: the matcher's candidate search finds them too.
        _stage.SearchAlongside(_wrongWay.Nearby);
        _clock = new EventTimeWatermark(Options.AllowedLatenessMs, Options.WatermarkEveryProbes);
    }

    /// <summary>This partition's id.</summary>
    public int Partition => _partition;

    /// <summary>The options it runs with.</summary>
    public VehiclePartitionOptions Options { get; }

    /// <summary>The road network's edge index.</summary>
    public EdgeIndex Index { get; }

    /// <summary>The zones of the zone and dangerous-goods rules, or null.</summary>
    public ZoneSet? Zones { get; }

    /// <summary>The event-time watermark: probes older are late (<see cref="long.MinValue"/> before the first move).</summary>
    public long WatermarkMs => _ended ? long.MaxValue : _stage.Watermark;

    /// <summary>
    /// Every alert the partition raises from now on is at or after this (<see cref="long.MinValue"/> before the watermark's
    /// first move, <see cref="long.MaxValue"/> at the end): a probe's alerts are at its time, which is not behind the
    /// watermark; a match's at the match's, which trails it by up to the idle flush and the matcher's lag; the watermark's
    /// own (silent vehicles, forgotten ones) at the watermark.
    /// </summary>
    public long AlertFloorMs => WatermarkMs is long w && w != long.MinValue && w != long.MaxValue ? w - _matchDelayMs : WatermarkMs;

    /// <summary>The newest event time seen.</summary>
    public long MaxEventTimeMs => _clock.MaxTimeMs;

    /// <summary>Probes taken (late and refused ones included).</summary>
    public long Probes => _clock.Probes;

    /// <summary>The sequence number of the last message sent to the exchange (0: none yet).</summary>
    public long Sequence => _sequence;

    /// <summary>Whether the partition holds a vehicle (by its process id): has seen it and not forgotten it.</summary>
    public bool Holds(int processId) => _local.Find(processId) >= 0;

    /// <summary>The process ids of the vehicles the partition holds.</summary>
    public IEnumerable<int> HeldVehicles => _vehicles.Select(_local.ProcessId);

    /// <summary>Vehicles held: seen and not forgotten (<see cref="VehiclePartitionOptions.ForgetAfterMs"/>).</summary>
    public int Vehicles => _vehicles.Count;

    /// <summary>
    /// The length the per-vehicle arrays of the partition need: the most vehicles it has held at once, for a forgotten
    /// vehicle's number goes to the next that comes (<see cref="PartitionVehicles"/>), whatever else the process interned.
    /// </summary>
    internal int VehicleNumbers => _local.Issued;

    /// <summary>Restored from a checkpoint written with other zones (a zones file edited between the runs).</summary>
    public bool ZonesChanged { get; private set; }

    /// <summary>
    /// Alerts a checkpoint held open on zones the zones given no longer have (or a corridor the vehicle no longer has):
    /// closed at the restore, and handed on with the first probe or watermark after it.
    /// </summary>
    public int ClosedOnRemovedZones { get; private set; }

    /// <summary>
    /// Restored from a checkpoint written on another road network (an updated OSM extract): what names the old network's
    /// edges was dropped (the matcher's frontiers, the speeding rule's route history and condition, the wrong-way rule's road
    /// and evidence, held steps), the rest kept (docs/checkpoint.md).
    /// </summary>
    public bool NetworkChanged { get; private set; }

    /// <summary>
    /// Alerts a checkpoint of another road network held open on its roads (<c>speeding</c>, <c>wrong_way</c>): closed at
    /// the restore with <c>network_changed: 1</c>, handed on as <see cref="ClosedOnRemovedZones"/>'s are.
    /// </summary>
    public int ClosedOnNetworkChange { get; private set; }

    /// <summary>
    /// The first sequence number of the epoch after the one of <paramref name="sequence"/>: a partition restored on another
    /// road network numbers its exchange messages from there on (epochs of 2^40 messages), and a segment partition restored
    /// on it drops the traversals of the epoch before (sent on the old network, with its edge ids).
    /// </summary>
    public static long NetworkEpoch(long sequence) => ((sequence >> 40) + 1) << 40;

    /// <summary>
    /// Probes the matcher held undecided in a checkpoint of another road network: pushed again into fresh states on this
    /// network (<see cref="HandRestoredCloses"/>), so that none is lost.
    /// </summary>
    public int ResumedProbes { get; private set; }

    /// <summary>Vehicles forgotten, silent for <see cref="VehiclePartitionOptions.ForgetAfterMs"/>.</summary>
    public long Forgotten { get; private set; }

    /// <summary>Probes matched to an edge.</summary>
    public long Matched { get; private set; }

    /// <summary>Probes decided to lie off the network.</summary>
    public long Unmatched { get; private set; }

    /// <summary>Probes without a fix: the rules on the vehicle's reports judge them; the matcher takes none.</summary>
    public long NoFix => _stage.NoFixCount;

    /// <summary>Probes that came behind the watermark.</summary>
    public long Late => _stage.LateCount;

    /// <summary>Probes the matcher refused (duplicates, out of order).</summary>
    public long Refused => _stage.RefusedCount;

    /// <summary>
    /// Takes the next probe of this partition; what follows from it goes to <paramref name="output"/> before this returns.
    /// Every <see cref="VehiclePartitionOptions.WatermarkEveryProbes"/> probes, the watermark moves on afterwards.
    /// </summary>
    public void OnProbe(in Probe probe, in RecordSource source, IVehiclePartitionOutput output)
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        if ((uint)probe.Vehicle >= (uint)_ids.Count) ThrowUnknownVehicle(probe.Vehicle);
        var (cls, hazmat) = VehicleRegistry.Resolve(_registry, in probe);   // the registry knows the process's ids
        // From here on the vehicle is the partition's own number (its outputs get the process's id back).
        Probe p = probe;
        p.Vehicle = _local.Find(probe.Vehicle) is int held and >= 0 ? held : See(probe.Vehicle);
        int v = p.Vehicle;
        // Set before the stage runs: its matches (this probe's or earlier ones') reach the rules at once.
        ref Slot slot = ref _slots[v];
        slot.Hazmat = hazmat;
        if (p.TimeMs > slot.LastMs) slot.LastMs = p.TimeMs;
        // A late probe goes to the late output only: the rules judge what the stage takes.
        if (_stage.Accept(in p, cls, in source, new StageOutput(this, output)))
        {
            _conditions.OnProbe(in p, cls, hazmat, _alerts);
            _wrongWay.OnProbe(in p, cls, hazmat, _alerts);
            Hand(output);
        }
        if (_clock.Observe(v, p.TimeMs, out long watermark)) AdvanceWatermark(watermark, output);
    }

    /// <summary>
    /// Asks for the state of the vehicle of a probe that comes two probes from now (<see cref="Traffic.Geo.CacheHint"/>):
    /// its matcher state and rule state objects, without reading them. Changes nothing; a shard that knows its next
    /// probes overlaps the cache misses of each vehicle's scattered state with the work on the probes before.
    /// </summary>
    public void PrefetchState(int vehicle)
    {
        vehicle = _local.Find(vehicle);
        if (vehicle < 0) return;
        _stage.PrefetchState(vehicle);
        _conditions.Prefetch(vehicle);
        _wrongWay.Prefetch(vehicle);
        _speeding.Prefetch(vehicle);
    }

    /// <summary>
    /// Asks for what the state objects of the vehicle of the next probe point to (its matcher ring), reading the objects
    /// that <see cref="PrefetchState"/> asked for a probe before. Changes nothing.
    /// </summary>
    public void PrefetchStateContents(int vehicle)
    {
        vehicle = _local.Find(vehicle);
        if (vehicle >= 0) _stage.PrefetchRing(vehicle);
    }

    /// <summary>
    /// Moves the watermark on (nothing when it is not ahead of the current one): idle vehicles are flushed, silent ones
    /// raise <c>signal_lost</c>, and the exchange gets a watermark less the time matches may trail it. Called by the
    /// partition itself, or by the caller when <see cref="VehiclePartitionOptions.WatermarkEveryProbes"/> is 0.
    /// </summary>
    public void AdvanceWatermark(long watermarkMs, IVehiclePartitionOutput output)
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        if (watermarkMs <= _stage.Watermark || _ended) return;
        if (watermarkMs == long.MaxValue)
        {
            OnEndOfInput(output);
            return;
        }
        long before = _stage.Watermark;
        _stage.AdvanceWatermark(watermarkMs, new StageOutput(this, output));
        _conditions.OnWatermark(watermarkMs, _alerts);
        // Vehicles silent too long: their speeding alerts (on matches, which trail the watermark by up to the match
        // delay) and wrong-way alerts (on the vehicles' own fixes) close.
        _speeding.OnWatermark(watermarkMs - _matchDelayMs, _alerts);
        _wrongWay.OnWatermark(watermarkMs, _alerts);
        if (Options.ForgetAfterMs > 0 && (before == long.MinValue || before / 60_000 != watermarkMs / 60_000)) ForgetGone(watermarkMs, output);
        Hand(output);
        // Decided by the watermarks alone (restored with the state), so a restored partition sends the same messages.
        long window = Options.SegmentWindowMs, segmentMs = watermarkMs - _matchDelayMs;
        if (before == long.MinValue || (before - _matchDelayMs) / window != segmentMs / window)
            output.Watermark(new SegmentWatermark(_partition, ++_sequence, segmentMs));
    }

    /// <summary>
    /// Forgets the vehicles silent for <see cref="VehiclePartitionOptions.ForgetAfterMs"/> (in the order they came, so a
    /// restored partition forgets the same in the same order): the stage decides their pending probes, the rules close
    /// what they hold open, and then every trace of them goes. The watermark's own vehicle marks (a lone source's
    /// vehicle, a unit ahead of the others) are kept.
    /// </summary>
    private void ForgetGone(long watermarkMs, IVehiclePartitionOutput output)
    {
        _gone.Clear();
        foreach (int v in _vehicles)
        {
            if (watermarkMs - _slots[v].LastMs >= Options.ForgetAfterMs && v != _clock.OnlyVehicle && v != _clock.AheadVehicle) _gone.Add(v);
        }
        if (_gone.Count == 0) return;
        ReadOnlySpan<int> gone = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_gone);
        _goneClasses.Clear();
        foreach (int v in gone) _goneClasses.Add(_stage.ClassOf(v));
        _stage.Forget(gone, new StageOutput(this, output));
        if (_zones != null)
        {
            for (int k = 0; k < gone.Length; k++)
                _zones.Gone(gone[k], _goneClasses[k], _slots[gone[k]].Hazmat, _slots[gone[k]].LastMs, watermarkMs, _alerts);
        }
        _speeding.Forget(gone, watermarkMs, _alerts);
        _zones?.Forget(gone);
        _conditions.Forget(gone, watermarkMs, _alerts);
        _wrongWay.Forget(gone, watermarkMs, _alerts);
        // A held step goes too: its window closed hours ago, and the exchange would only count it late.
        foreach (int v in gone)
        {
            _slots[v] = default;
            _stalls.Remove(v);
        }
        Forgotten += gone.Length;
        foreach (int v in gone)
        {
            int processId = _local.ProcessId(v);
            _local.Release(v);   // its number for the next vehicle that comes
            output.Forgotten(processId);
        }
        _vehicles.RemoveAll(v => _local.ProcessId(v) < 0);   // those released; the rest keep their order
    }

    /// <summary>
    /// The end of a finite input (a file): every vehicle's pending probes are decided and handed on, and the exchange
    /// gets the final watermark (<see cref="long.MaxValue"/>). Nothing is taken afterwards.
    /// </summary>
    public void OnEndOfInput(IVehiclePartitionOutput output)
    {
        if (_restoredCloses != null) HandRestoredCloses(output);
        if (_ended) return;
        var stage = new StageOutput(this, output);
        _stage.Complete(stage);
        _stage.AdvanceWatermark(long.MaxValue, stage);
        _ended = true;
        output.Watermark(new SegmentWatermark(_partition, ++_sequence, long.MaxValue));
    }

    /// <summary>
    /// Writes the partition's whole state as a checkpoint (docs/checkpoint.md): watermark, sequence and counters, and per
    /// vehicle, keyed by its id string: class and dangerous goods, matcher state, every rule's state with the alerts it
    /// holds open. The caller stores the input position with it.
    /// </summary>
    public void Save(Stream checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        using var w = new CheckpointWriter();
        BinaryWriter o = w.Out;
        o.Write(_partition);
        o.Write(NetworkFingerprint.Of(Index.Network));
        o.Write(NetworkFingerprint.Of(Zones));
        w.VehicleTable(_local, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_vehicles));
        foreach (int v in _vehicles)
        {
            o.Write(_slots[v].Hazmat);
            o.Write(_slots[v].WasStanding);
            o.Write(_slots[v].WasStood);
            // A vehicle without a step held writes the edge -1 and zeros.
            Stall held = _stalls.TryGetValue(v, out Stall h) ? h : new Stall { Edge = -1 };
            o.Write(held.Edge);
            o.Write(held.OffsetM);
            o.Write(held.FromMs);
            o.Write(held.ToMs);
            o.Write(held.Slow);
            o.Write(_slots[v].LastMs);
        }
        o.Write(_clock.MaxTimeMs);
        o.Write(_clock.Probes);
        SaveVehicleOrMark(w, _clock.OnlyVehicle);
        SaveVehicleOrMark(w, _clock.AheadVehicle);
        o.Write(_clock.AheadFromMs);
        o.Write(_clock.AheadRun);
        o.Write(_clock.AheadOthers);
        o.Write(_sequence);
        o.Write(_ended);
        o.Write(Matched);
        o.Write(Unmatched);
        o.Write(Forgotten);
        _stage.Save(w);
        _speeding.Save(w);
        o.Write(_zones != null);
        _zones?.Save(w);
        _conditions.Save(w);
        _wrongWay.Save(w);
        w.WriteTo(checkpoint, CheckpointKind.VehiclePartition);
    }

    // A vehicle of the watermark's state (by the checkpoint's vehicle table), or its marks for none (-1) and several (-2).
    private static void SaveVehicleOrMark(CheckpointWriter w, int vehicle)
    {
        w.Out.Write(vehicle >= 0);
        if (vehicle >= 0) w.Vehicle(vehicle);
        else w.Out.Write(vehicle);
    }

    private static int LoadVehicleOrMark(CheckpointReader r)
    {
        if (r.In.ReadBoolean()) return r.Vehicle();
        int mark = r.In.ReadInt32();
        CheckpointReader.Check(mark is -1 or -2, "checkpoint malformed: a watermark's vehicle mark other than none or several");
        return mark;
    }

    /// <summary>
    /// Restores a partition from a checkpoint written by <see cref="Save"/>, in this process: vehicle ids are interned
    /// into <paramref name="ids"/> (the table the decoder and registry use here) and the partition numbers its vehicles in
    /// the checkpoint's table order (<see cref="PartitionVehicles"/>). The other arguments are as for the constructor and describe the same configuration (matcher
    /// options), but for the zones (<see cref="ZonesChanged"/>) and the road network (<see cref="NetworkChanged"/>), which
    /// may have changed since. A foreign, corrupt or truncated checkpoint, or one of another partition, is refused with a
    /// <see cref="CheckpointException"/>.
    /// </summary>
    public static VehiclePartition Load(int partition, EdgeIndex index, VehicleIds ids, VehicleRegistry? registry, ZoneSet? zones, Stream checkpoint,
        VehiclePartitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        var p = new VehiclePartition(partition, index, ids, registry, zones, options);
        return CheckpointReader.Restore(checkpoint, CheckpointKind.VehiclePartition, r =>
        {
            BinaryReader i = r.In;
            int stored = i.ReadInt32();
            CheckpointReader.Check(stored == partition, $"checkpoint of vehicle partition {stored}; this is partition {partition}");
            // Another road network (an OSM extract updated since): the state that names its edges goes, the rest is kept.
            bool networkChanged = p.NetworkChanged = i.ReadUInt64() != NetworkFingerprint.Of(index.Network);
            // Zones may have been added, removed or reordered since: their state is matched by id and kind (ZoneRule.Load).
            p.ZonesChanged = i.ReadUInt64() != NetworkFingerprint.Of(zones);
            Span<int> table = r.VehicleTable(ids);
            for (int k = 0; k < table.Length; k++)
            {
                CheckpointReader.Check(p._local.Find(table[k]) < 0, "checkpoint malformed: a vehicle twice in its table");
                int v = table[k] = p.See(table[k]);   // the partition's own number from here on
                p._slots[v].Hazmat = i.ReadUInt16();
                p._slots[v].WasStanding = i.ReadBoolean();
                p._slots[v].WasStood = i.ReadBoolean();
                var held = new Stall { Edge = i.ReadInt32() };
                CheckpointReader.Check(networkChanged || (held.Edge >= -1 && held.Edge < index.Network.EdgeCount), "checkpoint malformed: a held step on no edge of the network");
                held.OffsetM = i.ReadDouble();
                held.FromMs = i.ReadInt64();
                held.ToMs = i.ReadInt64();
                held.Slow = i.ReadBoolean();
                p._slots[v].LastMs = i.ReadInt64();
                // A step held on an old network's edge is dropped, as a forgotten vehicle's is.
                if (held.Edge >= 0 && !networkChanged) p._stalls[v] = held;
            }
            p._clock.MaxTimeMs = i.ReadInt64();
            p._clock.Probes = i.ReadInt64();
            p._clock.OnlyVehicle = LoadVehicleOrMark(r);
            p._clock.AheadVehicle = LoadVehicleOrMark(r);
            p._clock.AheadFromMs = i.ReadInt64();
            p._clock.AheadRun = i.ReadInt32();
            p._clock.AheadOthers = i.ReadInt32();
            p._sequence = i.ReadInt64();
            p._ended = i.ReadBoolean();
            p.Matched = i.ReadInt64();
            p.Unmatched = i.ReadInt64();
            p.Forgotten = i.ReadInt64();
            p._stage.Load(r, networkChanged);
            p._speeding.Load(r, networkChanged);
            // Zone state written with zones that are none now is read all the same, so that its open alerts close.
            ZoneRule? zoneState = i.ReadBoolean() ? p._zones ?? new ZoneRule(ZoneSet.Empty, p._local, registry, p.Options.Zones) : null;
            zoneState?.Load(r);
            p._conditions.Load(r);
            p._wrongWay.Load(r, networkChanged);
            if (zoneState is { RemovedOpen: > 0 })
            {
                p._restoredCloses = [];
                zoneState.CloseRemoved(v => (p._stage.ClassOf(v), p._slots[v].Hazmat, p._slots[v].LastMs), p._clock.MaxTimeMs, p._restoredCloses);
                p.ClosedOnRemovedZones = p._restoredCloses.Count;
            }
            if (networkChanged)
            {
                // Handed on with the closes (HandRestoredCloses), and then the probes the matcher held undecided go again.
                p._restoredCloses ??= [];
                p.ClosedOnNetworkChange = p._speeding.CloseOnNetworkChange(p._clock.MaxTimeMs, p._restoredCloses)
                    + p._wrongWay.CloseOnNetworkChange(p._clock.MaxTimeMs, p._restoredCloses);
                p.ResumedProbes = p._stage.PendingResume;
                // What it sends from now on names this network's edges: its sequence moves to a new epoch, so that a segment
                // partition tells it from what the old run sent (SegmentPartition.OldNetworkTraversals).
                p._sequence = NetworkEpoch(p._sequence) - 1;
            }
            return p;
        });
    }

    /// <summary>A vehicle (by its process id) the partition does not hold: its number here, its slot, its exchange key, its place in the order.</summary>
    private int See(int processId)
    {
        int vehicle = _local.Add(processId);
        _slots[vehicle] = new Slot { Key = VehicleKey.Of(_ids.Name(processId)), LastMs = long.MinValue };
        _vehicles.Add(vehicle);
        return vehicle;
    }

    /// <summary>A decided match from the stage: the matched output, the rules on matches, the traversals to the exchange.</summary>
    private void OnMatched(int vehicle, VehicleClass cls, in MatchedProbe match, ReadOnlySpan<TraversedEdge> route, IVehiclePartitionOutput output)
    {
        output.Matched(_local.ProcessId(vehicle), cls, in match);
        if (match.Edge < 0)
        {
            Unmatched++;
            FlushStall(vehicle, _slots[vehicle].Key, output);
            return;
        }
        Matched++;
        ushort hazmat = _slots[vehicle].Hazmat;
        _speeding.OnMatched(vehicle, cls, hazmat, in match, _alerts, route);
        _zones?.OnMatched(vehicle, cls, hazmat, in match, _alerts);
        Hand(output);
        ref Slot slot = ref _slots[vehicle];
        int key = slot.Key;
        bool standing = StandingStep(vehicle, cls, ref slot, in match, out bool slowOnly);
        if (route.Length == 0 || (standing && !(slowOnly && Options.StallMergeMs > 0)))
        {
            FlushStall(vehicle, key, output);
            return;
        }
        // The step held, if any: a reference into the table, valid until the table changes (a flush or a new step held).
        ref Stall held = ref CollectionsMarshal.GetValueRefOrNullRef(_stalls, vehicle);
        bool holds = !Unsafe.IsNullRef(ref held);
        if (standing)
        {
            // A unit reporting positions only, this step slow (its match stood still or crept under the standing speed):
            // standing, or crawling with its match held still and then moved on in one step. Held, and judged with the
            // next step that moves over the whole stretch; a stretch under the standing speed is dropped as it was.
            long enter = route[0].EnterTimeMs, exit = route[^1].ExitTimeMs;
            ref readonly TraversedEdge last = ref route[^1];
            if (holds && held.Slow && held.ToMs == enter && exit - held.FromMs <= Options.StallMergeMs)
            {
                (held.Edge, held.OffsetM, held.ToMs) = (last.Edge, last.ToOffsetM, exit);
                return;
            }
            FlushStall(vehicle, key, output);
            if (exit - enter > Options.StallMergeMs) return;
            _stalls[vehicle] = new Stall { Edge = last.Edge, OffsetM = last.ToOffsetM, FromMs = enter, ToMs = exit, Slow = true };
            return;
        }
        if (route.Length == 1 && route[0].ToOffsetM == route[0].FromOffsetM && Options.StallMergeMs > 0)
        {
            // The match stood still while the vehicle moved: held for the next step that moves.
            ref readonly TraversedEdge t = ref route[0];
            if (holds && held.Edge == t.Edge && !held.Slow && held.OffsetM == t.FromOffsetM && held.ToMs == t.EnterTimeMs
                && t.ExitTimeMs - held.FromMs <= Options.StallMergeMs)
            {
                held.ToMs = t.ExitTimeMs;
                return;
            }
            FlushStall(vehicle, key, output);
            if (t.ExitTimeMs - t.EnterTimeMs > Options.StallMergeMs)
            {
                output.Traversal(_partition, ++_sequence, key, in t);
                return;
            }
            _stalls[vehicle] = new Stall { Edge = t.Edge, OffsetM = t.FromOffsetM, FromMs = t.EnterTimeMs, ToMs = t.ExitTimeMs, Slow = false };
            return;
        }
        long t0 = route[0].EnterTimeMs, t1 = route[^1].ExitTimeMs;
        if (holds && held.Edge == route[0].Edge && held.OffsetM == route[0].FromOffsetM
            && held.ToMs == t0 && t1 > t0 && (!held.Slow || Driven(route) * 3600 > Options.StandingKmh * (t1 - held.FromMs)))
        {
            // The stall and this step are one stretch of driving: the step's route timed over both.
            long from = held.FromMs;
            double scale = (double)(t1 - from) / (t1 - t0);
            _stalls.Remove(vehicle);
            for (int i = 0; i < route.Length; i++)
            {
                TraversedEdge r = route[i];
                var stretched = r with
                {
                    EnterTimeMs = from + (long)Math.Round((r.EnterTimeMs - t0) * scale),
                    ExitTimeMs = i == route.Length - 1 ? t1 : from + (long)Math.Round((r.ExitTimeMs - t0) * scale),
                };
                output.Traversal(_partition, ++_sequence, key, in stretched);
            }
            return;
        }
        if (holds) FlushStall(vehicle, key, output);
        for (int i = 0; i < route.Length; i++) output.Traversal(_partition, ++_sequence, key, in route[i]);
    }

    private static double Driven(ReadOnlySpan<TraversedEdge> route)
    {
        double m = 0;
        foreach (ref readonly TraversedEdge t in route) m += t.ToOffsetM - t.FromOffsetM;
        return m;
    }

    /// <summary>Ends a held stall that no step that moves took on: sent as it was, or dropped when it was a positions-only unit's slow steps (standing).</summary>
    private void FlushStall(int vehicle, int key, IVehiclePartitionOutput output)
    {
        if (_stalls.Count == 0 || !_stalls.Remove(vehicle, out Stall held) || held.Slow) return;
        var t = new TraversedEdge(held.Edge, held.OffsetM, held.OffsetM, held.FromMs, held.ToMs);
        output.Traversal(_partition, ++_sequence, key, in t);
    }

    /// <summary>
    /// Whether the vehicle stood through the step that ends at this match (see <see cref="VehiclePartitionOptions.StandingKmh"/>).
    /// A unit that reports positions only, and scatters more than its class's matcher is told (by a quarter), also stood
    /// through a step whose two ends lie in a stop of two minutes or more its fixes show, itself so scattered
    /// (<see cref="VehicleConditionRules.StoodAt"/>): such a unit's fixes fall beyond where the matcher holds a standing
    /// unit's fixes as one, and each step then reads as driving (six taxis at a rank, units of 20–30 m fixing every second,
    /// published 41–62 segment rows at up to 149 km/h in half an hour).
    /// </summary>
    private bool StandingStep(int vehicle, VehicleClass cls, ref Slot slot, in MatchedProbe match, out bool slowOnly)
    {
        bool reported = !double.IsNaN(match.ReportedSpeedKmh);
        bool standing = reported ? match.ReportedSpeedKmh <= Options.StandingReportedKmh : match.SpeedKmh <= Options.StandingKmh;
        bool step = standing && (slot.WasStanding || !reported);
        slot.WasStanding = standing;
        slowOnly = false;
        if (reported) return step;
        // Only for such units, and long stops: for the rest the matcher holds a standing unit's fixes as one, while a stop's
        // radius (30–100 m) would also take the first metres of driving off and a slow drive behind a stop (a bus leaving
        // its stop at 9 km/h, fixed every 10 s) into it.
        double noisier = 1.25 * _stage.SigmaM(cls);
        bool stood = _wrongWay.UnitScatterM(vehicle) > noisier && _conditions.StoodAt(vehicle, match.TimeMs, match.ProbeLon, match.ProbeLat, noisier);
        slowOnly = step && !(stood && slot.WasStood);
        step |= stood && slot.WasStood;
        slot.WasStood = stood;
        return step;
    }

    /// <summary>
    /// Hands on the closes of the alerts a restore found open on zones no longer given (<see cref="ClosedOnRemovedZones"/>)
    /// or on the roads of another network (<see cref="ClosedOnNetworkChange"/>), and, after the latter, matches again the
    /// probes the matcher held undecided (<see cref="ResumedProbes"/>), if not yet done: the first probe or watermark does
    /// it, and a host calls it right after the restore, so that a checkpoint written before either (its first records all
    /// refused) cannot drop them.
    /// </summary>
    public void HandRestoredCloses(IVehiclePartitionOutput output)
    {
        if (_restoredCloses == null) return;
        foreach (var a in _restoredCloses) output.Alert(a);
        _restoredCloses = null;
        // Restored on another road network: the probes the matcher held undecided are matched again on this one, and what
        // they decide goes on as any match does.
        if (NetworkChanged) _stage.ResumeRestored(new StageOutput(this, output));
    }

    private void Hand(IVehiclePartitionOutput output)
    {
        if (_alerts.Count == 0) return;
        foreach (var a in _alerts) output.Alert(a);
        _alerts.Clear();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowUnknownVehicle(int vehicle) =>
        throw new ArgumentOutOfRangeException(nameof(vehicle), $"probe of vehicle {vehicle}, which the partition's VehicleIds ({_ids.Count} ids) does not hold");

    /// <summary>What the partition keeps per vehicle besides the stage's and the rules' state.</summary>
    /// <remarks>
    /// Laid out by the runtime, widest fields first: 16 bytes (48 with the step held, which is in <see cref="_stalls"/> now, and
    /// a flag for a number in use, which <see cref="_local"/> tells).
    /// </remarks>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Auto)]
    private struct Slot
    {
        public ushort Hazmat;   // the dangerous goods it last reported (or the registry's)
        public int Key;         // its exchange key
        public bool WasStanding;   // at its last match
        public bool WasStood;      // at its last match, in a stop its fixes show (a unit that reports positions only)
        public long LastMs;           // its newest probe's time: silent long enough, it is forgotten
    }

    /// <summary>
    /// A held step in which the match stood still while the vehicle moved: on which edge, where on it, from when to when, and
    /// whether it is a positions-only unit's slow steps (dropped unless a step that moves takes them on).
    /// </summary>
    private struct Stall
    {
        public int Edge;
        public double OffsetM;
        public long FromMs;
        public long ToMs;
        public bool Slow;
    }

    /// <summary>
    /// The stage's output, forwarded to the partition and its caller's output. A struct of no type parameter, so that the
    /// stage and the matcher are compiled for it alone: over a caller's class (every caller's output is one), a struct
    /// generic over it ran the whole matcher as shared generic code, each call to the sink through an instantiating stub.
    /// </summary>
    private readonly struct StageOutput(VehiclePartition partition, IVehiclePartitionOutput output) : IVehicleStageOutput
    {
        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match, ReadOnlySpan<TraversedEdge> route) =>
            partition.OnMatched(vehicle, vehicleClass, in match, route, output);

        public void Late(in Probe probe, in RecordSource source)
        {
            Probe p = probe;
            p.Vehicle = partition._local.ProcessId(p.Vehicle);
            output.Late(in p, in source);
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
            Probe p = probe;
            p.Vehicle = partition._local.ProcessId(p.Vehicle);
            output.Refused(in p, in source, reason);
        }
    }
}
