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
public sealed class VehicleIds
{
    /// <summary>Longest id accepted, in UTF-8 bytes.</summary>
    public const int MaxIdBytes = 64;

    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _names = [];
    // The UTF-8 table: per vehicle its id's UTF-8 bytes (null for an id that is not valid UTF-16), and an open-addressing
    // index over them (vehicle + 1 per slot, 0 empty, at most half full). Valid UTF-8 and UTF-16 map one to one, so a
    // lookup here finds exactly the vehicle that decoding the bytes and looking the string up would.
    private readonly List<byte[]?> _utf8 = [];
    private int[] _slots = new int[256];

    public VehicleIds() => _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count;

    /// <summary>The id as it was written.</summary>
    public string Name(int vehicle) => _names[vehicle];

    /// <summary>The dense id of a vehicle given as UTF-8, adding it if new; -1 for bytes that are not valid UTF-8.</summary>
    public int Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length <= MaxIdBytes)
        {
            int[] slots = _slots;
            int mask = slots.Length - 1;
            for (int i = (int)XxHash3.HashToUInt64(utf8) & mask; slots[i] != 0; i = (i + 1) & mask)
            {
                int v = slots[i] - 1;
                if (utf8.SequenceEqual(_utf8[v])) return v;
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
        byte[]? utf8 = null;
        byte[] buffer = new byte[name.Length * 3];
        if (Utf8.FromUtf16(name, buffer, out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done && written <= MaxIdBytes)
            utf8 = buffer[..written];
        _utf8.Add(utf8);
        if (utf8 == null) return;
        if ((_utf8.Count * 2) > _slots.Length)
        {
            // Re-index every vehicle into a table twice the size.
            _slots = new int[_slots.Length * 2];
            for (int v = 0; v < _utf8.Count - 1; v++)
            {
                if (_utf8[v] is { } bytes) Place(v, bytes);
            }
        }
        Place(vehicle, utf8);
    }

    private void Place(int vehicle, byte[] utf8)
    {
        int mask = _slots.Length - 1;
        int i = (int)XxHash3.HashToUInt64(utf8) & mask;
        while (_slots[i] != 0) i = (i + 1) & mask;
        _slots[i] = vehicle + 1;
    }
}
