namespace Traffic.Geo.Tests;

public class BranchFreeTests
{
    private static readonly double[] s_values =
        [double.NaN, double.NegativeInfinity, -1e300, -1, -double.Epsilon, -0.0, 0.0, double.Epsilon, 0.5, 1, 1e300, double.PositiveInfinity];

    /// <summary>
    /// The selects give the conditional expressions to the bit over NaN, infinities, signed zeros and subnormals, on this
    /// processor's path (the intrinsics on x86) and on the fallback.
    /// </summary>
    [Fact]
    public void Selects_give_the_conditional_expressions_to_the_bit()
    {
        foreach (double a in s_values)
        {
            foreach (double b in s_values)
            {
                Same(a < b ? a : b, BranchFree.Min(a, b), a, b);
                Same(a < b ? a : b, BranchFree.MinPortable(a, b), a, b);
                Same(a > b ? a : b, BranchFree.Max(a, b), a, b);
                Same(a > b ? a : b, BranchFree.MaxPortable(a, b), a, b);
                Same(a, BranchFree.Select(true, a, b), a, b);
                Same(b, BranchFree.Select(false, a, b), a, b);
            }
        }
        Assert.Equal(1, BranchFree.Bit(true));
        Assert.Equal(0, BranchFree.Bit(false));
    }

    private static void Same(double expected, double actual, double a, double b) =>
        Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual), $"a {a}, b {b}: {actual}, expected {expected}");
}
