using System.Runtime.CompilerServices;

namespace Traffic.Geo;

/// <summary>Distances and projections on the WGS84 sphere approximation, in metres.</summary>
public static class GeoMath
{
    /// <summary>Mean Earth radius (IUGG), metres.</summary>
    public const double EarthRadiusM = 6_371_008.8;

    /// <summary>Metres per degree of latitude (and of longitude at the equator).</summary>
    public const double MetresPerDegree = EarthRadiusM * Math.PI / 180.0;

    private const double DegToRad = Math.PI / 180.0;

    /// <summary>Great-circle distance in metres (haversine).</summary>
    public static double Distance(double lon1, double lat1, double lon2, double lat2)
    {
        double p1 = lat1 * DegToRad, p2 = lat2 * DegToRad;
        double dp = p2 - p1, dl = (lon2 - lon1) * DegToRad;
        double s1 = Math.Sin(dp * 0.5), s2 = Math.Sin(dl * 0.5);
        double a = (s1 * s1) + (Math.Cos(p1) * Math.Cos(p2) * s2 * s2);
        return 2 * EarthRadiusM * Math.Asin(Math.Min(1.0, Math.Sqrt(a)));
    }

    /// <summary>
    /// Fast distance for points a few kilometres apart: equirectangular at the mean latitude.
    /// Relative error under 1e-4 below 10 km at any latitude short of the poles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double FastDistance(double lon1, double lat1, double lon2, double lat2)
    {
        double k = Math.Cos((lat1 + lat2) * 0.5 * DegToRad);
        double dx = (lon2 - lon1) * k, dy = lat2 - lat1;
        return Math.Sqrt((dx * dx) + (dy * dy)) * MetresPerDegree;
    }

    /// <summary>Metres per degree of longitude at a latitude.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double MetresPerDegreeLon(double lat) => Math.Cos(lat * DegToRad) * MetresPerDegree;

    /// <summary>Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360).</summary>
    public static double Bearing(double lon1, double lat1, double lon2, double lat2)
    {
        double p1 = lat1 * DegToRad, p2 = lat2 * DegToRad, dl = (lon2 - lon1) * DegToRad;
        double y = Math.Sin(dl) * Math.Cos(p2);
        double x = (Math.Cos(p1) * Math.Sin(p2)) - (Math.Sin(p1) * Math.Cos(p2) * Math.Cos(dl));
        double b = Math.Atan2(y, x) / DegToRad;
        return b < 0 ? b + 360 : b;
    }

    /// <summary>Smallest absolute difference of two bearings in degrees, in [0, 180].</summary>
    public static double BearingDifference(double a, double b)
    {
        // A double's % is a call into the C runtime's fmod; bearings in [0, 360) differ by less than 360, and x % 360 of such
        // an x is x itself (fmod is exact), so only a difference of 360 or more (or NaN) takes it.
        double d = Math.Abs(a - b);
        if (!(d < 360)) d %= 360;
        // Over half the circle or not follows the data (a candidate and its twin, a course against a road), a branch
        // mispredicted about half the time: a select.
        return BranchFree.Select(d > 180, 360 - d, d);
    }

    /// <summary>
    /// Projects point p onto segment a–b in a local equirectangular frame centred on p (exact
    /// enough in metres for segments of a few kilometres at any latitude short of the poles).
    /// Returns the distance in metres; <paramref name="t"/> is the fraction along a–b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ProjectOnSegment(double px, double py, double ax, double ay, double bx, double by, double kx, out double t)
    {
        // kx: metres per degree of longitude at p's latitude; latitude uses MetresPerDegree.
        double x1 = (ax - px) * kx, y1 = (ay - py) * MetresPerDegree;
        double x2 = (bx - px) * kx, y2 = (by - py) * MetresPerDegree;
        double dx = x2 - x1, dy = y2 - y1;
        double len2 = (dx * dx) + (dy * dy);
        double u = len2 > 0 ? -((x1 * dx) + (y1 * dy)) / len2 : 0;
        u = u < 0 ? 0 : (u > 1 ? 1 : u);
        t = u;
        double qx = x1 + (u * dx), qy = y1 + (u * dy);
        return Math.Sqrt((qx * qx) + (qy * qy));
    }
}
