using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Traffic.Geo.Matching;

/// <summary>
/// One vehicle's Viterbi frontier: a ring of probe columns (the last decided one, the anchor, then the undecided
/// ones). Only the probes the model uses carry candidates (up to K each, in a ring of candidate blocks of their own);
/// a follower is a column without candidates (id, time, position), so the same bytes hold more probes when most of
/// them are followers (dense sampling, slow or standing vehicles). Everything lives in one packed byte array so that
/// a tracked vehicle costs under a kilobyte online; an offline match lets the ring grow to the whole trace.
/// </summary>
public sealed class VehicleMatchState
{
    /// <summary>Positions are stored as float offsets from a reference point, re-based beyond this many degrees.</summary>
    private const double RebaseDegrees = 0.25;

    /// <summary>The memory an online state is sized to stay within (the requirement: under 1 KB a vehicle).</summary>
    internal const int BudgetBytes = 1023;

    // [columns: slots × Column][blocks: Blocks × K × Candidate][decided: Candidate, ushort offset]
    // [newest: K × float score][newest: K × ushort offset]
    private byte[] _blob;
    private int _capacity;           // columns the ring holds before it must decide or grow (probes, followers included)
    private int _slots;              // column slots the blob has now: an online ring widens one slot at a time when its
                                     // columns need it, up to the lag's, then to its capacity (a run of followers)
    private readonly byte _k;        // candidates per column, at most
    private readonly byte _blocks;   // candidate blocks (one per probe with candidates that may be pending), 0: one per column
    private byte _blockSlots;        // candidate blocks the blob has now (compact rings): widened by one, up to _blocks, when
                                     // the pending columns with candidates hold them all, as most vehicles reporting every
                                     // 10-15 s never do
    private long _timeBase;          // column times are milliseconds after this
    private long _idBase;            // column probe ids are offsets from this

    internal int K => _k;
    internal int Start;              // ring slot of the oldest column
    internal int Length;             // columns held, anchor included
    private byte _flags;             // HasAnchor, HasInput, CanGrow: one byte, which keeps the object within 128 bytes
    internal byte NextBlock;         // the candidate block the next column with candidates takes (compact rings)
    private double _refLon;          // reference point of the stored float positions
    private double _refLat;

    private const byte AnchorFlag = 1, InputFlag = 2, GrowFlag = 4;

    /// <summary>Column 0 is the last decided one (its match in the decided slot).</summary>
    internal bool HasAnchor
    {
        get => (_flags & AnchorFlag) != 0;
        set => _flags = (byte)(value ? _flags | AnchorFlag : _flags & ~AnchorFlag);
    }

    /// <summary>A probe has been accepted: the fields below are the last one's, for ordering, duplicates and gaps (survives flushes).</summary>
    internal bool HasInput
    {
        get => (_flags & InputFlag) != 0;
        set => _flags = (byte)(value ? _flags | InputFlag : _flags & ~InputFlag);
    }

    internal long LastTime;
    internal double LastLon;
    internal double LastLat;
    internal ChainBreak NextBreak = ChainBreak.Start;
    internal byte Outliers;          // consecutive probes kept as followers because no route reached them

    // The last probe used as a model column (not a follower): followers and transitions measure from it.
    internal long KeptTime;
    internal double KeptLon;
    internal double KeptLat;

    public VehicleMatchState(MatcherOptions options)
        : this(options.MaxCandidates, OnlineCapacity(options), OnlineBlocks(options), OnlineSlots(options), OnlineStartBlocks(options))
    {
        if (options.LagProbes >= GrowableLag) _flags |= GrowFlag;
    }

    /// <summary>
    /// A state of <paramref name="capacity"/> columns, <paramref name="slots"/> of them allocated to begin with (0: all);
    /// <paramref name="blocks"/> candidate blocks, <paramref name="startBlocks"/> of them allocated to begin with (0: all),
    /// or 0 for one per column (and then all slots allocated).
    /// </summary>
    internal VehicleMatchState(int k, int capacity, int blocks = 0, int slots = 0, int startBlocks = 0)
    {
        if (k is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(k), "between 1 and 32 candidates");
        if (blocks is < 0 or > byte.MaxValue) throw new ArgumentOutOfRangeException(nameof(blocks), "a byte's block index");
        _k = (byte)k;
        _capacity = capacity;
        _blocks = (byte)blocks;
        _slots = blocks == 0 || slots <= 0 ? capacity : Math.Min(slots, capacity);
        _blockSlots = (byte)(startBlocks <= 0 ? blocks : Math.Min(startBlocks, blocks));
        _blob = new byte[BlobSize(k, _slots, BlockCount)];
    }

    /// <summary>
    /// Asks for a state's object ahead of use (<see cref="CacheHint"/>), without reading it: a shard does it for the vehicle
    /// of the probe after next, and <see cref="PrefetchRing"/> for the next one, whose object is then in the cache.
    /// </summary>
    public static void Prefetch(VehicleMatchState? state) => CacheHint.Object(state, ObjectBytes);

    /// <summary>Asks for the ring's bytes ahead of use: a probe reads most of them (columns, candidates, scores).</summary>
    public void PrefetchRing() => CacheHint.Array(_blob);

    /// <summary>Columns (probes, followers included) the ring holds before it must decide or grow.</summary>
    public int Capacity => _capacity;

    /// <summary>Probes received but not yet decided.</summary>
    public int Pending => Length - (HasAnchor ? 1 : 0);

    /// <summary>
    /// Bytes of memory held for this vehicle now: the object (header and fields) and its array, each padded to 8 bytes; at
    /// most <see cref="BudgetBytes"/> online, less while the ring has not needed all its columns.
    /// </summary>
    public int SizeBytes => ObjectBytes + Align8(ArrayHeaderBytes + _blob.Length);

    // The object: header, blob reference and fields, padded (128 bytes as BenchmarkDotNet measures it); the
    // array's header and payload are counted apart.
    private const int ObjectBytes = 128;
    private const int ArrayHeaderBytes = 24;

    /// <summary>From this lag on, the state grows with the trace instead of forcing decisions when full (offline).</summary>
    internal const int GrowableLag = 1024;

    /// <summary>Whether the ring grows when full (offline) rather than forcing the oldest decision (online).</summary>
    internal bool CanGrow => (_flags & GrowFlag) != 0;

    /// <summary>Whether each column has a candidate block of its own (its ring slot) rather than one from the block ring.</summary>
    private bool Direct => _blocks == 0;

    private int BlockCount => Direct ? _capacity : _blockSlots;

    /// <summary>Column slots the ring has now (its capacity, unless an online ring has not needed them all yet).</summary>
    internal int Slots => _slots;

    /// <summary>Candidate blocks the ring has now.</summary>
    internal int BlockSlots => BlockCount;

    /// <summary>
    /// Columns of an online ring: the anchor, the lag and the new column at least, and as many more as the
    /// memory budget leaves room for (followers need no candidates). Offline, 64 to start with.
    /// </summary>
    internal static int OnlineCapacity(MatcherOptions o)
    {
        if (o.LagProbes >= GrowableLag) return 64;
        int min = o.LagProbes + 2; // anchor + lag + the new column
        int blocks = OnlineBlocks(o);
        if (blocks == 0) return min;
        int h = min;
        while (ObjectBytes + Align8(ArrayHeaderBytes + BlobSize(o.MaxCandidates, h + 1, blocks)) <= BudgetBytes) h++;
        return h;
    }

    /// <summary>
    /// Candidate blocks of an online ring: one for each probe with candidates that may be pending (the lag and the new
    /// one; the anchor's match has a slot of its own), or 0 (one per column) offline or beyond a byte's block index.
    /// </summary>
    internal static int OnlineBlocks(MatcherOptions o) =>
        o.LagProbes >= GrowableLag || o.LagProbes + 1 > byte.MaxValue ? 0 : o.LagProbes + 1;

    /// <summary>
    /// Column slots an online ring starts with: the anchor, the probes of a vehicle reporting every 10 s within the lag's
    /// <see cref="MatcherOptions.LagSeconds"/> and the new one (8 by default), or the anchor, the lag and the new column if
    /// fewer. It widens one slot at a time up to the anchor, the lag and the new column (10 by default: as many as a vehicle
    /// whose probes all carry candidates ever holds), then to <see cref="OnlineCapacity"/> when followers pile up.
    /// </summary>
    internal static int OnlineSlots(MatcherOptions o) =>
        OnlineBlocks(o) == 0 ? 0 : (int)Math.Min(o.LagProbes + 2, Math.Ceiling(o.LagSeconds / 10) + 2);

    /// <summary>
    /// Candidate blocks an online ring starts with: enough for a vehicle reporting less often than every 10 s, whose probes
    /// within the lag's <see cref="MatcherOptions.LagSeconds"/> and the new one hold 6 at most by default (of 9; 87 % of a
    /// simulated fleet reporting every 10 to 15 s never held more in an hour). One reporting more often widens them one
    /// block at a time, up to all of <see cref="OnlineBlocks"/>, when the pending probes with candidates hold every block
    /// it has.
    /// </summary>
    internal static int OnlineStartBlocks(MatcherOptions o) => (int)Math.Min(OnlineBlocks(o), Math.Max(1, Math.Ceiling(o.LagSeconds / 10)));

    private static int Align8(int n) => (n + 7) & ~7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Slot(int column) => (Start + column) % _slots;

    /// <summary>The header of the column in a ring slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref Column Col(int slot) =>
        ref Unsafe.As<byte, Column>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_blob), slot * Unsafe.SizeOf<Column>()));

    /// <summary>
    /// The candidates of the column in a ring slot (<see cref="Column.Count"/> in use): the anchor's one decided
    /// match, or the column's block of K.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<Candidate> Cands(int slot)
    {
        if (HasAnchor && slot == Start) return MemoryMarshal.CreateSpan(ref Decided, 1);
        int block = Direct ? slot : Col(slot).Block;
        return MemoryMarshal.Cast<byte, Candidate>(_blob.AsSpan(BlocksOffset + (block * K * Unsafe.SizeOf<Candidate>()), K * Unsafe.SizeOf<Candidate>()));
    }

    private int BlocksOffset => _slots * Unsafe.SizeOf<Column>();

    private int DecidedOffsetAt => BlocksOffset + (BlockCount * K * Unsafe.SizeOf<Candidate>());

    /// <summary>The match of the last probe emitted (the anchor's, once it is one): edge and confidence.</summary>
    internal ref Candidate Decided =>
        ref Unsafe.As<byte, Candidate>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_blob), DecidedOffsetAt));

    /// <summary>The offset along its edge of the last probe emitted, in 1/65535 of the edge's length (8 cm on a 5 km edge).</summary>
    internal ref ushort DecidedOffset =>
        ref Unsafe.As<byte, ushort>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_blob), DecidedOffsetAt + Unsafe.SizeOf<Candidate>()));

    private int NewestAt => DecidedOffsetAt + Unsafe.SizeOf<Candidate>() + sizeof(ushort);

    /// <summary>
    /// Path scores (log probability, best 0) of the newest column with candidates: the only column whose
    /// scores the model still needs; older columns keep just their back pointers.
    /// </summary>
    internal Span<float> NewestScores => MemoryMarshal.Cast<byte, float>(_blob.AsSpan(NewestAt, K * sizeof(float)));

    /// <summary>
    /// Offsets along their edges (in 1/65535 of the edge's length) of the newest column's candidates, where the next
    /// transition starts; an older column's offsets are found again from its position when it is emitted.
    /// </summary>
    internal Span<ushort> NewestOffsets => MemoryMarshal.Cast<byte, ushort>(_blob.AsSpan(NewestAt + (K * sizeof(float)), K * sizeof(ushort)));

    /// <summary>The time of a column's probe, Unix milliseconds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long Time(int slot) => _timeBase + Col(slot).Time;

    internal void SetTime(int slot, long time)
    {
        if (Length <= 1) _timeBase = time;
        else if (time - _timeBase > int.MaxValue) RebaseTime();
        Col(slot).Time = (int)(time - _timeBase);
    }

    /// <summary>The id of a column's probe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long Id(int slot) => _idBase + Col(slot).Id;

    internal void SetId(int slot, long id)
    {
        if (Length <= 1 || !FitsInt(id - _idBase)) RebaseIds(id);
        Col(slot).Id = (int)(id - _idBase);
    }

    /// <summary>
    /// Whether a probe's time and id can join the columns held: within 2^31 milliseconds of the oldest (24 days) and
    /// with ids within 2^31 of one another (a caller's sequence numbers or offsets are). The anchor's id is no longer
    /// needed (it was emitted), so it does not count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Accommodates(long time, long id) =>
        Length == 0 || (FitsInt(id - _idBase) && time - _timeBase <= int.MaxValue) || AccommodatesAfterRebase(time, id);

    private bool AccommodatesAfterRebase(long time, long id)
    {
        if (time - Time(Slot(0)) > int.MaxValue) return false;
        long min = id, max = id;
        for (int c = HasAnchor ? 1 : 0; c < Length; c++)
        {
            long v = Id(Slot(c));
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        return (ulong)(max - min) <= int.MaxValue; // max ≥ min: their difference fits an unsigned long
    }

    private static bool FitsInt(long v) => v is >= 0 and <= int.MaxValue;

    /// <summary>The candidate block a new column with candidates in a ring slot takes.</summary>
    internal void TakeBlock(int slot)
    {
        if (Direct) return;
        if (_blockSlots < _blocks && NextBlockHeld(slot)) WidenBlocks(slot);
        Col(slot).Block = NextBlock;
        NextBlock = (byte)(NextBlock + 1 == _blockSlots ? 0 : NextBlock + 1);
    }

    /// <summary>
    /// Whether a pending column with candidates (the anchor's are the decided slot), older than the new one in
    /// <paramref name="newSlot"/>, holds <see cref="NextBlock"/>. Columns take blocks in column order round the ring and
    /// leave oldest first (a widening or a read renumbers them in that order), so the pending ones with candidates hold a
    /// run of blocks that ends just before <see cref="NextBlock"/>: the next block is held only by the oldest of them, if
    /// by any. One column looked at, where a scan of all of them (up to 21, each a modulo) ran at every probe with
    /// candidates of a ring short of its blocks, as most vehicles' rings are.
    /// </summary>
    private bool NextBlockHeld(int newSlot)
    {
        for (int c = HasAnchor ? 1 : 0; c < Length; c++)
        {
            int sl = Slot(c);
            if (sl == newSlot) return false;
            ref Column col = ref Col(sl);
            if (col.Count > 0) return col.Block == NextBlock;
        }
        return false;
    }

    /// <summary>
    /// Gives a compact ring one more candidate block: the columns stay in their slots (the caller holds
    /// <paramref name="except"/>'s, a new column still without candidates); the blocks held (all the ring had, or fewer) are
    /// renumbered from 0 in column order, and the next one taken is the one after them, the new one or a free one before
    /// it. Changes no column's candidates.
    /// </summary>
    private void WidenBlocks(int except)
    {
        int colBytes = _slots * Unsafe.SizeOf<Column>(), blockBytes = K * Unsafe.SizeOf<Candidate>(), blockSlots = _blockSlots + 1;
        var blob = new byte[BlobSize(K, _slots, blockSlots)];
        _blob.AsSpan(0, colBytes).CopyTo(blob);
        int held = 0;
        for (int c = HasAnchor ? 1 : 0; c < Length; c++)
        {
            int sl = Slot(c);
            ref Column col = ref Col(sl);
            if (sl == except || col.Count == 0) continue;
            _blob.AsSpan(colBytes + (col.Block * blockBytes), blockBytes).CopyTo(blob.AsSpan(colBytes + (held * blockBytes)));
            Unsafe.As<byte, Column>(ref blob[sl * Unsafe.SizeOf<Column>()]).Block = (byte)held;
            held++;
        }
        int tail = _blob.Length - DecidedOffsetAt; // the decided match and the newest column's scores and offsets
        _blob.AsSpan(DecidedOffsetAt, tail).CopyTo(blob.AsSpan(blob.Length - tail));
        _blob = blob;
        _blockSlots = (byte)blockSlots;
        NextBlock = (byte)held;
    }

    /// <summary>Longitude and latitude of a column's probe.</summary>
    internal (double Lon, double Lat) Position(int slot)
    {
        ref Column c = ref Col(slot);
        return (_refLon + c.DLon, _refLat + c.DLat);
    }

    internal void SetPosition(int slot, double lon, double lat)
    {
        if (Length <= 1 || Math.Abs(lon - _refLon) > RebaseDegrees || Math.Abs(lat - _refLat) > RebaseDegrees)
            Rebase(lon, lat, slot);
        ref Column c = ref Col(slot);
        c.DLon = (float)(lon - _refLon);
        c.DLat = (float)(lat - _refLat);
    }

    /// <summary>Drops every column (the chain ends); keeps the last input for ordering.</summary>
    internal void Clear()
    {
        Start = 0;
        Length = 0;
        HasAnchor = false;
    }

    /// <summary>
    /// Makes room for one more column: a full ring grows (offline), a ring whose columns fill the slots it has so far
    /// widens (online, see <see cref="WiderSlots"/>; the vehicle keeps the slots it widened to).
    /// </summary>
    internal void MakeRoom()
    {
        if (Length == _capacity) Grow();
        else if (Length == _slots) Resize(WiderSlots(_slots));
    }

    /// <summary>
    /// The column slots a compact ring widens to from <paramref name="slots"/>: one more up to the anchor, the lag and the
    /// new column (one more than its candidate blocks), which a vehicle reporting faster than <see cref="OnlineSlots"/>
    /// assumes needs one probe at a time, and beyond them its capacity at once, which only followers (a standing or slow
    /// vehicle, often reporting fast) fill.
    /// </summary>
    private int WiderSlots(int slots) => slots < _blocks + 1 ? slots + 1 : _capacity;

    /// <summary>Doubles the ring, keeping column order (offline matching only: one block per column).</summary>
    internal void Grow()
    {
        int newCap = _capacity * 2;
        var blob = new byte[BlobSize(K, newCap, newCap)];
        int colSize = Unsafe.SizeOf<Column>(), candBytes = K * Unsafe.SizeOf<Candidate>();
        for (int c = 0; c < Length; c++)
        {
            int s = Slot(c);
            _blob.AsSpan(s * colSize, colSize).CopyTo(blob.AsSpan(c * colSize));
            _blob.AsSpan(BlocksOffset + (s * candBytes), candBytes).CopyTo(blob.AsSpan((newCap * colSize) + (c * candBytes)));
        }
        int tail = _blob.Length - DecidedOffsetAt; // the decided match and the newest column's scores and offsets
        _blob.AsSpan(DecidedOffsetAt, tail).CopyTo(blob.AsSpan(blob.Length - tail));
        _blob = blob;
        _capacity = newCap;
        _slots = newCap;
        Start = 0;
    }

    /// <summary>
    /// Gives a compact ring (a block ring of its own, independent of the columns) <paramref name="slots"/> column slots,
    /// keeping column order: the columns are copied to the first slots, the blocks, the decided match and the newest
    /// column's scores and offsets as they are. Changes no column, candidate or score.
    /// </summary>
    private void Resize(int slots)
    {
        Debug.Assert(!Direct && slots >= Length && slots <= _capacity);
        int colSize = Unsafe.SizeOf<Column>();
        var blob = new byte[BlobSize(K, slots, BlockCount)];
        for (int c = 0; c < Length; c++) _blob.AsSpan(Slot(c) * colSize, colSize).CopyTo(blob.AsSpan(c * colSize));
        _blob.AsSpan(BlocksOffset).CopyTo(blob.AsSpan(slots * colSize));
        _blob = blob;
        _slots = slots;
        Start = 0;
    }

    /// <summary>
    /// The probes received but not yet decided, oldest first, as the ring keeps them: time, id, the fix's position (to
    /// float precision about the reference point: well under a millimetre) and the unit's reported speed; the reported
    /// course is not kept (NaN). What a state matched on another road network hands on (<see cref="OnlineMatcher.Resume"/>).
    /// </summary>
    public GpsPoint[] PendingProbes()
    {
        var probes = new GpsPoint[Pending];
        for (int c = HasAnchor ? 1 : 0, k = 0; c < Length; c++, k++)
        {
            int slot = Slot(c);
            var (lon, lat) = Position(slot);
            probes[k] = new GpsPoint(Time(slot), lon, lat) { SpeedKmh = Col(slot).ReportedSpeed, Id = Id(slot) };
        }
        return probes;
    }

    /// <summary>
    /// Writes the whole state, exactly (for a checkpoint): <see cref="ReadFrom"/> under the same matcher options and
    /// road network continues the vehicle as if nothing happened. The ring is copied byte for byte, little-endian.
    /// </summary>
    public void WriteTo(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // A compact ring is written as if it had all its slots and blocks, whatever it has now (see Layout): the same
        // state writes the same bytes.
        (byte[] blob, byte nextBlock) = Direct ? (_blob, NextBlock) : Layout(_capacity, _blocks);
        writer.Write((byte)K);
        writer.Write(_capacity);
        writer.Write(Direct ? Start : 0);
        writer.Write(Length);
        writer.Write(HasAnchor);
        writer.Write(nextBlock);
        writer.Write(_timeBase);
        writer.Write(_idBase);
        writer.Write(_refLon);
        writer.Write(_refLat);
        writer.Write(HasInput);
        writer.Write(LastTime);
        writer.Write(LastLon);
        writer.Write(LastLat);
        writer.Write((byte)NextBreak);
        writer.Write(Outliers);
        writer.Write(KeptTime);
        writer.Write(KeptLon);
        writer.Write(KeptLat);
        writer.Write(blob.Length);
        writer.Write(blob);
    }

    /// <summary>
    /// A compact ring's blob laid out afresh with <paramref name="slots"/> column slots and <paramref name="blockSlots"/>
    /// blocks, and the block the next column with candidates takes: its columns in order from slot 0, the blocks they
    /// hold renumbered from 0 in that order, their candidates in use only (a column holding none, the anchor or a
    /// follower, says block 0), the next one
    /// taken the one after them (the caller leaves room for it), the rest zero, and the decided match and the newest
    /// column's scores and offsets as they are. Changes no column's candidates.
    /// </summary>
    private (byte[] Blob, byte NextBlock) Layout(int slots, int blockSlots)
    {
        int colSize = Unsafe.SizeOf<Column>(), blockBytes = K * Unsafe.SizeOf<Candidate>();
        int fromBlocks = BlocksOffset, toBlocks = slots * colSize;
        var blob = new byte[BlobSize(K, slots, blockSlots)];
        int held = 0;
        for (int c = 0; c < Length; c++)
        {
            Column col = Col(Slot(c));
            if (c >= (HasAnchor ? 1 : 0) && col.Count > 0)
            {
                if (col.Block >= BlockCount || held >= blockSlots) throw new InvalidDataException("matcher state blocks out of range");
                int used = Math.Min((int)col.Count, K) * Unsafe.SizeOf<Candidate>();   // those beyond are stale, never read
                _blob.AsSpan(fromBlocks + (col.Block * blockBytes), used).CopyTo(blob.AsSpan(toBlocks + (held * blockBytes)));
                col.Block = (byte)held++;
            }
            else
            {
                col.Block = 0;
            }
            Unsafe.As<byte, Column>(ref blob[c * colSize]) = col;
        }
        int tail = _blob.Length - DecidedOffsetAt; // the decided match and the newest column's scores and offsets
        _blob.AsSpan(DecidedOffsetAt, tail).CopyTo(blob.AsSpan(blob.Length - tail));
        return (blob, (byte)held);
    }

    /// <summary>
    /// Reads a state written by <see cref="WriteTo"/> for a matcher with <paramref name="options"/>; a state written
    /// under other options (candidates per probe, lag) or one that does not hold together is refused with
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    public static VehicleMatchState ReadFrom(BinaryReader reader, MatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(options);
        var s = new VehicleMatchState(options);
        int k = reader.ReadByte();
        int capacity = reader.ReadInt32();
        if (k != s.K) throw new InvalidDataException($"matcher state kept {k} candidates per probe; these matcher options keep {s.K}");
        // An online ring is sized by the lag; an offline one may have grown from its initial size.
        if (capacity != s._capacity && !(s.CanGrow && capacity > s._capacity))
            throw new InvalidDataException($"matcher state has a ring of {capacity} probes; these matcher options use {s._capacity}");
        s.Start = reader.ReadInt32();
        s.Length = reader.ReadInt32();
        s.HasAnchor = reader.ReadBoolean();
        s.NextBlock = reader.ReadByte();
        s._timeBase = reader.ReadInt64();
        s._idBase = reader.ReadInt64();
        s._refLon = reader.ReadDouble();
        s._refLat = reader.ReadDouble();
        s.HasInput = reader.ReadBoolean();
        s.LastTime = reader.ReadInt64();
        s.LastLon = reader.ReadDouble();
        s.LastLat = reader.ReadDouble();
        s.NextBreak = (ChainBreak)reader.ReadByte();
        s.Outliers = reader.ReadByte();
        s.KeptTime = reader.ReadInt64();
        s.KeptLon = reader.ReadDouble();
        s.KeptLat = reader.ReadDouble();
        int blobLength = reader.ReadInt32();
        int blocks = s.Direct ? capacity : s._blocks;
        if (blobLength != BlobSize(k, capacity, blocks)) throw new InvalidDataException($"matcher state of {blobLength} bytes; a ring of {capacity} needs {BlobSize(k, capacity, blocks)}");
        if ((uint)s.Start >= (uint)capacity || (uint)s.Length > (uint)capacity || (s.HasAnchor && s.Length == 0)
            || (!s.Direct && (uint)s.NextBlock >= (uint)s._blocks))
            throw new InvalidDataException("matcher state ring out of range");
        byte[] blob = reader.ReadBytes(blobLength);
        if (blob.Length != blobLength) throw new EndOfStreamException("matcher state truncated");
        s._blob = blob;
        s._capacity = capacity;
        s._slots = capacity;
        if (s.Direct) return s;
        // A compact ring goes back to the slots a new one starts with where its columns fit them (as a new vehicle's), else
        // to the fewest it could have widened to that hold them (see WiderSlots); and to the blocks a new one starts with
        // where they leave one free for the next probe with candidates, else to one more than its pending probes with
        // candidates hold (see WidenBlocks).
        s._blockSlots = s._blocks;
        int held = 0;
        for (int c = s.HasAnchor ? 1 : 0; c < s.Length; c++) held += s.Col(s.Slot(c)).Count > 0 ? 1 : 0;
        if (held >= s._blocks) throw new InvalidDataException("matcher state has more probes with candidates pending than blocks");
        int slots = OnlineSlots(options);
        while (slots < s.Length) slots = s.WiderSlots(slots);
        int blockSlots = Math.Max(OnlineStartBlocks(options), held + 1);
        (s._blob, s.NextBlock) = s.Layout(slots, blockSlots);
        (s._slots, s._blockSlots, s.Start) = (slots, (byte)blockSlots, 0);
        return s;
    }

    private void Rebase(double lon, double lat, int exceptSlot)
    {
        for (int c = 0; c < Length; c++)
        {
            int s = Slot(c);
            if (s == exceptSlot) continue;
            ref Column col = ref Col(s);
            double oldLon = _refLon + col.DLon, oldLat = _refLat + col.DLat;
            col.DLon = (float)(oldLon - lon);
            col.DLat = (float)(oldLat - lat);
        }
        _refLon = lon;
        _refLat = lat;
    }

    /// <summary>Shifts the time base to the oldest column's time when a new time lies too far after it (see <see cref="Accommodates"/>).</summary>
    private void RebaseTime()
    {
        long oldest = Time(Slot(0));
        int shift = (int)(oldest - _timeBase);
        for (int c = 0; c < Length - 1; c++) Col(Slot(c)).Time -= shift; // the last column is the one being set
        _timeBase = oldest;
    }

    /// <summary>
    /// Shifts the id base to the smallest id of the pending columns and the new one (<paramref name="id"/>, of the
    /// last column); <see cref="Accommodates"/> has checked that they all fit.
    /// </summary>
    private void RebaseIds(long id)
    {
        long min = id;
        for (int c = HasAnchor ? 1 : 0; c < Length - 1; c++) min = Math.Min(min, Id(Slot(c)));
        for (int c = HasAnchor ? 1 : 0; c < Length - 1; c++) Col(Slot(c)).Id = (int)(Id(Slot(c)) - min);
        _idBase = min;
    }

    private static int BlobSize(int k, int capacity, int blocks) =>
        (capacity * Unsafe.SizeOf<Column>()) + (blocks * k * Unsafe.SizeOf<Candidate>())
        + Unsafe.SizeOf<Candidate>() + sizeof(ushort) + (k * (sizeof(float) + sizeof(ushort)));

    /// <summary>A probe column: 23 bytes, packed.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct Column
    {
        public int Time;             // milliseconds after the state's time base
        public int Id;               // the probe's id, from the state's id base
        public float DLon;           // degrees from the state's reference point
        public float DLat;
        public float ReportedSpeed;  // the unit's own speed, km/h; NaN when it reported none
        public byte Count;           // candidates in the column, alive or not (0: a follower)
        public ChainBreak Break;     // why a chain starts at this column (None inside a chain)
        public byte Block;           // its candidate block, in a compact ring (columns with candidates only)
    }

    /// <summary>
    /// A candidate: 6 bytes, packed. Its offset along the edge is not kept: it is the probe's projection on the edge,
    /// found again when the column is emitted (the newest column keeps its offsets for the next transition).
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct Candidate
    {
        public const byte Dead = 255;

        public int Edge;
        public byte Back;            // candidate index in the previous column on that path; Dead: pruned
        public byte Confidence;      // share of the column's forward probability on arrival, in 1/255

        public readonly bool Alive => Back != Dead;
    }
}
