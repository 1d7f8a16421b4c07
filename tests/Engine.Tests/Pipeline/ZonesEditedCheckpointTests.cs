using System.Text;
using System.Text.Json.Nodes;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// A port authority edits its zones file (a zone added, one withdrawn, the file reordered) and restarts the engine: the
/// checkpoints taken with the old file must still load. The zones still there keep their state and open alerts; an alert
/// open on a withdrawn zone closes at the restore, said so in its evidence; nothing else changes.
/// </summary>
public class ZonesEditedCheckpointTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly Lazy<Run> s_run = new(Run.Create);

    private static readonly string[] s_zoneKinds = ["zone", "zone_dwell", "hazmat_forbidden"];

    [Fact]
    public void A_zone_withdrawn_between_runs_has_its_open_alerts_closed_and_the_other_zones_go_on_as_before()
    {
        var run = s_run.Value;
        var open = run.OpenAtCut.Where(a => s_zoneKinds.Contains(a.Kind)).ToList();
        Assert.NotEmpty(open);
        string withdrawn = open[0].Zone!;
        var edited = ZoneSet.Parse(Edited(run.ZonesJson, withdrawn));
        Assert.DoesNotContain(edited.Zones, z => z.Id == withdrawn);
        Assert.True(edited.Zones.Count >= run.Zones.Zones.Count);   // the rest, reversed, and one zone more

        var restored = run.Restore(edited);
        Assert.True(restored.ZonesChanged);
        var closedAtRestore = open.Where(a => a.Zone == withdrawn).ToList();
        Assert.Equal(closedAtRestore.Count, restored.ClosedOnRemovedZones);
        var after = run.FeedRest(restored);
        log.WriteLine($"cut after probe {run.Cut} of {run.Probes.Count}; open then: {string.Join(", ", run.OpenAtCut.Select(a => a.AlertId))}; withdrawn {withdrawn}; {after.Count} alert events after, {run.AfterCut.Count} in the run that kept the file: {string.Join(", ", run.AfterCut.GroupBy(a => (a.Kind, a.Zone)).Select(g => $"{g.Key.Kind}/{g.Key.Zone} {g.Count()}"))}");

        // The alerts open on the withdrawn zone close first, with the same ids, at the newest time the partition had seen.
        var closes = after.Take(closedAtRestore.Count).ToList();
        Assert.Equal(closedAtRestore.Select(a => a.AlertId).Order(), closes.Select(a => a.AlertId).Order());
        Assert.All(closes, c =>
        {
            Assert.Equal(AlertState.Close, c.State);
            Assert.Equal(1, c.Evidence["zone_removed"]);
            Assert.Equal(run.CutTimeMs, c.TimeMs);
            Assert.True(c.EndMs <= run.CutTimeMs && c.EndMs >= c.StartMs);
        });
        // Nothing more on it; on every other zone, and for every other rule, the same events as the run that kept the file.
        Assert.DoesNotContain(after.Skip(closes.Count), a => a.Zone == withdrawn);
        Assert.Equal(Lines(run.AfterCut.Where(a => a.Zone != withdrawn)), Lines(after.Skip(closes.Count)));
    }

    [Fact]
    public void Restored_with_the_same_zones_nothing_closes_and_restored_without_zones_every_zone_alert_closes()
    {
        var run = s_run.Value;
        var same = run.Restore(run.Zones);
        Assert.False(same.ZonesChanged);
        Assert.Equal(0, same.ClosedOnRemovedZones);
        Assert.Equal(Lines(run.AfterCut), Lines(run.FeedRest(same)));

        var none = run.Restore(null);
        Assert.True(none.ZonesChanged);
        var zoneAlerts = run.OpenAtCut.Where(a => a.Zone != null).ToList();
        Assert.Equal(zoneAlerts.Count, none.ClosedOnRemovedZones);
        var after = run.FeedRest(none);
        Assert.Equal(zoneAlerts.Select(a => a.AlertId).Order(), after.Take(zoneAlerts.Count).Select(a => a.AlertId).Order());
        Assert.DoesNotContain(after.Skip(zoneAlerts.Count), a => a.Zone != null);

        // A host hands the closes on right after the restore: a checkpoint written before any probe then neither drops
        // them nor holds them open.
        var host = run.Restore(null);
        var handed = new Alerts();
        host.HandRestoredCloses(handed);
        host.HandRestoredCloses(handed);
        Assert.Equal(zoneAlerts.Count, handed.List.Count);
        var saved = new MemoryStream();
        host.Save(saved);
        var again = VehiclePartition.Load(0, run.Index, run.Ids, VehicleRegistry.Load(run.Registry, run.Ids), null, new MemoryStream(saved.ToArray()));
        Assert.Equal(0, again.ClosedOnRemovedZones);
    }

    private static List<string> Lines(IEnumerable<AlertEvent> alerts)
    {
        var lines = alerts.Select(a =>
        {
            var buffer = new MemoryStream();
            using (var w = new AlertWriter(buffer)) w.Write(a);
            return Encoding.UTF8.GetString(buffer.ToArray()).TrimEnd('\n');
        }).ToList();
        lines.Sort(StringComparer.Ordinal);   // a reordered zones file may order two zones' events of one probe otherwise
        return lines;
    }

    /// <summary>The zones file without the features of zone <paramref name="withdrawn"/>, the rest reversed, and a zone more.</summary>
    private static string Edited(string zonesJson, string withdrawn)
    {
        var doc = JsonNode.Parse(zonesJson)!.AsObject();
        var features = doc["features"]!.AsArray();
        var kept = features.Where(f => (string?)f!["properties"]!["id"] != withdrawn).Select(f => f!.DeepClone()).Reverse().ToList();
        kept.Add(JsonNode.Parse("""
            {"type":"Feature","properties":{"id":"NEW1","kind":"restricted","classes":["taxi"]},
             "geometry":{"type":"Polygon","coordinates":[[[113.80,22.40],[113.801,22.40],[113.801,22.401],[113.80,22.401],[113.80,22.40]]]}}
            """)!);
        doc["features"] = new JsonArray([.. kept]);
        return doc.ToJsonString();
    }

    /// <summary>A simulated morning through one vehicle partition, cut (checkpointed) when a zone alert is first open.</summary>
    private sealed class Run
    {
        public required List<Probe> Probes { get; init; }
        public required VehicleIds Ids { get; init; }
        public required string Registry { get; init; }
        public required ZoneSet Zones { get; init; }
        public required string ZonesJson { get; init; }
        public required EdgeIndex Index { get; init; }
        public required byte[] Checkpoint { get; init; }
        public required int Cut { get; init; }
        public required long CutTimeMs { get; init; }
        public required List<AlertEvent> OpenAtCut { get; init; }
        public required List<AlertEvent> AfterCut { get; init; }

        public static Run Create()
        {
            var scenario = Scenario.Load(SimRun.ExampleScenario);
            scenario.Fleet = new FleetMix { Taxis = 30, Buses = 4, Hazmat = 6 };
            var sim = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 1500, Seed = 11, Scenario = scenario });
            var ids = new VehicleIds();
            string registry = Path.Combine(sim.Dir, "vehicles.ndjson");
            string zonesPath = Path.Combine(sim.Dir, "zones.geojson");
            var zones = ZoneSet.Load(zonesPath);
            var index = new EdgeIndex(SimRun.Shenzhen);
            var probes = new List<Probe>();
            var decoder = new ProbeJsonDecoder(ids);
            foreach (string line in sim.ProbeLines)
            {
                if (decoder.TryDecode(Encoding.UTF8.GetBytes(line), out var probe, out _)) probes.Add(probe);
            }
            var partition = new VehiclePartition(0, index, ids, VehicleRegistry.Load(registry, ids), zones);
            var output = new Alerts();
            var open = new Dictionary<string, AlertEvent>(StringComparer.Ordinal);
            for (int i = 0; i < probes.Count; i++)
            {
                int before = output.List.Count;
                partition.OnProbe(probes[i], new RecordSource(i, i), output);
                foreach (var a in output.List.Skip(before))
                {
                    if (a.State == AlertState.Close) open.Remove(a.AlertId);
                    else open[a.AlertId] = a;
                }
                if (open.Values.Any(a => s_zoneKinds.Contains(a.Kind)))
                {
                    var stream = new MemoryStream();
                    partition.Save(stream);
                    int cut = i + 1;
                    return new Run
                    {
                        Probes = probes, Ids = ids, Registry = registry, Zones = zones, ZonesJson = File.ReadAllText(zonesPath), Index = index,
                        Checkpoint = stream.ToArray(), Cut = cut, CutTimeMs = partition.MaxEventTimeMs, OpenAtCut = [.. open.Values],
                        AfterCut = FeedRest(partition, probes, cut),
                    };
                }
            }
            throw new InvalidOperationException("no zone alert was ever open");
        }

        public VehiclePartition Restore(ZoneSet? zones) =>
            VehiclePartition.Load(0, Index, Ids, VehicleRegistry.Load(Registry, Ids), zones, new MemoryStream(Checkpoint));

        public List<AlertEvent> FeedRest(VehiclePartition partition) => FeedRest(partition, Probes, Cut);

        private static List<AlertEvent> FeedRest(VehiclePartition partition, List<Probe> probes, int cut)
        {
            var output = new Alerts();
            for (int i = cut; i < probes.Count; i++) partition.OnProbe(probes[i], new RecordSource(i, i), output);
            partition.OnEndOfInput(output);
            return output.List;
        }
    }

    private sealed class Alerts : IVehiclePartitionOutput
    {
        public List<AlertEvent> List { get; } = [];

        public void Alert(AlertEvent alert) => List.Add(alert);

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
