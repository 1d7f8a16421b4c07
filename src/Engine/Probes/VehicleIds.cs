using System.Buffers;
using System.IO.Hashing;
using System.Text.Unicode;

namespace Traffic.Engine.Probes;

/// <summary>
/// Interns vehicle ids (plates such as <c>琼A12345</c>, terminal numbers) to dense integers. Looking up a
/// known id from its UTF-8 bytes allocates nothing and decodes nothing: the ids' UTF-8 forms are kept in a
/// table of their own, probed with a hash of the bytes. Only a new vehicle is decoded and allocates its
/// string, once. An id may be released (<see cref="Release"/>) once nothing holds it: its number goes to the
/// next new id, so that a process whose vehicles come and go for weeks holds the ids of those it knows, not of
/// every one it ever saw. Not thread-safe: one per decoder (a shard's ids can be re-keyed through <see cref="Name"/>).
/// </summary>
public sealed class VehicleIds : IVehicleNames
{
    /// <summary>Longest id accepted, in UTF-8 bytes.</summary>
    public const int MaxIdBytes = 64;

    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string?> _names = [];     // null: a released number
    private readonly Stack<int> _free = [];
    // The UTF-8 table: every vehicle's id as UTF-8 in _utf8 (vehicle v's at _utf8Of[v]; none, Start −1, for an id that
    // is not valid UTF-16 or is longer than MaxIdBytes), and an open-addressing index over them, at most half full. A
    // slot holds the vehicle and the high half of its bytes' hash, so a lookup reads the bytes of the vehicle it finds
    // and no others: the reader interns every probe's id, and one flat array costs fewer cache misses than an array
    // object per vehicle. Valid UTF-8 and UTF-16 map one to one, so a lookup here finds exactly the vehicle that
    // decoding the bytes and looking the string up would. Released ids leave their bytes behind until they are half
    // of the array, which is then packed.
    private byte[] _utf8 = new byte[4096];
    private int _utf8End;
    private int _utf8Released;
    private Bytes[] _utf8Of = new Bytes[256];
    private Slot[] _slots = new Slot[256];

    public VehicleIds() => _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Numbers given out, released ones included: every id is below it.</summary>
    public int Count => _names.Count;

    /// <summary>Ids held now (given out and not released).</summary>
    public int Live => _ids.Count;

    /// <summary>The number of the id added last (a caller that sees <see cref="Live"/> rise by one knows which it was).</summary>
    public int LastAdded { get; private set; } = -1;

    /// <summary>The id as it was written.</summary>
    public string Name(int vehicle) => _names[vehicle] ?? throw new InvalidOperationException($"vehicle number {vehicle} was released");

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
        if (_free.Count > 0)
        {
            v = _free.Pop();
            _names[v] = name;
        }
        else
        {
            v = _names.Count;
            _names.Add(name);
        }
        _ids.Add(name, v);
        AddUtf8(v, name);
        LastAdded = v;
        return v;
    }

    public bool TryGet(ReadOnlySpan<char> id, out int vehicle) => _lookup.TryGetValue(id, out vehicle);

    /// <summary>
    /// Gives a vehicle's number up: the id is no longer known (interned again, it may get another number) and the number
    /// goes to the next new id. The caller sees to it that nothing holds the number any more: no partition's vehicle, no
    /// registry entry, no probe or row on its way.
    /// </summary>
    public void Release(int vehicle)
    {
        string name = Name(vehicle);
        _ids.Remove(name);
        _names[vehicle] = null;
        _free.Push(vehicle);
        if (_utf8Of[vehicle].Start < 0) return;
        Unplace(vehicle);
        _utf8Released += _utf8Of[vehicle].Length;
        _utf8Of[vehicle] = new Bytes(-1, 0);
    }

    /// <summary>Enters a new vehicle's UTF-8 form (when its id has one, and one short enough to be looked up by).</summary>
    private void AddUtf8(int vehicle, string name)
    {
        if (vehicle >= _utf8Of.Length) Array.Resize(ref _utf8Of, _utf8Of.Length * 2);
        int most = name.Length * 3;
        if (_utf8End + most > _utf8.Length) MakeRoom(most);
        bool indexed = Utf8.FromUtf16(name, _utf8.AsSpan(_utf8End, most), out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done
            && written <= MaxIdBytes;
        if (!indexed)
        {
            _utf8Of[vehicle] = new Bytes(-1, 0);
            return;
        }
        _utf8Of[vehicle] = new Bytes(_utf8End, written);
        _utf8End += written;
        if (_ids.Count * 2 > _slots.Length)
        {
            // Re-index every vehicle into a table twice the size (an id without UTF-8 form has no bytes: not entered).
            _slots = new Slot[_slots.Length * 2];
            for (int v = 0; v < _names.Count; v++)
            {
                if (v != vehicle && _names[v] != null && _utf8Of[v].Start >= 0) Place(v);
            }
        }
        Place(vehicle);
    }

    /// <summary>Room for <paramref name="bytes"/> more: the live ids packed when released ones hold half the array, else a larger array.</summary>
    private void MakeRoom(int bytes)
    {
        int live = _utf8End - _utf8Released;
        byte[] to = _utf8Released * 2 >= _utf8End && live + bytes <= _utf8.Length ? new byte[_utf8.Length] : new byte[Math.Max(_utf8.Length * 2, live + bytes)];
        int end = 0;
        for (int v = 0; v < _names.Count; v++)
        {
            Bytes b = _utf8Of[v];
            if (b.Start < 0) continue;
            _utf8.AsSpan(b.Start, b.Length).CopyTo(to.AsSpan(end));
            _utf8Of[v] = new Bytes(end, b.Length);
            end += b.Length;
        }
        _utf8 = to;
        _utf8End = end;
        _utf8Released = 0;
    }

    private ReadOnlySpan<byte> Utf8Of(int vehicle) => _utf8.AsSpan(_utf8Of[vehicle].Start, _utf8Of[vehicle].Length);

    private void Place(int vehicle)
    {
        ulong hash = XxHash3.HashToUInt64(Utf8Of(vehicle));
        int mask = _slots.Length - 1;
        int i = (int)hash & mask;
        while (_slots[i].VehiclePlusOne != 0) i = (i + 1) & mask;
        _slots[i] = new Slot { VehiclePlusOne = vehicle + 1, HashHigh = (uint)(hash >> 32) };
    }

    /// <summary>Takes a vehicle out of the index.</summary>
    private void Unplace(int vehicle)
    {
        int mask = _slots.Length - 1;
        int i = (int)XxHash3.HashToUInt64(Utf8Of(vehicle)) & mask;
        while (_slots[i].VehiclePlusOne != vehicle + 1) i = (i + 1) & mask;
        LinearProbing.RemoveAt(_slots, i, static s => s.VehiclePlusOne == 0, s => (int)XxHash3.HashToUInt64(Utf8Of(s.VehiclePlusOne - 1)));
    }

    private readonly record struct Bytes(int Start, int Length);

    private struct Slot
    {
        public int VehiclePlusOne;               // 0: empty
        public uint HashHigh;                    // the high 32 bits of the id's hash (the low ones chose the slot)
    }
}
