using System.Text.Json;
using Traffic.Engine.Simulation;
using Traffic.Geo.Evaluation;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;

namespace Traffic.Cli.Commands;

/// <summary>A taxi's true position every second (from the simulator's truth) and the route it drove.</summary>
internal sealed record SimulatedDrive(SimulatedDrive.Sample[] Samples, int[] Route)
{
    /// <summary>The truth at one second: edge, offset, exact position and the index of the edge in <see cref="Route"/>.</summary>
    internal readonly record struct Sample(long TimeMs, int Edge, double OffsetM, double Lon, double Lat, int RouteIndex, double SpeedKmh);

    /// <summary>
    /// The probes a unit sampling every <paramref name="everyS"/> seconds with Gaussian noise of <paramref name="sigmaM"/>
    /// would send, with their truth; with <paramref name="reported"/>, also the speed and heading a unit reports
    /// (<see cref="SyntheticTraces.Report"/>, noise from <paramref name="courseRng"/>, so positions do not change).
    /// </summary>
    public (TruthProbe[] Probes, int[] Route) Probes(int everyS, double sigmaM, Random rng, RoadNetwork? net = null, ReportedCourse reported = ReportedCourse.None, Random? courseRng = null)
    {
        var probes = new List<TruthProbe>(Samples.Length / Math.Max(1, everyS) + 1);
        for (int i = 0; i < Samples.Length; i += Math.Max(1, everyS))
        {
            var s = Samples[i];
            var (lon, lat) = SyntheticTraces.Noise(rng, s.Lon, s.Lat, sigmaM);
            var probe = new GpsPoint(s.TimeMs, lon, lat) { Id = i };
            if (reported != ReportedCourse.None)
                probe = SyntheticTraces.Report(probe, reported, s.SpeedKmh, net!.BearingAt(s.Edge, s.OffsetM), courseRng!);
            probes.Add(new TruthProbe(probe, s.Edge, s.OffsetM, s.RouteIndex));
        }
        return ([.. probes], Route);
    }
}

/// <summary>
/// Drives the fleet simulator's taxis (speeds by road class, hour and driver, acceleration and braking, slowing for
/// turns, waits at ranks between fares) with exact GPS every second, and reads back each taxi's truth: ground truth
/// for the matcher that moves as vehicles do, where <see cref="SyntheticTraces"/> drives at constant speeds.
/// </summary>
internal static class SimulatedDrives
{
    public static List<SimulatedDrive> Run(RoadNetwork net, int taxis, double durationS, int seed)
    {
        var scenario = new Scenario { Fleet = new FleetMix { Taxis = taxis } };
        scenario.Gps["taxi"] = new GpsSettings { SigmaM = 0, IntervalS = 1 };
        var sim = new FleetSimulator(net, new SimulationOptions { DurationS = durationS, Seed = seed, Scenario = scenario });
        using var truth = new MemoryStream();
        sim.Run(Stream.Null, truth);

        var byVehicle = new Dictionary<string, List<(long Time, int Edge, double Offset, double Lon, double Lat, double Speed)>>();
        foreach (var line in new StreamReader(new MemoryStream(truth.GetBuffer(), 0, (int)truth.Length)).ReadToEnd().Split('\n'))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            if (r.GetProperty("type").GetString() != "probe") continue;
            string id = r.GetProperty("vehicle_id").GetString()!;
            if (!byVehicle.TryGetValue(id, out var list)) byVehicle[id] = list = [];
            list.Add((r.GetProperty("time").GetInt64(), r.GetProperty("edge").GetInt32(), r.GetProperty("offset_m").GetDouble(),
                r.GetProperty("lon").GetDouble(), r.GetProperty("lat").GetDouble(), r.GetProperty("speed_kmh").GetDouble()));
        }

        // The truth names the edge at each second; the edges driven between two seconds (short ones at a junction)
        // are the shortest path between the two positions, as the simulator routes.
        var router = new BoundedDijkstra(net);
        var path = new int[1024];
        Span<EdgePosition> target = stackalloc EdgePosition[1];
        Span<double> distance = stackalloc double[1];
        var drives = new List<SimulatedDrive>(byVehicle.Count);
        foreach (var samples in byVehicle.Values)
        {
            var route = new List<int>();
            var outSamples = new SimulatedDrive.Sample[samples.Count];
            for (int i = 0; i < samples.Count; i++)
            {
                var (time, edge, offset, lon, lat, speed) = samples[i];
                if (route.Count == 0) route.Add(edge);
                else if (edge != route[^1])
                {
                    var prev = samples[i - 1];
                    if (net.To(route[^1]) != net.From(edge))
                    {
                        target[0] = new EdgePosition(edge, offset);
                        router.Run(new EdgePosition(prev.Edge, prev.Offset), target, 1000, distance);
                        int n = router.PathLength(0);
                        if (n > 2 && n <= path.Length)
                        {
                            router.PathTo(0, path);
                            for (int k = 1; k < n - 1; k++) route.Add(path[k]);
                        }
                    }
                    route.Add(edge);
                }
                outSamples[i] = new SimulatedDrive.Sample(time, edge, offset, lon, lat, route.Count - 1, speed);
            }
            drives.Add(new SimulatedDrive(outSamples, [.. route]));
        }
        return drives;
    }
}
