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
}
