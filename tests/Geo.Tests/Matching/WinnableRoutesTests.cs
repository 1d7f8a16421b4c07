using Traffic.Geo.Matching;

namespace Traffic.Geo.Tests.Matching;

public class WinnableRoutesTests
{
    private static readonly float[] s_scores = [float.NegativeInfinity, -1e30f, -40, -3.5f, -1, -float.Epsilon, -0f, 0f, 0.25f, 2];
    private static readonly double[] s_doubles = [double.NegativeInfinity, -50, -0.0, 0.0, 1e-300, 0.5, 7, 1e6, double.PositiveInfinity];

    /// <summary>
    /// The route bounds of a predecessor four candidates at a time (AVX) are the one-by-one loop's to the bit, over scores
    /// with no transition yet (−∞), signed zeros, and bounds and betas up to +∞ (where sums turn NaN), for candidate counts
    /// that leave a remainder.
    /// </summary>
    [Fact]
    public void Four_at_a_time_gives_the_bounds_one_at_a_time_gives()
    {
        var rng = new Random(11);
        int compared = 0;
        for (int trial = 0; trial < 20_000; trial++)
        {
            int n = rng.Next(1, 17);
            var best = new float[n];
            var emission = new float[n];
            for (int j = 0; j < n; j++)
            {
                best[j] = rng.Next(3) == 0 ? s_scores[rng.Next(s_scores.Length)] : (float)(-rng.NextDouble() * 30);
                emission[j] = rng.Next(3) == 0 ? s_scores[rng.Next(s_scores.Length)] : (float)(-rng.NextDouble() * 30);
            }
            float prevScore = rng.Next(3) == 0 ? s_scores[rng.Next(s_scores.Length)] : (float)(-rng.NextDouble() * 30);
            double alive = rng.Next(3) == 0 ? s_doubles[rng.Next(s_doubles.Length)] : rng.NextDouble() * 40;
            double gc = rng.Next(4) == 0 ? s_doubles[rng.Next(3, s_doubles.Length)] : rng.NextDouble() * 500;
            double beta = rng.Next(4) == 0 ? s_doubles[rng.Next(4, s_doubles.Length)] : 1 + (rng.NextDouble() * 20);
            var one = new double[n];
            var four = new double[n];
            bool anyOne = OnlineMatcher.WinnableRoutesPositiveBeta(prevScore, best, emission, alive, gc, beta, one, vector: false);
            bool anyFour = OnlineMatcher.WinnableRoutesPositiveBeta(prevScore, best, emission, alive, gc, beta, four, vector: true);
            Assert.Equal(anyOne, anyFour);
            for (int j = 0; j < n; j++)
            {
                Assert.True(BitConverter.DoubleToInt64Bits(one[j]) == BitConverter.DoubleToInt64Bits(four[j]),
                    $"candidate {j} of {n}: {four[j]}, one at a time {one[j]} (prev {prevScore}, best {best[j]}, emission {emission[j]}, alive {alive}, gc {gc}, beta {beta})");
                compared++;
            }
        }
        Assert.True(compared > 100_000);
    }
}
