using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Traffic.Geo.Matching;

/// <summary>
/// One vehicle's Viterbi frontier: a ring of probe columns (the last decided one, the anchor, then
/// the undecided ones), each with up to K candidates. Everything lives in one packed byte array so
/// that a tracked vehicle costs under a kilobyte online; an offline match lets the ring grow to the
/// whole trace.
/// </summary>
public sealed class VehicleMatchState
{
    /// <summary>Positions are stored as float offsets from a reference point, re-based beyond this many degrees.</summary>
    private const double RebaseDegrees = 0.25;

    private byte[] _blob;            // [columns: Capacity × Column][candidates: Capacity × K × Candidate][scores: K × float]
    private int _capacity;

    internal readonly int K;
    internal int Start;              // ring slot of the oldest column
    internal int Length;             // columns held, anchor included
    internal bool HasAnchor;         // column 0 is the last decided one (a single candidate)
    private double _refLon;          // reference point of the stored float positions
    private double _refLat;

    // The last probe accepted, for ordering, duplicates and gaps (survives flushes).
    internal bool HasInput;
    internal long LastTime;
    internal double LastLon;
    internal double LastLat;
    internal ChainBreak NextBreak = ChainBreak.Start;
    internal byte Outliers;          // consecutive probes kept as followers because no route reached them

    // The last probe used as a model column (not a follower): followers and transitions measure from it.
    internal long KeptTime;
    internal double KeptLon;
    internal double KeptLat;

    public VehicleMatchState(MatcherOptions options) : this(options.MaxCandidates, OnlineCapacity(options))
    {
        CanGrow = options.LagProbes >= GrowableLag;
    }

    internal VehicleMatchState(int k, int capacity)
    {
        if (k is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(k), "between 1 and 32 candidates");
        K = k;
        _capacity = capacity;
        _blob = new byte[BlobSize(k, capacity)];
    }

    /// <summary>Columns the ring holds before it must decide or grow.</summary>
    public int Capacity => _capacity;

    /// <summary>Probes received but not yet decided.</summary>
    public int Pending => Length - (HasAnchor ? 1 : 0);

    /// <summary>Bytes of memory held for this vehicle: the object (header and fields) and its array.</summary>
    public int SizeBytes => ObjectBytes + 24 + _blob.Length;

    // The object: header, blob reference and fields (116 bytes as BenchmarkDotNet measured it with the
    // default options), plus the array's header and payload counted below.
    private const int ObjectBytes = 116;

    /// <summary>From this lag on, the state grows with the trace instead of forcing decisions when full (offline).</summary>
    internal const int GrowableLag = 1024;

    /// <summary>Whether the ring grows when full (offline) rather than forcing the oldest decision (online).</summary>
    internal bool CanGrow { get; }

    internal static int OnlineCapacity(MatcherOptions o) =>
        o.LagProbes >= GrowableLag ? 64 : o.LagProbes + 2; // anchor + lag + the new column

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Slot(int column) => (Start + column) % _capacity;

    /// <summary>The header of the column in a ring slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref Column Col(int slot) =>
        ref Unsafe.As<byte, Column>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_blob), slot * Unsafe.SizeOf<Column>()));

    /// <summary>The candidates of the column in a ring slot (K of them, <see cref="Column.Count"/> in use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<Candidate> Cands(int slot) =>
        MemoryMarshal.Cast<byte, Candidate>(_blob.AsSpan((_capacity * Unsafe.SizeOf<Column>()) + (slot * K * Unsafe.SizeOf<Candidate>()), K * Unsafe.SizeOf<Candidate>()));

    /// <summary>
    /// Path scores (log probability, best 0) of the newest column with candidates: the only column whose
    /// scores the model still needs; older columns keep just their back pointers.
    /// </summary>
    internal Span<float> NewestScores =>
        MemoryMarshal.Cast<byte, float>(_blob.AsSpan(_capacity * (Unsafe.SizeOf<Column>() + (K * Unsafe.SizeOf<Candidate>())), K * sizeof(float)));

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

    /// <summary>Doubles the ring, keeping column order (offline matching only).</summary>
    internal void Grow()
    {
        int newCap = _capacity * 2;
        var blob = new byte[BlobSize(K, newCap)];
        int colSize = Unsafe.SizeOf<Column>(), candBytes = K * Unsafe.SizeOf<Candidate>();
        for (int c = 0; c < Length; c++)
        {
            int s = Slot(c);
            _blob.AsSpan(s * colSize, colSize).CopyTo(blob.AsSpan(c * colSize));
            _blob.AsSpan((_capacity * colSize) + (s * candBytes), candBytes).CopyTo(blob.AsSpan((newCap * colSize) + (c * candBytes)));
        }
        NewestScores.CopyTo(MemoryMarshal.Cast<byte, float>(blob.AsSpan(newCap * (colSize + candBytes), K * sizeof(float))));
        _blob = blob;
        _capacity = newCap;
        Start = 0;
    }

    /// <summary>
    /// Writes the whole state, exactly (for a checkpoint): <see cref="ReadFrom"/> under the same matcher options and
    /// road network continues the vehicle as if nothing happened. The ring is copied byte for byte, little-endian.
    /// </summary>
    public void WriteTo(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write((byte)K);
        writer.Write(_capacity);
        writer.Write(Start);
        writer.Write(Length);
        writer.Write(HasAnchor);
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
        writer.Write(_blob.Length);
        writer.Write(_blob);
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
        if (blobLength != BlobSize(k, capacity)) throw new InvalidDataException($"matcher state of {blobLength} bytes; a ring of {capacity} needs {BlobSize(k, capacity)}");
        if ((uint)s.Start >= (uint)capacity || (uint)s.Length > (uint)capacity || (s.HasAnchor && s.Length == 0))
            throw new InvalidDataException("matcher state ring out of range");
        byte[] blob = reader.ReadBytes(blobLength);
        if (blob.Length != blobLength) throw new EndOfStreamException("matcher state truncated");
        s._blob = blob;
        s._capacity = capacity;
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

    private static int BlobSize(int k, int capacity) =>
        (capacity * Unsafe.SizeOf<Column>()) + (capacity * k * Unsafe.SizeOf<Candidate>()) + (k * sizeof(float));

    /// <summary>A probe column: 30 bytes, packed.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct Column
    {
        public long Time;
        public long Id;
        public float DLon;           // degrees from the state's reference point
        public float DLat;
        public float ReportedSpeed;  // the unit's own speed, km/h; NaN when it reported none
        public byte Count;           // candidates in the column, alive or not
        public ChainBreak Break;     // why a chain starts at this column (None inside a chain)
    }

    /// <summary>A candidate: 8 bytes, packed.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct Candidate
    {
        public const byte Dead = 255;

        public int Edge;
        public ushort Offset;        // along the edge, in 1/65535 of its length (8 cm on a 5 km edge)
        public byte Back;            // candidate index in the previous column on that path; Dead: pruned
        public byte Confidence;      // share of the column's forward probability on arrival, in 1/255

        public readonly bool Alive => Back != Dead;
    }
}
