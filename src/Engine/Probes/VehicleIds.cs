using System.Buffers;
using System.Text.Unicode;

namespace Traffic.Engine.Probes;

/// <summary>
/// Interns vehicle ids (plates such as <c>琼A12345</c>, terminal numbers) to dense integers. Looking up a
/// known id from its UTF-8 bytes allocates nothing: the bytes are decoded into a stack buffer and found
/// through the dictionary's span lookup. Only a new vehicle allocates its string, once.
/// Not thread-safe: one per decoder (a shard's ids can be re-keyed through <see cref="Name"/>).
/// </summary>
public sealed class VehicleIds
{
    /// <summary>Longest id accepted, in UTF-8 bytes.</summary>
    public const int MaxIdBytes = 64;

    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _names = [];

    public VehicleIds() => _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count;

    /// <summary>The id as it was written.</summary>
    public string Name(int vehicle) => _names[vehicle];

    /// <summary>The dense id of a vehicle given as UTF-8, adding it if new; -1 for bytes that are not valid UTF-8.</summary>
    public int Intern(ReadOnlySpan<byte> utf8)
    {
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
        return v;
    }

    public bool TryGet(ReadOnlySpan<char> id, out int vehicle) => _lookup.TryGetValue(id, out vehicle);
}
