using System.Text;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Segments;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Engine.Tests;

/// <summary>The Engine's hot-path operations in bench/allocation-budget.json (Probe*, ZoneSet.*, the Arrow writers' Append), measured in bytes, never time.</summary>
public class AllocationBudgetTests
{
    public static TheoryData<string> Operations()
    {
        var data = new TheoryData<string>();
        foreach (var name in AllocationBudget.Budgets().Keys.Where(IsEngine)) data.Add(name);
        return data;
    }

    internal static bool IsEngine(string operation) =>
        operation.StartsWith("Probe", StringComparison.Ordinal) || operation.StartsWith("ZoneSet.", StringComparison.Ordinal)
        || operation.StartsWith("SegmentArrowWriter.", StringComparison.Ordinal) || operation.StartsWith("AlertArrowWriter.", StringComparison.Ordinal)
        || operation.StartsWith("VehiclePartition.", StringComparison.Ordinal) || operation.StartsWith("SegmentPartition.", StringComparison.Ordinal)
        || operation.StartsWith("MatchedProbeArrowWriter.", StringComparison.Ordinal) || operation.StartsWith("BatchQueue.", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Operations))]
    public void Hot_path_operation_stays_within_its_allocation_budget(string operation)
    {
        long budget = AllocationBudget.Budgets()[operation];
        long perOp = AllocationBudget.BytesPerOperation(Operation(operation));
        Assert.True(perOp <= budget, $"{operation} allocates {perOp} bytes per operation; its budget is {budget}");
    }


    private static Action<int> Operation(string name)
    {
        // Ten vehicles, all fields present, times moving forward.
        var records = Enumerable.Range(0, 10).Select(i => Encoding.UTF8.GetBytes(
            $$"""{"vehicle_id":"琼A1000{{i}}","time":{{1764028800000 + i}},"lon":110.{{i}},"lat":20.{{i}},"speed_kmh":41.5,"heading":270,"class":"taxi","fix":true,"accuracy_m":4,"status":3}""")).ToArray();
        var ids = new VehicleIds();
        var json = new ProbeJsonDecoder(ids);
        switch (name)
        {
            case "ProbeJsonDecoder.TryDecode":
                return i => json.TryDecode(records[i % records.Length], out _, out _);
            case "ProbeBinaryRecord.TryDecode":
            {
                var binary = records.Select(r =>
                {
                    json.TryDecode(r, out var p, out _);
                    var rec = new byte[ProbeBinaryRecord.Size];
                    ProbeBinaryRecord.TryWrite(p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), rec);
                    return rec;
                }).ToArray();
                var readIds = new VehicleIds();
                long newest = long.MinValue;
                return i => ProbeBinaryRecord.TryDecode(binary[i % binary.Length], readIds, ref newest, out _, out _);
            }
            case "ZoneSet.Containing":
            {
                var zones = Traffic.Engine.Zones.ZoneSet.Load(Path.Combine(SharedData.RepoRoot(), "docs", "examples", "zones.geojson"));
                int[] found = new int[8];
                return i => zones.Containing(113.93 + (i % 100 * 0.0001), 22.54 + (i % 37 * 0.0002), found);
            }
            case "SegmentArrowWriter.Append":
            {
                // Builders grown by a first file of 4,096 rows; the measured appends stay within it, no file is written.
                var net = Simulation.SimRun.Shenzhen;
                var writer = new SegmentArrowWriter(TestDirectory.New("tmp"), net, rowsPerFile: 4096);
                var windows = Enumerable.Range(0, 64).Select(i => new SegmentStat(i * 7 % net.EdgeCount, i * 60_000L, (i + 1) * 60_000L, 3 + i % 5, 30.123 + i, 50, 12.5, 1 + i % 5)).ToArray();
                for (int i = 0; i < 4096; i++) writer.Append(windows[i % windows.Length]);
                return i => writer.Append(windows[i % windows.Length]);
            }
            case "AlertArrowWriter.Append":
            {
                var writer = new AlertArrowWriter(TestDirectory.New("tmp"), rowsPerFile: 4096);
                var alerts = Enumerable.Range(0, 16).Select(i => new AlertEvent
                {
                    AlertId = $"speeding:琼A1000{i}:{i}",
                    Kind = "speeding",
                    State = (AlertState)(i % 3),
                    TimeMs = 1764028800000 + i,
                    StartMs = 1764028800000,
                    EndMs = i % 3 == 2 ? 1764028800000 + i : null,
                    VehicleId = $"琼A1000{i}",
                    Class = "taxi",
                    Road = "深南大道",
                    WayId = 123 + i,
                    Direction = "forward",
                    Lon = 110.5,
                    Lat = 20.5,
                    Severity = 2,
                    Evidence = new Dictionary<string, double> { ["speed_kmh"] = 90 + i, ["limit_kmh"] = 60 },
                }).ToArray();
                for (int i = 0; i < 4096; i++) writer.Append(alerts[i % alerts.Length]);
                return i => writer.Append(alerts[i % alerts.Length]);
            }
            case "VehiclePartition.OnProbe":
            {
                // A fleet driving normally (no alert is due): probes through matching, the rules and the exchange, watermarks included.
                var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { Vehicles = 60, DurationS = 3000, Seed = 2 });
                var decoded = new List<Probe>();
                var probeIds = new VehicleIds();
                new ProbeStreamReader(ProbeFormat.NdJson, probeIds).ReadAsync(File.OpenRead(Path.Combine(run.Dir, "probes.ndjson")), new Collect(decoded))
                    .AsTask().GetAwaiter().GetResult();
                if (decoded.Count < 8000) throw new InvalidOperationException($"{decoded.Count} probes: too few for warm-up and measurement");
                var partition = new VehiclePartition(0, new EdgeIndex(SimRun.Shenzhen), probeIds, null, null);
                var output = new NoOutput();
                int n = 0;
                return _ =>
                {
                    // Warm-up and measurement each take the next probes: the same probes again would be refused as out of order.
                    int k = n++;
                    partition.OnProbe(decoded[k], new RecordSource(k, 0), output);
                    if (output.Alerts > 0) throw new InvalidOperationException("an alert in the measurement: the fleet must drive without one");
                };
            }
            case "MatchedProbeArrowWriter.Append":
            {
                // Builders grown by a first file of 16,384 rows; the measured appends stay within the second, no file is written.
                var net = SimRun.Shenzhen;
                var writer = new MatchedProbeArrowWriter(TestDirectory.New("tmp"), net, ids, rowsPerFile: 16_384);
                for (int i = 0; i < 10; i++) ids.Intern($"琼A1000{i}".AsSpan());
                var matches = Enumerable.Range(0, 64).Select(i => new MatchedProbe
                {
                    ProbeId = i,
                    TimeMs = 1764028800000 + (i * 1000),
                    Edge = i % 7 == 0 ? -1 : i * 13 % net.EdgeCount,
                    OffsetM = i,
                    Lon = 113.93,
                    Lat = 22.54,
                    DistanceM = 3.5,
                    RouteDistanceM = 12,
                    SpeedKmh = i % 5 == 0 ? double.NaN : 30 + i,
                    Confidence = 0.9,
                    Break = i % 9 == 0 ? ChainBreak.Start : ChainBreak.None,
                    Forced = false,
                    ReportedSpeedKmh = double.NaN,
                    Outlier = i % 11 == 0,
                }).ToArray();
                for (int i = 0; i < 16_384; i++) writer.Append(i % 10, matches[i % matches.Length]);
                return i => writer.Append(i % 10, matches[i % matches.Length]);
            }
            case "SegmentPartition.OnTraversal":
            {
                // Traversals of 8 segments at about 90 km/h by 7 vehicles, one a second, with a watermark every 64 that closes
                // the windows behind it: windows open, fill, close and publish (accumulators reused), congestion judged on each.
                var net = SimRun.Shenzhen;
                var partition = new SegmentPartition(net, 0, 1);
                var output = new NoOutput();
                int[] edges = [.. Enumerable.Range(0, net.EdgeCount).Where(e => net.LengthM(e) > 100).Take(8)];
                long sequence = 0;
                return i =>
                {
                    long t = 1764028800000 + (i * 1000L);
                    int e = edges[i % edges.Length];
                    var edge = new TraversedEdge(e, 0, net.LengthM(e), t - 4000, t);
                    partition.OnTraversal(new SegmentTraversal(0, ++sequence, i % 7, edge));
                    if (i % 64 == 63) partition.OnWatermark(new SegmentWatermark(0, ++sequence, t - 120_000), output);
                    if (output.Alerts > 0) throw new InvalidOperationException("an alert in the measurement: the segments must flow freely");
                    if (i == 1000 && output.Windows == 0) throw new InvalidOperationException("no window published: the measurement must close and publish windows");
                };
            }
            case "BatchQueue.RoundTrip":
            {
                // A batch rented, filled, sent, taken and given back (one thread plays both sides).
                var queue = new BatchQueue<long>(4, 64);
                return i =>
                {
                    var batch = queue.Rent();
                    batch.Add(i);
                    queue.Send(batch);
                    if (!queue.TryTake(out var taken) || taken.Messages[0] != i) throw new InvalidOperationException("the batch sent is not the batch taken");
                    queue.Return(taken);
                };
            }
            default:
                throw new InvalidOperationException($"no measurement for budgeted operation '{name}'");
        }
    }

    private sealed class Collect(List<Probe> probes) : IProbeHandler
    {
        public void OnProbe(in Probe probe, in RecordSource source) => probes.Add(probe);

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
        }
    }

    private sealed class NoOutput : IVehiclePartitionOutput, ISegmentPartitionOutput
    {
        public int Alerts;
        public int Windows;

        public void Window(in SegmentStat window) => Windows++;

        public void Alert(AlertEvent alert) => Alerts++;

        public void View(in SegmentStat view) => Windows++;

        public void Network(in NetworkSums sums)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match)
        {
        }

        public void Traversal(in SegmentTraversal traversal)
        {
        }

        public void Watermark(in SegmentWatermark watermark)
        {
        }

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }
}
