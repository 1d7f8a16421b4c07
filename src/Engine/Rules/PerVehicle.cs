using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Traffic.Engine.Rules;

/// <summary>
/// A rule's state per vehicle, indexed by the dense vehicle id and created on first use: an array that
/// grows, no dictionary lookup on the hot path. The vehicles are also kept in the order their state was
/// created, which is what <see cref="Vehicles"/> walks: an order that a checkpoint restores, unlike the
/// dense ids, which differ between processes. Not thread-safe: a shard's rules own theirs.
/// </summary>
internal sealed class PerVehicle<T>(Func<T> create) where T : class
{
    private T?[] _items = new T?[256];
    private readonly List<int> _order = [];   // vehicles with state, in the order it was created

    /// <summary>The vehicle's state, created if it has none yet.</summary>
    public T this[int vehicle]
    {
        get
        {
            if (vehicle >= _items.Length) Array.Resize(ref _items, Math.Max(vehicle + 1, _items.Length * 2));
            if (_items[vehicle] is { } s) return s;
            _order.Add(vehicle);
            return _items[vehicle] = create();
        }
    }

    /// <summary>Asks for the first <paramref name="bytes"/> of the vehicle's state object ahead of use, if it has one (<see cref="Traffic.Geo.CacheHint"/>).</summary>
    public void Prefetch(int vehicle, int bytes)
    {
        T?[] items = _items;
        if ((uint)vehicle < (uint)items.Length) Traffic.Geo.CacheHint.Object(items[vehicle], bytes);
    }

    /// <summary>Vehicles with state, in the order it was created (valid until the next vehicle is added).</summary>
    public ReadOnlySpan<int> Vehicles => CollectionsMarshal.AsSpan(_order);

    /// <summary>The state of a vehicle that has one (from <see cref="Vehicles"/>).</summary>
    public T Existing(int vehicle) => _items[vehicle]!;

    /// <summary>The vehicle's state, or null if it has none yet.</summary>
    public T? Find(int vehicle) => (uint)vehicle < (uint)_items.Length ? _items[vehicle] : null;

    /// <summary>
    /// Drops the state of the vehicles given (those without one are skipped): the partition has forgotten them. The rest
    /// keep their order; a vehicle that comes back gets new state at the end of it.
    /// </summary>
    public void Forget(ReadOnlySpan<int> vehicles)
    {
        int dropped = 0;
        foreach (int v in vehicles)
        {
            if ((uint)v >= (uint)_items.Length || _items[v] == null) continue;
            _items[v] = null;
            dropped++;
        }
        if (dropped > 0) _order.RemoveAll(v => _items[v] == null);   // the rest keep their order
    }
}

/// <summary>
/// Per vehicle (dense id), a time that a rule tests at every watermark, or none: kept apart from the rule's state objects
/// so that the test of the many vehicles it does not concern leaves their objects out of the cache (a vehicle last seen
/// driving, for <c>signal_lost</c>; the last report of a vehicle with an alert open, to close it once it is silent).
/// In pages (<see cref="PagedArray{T}"/>), not an array grown by doubling: 8 bytes a vehicle, not up to 16.
/// </summary>
internal sealed class VehicleClock
{
    // Each time is kept XOR long.MinValue, so that none (long.MinValue) is kept as 0, what a new page holds.
    private readonly PagedArray<long> _times = new();

    /// <summary>Vehicles with a time: none, and a watermark has nothing to test (most of the time, for open alerts).</summary>
    public int Count { get; private set; }

    /// <summary>Sets the vehicle's time; <see cref="long.MinValue"/>: none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int vehicle, long timeMs)
    {
        ref long t = ref _times[vehicle];
        long kept = timeMs ^ long.MinValue;
        Count += (kept != 0 ? 1 : 0) - (t != 0 ? 1 : 0);
        t = kept;
    }

    /// <summary>Clears the times of the vehicles given (forgotten by the partition).</summary>
    public void Forget(ReadOnlySpan<int> vehicles)
    {
        foreach (int v in vehicles)
        {
            if (_times.GetOrDefault(v) != 0) Set(v, long.MinValue);
        }
    }

    /// <summary>
    /// Puts into <paramref name="taken"/>, in the order of <paramref name="vehicles"/>, those whose time lies
    /// <paramref name="forMs"/> or more before <paramref name="nowMs"/>, and clears their times.
    /// </summary>
    public void TakeElapsed(ReadOnlySpan<int> vehicles, long nowMs, long forMs, List<int> taken)
    {
        taken.Clear();
        if (Count == 0) return;
        foreach (int v in vehicles)
        {
            long kept = _times.GetOrDefault(v);
            if (kept == 0 || nowMs - (kept ^ long.MinValue) < forMs) continue;
            taken.Add(v);
            Set(v, long.MinValue);
        }
    }
}

/// <summary>
/// A <see cref="VehicleClock"/> for times that few vehicles have at once (a vehicle with an alert open): in a table of those
/// vehicles, not in an array with room for every vehicle (8 bytes each, grown by doubling, for the few). The same answers
/// in the same order.
/// </summary>
internal sealed class SparseVehicleClock
{
    private readonly Dictionary<int, long> _times = [];

    /// <summary>Sets the vehicle's time; <see cref="long.MinValue"/>: none (free when no vehicle has one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int vehicle, long timeMs)
    {
        if (timeMs != long.MinValue) _times[vehicle] = timeMs;
        else if (_times.Count != 0) _times.Remove(vehicle);
    }

    /// <summary>Clears the times of the vehicles given (forgotten by the partition).</summary>
    public void Forget(ReadOnlySpan<int> vehicles)
    {
        foreach (int v in vehicles) Set(v, long.MinValue);
    }

    /// <summary>
    /// Puts into <paramref name="taken"/>, in the order of <paramref name="vehicles"/>, those whose time lies
    /// <paramref name="forMs"/> or more before <paramref name="nowMs"/>, and clears their times.
    /// </summary>
    public void TakeElapsed(ReadOnlySpan<int> vehicles, long nowMs, long forMs, List<int> taken)
    {
        taken.Clear();
        bool any = false;
        foreach (var (_, t) in _times) any |= nowMs - t >= forMs;
        if (!any) return;
        foreach (int v in vehicles)
        {
            if (!_times.TryGetValue(v, out long t) || nowMs - t < forMs) continue;
            taken.Add(v);
            _times.Remove(v);
        }
    }
}

/// <summary>
/// A rule's state per vehicle held inline: structs in pages (<see cref="PagedArray{T}"/>), indexed by the partition's
/// vehicle number and created on first use, as <see cref="PerVehicle{T}"/> does for objects. An object a vehicle cost its
/// 16-byte header, a reference in a table grown by doubling and the padding of both; a struct here costs its fields, in
/// pages made only for numbers in use (a partition numbers its vehicles densely from 0). The state is reached by reference,
/// never copied: a copy's changes would be lost. Not thread-safe: a shard's rules own theirs.
/// </summary>
internal sealed class PerVehicleStructs<T>(Func<T> create) where T : struct
{
    private readonly PagedArray<T> _items = new();
    private ulong[] _has = new ulong[4];        // one bit a vehicle: which have state
    private readonly List<int> _order = [];     // vehicles with state, in the order it was created

    /// <summary>The vehicle's state, created if it has none yet.</summary>
    public ref T this[int vehicle]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (Has(vehicle)) return ref _items[vehicle];
            return ref Create(vehicle);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Has(int vehicle)
    {
        ulong[] has = _has;
        int word = vehicle >> 6;
        return (uint)word < (uint)has.Length && (has[word] & (1UL << vehicle)) != 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref T Create(int vehicle)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vehicle);
        int word = vehicle >> 6;
        if (word >= _has.Length) Array.Resize(ref _has, Math.Max(word + 1, _has.Length * 2));
        _has[word] |= 1UL << vehicle;
        _order.Add(vehicle);
        ref T s = ref _items[vehicle];
        s = create();
        return ref s;
    }

    /// <summary>
    /// Asks for all of the vehicle's state ahead of use, if it has one (<see cref="Traffic.Geo.CacheHint"/>): a struct in a
    /// page starts anywhere in a cache line, and its fields lie in the runtime's order, so the first bytes of it, which
    /// served for an object, left lines a probe reads to be missed (the e2e hour took 15–30 % more CPU a probe).
    /// </summary>
    public void Prefetch(int vehicle) => Traffic.Geo.CacheHint.At(ref Find(vehicle), Unsafe.SizeOf<T>());

    /// <summary>Vehicles with state, in the order it was created (valid until the next vehicle is added).</summary>
    public ReadOnlySpan<int> Vehicles => CollectionsMarshal.AsSpan(_order);

    /// <summary>The state of a vehicle that has one (from <see cref="Vehicles"/>).</summary>
    public ref T Existing(int vehicle) => ref _items[vehicle];

    /// <summary>The vehicle's state, or a null reference (<see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>) if it has none yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T Find(int vehicle)
    {
        if (Has(vehicle)) return ref _items[vehicle];
        return ref Unsafe.NullRef<T>();
    }

    /// <summary>
    /// Drops the state of the vehicles given (those without one are skipped): the partition has forgotten them. The rest
    /// keep their order; a vehicle that comes back gets new state at the end of it.
    /// </summary>
    public void Forget(ReadOnlySpan<int> vehicles)
    {
        int dropped = 0;
        foreach (int v in vehicles)
        {
            if (!Has(v)) continue;
            _has[v >> 6] &= ~(1UL << v);
            _items[v] = default;   // drops what it referred to
            dropped++;
        }
        if (dropped > 0) _order.RemoveAll(v => !Has(v));   // the rest keep their order
    }
}
