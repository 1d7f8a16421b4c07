namespace Traffic.Geo.Tests;

public class GeoMathTests
{
    // The expression BearingDifference replaces: fmod, then the fold.
    private static double BearingDifferenceByFmod(double a, double b)
    {
        double d = Math.Abs(a - b) % 360;
        return d > 180 ? 360 - d : d;
    }

    [Fact]
    public void Bearing_difference_gives_the_bits_of_fmod_and_fold()
    {
        double[] special = [0, -0.0, 180, 179.99999999999997, 180.00000000000003, 359.99999999999994, 360, 540, 720.5, -10, -360, 1e300,
            -1e-300, double.Epsilon, double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        foreach (double a in special)
        {
            foreach (double b in special) Assert.Equal(BitConverter.DoubleToInt64Bits(BearingDifferenceByFmod(a, b)), BitConverter.DoubleToInt64Bits(GeoMath.BearingDifference(a, b)));
        }
        var random = new Random(7);
        for (int i = 0; i < 1_000_000; i++)
        {
            double a = (random.NextDouble() - 0.3) * 1000, b = random.NextDouble() * 360;
            Assert.Equal(BitConverter.DoubleToInt64Bits(BearingDifferenceByFmod(a, b)), BitConverter.DoubleToInt64Bits(GeoMath.BearingDifference(a, b)));
        }
    }
}
