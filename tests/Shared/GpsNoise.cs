using Traffic.Geo;

namespace Traffic.Testing;

/// <summary>A GPS unit's error for hand-made fixes: Gaussian, per axis, from a seeded generator.</summary>
internal static class GpsNoise
{
    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>The point off by N(0, σ) metres east and north.</summary>
    public static (double Lon, double Lat) Scatter(double lon, double lat, double sigmaM, Random random) =>
        (lon + (Gaussian(random) * sigmaM / GeoMath.MetresPerDegreeLon(lat)), lat + (Gaussian(random) * sigmaM / GeoMath.MetresPerDegree));
}
