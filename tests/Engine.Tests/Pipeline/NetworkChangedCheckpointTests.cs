using System.Text;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Rules;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// The OSM extract is updated (weekly, in practice) and the engine restarted on the new road network: the checkpoints
/// written on the old one must still load. What does not depend on the network (the vehicles, their dangerous goods,
/// zones, the fatigue clock and the other conditions on the vehicles' own reports, the watermark) goes on as before;
/// what names the old network's edges starts anew, the alerts it held open close, and no probe the matcher held
/// undecided is lost.
/// </summary>
public class NetworkChangedCheckpointTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly Lazy<Run> s_run = new(Run.Create);

    /// <summary>Kinds judged on the vehicles' own reports, never on the map: they go on across the change as if nothing happened.</summary>
    private static readonly string[] s_ownReports = ["fatigue", "teleport", "signal_lost", "hazmat_no_fix", "hazmat_long_stop"];

    [Fact]
    public void Restored_on_an_updated_network_the_alerts_on_old_roads_close_and_the_fatigue_clock_and_zones_go_on()
    {
        var run = s_run.Value;
        var onRoads = run.OpenAtCut.Where(a => a.Kind is "speeding" or "wrong_way").ToList();
        Assert.Contains(onRoads, a => a.Kind == "speeding");
        var restored = run.Restore(run.Edited);
        Assert.True(restored.NetworkChanged);
        Assert.False(restored.ZonesChanged);
        Assert.Equal(onRoads.Count, restored.ClosedOnNetworkChange);
        // What it sends the exchange from now on is numbered in a new epoch: a segment partition tells it from the old run's.
        Assert.Equal(VehiclePartition.NetworkEpoch(0) - 1, restored.Sequence);
        var after = run.FeedRest(restored);
        log.WriteLine($"cut after probe {run.Cut} of {run.Probes.Count} at {run.CutTimeMs}; open then: {string.Join(", ", run.OpenAtCut.Select(a => a.AlertId))}; "
            + $"{run.Edited.EdgeCount} edges where {SimRun.Shenzhen.EdgeCount}; {restored.ResumedProbes} undecided probes matched again; "
            + $"{after.Alerts.Count} alert events after the cut, {run.AfterCut.Alerts.Count} on the old network");

        // The alerts open on the old roads close first, with their ids, at the newest time the partition had seen, and say why.
        var closes = after.Alerts.Take(onRoads.Count).ToList();
        Assert.Equal(onRoads.Select(a => a.AlertId).Order(), closes.Select(a => a.AlertId).Order());
        Assert.All(closes, c =>
        {
            Assert.Equal(AlertState.Close, c.State);
            Assert.Equal(1, c.Evidence["network_changed"]);
            Assert.Equal(run.CutTimeMs, c.TimeMs);
            Assert.True(c.EndMs <= run.CutTimeMs && c.EndMs >= c.StartMs);
            Assert.Null(c.WayId);   // the old network's edge: not named in the new one
        });
        Assert.DoesNotContain(after.Alerts.Skip(closes.Count), a => onRoads.Any(o => o.AlertId == a.AlertId));

        // The fatigue clock (and every condition on the vehicles' own reports) goes on: the same events at the same times.
        Assert.Contains(run.AfterCut.Alerts, a => a.Kind == "fatigue" && a.State == AlertState.Open);
        Assert.DoesNotContain(run.OpenAtCut, a => a.Kind == "fatigue");
        Assert.Equal(Lines(run.AfterCut.Alerts.Where(a => s_ownReports.Contains(a.Kind))), Lines(after.Alerts.Where(a => s_ownReports.Contains(a.Kind))));
        // Zone alerts open at the cut go on (zones are polygons, not edges): none closes at the restore, each closes as before.
        var zoneOpen = run.OpenAtCut.Where(a => a.Zone != null).ToList();
        Assert.NotEmpty(zoneOpen);
        foreach (var z in zoneOpen)
        {
            AlertEvent? close = after.Alerts.FirstOrDefault(a => a.AlertId == z.AlertId && a.State == AlertState.Close);
            AlertEvent? was = run.AfterCut.Alerts.FirstOrDefault(a => a.AlertId == z.AlertId && a.State == AlertState.Close);
            Assert.Equal(was?.EndMs, close?.EndMs);
            Assert.False(close?.Evidence.ContainsKey("network_changed"));
        }
        // Speeding goes on being judged on the new roads: the speeders of the scenario are caught again after the change.
        Assert.Contains(after.Alerts.Skip(closes.Count), a => a.Kind == "speeding" && a.State == AlertState.Open);
    }

    [Fact]
    public void The_probes_the_matcher_held_undecided_are_matched_on_the_new_network_and_none_is_lost()
    {
        var run = s_run.Value;
        var restored = run.Restore(run.Edited);
        Assert.True(restored.ResumedProbes > 0);
        var after = run.FeedRest(restored);

        // Every probe with a fix the partition took before the cut is matched once: before it, or after the restore.
        var before = run.BeforeCut.Matches.Select(m => m.ProbeId).ToList();
        var again = after.Matches.Select(m => m.ProbeId).Where(id => id < run.Cut).ToList();
        Assert.Equal(before.Count, before.Distinct().Count());
        Assert.Empty(before.Intersect(again));
        Assert.Equal(again.Count, again.Distinct().Count());
        Assert.True(again.Count >= restored.ResumedProbes);
        var taken = run.Taken.Where(id => id < run.Cut).ToHashSet();
        Assert.Equal(taken.Order(), before.Concat(again).Order());
        // … on the new network's edges.
        Assert.All(after.Matches.Where(m => m.ProbeId < run.Cut), m => Assert.True(m.Edge < run.Edited.EdgeCount));

        // Saved once restored, the partition is one of the new network: loaded on it, nothing changed, nothing closes.
        var host = run.Restore(run.Edited);
        host.HandRestoredCloses(new Output());
        var saved = new MemoryStream();
        host.Save(saved);
        var again2 = VehiclePartition.Load(0, new EdgeIndex(run.Edited), run.Ids, VehicleRegistry.Load(run.Registry, run.Ids), run.Zones,
            new MemoryStream(saved.ToArray()), run.Options);
        Assert.False(again2.NetworkChanged);
        Assert.Equal(0, again2.ClosedOnNetworkChange);
        Assert.Equal(0, again2.ResumedProbes);
    }

    private static List<string> Lines(IEnumerable<AlertEvent> alerts) => alerts.Select(a =>
    {
        var buffer = new MemoryStream();
        using (var w = new AlertWriter(buffer)) w.Write(a);
        return Encoding.UTF8.GetString(buffer.ToArray()).TrimEnd('\n');
    }).ToList();

    /// <summary>The Shenzhen network without some of its ways: an OSM extract edited between two runs.</summary>
    internal static RoadNetwork Without(IReadOnlySet<long> ways)
    {
        OsmData data = OsmXmlReader.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"));
        data.HighwayWays.RemoveAll(w => ways.Contains(w.Id));
        return OsmNetworkImporter.Import(data, new ImportReport());
    }

    /// <summary>A simulated half hour through one vehicle partition, cut (checkpointed) when a speeding alert is open.</summary>
    private sealed class Run
    {
        public required List<Probe> Probes { get; init; }
        public required VehicleIds Ids { get; init; }
        public required string Registry { get; init; }
        public required ZoneSet Zones { get; init; }
        public required VehiclePartitionOptions Options { get; init; }
        public required RoadNetwork Edited { get; init; }
        public required byte[] Checkpoint { get; init; }
        public required int Cut { get; init; }
        public required long CutTimeMs { get; init; }
        public required List<AlertEvent> OpenAtCut { get; init; }
        public required Output BeforeCut { get; init; }
        public required Output AfterCut { get; init; }
        public required List<long> Taken { get; init; }

        public static Run Create()
        {
            var scenario = Scenario.Load(SimRun.ExampleScenario);
            scenario.Fleet = new FleetMix { Taxis = 30, Buses = 4, Hazmat = 6 };
            var sim = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 1800, Seed = 11, Scenario = scenario });
            var ids = new VehicleIds();
            string registry = Path.Combine(sim.Dir, "vehicles.ndjson");
            var zones = ZoneSet.Load(Path.Combine(sim.Dir, "zones.geojson"));
            // A fatigue clock of 26 minutes, so that the scenario's driver without a break reaches it within the run.
            var options = new VehiclePartitionOptions { Conditions = new VehicleConditionOptions { FatigueDrivingS = 1560 } };
            var index = new EdgeIndex(SimRun.Shenzhen);
            var probes = new List<Probe>();
            var decoder = new ProbeJsonDecoder(ids);
            foreach (string line in sim.ProbeLines)
            {
                if (decoder.TryDecode(Encoding.UTF8.GetBytes(line), out var probe, out _)) probes.Add(probe);
            }
            var partition = new VehiclePartition(0, index, ids, VehicleRegistry.Load(registry, ids), zones, options);
            var output = new Output();
            var open = new Dictionary<string, AlertEvent>(StringComparer.Ordinal);
            for (int i = 0; i < probes.Count; i++)
            {
                int before = output.Alerts.Count;
                partition.OnProbe(probes[i], new RecordSource(i, i), output);
                foreach (var a in output.Alerts.Skip(before))
                {
                    if (a.State == AlertState.Close) open.Remove(a.AlertId);
                    else open[a.AlertId] = a;
                }
                if (!open.Values.Any(a => a.Kind == "speeding") || !open.Values.Any(a => a.Kind == "wrong_way") || !open.Values.Any(a => a.Zone != null)) continue;
                var stream = new MemoryStream();
                partition.Save(stream);
                int cut = i + 1;
                // The new extract lacks the roads of the alerts open on roads, and those of the probes matched just before.
                var ways = open.Values.Where(a => a.WayId != null && a.Zone == null).Select(a => a.WayId!.Value)
                    .Concat(output.Matches.TakeLast(200).Where(m => m.Edge >= 0).Select(m => SimRun.Shenzhen.WayId(m.Edge))).ToHashSet();
                var beforeCut = output;
                long cutTime = partition.MaxEventTimeMs;
                var afterCut = FeedRest(partition, probes, cut);
                return new Run
                {
                    Probes = probes, Ids = ids, Registry = registry, Zones = zones, Options = options, Edited = Without(ways),
                    Checkpoint = stream.ToArray(), Cut = cut, CutTimeMs = cutTime, OpenAtCut = [.. open.Values],
                    BeforeCut = beforeCut, AfterCut = afterCut,
                    Taken = [.. beforeCut.Matches.Concat(afterCut.Matches).Select(m => m.ProbeId)],
                };
            }
            throw new InvalidOperationException("no speeding alert was ever open with a zone alert");
        }

        public VehiclePartition Restore(RoadNetwork network) =>
            VehiclePartition.Load(0, new EdgeIndex(network), Ids, VehicleRegistry.Load(Registry, Ids), Zones, new MemoryStream(Checkpoint), Options);

        public Output FeedRest(VehiclePartition partition) => FeedRest(partition, Probes, Cut);

        private static Output FeedRest(VehiclePartition partition, List<Probe> probes, int cut)
        {
            var output = new Output();
            partition.HandRestoredCloses(output);
            for (int i = cut; i < probes.Count; i++) partition.OnProbe(probes[i], new RecordSource(i, i), output);
            partition.OnEndOfInput(output);
            return output;
        }
    }

    internal sealed class Output : IVehiclePartitionOutput
    {
        public List<AlertEvent> Alerts { get; } = [];

        public List<MatchedProbe> Matches { get; } = [];

        public List<SegmentTraversal> Traversals { get; } = [];

        public List<SegmentWatermark> Watermarks { get; } = [];

        public void Alert(AlertEvent alert) => Alerts.Add(alert);

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => Matches.Add(match);

        public void Traversal(in SegmentTraversal traversal) => Traversals.Add(traversal);

        public void Watermark(in SegmentWatermark watermark) => Watermarks.Add(watermark);

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }
    }
}
