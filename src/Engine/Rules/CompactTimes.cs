using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Traffic.Engine.Rules;

/// <summary>
/// A state's times as <see cref="CompactTimes"/> keeps them: the base and an offset a time, <typeparamref name="TSlots"/> an
/// <see cref="InlineArrayAttribute"/> struct of <see cref="int"/>, one a time. Made all none; a field of the state, never copied.
/// </summary>
internal struct TimeSlots<TSlots> where TSlots : struct
{
    private long _base;
    private TSlots _slots;

    public TimeSlots() => CompactTimes.Clear(Slots);

    // The inline array's ints, whatever its length (a generic struct cannot index its TSlots itself): to write, and to read.
    private static int Count => Unsafe.SizeOf<TSlots>() / sizeof(int);

    private Span<int> Slots => MemoryMarshal.CreateSpan(ref Unsafe.As<TSlots, int>(ref _slots), Count);

    private readonly ReadOnlySpan<int> Values => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<TSlots, int>(ref Unsafe.AsRef(in _slots)), Count);

    /// <summary>The time kept in slot <paramref name="i"/>.</summary>
    public readonly long this[int i] => CompactTimes.Get(_base, Values[i]);

    /// <summary>Keeps <paramref name="timeMs"/> in slot <paramref name="i"/>.</summary>
    public void Set(int i, long timeMs) => CompactTimes.Set(ref _base, Slots, i, timeMs);
}

/// <summary>
/// A vehicle's rule state keeps its times (milliseconds since the epoch) as 32-bit offsets from a base of its own, 4 bytes
/// each where a whole time took 8. Two values are kept as such, not as offsets: <see cref="long.MinValue"/> (no time) and 0
/// (a field's default before it is first set). The base moves forward when a time lies beyond the offsets' range of it
/// (±24.8 days), to a day short of putting that time at the range's top, the other times with it: a time more than 48.7
/// days older than the newest is then held at the range's bottom. No rule measures a span that long (its debounces,
/// dwells, rests and windows are hours at most), and a rule that names an older time (the last report before a silence)
/// reads it before it keeps the new one; a partition forgets a vehicle silent for hours anyway.
/// </summary>
internal static class CompactTimes
{
    private const int NoTime = int.MinValue;
    private const int Zero = int.MinValue + 1;
    private const int Bound = int.MaxValue - 1;   // offsets lie in [-Bound, Bound], clear of the two values above
    private const long Headroom = 86_400_000; // a moved base leaves this much above the time that moved it

    /// <summary>The time kept in <paramref name="packed"/>.</summary>
    public static long Get(long timeBase, int packed) => packed switch
    {
        NoTime => long.MinValue,
        Zero => 0,
        _ => timeBase + packed,
    };

    /// <summary>Keeps <paramref name="timeMs"/> in <paramref name="times"/>[<paramref name="index"/>], moving the base if it must.</summary>
    public static void Set(ref long timeBase, Span<int> times, int index, long timeMs)
    {
        if (timeMs is long.MinValue or 0)
        {
            times[index] = timeMs == 0 ? Zero : NoTime;
            return;
        }
        long offset = timeMs - timeBase;
        if (offset is > Bound or < -Bound) offset = Rebase(ref timeBase, times, index, timeMs);
        times[index] = (int)offset;
    }

    /// <summary>Sets every time to none (a new state's).</summary>
    public static void Clear(Span<int> times) => times.Fill(NoTime);

    // A state holding no other offset takes the time as its base; a time later than the range moves the base forward, and
    // the other offsets with it; a time earlier than it is held at its bound. Returns the time's offset.
    private static long Rebase(ref long timeBase, Span<int> times, int index, long timeMs)
    {
        bool held = false;
        for (int i = 0; i < times.Length; i++) held |= i != index && times[i] is not (NoTime or Zero);
        long moved = !held ? timeMs : timeMs > timeBase ? timeMs - Bound + Headroom : timeBase;
        if (moved == timeBase) return -Bound;
        for (int i = 0; i < times.Length; i++)
        {
            if (i == index || times[i] is NoTime or Zero) continue;
            times[i] = (int)Math.Clamp(times[i] + (timeBase - moved), -Bound, Bound);
        }
        timeBase = moved;
        return timeMs - moved;
    }
}

/// <summary>
/// A vehicle's class and dangerous goods, and a rule's small counters and flags, in the 16 bits of one <see cref="ushort"/>
/// of its state, where they took a byte or two each and padding: the class in bits 0–2, the dangerous goods' code (class ×
/// 10 + division, at most 96) in bits 3–9, the rule's own fields in bits 10–15.
/// </summary>
internal static class StateBits
{
    public const int FreeShift = 10;

    public static Probes.VehicleClass Class(ushort bits) => (Probes.VehicleClass)(bits & 7);

    public static ushort Hazmat(ushort bits) => (ushort)((bits >> 3) & 127);

    public static void SetClass(ref ushort bits, Probes.VehicleClass value) => Set(ref bits, 0, 3, (int)value);

    public static void SetHazmat(ref ushort bits, ushort value) => Set(ref bits, 3, 7, value);

    /// <summary>Reads a class (a byte) and a dangerous goods' code (16 bits) as a checkpoint holds them, refusing what the bits cannot hold.</summary>
    public static (Probes.VehicleClass Class, ushort Hazmat) Load(BinaryReader r)
    {
        byte cls = r.ReadByte();
        ushort hazmat = r.ReadUInt16();
        Checkpoints.CheckpointReader.Check(cls <= (byte)Probes.VehicleClass.Hazmat && hazmat <= 127, "checkpoint malformed: a vehicle class or dangerous goods out of range");
        return ((Probes.VehicleClass)cls, hazmat);
    }

    /// <summary>The <paramref name="width"/> bits from <paramref name="shift"/> on.</summary>
    public static int Get(ushort bits, int shift, int width) => (bits >> shift) & ((1 << width) - 1);

    /// <summary>Sets the <paramref name="width"/> bits from <paramref name="shift"/> on; a value they cannot hold is refused.</summary>
    public static void Set(ref ushort bits, int shift, int width, int value)
    {
        int mask = (1 << width) - 1;
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)value, (uint)mask, nameof(value));
        bits = (ushort)((bits & ~(mask << shift)) | (value << shift));
    }
}
