using Traffic.Geo;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Simulation;

/// <summary>
/// A GTFS shape laid onto the network: each shape point snapped to a nearby edge that runs the same
/// way as the shape, consecutive snaps joined by shortest paths. Keeps, per shape point, the distance
/// along the route, so that stops placed by <c>shape_dist_traveled</c> land on the route.
/// </summary>
internal sealed class ShapeRoute
{
    private const double SnapRadiusM = 40;

    public required int[] Elems { get; init; }

    /// <summary>Start distance of each element; the last entry is the route's length.</summary>
    public required double[] Start { get; init; }

    /// <summary>Cumulative length of the shape itself (great-circle between its points), metres.</summary>
    public required double[] ShapeDist { get; init; }

    /// <summary>Route distance at each shape point.</summary>
    public required double[] RouteDist { get; init; }

    public double ShapeLengthM => ShapeDist[^1];

    /// <summary>The route distance at a distance along the shape: interpolated between shape points.</summary>
    public double RouteAt(double shapeDist)
    {
        int i = Array.BinarySearch(ShapeDist, shapeDist);
        if (i >= 0) return RouteDist[i];
        i = ~i;
        if (i == 0) return RouteDist[0];
        if (i >= ShapeDist.Length) return RouteDist[^1];
        double span = ShapeDist[i] - ShapeDist[i - 1];
        double share = span > 0 ? (shapeDist - ShapeDist[i - 1]) / span : 0;
        return RouteDist[i - 1] + (share * (RouteDist[i] - RouteDist[i - 1]));
    }

    public static ShapeRoute? Build(RoadNetwork net, EdgeIndex index, BoundedDijkstra router, (double Lon, double Lat, double Dist)[] shape)
    {
        var shapeDist = new double[shape.Length];
        for (int i = 1; i < shape.Length; i++)
            shapeDist[i] = shapeDist[i - 1] + GeoMath.Distance(shape[i - 1].Lon, shape[i - 1].Lat, shape[i].Lon, shape[i].Lat);

        var elems = new List<int>();
        var start = new List<double> { 0 };
        var routeDist = new double[shape.Length];
        Span<EdgeCandidate> cands = stackalloc EdgeCandidate[8];
        Span<double> cost = stackalloc double[8];
        Span<EdgePosition> target = stackalloc EdgePosition[1];
        Span<double> dist = stackalloc double[1];
        var path = new int[8192];
        EdgePosition? prev = null;
        int lastPlaced = 0;
        double prevRoute = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            var (lon, lat, _) = shape[i];
            // The shape's own direction here: where it goes next (or came from, at its end).
            double bearing = i + 1 < shape.Length
                ? GeoMath.Bearing(lon, lat, shape[i + 1].Lon, shape[i + 1].Lat)
                : GeoMath.Bearing(shape[i - 1].Lon, shape[i - 1].Lat, lon, lat);
            int n = index.Within(lon, lat, SnapRadiusM, cands);
            // Candidates by cost: near, running the shape's way, and staying on the edge when it can.
            int m = 0;
            for (int k = 0; k < n; k++)
            {
                var c = cands[k];
                double diff = GeoMath.BearingDifference(bearing, net.BearingAt(c.Edge, c.OffsetM));
                if (diff > 75) continue; // the other direction of a two-way road, or a crossing street
                double cc = c.DistanceM + (diff * 0.2);
                if (prev is { } p && p.Edge == c.Edge && c.OffsetM >= p.OffsetM) cc -= 5;
                // Insertion sort: at most eight.
                int j = m++;
                while (j > 0 && cost[j - 1] > cc)
                {
                    cost[j] = cost[j - 1];
                    cands[j] = cands[j - 1];
                    j--;
                }
                cost[j] = cc;
                cands[j] = c;
            }
            bool placed = false;
            for (int k = 0; k < m && !placed; k++)
            {
                var b = new EdgePosition(cands[k].Edge, cands[k].OffsetM);
                if (prev is not { } from)
                {
                    elems.Add(b.Edge);
                    start.Add(net.LengthM(b.Edge));
                    prevRoute = b.OffsetM;
                }
                else if (b.Edge == from.Edge && b.OffsetM >= from.OffsetM)
                {
                    prevRoute += b.OffsetM - from.OffsetM;
                }
                else
                {
                    // Accept a connection only if it is about as long as the shape between the two points:
                    // a longer one is a loop round a block from a snap onto the wrong road.
                    double along = shapeDist[i] - shapeDist[lastPlaced];
                    target[0] = b;
                    router.Run(from, target, (1.5 * along) + 60, dist);
                    int len = router.PathLength(0);
                    if (len < 2 || len > path.Length) continue;
                    router.PathTo(0, path);
                    for (int q = 1; q < len; q++)
                    {
                        elems.Add(path[q]);
                        start.Add(start[^1] + net.LengthM(path[q]));
                    }
                    prevRoute += dist[0];
                }
                prev = b;
                lastPlaced = i;
                placed = true;
            }
            routeDist[i] = prevRoute;
        }
        if (elems.Count == 0) return null;
        // Leading points that found no edge sit at the route's start.
        double first = routeDist.FirstOrDefault(d => d > 0);
        for (int i = 0; i < routeDist.Length && routeDist[i] == 0; i++) routeDist[i] = Math.Min(first, start[1]);
        // The route ends at the last snapped point, not at the end of its edge.
        start[^1] = Math.Min(start[^1], prevRoute);
        return new ShapeRoute { Elems = [.. elems], Start = [.. start], ShapeDist = shapeDist, RouteDist = routeDist };
    }
}
