namespace Traffic.Geo.Spatial;

/// <summary>
/// The nearest point of an edge's shape to a query point: a map-matching candidate.
/// Mutable struct filled in place in the caller's buffer: don't make it readonly.
/// </summary>
public struct EdgeCandidate
{
    /// <summary>The edge id in the <see cref="Network.RoadNetwork"/>.</summary>
    public int Edge;

    /// <summary>Distance along the edge's shape from its start to the projected point, metres.</summary>
    public double OffsetM;

    /// <summary>Distance from the query point to the projected point, metres.</summary>
    public double DistanceM;

    /// <summary>The projected point, WGS84 degrees.</summary>
    public double Lon;

    public double Lat;
}
