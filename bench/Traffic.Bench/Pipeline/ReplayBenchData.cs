using System.Text;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Bench.Pipeline;

/// <summary>
/// A simulated fleet on the Shenzhen network (seed 1: taxis, buses and dangerous-goods trucks at the simulator's
/// default sampling), kept in memory in every form the engine reads: NDJSON lines, binary records and decoded
/// probes, with the registry the simulator wrote. Shared by the per-stage suites.
/// </summary>
internal sealed class ReplayBenchData
{
    public required RoadNetwork Network { get; init; }
    public required VehicleIds Ids { get; init; }
    public required VehicleRegistry Registry { get; init; }

    /// <summary>The probes file as the simulator wrote it.</summary>
    public required byte[] Ndjson { get; init; }

    /// <summary>The same probes as 128-byte binary records.</summary>
    public required byte[] Binary { get; init; }

    /// <summary>Each NDJSON line's start and length in <see cref="Ndjson"/>.</summary>
    public required (int Start, int Length)[] Lines { get; init; }

    /// <summary>The decoded probes, in input order (vehicle ids interned into <see cref="Ids"/>).</summary>
    public required Probe[] Probes { get; init; }

    private static readonly Lazy<RoadNetwork> s_shenzhen = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    public static RoadNetwork Shenzhen => s_shenzhen.Value;

    /// <summary>Simulates <paramref name="vehicles"/> vehicles for <paramref name="durationS"/> seconds (seed 1) into a temporary folder and loads it.</summary>
    public static ReplayBenchData Simulate(int vehicles, double durationS)
    {
        string dir = Path.Combine(Path.GetTempPath(), "traffic-bench", $"sim-{vehicles}-{durationS}");
        string probes = Path.Combine(dir, "probes.ndjson");
        if (!File.Exists(probes))
        {
            Directory.CreateDirectory(dir);
            new FleetSimulator(Shenzhen, new SimulationOptions { Vehicles = vehicles, DurationS = durationS, Seed = 1 }).Run(probes);
        }
        return Load(Shenzhen, probes, Path.Combine(dir, "vehicles.ndjson"));
    }

    public static ReplayBenchData Load(RoadNetwork network, string ndjsonPath, string registryPath)
    {
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(registryPath, ids);
        byte[] ndjson = File.ReadAllBytes(ndjsonPath);
        var lines = new List<(int, int)>();
        var probes = new List<Probe>();
        var decoder = new ProbeJsonDecoder(ids);
        using var binary = new MemoryStream();
        byte[] record = new byte[ProbeBinaryRecord.Size];
        int start = 0;
        while (start < ndjson.Length)
        {
            int end = Array.IndexOf(ndjson, (byte)'\n', start);
            if (end < 0) end = ndjson.Length;
            if (end > start)
            {
                lines.Add((start, end - start));
                if (!decoder.TryDecode(ndjson.AsSpan(start, end - start), out Probe p, out _))
                    throw new InvalidDataException($"simulated probe rejected at byte {start}");
                probes.Add(p);
                ProbeBinaryRecord.TryWrite(in p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), record);
                binary.Write(record);
            }
            start = end + 1;
        }
        return new ReplayBenchData
        {
            Network = network,
            Ids = ids,
            Registry = registry,
            Ndjson = ndjson,
            Binary = binary.ToArray(),
            Lines = [.. lines],
            Probes = [.. probes],
        };
    }
}
