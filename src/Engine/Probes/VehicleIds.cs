using System.Buffers;
using System.IO.Hashing;
using System.Text.Unicode;

namespace Traffic.Engine.Probes;

/// <summary>
/// Interns vehicle ids (plates such as <c>琼A12345</c>, terminal numbers) to dense integers. Looking up a
/// known id from its UTF-8 bytes allocates nothing and decodes nothing: the ids' UTF-8 forms are kept in a
/// table of their own, probed with a hash of the bytes. Only a new vehicle is decoded and allocates its
/// string, once. Not thread-safe: one per decoder (a shard's ids can be re-keyed through <see cref="Name"/>).
/// </summary>
public sealed class VehicleIds : IVehicleNames
{
    /// <summary>Longest id accepted, in UTF-8 bytes.</summary>
    public const int MaxIdBytes = 64;

    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _names = [];
    // The UTF-8 table: every vehicle's id as UTF-8, one after another in _utf8 (vehicle v's at _utf8Start[v] up to
    // _utf8Start[v + 1]; none for an id that is not valid UTF-16 or is longer than MaxIdBytes), and an open-addressing
    // index over them, at most half full. A slot holds the vehicle and the high half of its bytes' hash, so a lookup
    // reads the bytes of the vehicle it finds and no others: the reader interns every probe's id, and one flat
    // array costs fewer cache misses than an array object per vehicle. Valid UTF-8 and UTF-16 map one to one, so a
    // lookup here finds exactly the vehicle that decoding the bytes and looking the string up would.
    private byte[] _utf8 = new byte[4096];
    private int[] _utf8Start = new int[257];     // entries 0 to Count
    private Slot[] _slots = new Slot[256];

    public VehicleIds() => _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count;

    /// <summary>The id as it was written.</summary>
    public string Name(int vehicle) => _names[vehicle];

    /// <summary>The vehicle itself: this is the process's table.</summary>
    public int ProcessId(int vehicle) => vehicle;

    /// <summary>The dense id of a vehicle given as UTF-8, adding it if new; -1 for bytes that are not valid UTF-8.</summary>
    public int Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length <= MaxIdBytes)
        {
            ulong hash = XxHash3.HashToUInt64(utf8);
            Slot[] slots = _slots;
            int mask = slots.Length - 1;
            for (int i = (int)hash & mask; slots[i].VehiclePlusOne != 0; i = (i + 1) & mask)
            {
                int v = slots[i].VehiclePlusOne - 1;
                if (slots[i].HashHigh == (uint)(hash >> 32) && utf8.SequenceEqual(Utf8Of(v))) return v;
            }
        }
        Span<char> chars = stackalloc char[MaxIdBytes];
        if (Utf8.ToUtf16(utf8, chars, out _, out int written, replaceInvalidSequences: false) != OperationStatus.Done) return -1;
        return Intern((ReadOnlySpan<char>)chars[..written]);
    }

    public int Intern(ReadOnlySpan<char> id)
    {
        if (_lookup.TryGetValue(id, out int v)) return v;
        string name = id.ToString();
        v = _names.Count;
        _names.Add(name);
        _ids.Add(name, v);
        AddUtf8(v, name);
        return v;
    }

    public bool TryGet(ReadOnlySpan<char> id, out int vehicle) => _lookup.TryGetValue(id, out vehicle);

    /// <summary>Enters a new vehicle's UTF-8 form (when its id has one, and one short enough to be looked up by).</summary>
    private void AddUtf8(int vehicle, string name)
    {
        int start = _utf8Start[vehicle];
        int most = name.Length * 3;
        if (start + most > _utf8.Length) Array.Resize(ref _utf8, Math.Max(_utf8.Length * 2, start + most));
        bool indexed = Utf8.FromUtf16(name, _utf8.AsSpan(start, most), out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done
            && written <= MaxIdBytes;
        if (vehicle + 2 > _utf8Start.Length) Array.Resize(ref _utf8Start, _utf8Start.Length * 2);
        _utf8Start[vehicle + 1] = indexed ? start + written : start;
        if (!indexed) return;
        if ((_names.Count * 2) > _slots.Length)
        {
            // Re-index every vehicle into a table twice the size (an id without UTF-8 form has no bytes: not entered).
            _slots = new Slot[_slots.Length * 2];
            for (int v = 0; v < vehicle; v++)
            {
                if (Indexed(v)) Place(v);
            }
        }
        Place(vehicle);
    }

    private ReadOnlySpan<byte> Utf8Of(int vehicle) => _utf8.AsSpan(_utf8Start[vehicle], _utf8Start[vehicle + 1] - _utf8Start[vehicle]);

    // Whether the vehicle's id has a UTF-8 form in the table: the empty id has one of no bytes.
    private bool Indexed(int vehicle) => _utf8Start[vehicle + 1] > _utf8Start[vehicle] || _names[vehicle].Length == 0;

    private void Place(int vehicle)
    {
        ulong hash = XxHash3.HashToUInt64(Utf8Of(vehicle));
        int mask = _slots.Length - 1;
        int i = (int)hash & mask;
        while (_slots[i].VehiclePlusOne != 0) i = (i + 1) & mask;
        _slots[i] = new Slot { VehiclePlusOne = vehicle + 1, HashHigh = (uint)(hash >> 32) };
    }

    private struct Slot
    {
        public int VehiclePlusOne;               // 0: empty
        public uint HashHigh;                    // the high 32 bits of the id's hash (the low ones chose the slot)
    }
}
