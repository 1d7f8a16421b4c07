namespace Traffic.Engine.Rules;

/// <summary>
/// A rule's state per vehicle, indexed by the dense vehicle id and created on first use: an array that
/// grows, no dictionary lookup on the hot path. Not thread-safe: a shard's rules own theirs.
/// </summary>
internal sealed class PerVehicle<T>(Func<T> create) where T : class
{
    private T?[] _items = new T?[256];

    /// <summary>The vehicle's state, created if it has none yet.</summary>
    public T this[int vehicle]
    {
        get
        {
            if (vehicle >= _items.Length) Array.Resize(ref _items, Math.Max(vehicle + 1, _items.Length * 2));
            return _items[vehicle] ??= create();
        }
    }

    /// <summary>Every vehicle with state, with its id.</summary>
    public IEnumerable<(int Vehicle, T State)> All()
    {
        for (int v = 0; v < _items.Length; v++)
        {
            if (_items[v] is { } s) yield return (v, s);
        }
    }
}
