using System.Text;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Segments;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// A segment partition restored on a rebuilt road network: edge ids are new, but a segment whose OSM way and ends are
/// the same is the same segment. Its windows, sliding view, free-flow learning and congestion state go on at its new
/// edge; the state of a segment that vanished is dropped, and a congestion alert open on it closes at the restore.
/// </summary>
public class NetworkChangedSegmentCheckpointTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly Lazy<Run> s_run = new(Run.Create);

    [Fact]
    public void Segments_found_again_keep_their_windows_and_free_flow_learning_and_congestion_on_vanished_ones_closes()
    {
        var run = s_run.Value;
        var restored = SegmentPartition.Load(run.Edited, 0, 1, new MemoryStream(run.Checkpoint), run.Options);
        Assert.True(restored.NetworkChanged);
        Assert.True(restored.SegmentsDropped > 0);
        Assert.True(restored.SegmentsCarried > restored.SegmentsDropped);
        var openOnRemoved = run.OpenAtCut.Where(a => a.Kind is "congestion" or "incident").ToList();
        Assert.Contains(openOnRemoved, a => a.Kind == "congestion");
        Assert.Equal(openOnRemoved.Count, restored.ClosedOnNetworkChange);

        // Free flow learned on the old network is the new network's for every segment found again.
        int learned = 0;
        foreach (var (old, now) in run.Map)
        {
            if (now < 0) continue;
            Assert.Equal(run.FreeFlowAtCut[old], restored.FreeFlowKmh(now));
            if (run.FreeFlowAtCut[old] != run.Edited.SpeedLimitKmh(now) * new SegmentOptions().FreeFlowLimitFactor) learned++;
        }
        Assert.True(learned > 20, $"only {learned} segments had learned their free flow");

        // The alerts open on the removed roads close first, at the restore, and say why.
        var after = new Log();
        restored.HandRestoredCloses(after);
        Assert.Equal(openOnRemoved.Select(a => a.AlertId).Order(), after.Alerts.Select(a => a.AlertId).Order());
        Assert.All(after.Alerts, c =>
        {
            Assert.Equal(AlertState.Close, c.State);
            Assert.Equal(1, c.Evidence["network_changed"]);
            Assert.True(c.TimeMs >= c.EndMs && c.EndMs >= c.StartMs);
        });
        int closes = after.Alerts.Count;

        // A traversal the old run sent after the checkpoint names an old edge: dropped, counted.
        var stale = run.Messages.Skip(run.Cut).OfType<SegmentTraversal>().First();
        Assert.True(restored.OnTraversal(stale));
        Assert.Equal(1, restored.OldNetworkTraversals);
        // The rest of the input as a vehicle partition restored on the new network sends it: its edges, a new epoch of numbers.
        Feed(restored, run.Messages.Skip(run.Cut), run.Map, after);
        Assert.DoesNotContain(after.Alerts.Skip(closes), a => openOnRemoved.Any(o => o.AlertId == a.AlertId));

        // Every window of a segment found again is the one the old network's run published: vehicles, speed and free flow.
        var back = run.Map.Where(kv => kv.Value >= 0).ToDictionary(kv => kv.Value, kv => kv.Key);
        var expected = run.WindowsAfterCut.Where(w => run.Map[w.Edge] >= 0).Select(Row).Order().ToList();
        var actual = after.Windows.Select(w => Row(w with { Edge = back[w.Edge] })).Order().ToList();
        log.WriteLine($"cut at message {run.Cut} of {run.Messages.Count}; {restored.SegmentsCarried} segments carried, {restored.SegmentsDropped} dropped, "
            + $"{learned} with learned free flow; {closes} alerts closed; {actual.Count} windows after the cut");
        Assert.True(actual.Count > 100);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_congestion_run_on_roads_the_update_kept_goes_on_under_its_alert_id_as_on_the_old_network()
    {
        var run = s_run.Value;
        // Another update: one road far from the congestion removed, the congested roads kept (with new edge ids).
        var open = run.OpenAtCut.Where(a => a.Kind == "congestion").ToList();
        var roads = open.Select(a => a.Road).ToHashSet();
        var net = SimRun.Shenzhen;
        int far = Enumerable.Range(0, net.EdgeCount).Last(e => net.Name(e).Length > 0 && !roads.Contains(net.Name(e)) && net.WayId(e) > 0);
        var edited = NetworkChangedCheckpointTests.Without(new HashSet<long> { net.WayId(far) });
        var map = Run.MapEdges(net, edited);
        Assert.Contains(map, kv => kv.Value >= 0 && kv.Value != kv.Key);   // the ids did change

        var restored = SegmentPartition.Load(edited, 0, 1, new MemoryStream(run.Checkpoint), run.Options);
        Assert.True(restored.NetworkChanged);
        Assert.Equal(0, restored.ClosedOnNetworkChange);
        var after = new Log();
        Feed(restored, run.Messages.Skip(run.Cut), map, after);
        // The alerts open at the cut go on and close as they did on the old network.
        foreach (var a in open)
        {
            var was = run.AlertsAfterCut.Where(e => e.AlertId == a.AlertId).Select(e => (e.State, e.TimeMs, e.EndMs, e.Severity)).ToList();
            var now = after.Alerts.Where(e => e.AlertId == a.AlertId).Select(e => (e.State, e.TimeMs, e.EndMs, e.Severity)).ToList();
            Assert.Equal(was, now);
        }
        Assert.Contains(open, a => run.AlertsAfterCut.Any(e => e.AlertId == a.AlertId));
        // And every other congestion alert after the cut too, on roads the update kept: the same events.
        Assert.Equal(run.AlertsAfterCut.Count(e => e.Kind == "congestion"), after.Alerts.Count(e => e.Kind == "congestion"));
    }

    [Fact]
    public void A_source_that_numbers_again_from_its_start_is_a_partition_of_the_new_run_without_a_checkpoint()
    {
        var run = s_run.Value;
        var restored = SegmentPartition.Load(run.Edited, 0, 1, new MemoryStream(run.Checkpoint), run.Options);
        var next = run.Messages.Skip(run.Cut).OfType<SegmentTraversal>().First(t => run.Map[t.Edge.Edge] >= 0);
        var mapped = next with { Edge = next.Edge with { Edge = run.Map[next.Edge.Edge] } };
        // Before: numbered in the epoch of the old network, dropped.
        Assert.True(restored.OnTraversal(mapped));
        Assert.Equal(1, restored.OldNetworkTraversals);
        // Its first message again (a duplicate): that source replays from its start on the new network.
        var first = run.Messages[0];
        Assert.Equal(1, first is SegmentTraversal t ? t.Sequence : ((SegmentWatermark)first).Sequence);
        Assert.False(first is SegmentTraversal ft ? restored.OnTraversal(ft) : restored.OnWatermark((SegmentWatermark)first, new Log()));
        Assert.True(restored.OnTraversal(mapped with { Sequence = mapped.Sequence + 1 }));
        Assert.Equal(1, restored.OldNetworkTraversals);
        Assert.True(restored.OpenWindows > 0);
    }

    [Fact]
    public void A_message_the_old_run_sent_twice_does_not_make_what_it_sent_next_of_the_new_network()
    {
        var run = s_run.Value;
        var restored = SegmentPartition.Load(run.Edited, 0, 1, new MemoryStream(run.Checkpoint), run.Options);
        var after = run.Messages.Skip(run.Cut).OfType<SegmentTraversal>().Where(t => run.Map[t.Edge.Edge] >= 0).Take(2).ToList();
        SegmentTraversal Mapped(SegmentTraversal t) => t with { Edge = t.Edge with { Edge = run.Map[t.Edge.Edge] } };
        // The old run's first message after the checkpoint, then again (its producer retried): a duplicate.
        Assert.True(restored.OnTraversal(Mapped(after[0])));
        Assert.False(restored.OnTraversal(Mapped(after[0])));
        Assert.Equal(1, restored.Duplicates - Checkpointed(run).Duplicates);
        // What the old run sent next still names the old network's edges: dropped as such, not counted into a window.
        Assert.True(restored.OnTraversal(Mapped(after[1])));
        Assert.Equal(2, restored.OldNetworkTraversals);
    }

    private static SegmentPartition Checkpointed(Run run) => SegmentPartition.Load(run.Edited, 0, 1, new MemoryStream(run.Checkpoint), run.Options);

    /// <summary>Messages of the old network as the vehicle partition restored on the new one sends them: its edges, in the next epoch of its sequence.</summary>
    private static void Feed(SegmentPartition partition, IEnumerable<object> messages, Dictionary<int, int> map, Log log)
    {
        long epoch = VehiclePartition.NetworkEpoch(0);
        foreach (object m in messages)
        {
            switch (m)
            {
                case SegmentTraversal t when map[t.Edge.Edge] is int now && now >= 0:
                    partition.OnTraversal(t with { Sequence = epoch + t.Sequence, Edge = t.Edge with { Edge = now } });
                    break;
                case SegmentWatermark w:
                    partition.OnWatermark(w with { Sequence = epoch + w.Sequence }, log);
                    break;
            }
        }
        partition.OnEndOfInput(log);
    }

    private static string Row(SegmentStat w) => $"{w.Edge}@{w.WindowStartMs}: {w.Vehicles} {w.SpeedKmh:R} {w.FreeFlowKmh:R} {w.Level}";

    /// <summary>A simulated evening through one vehicle partition, its exchange messages through one segment partition, cut while a congestion alert is open.</summary>
    private sealed class Run
    {
        public required List<object> Messages { get; init; }
        public required SegmentOptions Options { get; init; }
        public required byte[] Checkpoint { get; init; }
        public required int Cut { get; init; }
        public required List<AlertEvent> OpenAtCut { get; init; }
        public required Dictionary<int, double> FreeFlowAtCut { get; init; }
        public required List<SegmentStat> WindowsAfterCut { get; init; }
        public required RoadNetwork Edited { get; init; }
        public required Dictionary<int, int> Map { get; init; }
        public required List<AlertEvent> AlertsAfterCut { get; init; }

        public static Run Create()
        {
            var scenario = Scenario.Load(SimRun.ExampleScenario);
            scenario.Fleet = new FleetMix { Taxis = 110, Buses = 14, Hazmat = 8 };
            var sim = SimRun.Run(SimRun.Shenzhen, new SimulationOptions
            {
                DurationS = 2400,
                Seed = 4,
                Start = new DateTimeOffset(2026, 1, 5, 21, 5, 0, TimeSpan.FromHours(8)),   // low-volume hours: free flow is learned
                Scenario = scenario,
            });
            var ids = new VehicleIds();
            var decoder = new ProbeJsonDecoder(ids);
            var vehicles = new VehiclePartition(0, new EdgeIndex(SimRun.Shenzhen), ids, null, null);
            var exchange = new Exchange();
            int n = 0;
            foreach (string line in sim.ProbeLines)
            {
                if (decoder.TryDecode(Encoding.UTF8.GetBytes(line), out var probe, out _)) vehicles.OnProbe(probe, new RecordSource(n, n++), exchange);
            }
            vehicles.OnEndOfInput(exchange);

            // Free flow learned from a few low-volume windows, so that a short run learns it on many segments.
            var options = new SegmentOptions { FreeFlowMinSamples = 3 };
            var segments = new SegmentPartition(SimRun.Shenzhen, 0, 1, options);
            var straight = new Log();
            var open = new Dictionary<string, AlertEvent>(StringComparer.Ordinal);
            var messages = exchange.Messages;
            for (int i = 0; i < messages.Count; i++)
            {
                int before = straight.Alerts.Count;
                if (messages[i] is SegmentTraversal t) segments.OnTraversal(t);
                else segments.OnWatermark((SegmentWatermark)messages[i], straight);
                foreach (var a in straight.Alerts.Skip(before))
                {
                    if (a.State == AlertState.Close) open.Remove(a.AlertId);
                    else open[a.AlertId] = a;
                }
                if (i < messages.Count / 2 || !open.Values.Any(a => a.Kind == "congestion")) continue;
                var checkpoint = new MemoryStream();
                segments.Save(checkpoint);
                var freeFlow = Enumerable.Range(0, SimRun.Shenzhen.EdgeCount).ToDictionary(e => e, segments.FreeFlowKmh);
                int windowsBefore = straight.Windows.Count, alertsBefore = straight.Alerts.Count;
                for (int k = i + 1; k < messages.Count; k++)
                {
                    if (messages[k] is SegmentTraversal tk) segments.OnTraversal(tk);
                    else segments.OnWatermark((SegmentWatermark)messages[k], straight);
                }
                segments.OnEndOfInput(straight);
                // The new extract lacks the roads of the alerts open at the cut.
                var ways = new HashSet<long>();
                foreach (var a in open.Values)
                {
                    if (a.WayId is long way) ways.Add(way);
                    foreach (var (key, value) in a.Evidence)
                    {
                        if (key.StartsWith("way_id_", StringComparison.Ordinal)) ways.Add((long)value);
                    }
                }
                var edited = NetworkChangedCheckpointTests.Without(ways);
                return new Run
                {
                    Messages = messages, Options = options, Checkpoint = checkpoint.ToArray(), Cut = i + 1, OpenAtCut = [.. open.Values],
                    FreeFlowAtCut = freeFlow, WindowsAfterCut = straight.Windows.Skip(windowsBefore).ToList(), Edited = edited,
                    Map = MapEdges(SimRun.Shenzhen, edited), AlertsAfterCut = straight.Alerts.Skip(alertsBefore).ToList(),
                };
            }
            throw new InvalidOperationException("no congestion alert was ever open in the second half");
        }

        /// <summary>Each edge of one network to the edge of another with the same OSM way and ends, or −1.</summary>
        public static Dictionary<int, int> MapEdges(RoadNetwork from, RoadNetwork to)
        {
            var index = new Dictionary<EdgeKey, int>();
            for (int e = 0; e < to.EdgeCount; e++)
            {
                if (!index.TryAdd(EdgeKey.Of(to, e), e)) index[EdgeKey.Of(to, e)] = -1;
            }
            return Enumerable.Range(0, from.EdgeCount).ToDictionary(e => e, e => index.GetValueOrDefault(EdgeKey.Of(from, e), -1));
        }
    }

    private sealed class Exchange : IVehiclePartitionOutput
    {
        public List<object> Messages { get; } = [];

        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in Traffic.Geo.Matching.MatchedProbe match)
        {
        }

        public void Traversal(in SegmentTraversal traversal) => Messages.Add(traversal);

        public void Watermark(in SegmentWatermark watermark) => Messages.Add(watermark);

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, Traffic.Geo.Matching.PushResult reason)
        {
        }
    }

    private sealed class Log : ISegmentPartitionOutput
    {
        public List<SegmentStat> Windows { get; } = [];

        public List<AlertEvent> Alerts { get; } = [];

        public void Window(in SegmentStat window) => Windows.Add(window);

        public void Alert(AlertEvent alert) => Alerts.Add(alert);

        public void View(in SegmentStat view)
        {
        }

        public void Network(in NetworkSums sums)
        {
        }
    }
}
