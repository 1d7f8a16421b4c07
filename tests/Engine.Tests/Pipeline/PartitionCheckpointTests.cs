using System.Globalization;
using System.Text;
using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// Exactly-once in effect: two vehicle partitions and two segment partitions over a simulated evening with every kind
/// of event, run once straight through and once with each partition checkpointed, crashed and restored in a "new
/// process" (fresh, differently ordered vehicle ids) several times, the input replayed from the checkpoint. After the
/// duplicates are dropped (the exchange by sequence number; the crashed tail of each partition's own output, which the
/// replay must reproduce exactly), every output equals the straight run's, byte for byte.
/// </summary>
public class PartitionCheckpointTests
{
    private const int VehicleParts = 2;
    private const int SegmentParts = 2;

    /// <summary>Cut points, as shares of each partition's input.</summary>
    private static readonly double[] s_cuts = [0.12, 0.35, 0.46, 0.62, 0.86];

    private static readonly Lazy<World> s_world = new(World.Create);
    private static readonly Lazy<Outcome> s_straight = new(() => Straight(s_world.Value));

    [Fact]
    public void Checkpointed_restored_and_replayed_partitions_give_exactly_the_outputs_of_an_uninterrupted_run()
    {
        var world = s_world.Value;
        var straight = s_straight.Value;
        var resumed = Interrupted(world, crashAfter: 150);

        // The straight run is worth comparing: alerts of many kinds, windows published, the exchange busy.
        var kinds = straight.Alerts().Where(a => a.State == "open").Select(a => a.Kind).ToHashSet();
        foreach (string kind in (string[])["speeding", "zone", "zone_dwell", "hazmat_forbidden", "hazmat_long_stop", "hazmat_no_fix", "hazmat_off_corridor",
                     "teleport", "signal_lost", "wrong_way", "congestion", "incident"])
            Assert.True(kinds.Contains(kind), $"no {kind} alert among {string.Join(", ", kinds)}");
        Assert.True(straight.Segments.Sum(s => s.Count(l => l.StartsWith("window", StringComparison.Ordinal))) > 300);

        // Every cut came with state worth carrying: open alerts in each vehicle partition, open windows in each segment
        // partition, and between them the long-lasting alerts open across a cut.
        Assert.Equal(VehicleParts * s_cuts.Length, resumed.OpenAtVehicleCuts.Count);
        Assert.True(resumed.OpenAtVehicleCuts.Count(open => open.Count > 0) >= 6, "too few cuts with open vehicle alerts");
        Assert.Equal(SegmentParts * s_cuts.Length, resumed.OpenWindowsAtCuts.Count);
        Assert.All(resumed.OpenWindowsAtCuts, n => Assert.True(n > 0));
        var openAcross = resumed.OpenAtVehicleCuts.Concat(resumed.OpenAtSegmentCuts).SelectMany(o => o).ToHashSet();
        foreach (string kind in (string[])["zone_dwell", "hazmat_long_stop", "hazmat_off_corridor", "signal_lost", "congestion"])
            Assert.True(openAcross.Contains(kind), $"no {kind} alert open at a cut, only {string.Join(", ", openAcross)}");
        Assert.True(resumed.Duplicates > 0, "the restored vehicle partitions sent messages again, and the segment partitions dropped them");

        // The replay of each crashed tail reproduced it, and the deduplicated outputs are the straight run's.
        Assert.All(resumed.Tails, t => Assert.Equal(t.Crashed, t.Replayed));
        for (int p = 0; p < VehicleParts; p++) Assert.Equal(straight.Vehicles[p], resumed.Outcome.Vehicles[p]);
        for (int s = 0; s < SegmentParts; s++) Assert.Equal(straight.Segments[s], resumed.Outcome.Segments[s]);
        Assert.Equal(straight.AlertBytes(), resumed.Outcome.AlertBytes());
    }

    [Fact]
    public void Segment_windows_do_not_depend_on_how_the_sources_interleave()
    {
        var world = s_world.Value;
        var straight = s_straight.Value;
        // Another interleaving that keeps each source's order: all of source 1's messages first, then source 0's.
        for (int s = 0; s < SegmentParts; s++)
        {
            var reordered = straight.Topics[s].Where(m => Source(m) == 1).Concat(straight.Topics[s].Where(m => Source(m) == 0)).ToList();
            var log = new SegmentLog();
            var partition = new SegmentPartition(world.Network, s, VehicleParts);
            foreach (object m in reordered) Feed(partition, m, log);
            partition.OnEndOfInput(log);
            Assert.Equal(straight.Segments[s], log.Lines.Select(l => l.Line));
        }
        // The run crosses 21:00, so free flow is learned from low-volume windows during it: the case where order mattered.
        Assert.Contains(straight.Segments.SelectMany(s => s), l => l.Contains("FreeFlowKmh = ", StringComparison.Ordinal) && !IsFallbackFreeFlow(world.Network, l));
    }

    [Fact]
    public void A_duplicated_traversal_batch_is_dropped_by_sequence_number()
    {
        var world = s_world.Value;
        var straight = s_straight.Value;
        var once = new SegmentLog();
        var twice = new SegmentLog();
        var a = new SegmentPartition(world.Network, 0, VehicleParts);
        var b = new SegmentPartition(world.Network, 0, VehicleParts);
        var topic = straight.Topics[0];
        int batch = topic.Count / 3;
        for (int i = 0; i < topic.Count; i++)
        {
            Assert.True(Feed(a, topic[i], once));
            Assert.True(Feed(b, topic[i], twice));
            if (i != batch + 500) continue;
            // A producer restarted from an older position sends the last 500 messages again: every one is dropped.
            for (int k = batch + 1; k <= i; k++) Assert.False(Feed(b, topic[k], twice));
        }
        a.OnEndOfInput(once);
        b.OnEndOfInput(twice);
        Assert.Equal(500, b.Duplicates);
        Assert.Equal(0, a.Duplicates);
        Assert.True(topic.Skip(batch + 1).Take(500).Count(m => m is SegmentTraversal) > 100);
        Assert.Equal(once.Lines.Select(l => l.Line), twice.Lines.Select(l => l.Line));
        Assert.Equal(straight.Segments[0], once.Lines.Select(l => l.Line));
    }

    [Fact]
    public void A_corrupt_truncated_foreign_or_mismatched_checkpoint_is_refused_with_a_clear_error()
    {
        var world = s_world.Value;
        var (vehicle, segment) = Checkpoints(world);

        VehiclePartition LoadVehicle(byte[] bytes, int partition = 0, RoadNetwork? network = null, ZoneSet? zones = null)
        {
            var ids = new VehicleIds();
            var index = network == null ? world.Index : new EdgeIndex(network);
            return VehiclePartition.Load(partition, index, ids, VehicleRegistry.Load(world.Registry, ids), zones ?? world.Zones, new MemoryStream(bytes));
        }
        void Refused(Func<object> load, string expected)
        {
            var e = Assert.Throws<CheckpointException>(load);
            Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"'{e.Message}' does not say '{expected}'");
        }

        // The checkpoints themselves load.
        Assert.Equal(0, LoadVehicle(vehicle).Partition);
        Assert.Equal(1, SegmentPartition.Load(world.Network, 1, VehicleParts, new MemoryStream(segment)).Partition);

        // Truncated anywhere: in the header, in the payload, in the checksum.
        foreach (int length in (int[])[0, 5, 12, 19, 20, 100, vehicle.Length / 2, vehicle.Length - 9, vehicle.Length - 1])
            Refused(() => LoadVehicle(vehicle[..length]), length == 0 ? "empty" : "truncated");
        // One bit flipped anywhere in the payload or checksum.
        foreach (int at in (int[])[20, 21, 64, vehicle.Length / 3, vehicle.Length - 12, vehicle.Length - 1])
        {
            byte[] corrupt = (byte[])vehicle.Clone();
            corrupt[at] ^= 0x10;
            Refused(() => LoadVehicle(corrupt), "checksum mismatch");
        }
        // A payload damaged before its checksum was taken (a writer's defect, or a hand-made file): refused as malformed
        // wherever the damage lies, never with another exception (found by fuzzing: a string's 7-bit length that runs on
        // threw FormatException).
        byte[] payload = CheckpointFile.Read(new MemoryStream(vehicle), CheckpointKind.VehiclePartition);
        // Offset 24: the first vehicle id's length (after the partition, the two fingerprints and the table's count).
        // Two kinds of damage: five bytes of 0xff (a length that runs on), and 0xff 0xff 0xff 0xff 0x0f (a length of -1).
        foreach ((int at, bool negative) in Enumerable.Range(0, 97).Select(k => 4 + (k * (payload.Length - 9) / 97)).Prepend(24)
            .SelectMany(at => new[] { (at, false), (at, true) }))
        {
            byte[] damaged = (byte[])payload.Clone();
            damaged.AsSpan(at, 5).Fill(0xff);
            if (negative) damaged[at + 4] = 0x0f;
            var rewrapped = new MemoryStream();
            CheckpointFile.Write(rewrapped, CheckpointKind.VehiclePartition, damaged);
            try
            {
                LoadVehicle(rewrapped.ToArray());
            }
            catch (CheckpointException e)
            {
                Assert.StartsWith("checkpoint malformed", e.Message, StringComparison.Ordinal);
            }
        }
        Refused(() => LoadVehicle(Encoding.UTF8.GetBytes("{\"vehicle_id\":\"琼A12345\",\"time\":1764028800000,\"lon\":113.9,\"lat\":22.5}")), "not a Traffic checkpoint");
        byte[] future = (byte[])vehicle.Clone();
        future[8] = (byte)(CheckpointFile.Version + 1);
        Refused(() => LoadVehicle(future), $"format version {CheckpointFile.Version + 1} is not supported");
        Refused(() => LoadVehicle(segment), "this is a segment-partition checkpoint; expected a vehicle-partition checkpoint");
        Refused(() => SegmentPartition.Load(world.Network, 1, VehicleParts, new MemoryStream(vehicle)), "expected a segment-partition checkpoint");

        // Sound, but for another configuration.
        Refused(() => LoadVehicle(vehicle, partition: 1), "checkpoint of vehicle partition 0; this is partition 1");
        // Another road network is no other configuration either: an OSM extract updated between runs (NetworkChangedCheckpointTests).
        Assert.True(LoadVehicle(vehicle, network: SimRun.Monaco).NetworkChanged);
        // Other zones are no other configuration: a zones file edited between runs (ZonesEditedCheckpointTests).
        Assert.True(LoadVehicle(vehicle, zones: ZoneSet.Load(Path.Combine(Testing.SharedData.RepoRoot(), "docs", "examples", "zones.geojson"))).ZonesChanged);
        Refused(() => SegmentPartition.Load(world.Network, 0, VehicleParts, new MemoryStream(segment)), "checkpoint of segment partition 1; this is partition 0");
        Refused(() => SegmentPartition.Load(world.Network, 1, 3, new MemoryStream(segment)), "checkpoint has 2 source partitions; this partition has 3");
        Refused(() => SegmentPartition.Load(world.Network, 1, VehicleParts, new MemoryStream(segment), new SegmentOptions { WindowMs = 300_000 }), "windows of 60000 ms");
    }

    [Fact]
    public void The_vehicle_key_is_the_xxhash32_of_the_utf8_id_and_never_changes()
    {
        // Pinned: keys cross processes and versions (checkpoints, the repartition topic).
        Assert.Equal(unchecked((int)System.IO.Hashing.XxHash32.HashToUInt32(Encoding.UTF8.GetBytes("琼A12345"))), VehicleKey.Of("琼A12345"));
        Assert.Equal(VehicleKey.Of("琼AT00001"), VehicleKey.Of(new string("琼AT00001".AsSpan())));
        Assert.NotEqual(VehicleKey.Of("琼AT00001"), VehicleKey.Of("琼AT00002"));
        Assert.Equal(VehicleKey.Of(new string('x', 300)), unchecked((int)System.IO.Hashing.XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(new string('x', 300)))));
    }

    // ---- the runs ----

    [Fact]
    public void A_partition_checkpointed_while_one_unit_is_hours_ahead_resumes_exactly()
    {
        // One unit's report lands 8 hours ahead (its clock); the watermark holds it apart from the others. A checkpoint
        // taken then, restored in another process (other dense ids), must carry that and go on as the straight run does.
        var world = s_world.Value;
        var inputs = world.Inputs.Where(x => x.Partition == 0).Take(3_000).ToList();
        var ahead = inputs[2_000];
        inputs.Insert(2_001, ahead with { Probe = ahead.Probe with { TimeMs = ahead.Probe.TimeMs + (8 * 3_600_000L) }, Local = 2_001 });
        List<string> Run(int? cut)
        {
            var topics = NewTopics();
            var proc = VehicleProc.Fresh(world, 0);
            var log = new VehicleLog(topics) { Ids = proc.Ids };
            for (int i = 0; i < inputs.Count; i++)
            {
                if (i == cut)
                {
                    var checkpoint = new MemoryStream();
                    proc.Partition.Save(checkpoint);
                    proc = VehicleProc.Restore(world, 0, checkpoint.ToArray(), seed: 3);
                    log.Ids = proc.Ids;
                }
                proc.Feed(inputs[i], log);
            }
            proc.Partition.OnEndOfInput(log);
            return [.. log.Lines.Select(l => l.Line)];
        }

        var straight = Run(null);
        Assert.DoesNotContain(straight, l => l.StartsWith("late ", StringComparison.Ordinal));
        Assert.Equal(straight, Run(2_100));

        // The unit ahead is the partition's very first probe: checkpointed while its watermark is held, and after.
        var first = inputs[0];
        inputs.Insert(0, first with { Probe = first.Probe with { TimeMs = first.Probe.TimeMs + (8 * 3_600_000L) }, Local = 0 });
        var fromAhead = Run(null);
        Assert.DoesNotContain(fromAhead, l => l.StartsWith("late ", StringComparison.Ordinal));
        Assert.Equal(fromAhead, Run(1));
        Assert.Equal(fromAhead, Run(1_500));
    }

    /// <summary>Both kinds of partition run straight through, in the global input order.</summary>
    private static Outcome Straight(World world)
    {
        var topics = NewTopics();
        var logs = new VehicleLog[VehicleParts];
        var procs = new VehicleProc[VehicleParts];
        for (int p = 0; p < VehicleParts; p++)
        {
            procs[p] = VehicleProc.Fresh(world, p);
            logs[p] = new VehicleLog(topics) { Ids = procs[p].Ids };
        }
        for (int i = 0; i < world.Inputs.Count; i++)
        {
            var x = world.Inputs[i];
            logs[x.Partition].Tag = x.Local;
            procs[x.Partition].Feed(x, logs[x.Partition]);
        }
        for (int p = 0; p < VehicleParts; p++)
        {
            logs[p].Tag = int.MaxValue;
            procs[p].Partition.OnEndOfInput(logs[p]);
        }
        var segments = new List<string>[SegmentParts];
        for (int s = 0; s < SegmentParts; s++)
        {
            var log = new SegmentLog();
            var partition = new SegmentPartition(world.Network, s, VehicleParts);
            foreach (object m in topics[s]) Feed(partition, m, log);
            partition.OnEndOfInput(log);
            segments[s] = log.Lines.Select(l => l.Line).ToList();
        }
        return new Outcome(logs.Select(l => l.Lines.Select(e => e.Line).ToList()).ToArray(), segments, topics);
    }

    private sealed record Interruption(Outcome Outcome, List<HashSet<string>> OpenAtVehicleCuts, List<HashSet<string>> OpenAtSegmentCuts, List<int> OpenWindowsAtCuts, List<(List<string> Crashed, List<string> Replayed)> Tails, long Duplicates);

    /// <summary>
    /// The same, with every partition checkpointed at each cut, run on for <paramref name="crashAfter"/> more inputs (its
    /// exchange messages sent, its own outputs kept aside), then restored from the checkpoint in a new "process" and fed
    /// again from the cut.
    /// </summary>
    private static Interruption Interrupted(World world, int crashAfter)
    {
        var topics = NewTopics();
        var logs = new VehicleLog[VehicleParts];
        var procs = new VehicleProc[VehicleParts];
        var cuts = new HashSet<int>[VehicleParts];
        var tails = new List<(int Partition, int From, int To, List<string> Crashed)>();
        var openAtCuts = new List<HashSet<string>>();
        var openAtSegmentCuts = new List<HashSet<string>>();
        var openWindows = new List<int>();
        for (int p = 0; p < VehicleParts; p++)
        {
            procs[p] = VehicleProc.Fresh(world, p);
            logs[p] = new VehicleLog(topics) { Ids = procs[p].Ids };
            int n = world.Inputs.Count(x => x.Partition == p);
            cuts[p] = s_cuts.Select(c => (int)(c * n)).ToHashSet();
        }
        var byPartition = Enumerable.Range(0, VehicleParts).Select(p => world.Inputs.Where(x => x.Partition == p).ToList()).ToArray();
        int restores = 0;
        foreach (var x in world.Inputs)
        {
            int p = x.Partition;
            if (cuts[p].Contains(x.Local))
            {
                var checkpoint = new MemoryStream();
                procs[p].Partition.Save(checkpoint);
                openAtCuts.Add(OpenAlerts(logs[p].Lines.Select(l => l.Line)));
                // The process goes on a little and dies: what it sent to the exchange stays there.
                var crashed = new VehicleLog(topics) { Ids = procs[p].Ids };
                int to = Math.Min(x.Local + crashAfter, byPartition[p].Count);
                for (int k = x.Local; k < to; k++)
                {
                    crashed.Tag = k;
                    procs[p].Feed(byPartition[p][k], crashed);
                }
                tails.Add((p, x.Local, to, crashed.Lines.Select(l => l.Line).ToList()));
                // Another process restores it, with its own vehicle ids, and replays from the cut.
                procs[p] = VehicleProc.Restore(world, p, checkpoint.ToArray(), seed: ++restores);
                logs[p].Ids = procs[p].Ids;
            }
            logs[p].Tag = x.Local;
            procs[p].Feed(x, logs[p]);
        }
        for (int p = 0; p < VehicleParts; p++)
        {
            logs[p].Tag = int.MaxValue;
            procs[p].Partition.OnEndOfInput(logs[p]);
        }
        var replayedTails = tails.Select(t => (t.Crashed, logs[t.Partition].Lines.Where(l => l.Tag >= t.From && l.Tag < t.To).Select(l => l.Line).ToList())).ToList();

        // The segment partitions read their topics (duplicates included) and are checkpointed, crashed and restored too.
        var segments = new List<string>[SegmentParts];
        long duplicates = 0;
        for (int s = 0; s < SegmentParts; s++)
        {
            var topic = topics[s];
            var segmentCuts = s_cuts.Select(c => (int)(c * topic.Count)).ToHashSet();
            var log = new SegmentLog();
            var partition = new SegmentPartition(world.Network, s, VehicleParts);
            var segmentTails = new List<(int From, int To, List<string> Crashed)>();
            for (int i = 0; i < topic.Count; i++)
            {
                if (segmentCuts.Contains(i))
                {
                    var checkpoint = new MemoryStream();
                    partition.Save(checkpoint);
                    openWindows.Add(partition.OpenWindows);
                    openAtSegmentCuts.Add(OpenAlerts(log.Lines.Select(l => l.Line)));
                    // On a little, then dies; another process restores the checkpoint and reads the topic again from the cut.
                    var crashed = new SegmentLog();
                    int to = Math.Min(i + (crashAfter * 10), topic.Count);
                    for (int k = i; k < to; k++)
                    {
                        crashed.Tag = k;
                        Feed(partition, topic[k], crashed);
                    }
                    segmentTails.Add((i, to, crashed.Lines.Select(l => l.Line).ToList()));
                    checkpoint.Position = 0;
                    partition = SegmentPartition.Load(world.Network, s, VehicleParts, checkpoint);
                }
                log.Tag = i;
                Feed(partition, topic[i], log);
            }
            log.Tag = int.MaxValue;
            partition.OnEndOfInput(log);
            replayedTails.AddRange(segmentTails.Select(t => (t.Crashed, log.Lines.Where(l => l.Tag >= t.From && l.Tag < t.To).Select(l => l.Line).ToList())));
            duplicates += partition.Duplicates;
            segments[s] = log.Lines.Select(l => l.Line).ToList();
        }
        var outcome = new Outcome(logs.Select(l => l.Lines.Select(e => e.Line).ToList()).ToArray(), segments, topics);
        return new Interruption(outcome, openAtCuts, openAtSegmentCuts, openWindows, replayedTails, duplicates);
    }

    /// <summary>Both kinds of checkpoint, from a short run.</summary>
    private static (byte[] Vehicle, byte[] Segment) Checkpoints(World world)
    {
        var topics = NewTopics();
        var proc = VehicleProc.Fresh(world, 0);
        var log = new VehicleLog(topics) { Ids = proc.Ids };
        foreach (var x in world.Inputs.Where(x => x.Partition == 0).Take(20_000)) proc.Feed(x, log);
        var vehicle = new MemoryStream();
        proc.Partition.Save(vehicle);
        var segment = new SegmentPartition(world.Network, 1, VehicleParts);
        foreach (object m in topics[1]) Feed(segment, m, new SegmentLog());
        var segmentBytes = new MemoryStream();
        segment.Save(segmentBytes);
        return (vehicle.ToArray(), segmentBytes.ToArray());
    }

    private static List<object>[] NewTopics() => Enumerable.Range(0, SegmentParts).Select(_ => new List<object>()).ToArray();

    private static bool Feed(SegmentPartition partition, object message, SegmentLog log) => message switch
    {
        SegmentTraversal t => partition.OnTraversal(t),
        SegmentWatermark w => partition.OnWatermark(w, log),
        _ => throw new InvalidOperationException(),
    };

    private static int Source(object message) => message is SegmentTraversal t ? t.Source : ((SegmentWatermark)message).Source;

    /// <summary>The kinds of the alerts open at the end of a log.</summary>
    private static HashSet<string> OpenAlerts(IEnumerable<string> lines)
    {
        var open = new Dictionary<string, string>();
        foreach (var a in ParseAlerts(lines))
        {
            if (a.State == "close") open.Remove(a.Id);
            else open[a.Id] = a.Kind;
        }
        return open.Values.ToHashSet();
    }

    private static IEnumerable<(string Id, string Kind, string State)> ParseAlerts(IEnumerable<string> lines)
    {
        foreach (string l in lines)
        {
            if (!l.StartsWith("alert ", StringComparison.Ordinal)) continue;
            using var doc = JsonDocument.Parse(l["alert ".Length..]);
            var e = doc.RootElement;
            yield return (e.GetProperty("alert_id").GetString()!, e.GetProperty("kind").GetString()!, e.GetProperty("state").GetString()!);
        }
    }

    private static bool IsFallbackFreeFlow(RoadNetwork network, string windowLine)
    {
        int edge = int.Parse(Field(windowLine, "Edge"), CultureInfo.InvariantCulture);
        double free = double.Parse(Field(windowLine, "FreeFlowKmh"), CultureInfo.InvariantCulture);
        return Math.Abs(free - (network.SpeedLimitKmh(edge) * new SegmentOptions().FreeFlowLimitFactor)) < 1e-9;
    }

    private static string Field(string recordText, string name)
    {
        int at = recordText.IndexOf(name + " = ", StringComparison.Ordinal) + name.Length + 3;
        int end = recordText.IndexOfAny([',', ' '], at);
        return recordText[at..end];
    }

    private static string Json(AlertEvent a)
    {
        var buffer = new MemoryStream();
        using (var w = new AlertWriter(buffer)) w.Write(a);
        return Encoding.UTF8.GetString(buffer.ToArray()).TrimEnd('\n');
    }

    // ---- the pieces ----

    /// <summary>One input probe: its vehicle by name (every process has its own dense ids), its partition and its place there.</summary>
    private sealed record Input(string Name, Probe Probe, RecordSource Source, int Partition, int Local);

    /// <summary>The outputs of a run: each partition's, in the order they came.</summary>
    private sealed record Outcome(List<string>[] Vehicles, List<string>[] Segments, List<object>[] Topics)
    {
        public IEnumerable<(string Id, string Kind, string State)> Alerts() => ParseAlerts(Vehicles.Concat(Segments).SelectMany(l => l));

        /// <summary>Every alert, as AlertWriter writes it, partition after partition.</summary>
        public byte[] AlertBytes() => Encoding.UTF8.GetBytes(string.Join('\n', Vehicles.Concat(Segments).SelectMany(l => l).Where(l => l.StartsWith("alert ", StringComparison.Ordinal))));
    }

    private sealed class World
    {
        public required SimRun Run { get; init; }
        public required RoadNetwork Network { get; init; }
        public required EdgeIndex Index { get; init; }
        public required ZoneSet Zones { get; init; }
        public required string Registry { get; init; }
        public required List<Input> Inputs { get; init; }
        public required List<string> Names { get; init; }

        public static World Create()
        {
            // An evening across 21:00 (so free flow is learned from low-volume windows), every scenario event, a fleet
            // large enough for congestion alerts on the congested road; with this seed every kind of alert but fatigue
            // (which needs four hours) is raised.
            var scenario = Scenario.Load(SimRun.ExampleScenario);
            scenario.Fleet = new FleetMix { Taxis = 110, Buses = 14, Hazmat = 8 };
            // A unit silent from 30 minutes in nearly to the end: the watermark raises signal_lost after 30 minutes of
            // it, and the alert is open across the last cut.
            foreach (var e in scenario.Events.Where(e => e.Kind == "signal_lost")) e.DurationS = 3500;
            // A taxi parked in the dwell-limited zone for 40 minutes: its zone_dwell alert is open across the first two
            // cuts (the fleet's drivers keep the zones' rules, so it is the only one).
            foreach (var e in scenario.Events.Where(e => e.Kind == "zone_dwell")) e.DurationS = 2400;
            var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions
            {
                DurationS = 5400,
                Seed = 4,
                Start = new DateTimeOffset(2026, 1, 5, 20, 20, 0, TimeSpan.FromHours(8)),
                Scenario = scenario,
            });
            var ids = new VehicleIds();
            var handler = new Collect();
            using (var stream = File.OpenRead(Path.Combine(run.Dir, "probes.ndjson")))
                new ProbeStreamReader(ProbeFormat.NdJson, ids).ReadAsync(stream, handler).AsTask().GetAwaiter().GetResult();
            var counts = new int[VehicleParts];
            var inputs = handler.Probes.Select(x =>
            {
                string name = ids.Name(x.Probe.Vehicle);
                int p = (int)((uint)VehicleKey.Of(name) % VehicleParts);
                return new Input(name, x.Probe, x.Source, p, counts[p]++);
            }).ToList();
            return new World
            {
                Run = run,
                Network = SimRun.Shenzhen,
                Index = new EdgeIndex(SimRun.Shenzhen),
                Zones = ZoneSet.Load(Path.Combine(run.Dir, "zones.geojson")),
                Registry = Path.Combine(run.Dir, "vehicles.ndjson"),
                Inputs = inputs,
                Names = inputs.Select(x => x.Name).Distinct().ToList(),
            };
        }

        private sealed class Collect : IProbeHandler
        {
            public List<(Probe Probe, RecordSource Source)> Probes { get; } = [];

            public void OnProbe(in Probe probe, in RecordSource source) => Probes.Add((probe, source));

            public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
            {
            }
        }
    }

    /// <summary>A vehicle partition in a "process": its own vehicle ids and registry, as a real one would load them.</summary>
    private sealed class VehicleProc(VehicleIds ids, VehiclePartition partition)
    {
        public VehicleIds Ids { get; } = ids;
        public VehiclePartition Partition { get; } = partition;

        public static VehicleProc Fresh(World world, int partition)
        {
            var ids = new VehicleIds();
            var registry = VehicleRegistry.Load(world.Registry, ids);
            return new VehicleProc(ids, new VehiclePartition(partition, world.Index, ids, registry, world.Zones));
        }

        /// <summary>A new process: vehicle ids interned in another order (shuffled, after some vehicles the run never saw), then the checkpoint.</summary>
        public static VehicleProc Restore(World world, int partition, byte[] checkpoint, int seed)
        {
            var ids = new VehicleIds();
            for (int i = 0; i < seed * 7; i++) ids.Intern($"粤B{i:D5}".AsSpan());
            foreach (string name in world.Names.Shuffled(seed)) ids.Intern(name.AsSpan());
            var registry = VehicleRegistry.Load(world.Registry, ids);
            var p = VehiclePartition.Load(partition, world.Index, ids, registry, world.Zones, new MemoryStream(checkpoint));
            return new VehicleProc(ids, p);
        }

        public void Feed(Input x, VehicleLog log)
        {
            var probe = x.Probe;
            probe.Vehicle = Ids.Intern(x.Name.AsSpan());
            Partition.OnProbe(probe, x.Source, log);
        }
    }

    /// <summary>A vehicle partition's outputs as text lines (vehicles by name), tagged with the input that caused them; exchange messages also go to the topics.</summary>
    private sealed class VehicleLog(List<object>[] topics) : IVehiclePartitionOutput
    {
        public required VehicleIds Ids { get; set; }
        public int Tag { get; set; }
        public List<(int Tag, string Line)> Lines { get; } = [];

        public void Alert(AlertEvent alert) => Add("alert " + Json(alert));

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe m) => Add(FormattableString.Invariant(
            $"match {Ids.Name(vehicle)} {vehicleClass} {m.ProbeId} {m.TimeMs} {m.Edge} {m.OffsetM:R} {m.Lon:R} {m.Lat:R} {m.DistanceM:R} {m.RouteDistanceM:R} {m.SpeedKmh:R} {m.Confidence:R} {m.Break} {m.Forced} {m.Outlier} {m.ReportedSpeedKmh:R}"));

        public void Traversal(in SegmentTraversal traversal)
        {
            Add("traversal " + traversal);
            topics[traversal.Edge.Edge % topics.Length].Add(traversal);
        }

        public void Watermark(in SegmentWatermark watermark)
        {
            Add("watermark " + watermark);
            foreach (var t in topics) t.Add(watermark);
        }

        public void Late(in Probe probe, in RecordSource source) => Add($"late {Ids.Name(probe.Vehicle)} {probe.TimeMs} {source.Record}");

        public void Refused(in Probe probe, in RecordSource source, PushResult reason) => Add($"refused {Ids.Name(probe.Vehicle)} {probe.TimeMs} {source.Record} {reason}");

        private void Add(string line) => Lines.Add((Tag, line));
    }

    private sealed class SegmentLog : ISegmentPartitionOutput
    {
        public int Tag { get; set; }
        public List<(int Tag, string Line)> Lines { get; } = [];

        public void Window(in SegmentStat window) => Lines.Add((Tag, "window " + window));

        public void Alert(AlertEvent alert) => Lines.Add((Tag, "alert " + Json(alert)));

        public void View(in SegmentStat view) => Lines.Add((Tag, "view " + view));

        public void Network(in NetworkSums sums) => Lines.Add((Tag, "network " + NetworkIndex.Of(in sums)));
    }
}

internal static class ShuffleExtensions
{
    /// <summary>A seeded Fisher–Yates shuffle.</summary>
    public static List<T> Shuffled<T>(this List<T> items, int seed)
    {
        var random = new Random(seed);
        var list = new List<T>(items);
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
        return list;
    }
}
