namespace Traffic.Geo.Spatial;

/// <summary>
/// A candidate search of fixed radius and buffer size whose last result is kept for the point it was made at: the
/// edges within <see cref="RadiusM"/> of a point, exactly as <see cref="EdgeIndex.Within"/> with a buffer of
/// <see cref="Capacity"/> gives them. A wider search at the same point can fill it from its own result
/// (<see cref="EdgeIndex.Within(double, double, double, Span{EdgeCandidate}, NearbySearch?)"/>: the map matcher's
/// candidate search does so for the rules that look at the roads around a fix), so that asking again for that point
/// costs nothing.
/// </summary>
/// <remarks>
/// A result depends only on the point, the radius and the buffer size, so the kept one is reused for any query at
/// the very same coordinates, whoever made it; any other point is searched afresh (and kept). Not thread-safe: one
/// instance per thread or shard.
/// </remarks>
public sealed class NearbySearch
{
    private readonly EdgeCandidate[] _buffer;
    private double _lon = double.NaN;   // the point the buffer holds the result for; NaN: none (NaN equals nothing)
    private double _lat = double.NaN;
    private int _count;

    public NearbySearch(EdgeIndex index, double radiusM, int capacity)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (!(radiusM >= 0)) throw new ArgumentOutOfRangeException(nameof(radiusM), "the radius must be a non-negative number");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Index = index;
        RadiusM = radiusM;
        _buffer = new EdgeCandidate[capacity];
    }

    public EdgeIndex Index { get; }

    public double RadiusM { get; }

    public int Capacity => _buffer.Length;

    /// <summary>Searches made by this instance itself (the point was not the kept one): for tests and profiles.</summary>
    public long Misses { get; private set; }

    /// <summary>The edges within <see cref="RadiusM"/> of the point, nearest first, at most <see cref="Capacity"/>.</summary>
    public ReadOnlySpan<EdgeCandidate> Within(double lon, double lat)
    {
        if (lon != _lon || lat != _lat)
        {
            Misses++;
            Kept(lon, lat, Index.Within(lon, lat, RadiusM, _buffer));
        }
        return _buffer.AsSpan(0, _count);
    }

    /// <summary>The buffer a search writes into before <see cref="Kept"/> names its point.</summary>
    internal Span<EdgeCandidate> Buffer => _buffer;

    internal void Kept(double lon, double lat, int count)
    {
        _lon = lon;
        _lat = lat;
        _count = count;
    }
}
