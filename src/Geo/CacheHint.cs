using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Traffic.Geo;

/// <summary>
/// Tells the processor that memory will be read soon (a software prefetch), so that its cache misses overlap the work
/// before: a shard asks for the state of the vehicle whose probe comes next while it still works on this one. A hint
/// only: it changes no value, does nothing where the processor has no prefetch instruction (not x86), and an address
/// that is no longer right (the GC moved the object since) costs the hint and nothing else; a prefetch never faults.
/// </summary>
public static class CacheHint
{
    private const int LineBytes = 64;

    /// <summary>The first <paramref name="bytes"/> bytes of an object's memory, its header word included (its fields follow the header).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Object(object? o, int bytes)
    {
        if (!Sse.IsSupported || o is null) return;
        byte* p = (byte*)Unsafe.As<object, nint>(ref o) - sizeof(nint); // the reference points past the object's header word
        Lines(p, bytes);
    }

    /// <summary>
    /// The first <paramref name="bytes"/> of a value held inside another (a struct in an array): a hint, which a
    /// collection that moves the value before it is read makes useless, never wrong.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void At<T>(ref T value, int bytes)
    {
        if (!Sse.IsSupported || Unsafe.IsNullRef(ref value)) return;
        Lines((byte*)Unsafe.AsPointer(ref value), bytes);
    }

    /// <summary>The elements of an array.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Array(byte[]? a)
    {
        if (!Sse.IsSupported || a is null) return;
        Lines((byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a)), a.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Lines(byte* p, int bytes)
    {
        // Every line the range touches: from the line of its first byte to that of its last.
        byte* end = p + bytes - 1;
        for (byte* line = (byte*)((nint)p & ~(nint)(LineBytes - 1)); line <= end; line += LineBytes) Sse.Prefetch0(line);
    }
}
