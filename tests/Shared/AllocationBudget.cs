using System.Text.Json;

namespace Traffic.Testing;

/// <summary>
/// bench/allocation-budget.json: bytes allocated per hot-path operation, and the deterministic measurement
/// every test project applies to its own operations (bytes, never time).
/// </summary>
internal static class AllocationBudget
{
    public static Dictionary<string, long> Budgets()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.RepoRoot(), "bench", "allocation-budget.json")));
        return doc.RootElement.GetProperty("budgets").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    /// <summary>
    /// Bytes one call of <paramref name="op"/> allocates after a warm-up of as many calls (buffers grown, JIT tiers
    /// settled): the least of three measured rounds, so that a one-off allocation of the runtime on this thread (a
    /// tier-up, a timer) is not taken for the operation's. A steady-state allocation shows in every round.
    /// </summary>
    public static long BytesPerOperation(Action<int> op, int iterations = 2000)
    {
        for (int i = 0; i < iterations; i++) op(i);
        long least = long.MaxValue;
        for (int round = 1; round <= 3; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = round * iterations; i < (round + 1) * iterations; i++) op(i);
            least = Math.Min(least, (GC.GetAllocatedBytesForCurrentThread() - before) / iterations);
        }
        return least;
    }
}
