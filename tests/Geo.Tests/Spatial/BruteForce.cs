using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Tests.Spatial;

/// <summary>
/// The test oracle: every segment of every edge, with <see cref="GeoMath.ProjectOnSegment"/> in the
/// query point's local frame (the index's formula; a separate test ties it to great-circle metres).
/// </summary>
internal static class BruteForce
{
    public static List<EdgeCandidate> Within(RoadNetwork net, double lon, double lat, double radiusM)
    {
        var found = new List<EdgeCandidate>();
        double kx = GeoMath.MetresPerDegreeLon(lat);
        for (int e = 0; e < net.EdgeCount; e++)
        {
            var lons = net.ShapeLons(e);
            var lats = net.ShapeLats(e);
            var best = new EdgeCandidate { Edge = e, DistanceM = double.PositiveInfinity };
            for (int i = 0; i + 1 < lons.Length; i++)
            {
                double d = GeoMath.ProjectOnSegment(lon, lat, lons[i], lats[i], lons[i + 1], lats[i + 1], kx, out double t);
                if (d < best.DistanceM)
                {
                    int s = net.ShapeStart[e] + i;
                    best.DistanceM = d;
                    best.OffsetM = net.ShapeOffsetM[s] + (t * (net.ShapeOffsetM[s + 1] - net.ShapeOffsetM[s]));
                    best.Lon = lons[i] + (t * (lons[i + 1] - lons[i]));
                    best.Lat = lats[i] + (t * (lats[i + 1] - lats[i]));
                }
            }
            if (best.DistanceM <= radiusM) found.Add(best);
        }
        found.Sort((a, b) => a.DistanceM.CompareTo(b.DistanceM));
        return found;
    }
}
