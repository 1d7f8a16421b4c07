using Traffic.Engine.Evaluation;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Simulation;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Tests.Evaluation;

/// <summary>The example scenario on the Shenzhen network, simulated, replayed by the engine and scored.</summary>
public class ScorerEndToEndTests
{
    private static readonly Lazy<(SimRun Run, string Out)> s_replayed = new(() =>
    {
        var run = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 3600, Seed = 7, Scenario = Scenario.Load(SimRun.ExampleScenario) });
        return (run, Replay(run));
    });

    private static string Replay(SimRun run)
    {
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(Path.Combine(run.Dir, "vehicles.ndjson"), ids);
        var zones = ZoneSet.Load(Path.Combine(run.Dir, "zones.geojson"));
        string outDir = Path.Combine(run.Dir, "replay");
        var engine = new ReplayEngine(SimRun.Shenzhen, registry, zones, ids, new ReplayOptions { VehicleShards = 2, SegmentShards = 2 });
        engine.RunAsync(Path.Combine(run.Dir, "probes.ndjson"), outDir).GetAwaiter().GetResult();
        return outDir;
    }

    [Fact]
    public void The_injected_vehicle_events_are_found_and_matched_probes_lie_on_their_true_edges()
    {
        var (run, outDir) = s_replayed.Value;
        var r = Scorer.Score(run.Dir, outDir);

        // Every vehicle event the engine is known to catch (wrong-way and congestion: not on every seed, docs/outputs.md).
        foreach (string kind in new[] { "speeding", "zone", "zone_dwell", "hazmat_forbidden", "hazmat_long_stop", "hazmat_no_fix", "hazmat_off_corridor", "teleport", "signal_lost" })
        {
            var k = r.Kind(kind);
            Assert.True(k != null && k.Expected >= 1, $"{kind}: expected by the example scenario");
            Assert.True(k.Recall == 1.0, $"{kind}: recall {k.Recall}, missed {k.Missed.Count}");
        }
        Assert.Equal(2, r.Kind("speeding")!.Expected);
        // The fatigue event expects nothing in a one-hour run.
        Assert.True(r.EventsNotScored >= 1);

        int tp = r.Kinds.Sum(k => k.TruePositives), fp = r.Kinds.Sum(k => k.FalsePositives), expected = r.Kinds.Sum(k => k.Expected);
        Assert.True(tp >= 0.8 * expected, $"{tp} of {expected} events found");
        Assert.True(fp <= 0.2 * (tp + fp), $"{fp} false positives against {tp} true");

        // The simulator's drivers keep the zones' rules: the one zone entry is the injected one.
        var zone = r.Kind("zone")!;
        Assert.Equal((1, 1, 0, 0), (zone.Raised, zone.TruePositives, zone.Unplanned, zone.FalsePositives));

        var m = r.Matching;
        Assert.True(m.ProbesCompared >= 0.98 * m.ProbesSent, $"{m.ProbesCompared} of {m.ProbesSent} probes compared");
        Assert.Equal(0, m.NotInTruth);
        Assert.True(m.EdgeAccuracy > 0.75, $"edge accuracy {m.EdgeAccuracy}");
        Assert.True(m.EdgeAccuracyMoving > 0.85, $"edge accuracy of moving vehicles {m.EdgeAccuracyMoving}");
        Assert.True(m.WayAccuracy > m.EdgeAccuracy);
    }

    [Fact]
    public void Strict_scoring_counts_the_confirmed_unplanned_alerts_as_false_positives()
    {
        var (run, outDir) = s_replayed.Value;
        var lenient = Scorer.Score(run.Dir, outDir);
        var strict = Scorer.Score(run.Dir, outDir, new ScoreOptions { Strict = true });
        // What the injected events cause beyond what they inject (a tanker sent into a zone closed to dangerous goods
        // leaves its corridor on the way, a bus crawls through a zone with a dwell limit), which the truth confirms.
        Assert.True(lenient.Kinds.Sum(k => k.Unplanned) > 0, "nothing unplanned: the test proves nothing");
        foreach (var k in lenient.Kinds)
        {
            var s = strict.Kind(k.Kind)!;
            Assert.Equal(0, s.Unplanned);
            Assert.Equal(k.FalsePositives + k.Unplanned, s.FalsePositives);
        }
    }

    [Fact]
    public void A_run_scored_against_the_truth_of_another_seed_scores_badly()
    {
        var (_, outDir) = s_replayed.Value;
        var other = SimRun.Run(SimRun.Shenzhen, new SimulationOptions { DurationS = 1800, Seed = 8, Scenario = Scenario.Load(SimRun.ExampleScenario) });
        var r = Scorer.Score(other.Dir, outDir);
        // Units report at another phase, so hardly a fix shares a time, and events happen at other times and places.
        Assert.True(r.Matching.ProbesCompared < 0.05 * r.Matching.ProbesSent, $"{r.Matching.ProbesCompared} probes compared");
        Assert.True(r.Matching.NotInTruth > 10_000);
        int tp = r.Kinds.Sum(k => k.TruePositives), expected = r.Kinds.Sum(k => k.Expected);
        Assert.True(tp < expected, $"{tp} of {expected}");
    }
}
