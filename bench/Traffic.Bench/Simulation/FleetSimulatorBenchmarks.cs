using BenchmarkDotNet.Attributes;
using Traffic.Engine.Simulation;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Bench.Simulation;

/// <summary>
/// The fleet simulator end to end on the Shenzhen network: fleet set-up (first trips routed), ten simulated
/// minutes with every unit reporting every 10 s (60 probes per vehicle), probes and truth formatted and
/// written to <see cref="Stream.Null"/>, so the disk is not measured. Probes per second = 60 × Vehicles / mean.
/// </summary>
[MemoryDiagnoser]
public class FleetSimulatorBenchmarks
{
    private RoadNetwork _network = null!;
    private Scenario _scenario = null!;

    [Params(1_000, 10_000)]
    public int Vehicles { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _network = NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _);
        _scenario = new Scenario
        {
            Fleet = new FleetMix { Taxis = Vehicles * 7 / 10, Buses = Vehicles / 5, Hazmat = Vehicles / 10 },
            Gps = new() { ["taxi"] = new GpsSettings { IntervalS = 10 } },
        };
    }

    [Benchmark]
    public long SimulateTenMinutes()
    {
        var sim = new FleetSimulator(_network, new SimulationOptions { DurationS = 600, Seed = 1, Scenario = _scenario });
        return sim.Run(Stream.Null, Stream.Null).ProbesGenerated;
    }
}
