using BenchmarkDotNet.Attributes;
using Traffic.Geo.Matching;

namespace Traffic.Bench.Matching;

/// <summary>
/// What tracked vehicles cost in memory: the matcher's per-vehicle state, allocated for 100,000 vehicles
/// (the allocated-bytes column is the memory they hold).
/// </summary>
[MemoryDiagnoser]
public class VehicleStateBenchmarks
{
    private readonly MatcherOptions _options = new();

    [Params(1, 100_000)]
    public int Vehicles { get; set; }

    [Benchmark(Description = "allocate matcher state")]
    public VehicleMatchState[] Allocate()
    {
        var states = new VehicleMatchState[Vehicles];
        for (int i = 0; i < states.Length; i++) states[i] = new VehicleMatchState(_options);
        return states;
    }
}
