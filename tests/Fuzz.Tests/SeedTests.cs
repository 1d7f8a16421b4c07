using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Testing;

namespace Traffic.Fuzz.Tests;

/// <summary>
/// The fuzz targets on their own seeds, without afl-fuzz: every seed is a valid input the project wrote itself, so a
/// finding on one is a defect of the code under test (or a target that no longer fits it), caught before a campaign.
/// </summary>
public class SeedTests
{
    private static readonly Lazy<string> s_seeds = new(() =>
    {
        string dir = TestDirectory.New("fuzz-seeds");
        Seeds.Write(dir);
        return dir;
    });

    public static TheoryData<string> TargetNames() => [.. Targets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Every_seed_of_a_target_runs_without_a_finding(string name)
    {
        Target target = Targets.All.Single(t => t.Name == name);
        string[] seeds = Directory.GetFiles(Path.Combine(s_seeds.Value, name));
        Assert.NotEmpty(seeds);
        foreach (string seed in seeds) target.Run(File.ReadAllBytes(seed));
    }

    /// <summary>
    /// The engine target's seeds raise, between them, an alert of each kind they were written for (trips through zones, a
    /// hazardous-cargo truck off its corridor, a wrong-way drive, a jam, a collapse of flowing traffic), each opened and
    /// closed: afl-fuzz starts from a corpus that reaches those rules.
    /// </summary>
    [Fact]
    public void The_engine_seeds_open_and_close_the_alerts_they_were_written_for()
    {
        EngineTarget.Reached.Clear();
        foreach (string seed in Directory.GetFiles(Path.Combine(s_seeds.Value, "engine"))) EngineTarget.Run(File.ReadAllBytes(seed));
        foreach (string kind in new[] { "congestion", "incident", "wrong_way", "zone", "hazmat_off_corridor", "signal_lost" })
        {
            Assert.True(EngineTarget.Reached.GetValueOrDefault($"{kind} open") > 0, $"no {kind} opened: {EngineTarget.Summary()}");
            Assert.True(EngineTarget.Reached.GetValueOrDefault($"{kind} close") > 0, $"no {kind} closed: {EngineTarget.Summary()}");
        }
    }

    /// <summary>
    /// The checkpoint seeds restore, as the targets restore them: a seed the engine refuses would have afl-fuzz start from
    /// the checks at the front of a checkpoint (the targets take <see cref="CheckpointException"/> as a correct answer),
    /// never reaching the rules' and windows' state behind them.
    /// </summary>
    [Fact]
    public void The_checkpoint_seeds_restore()
    {
        string[] vehicles = Directory.GetFiles(Path.Combine(s_seeds.Value, "checkpoint-vehicle"));
        string[] segments = Directory.GetFiles(Path.Combine(s_seeds.Value, "checkpoint-segment"));
        Assert.Contains(vehicles, f => Path.GetFileName(f) == "incident");
        Assert.Contains(segments, f => Path.GetFileName(f) == "incident");
        foreach (string seed in vehicles)
        {
            VehiclePartition.Load(0, Targets.Monaco, new VehicleIds(), null, null, Targets.Framed(File.ReadAllBytes(seed), CheckpointKind.VehiclePartition));
        }
        foreach (string seed in segments)
        {
            SegmentPartition.Load(Targets.Monaco.Network, 0, 1, Targets.Framed(File.ReadAllBytes(seed), CheckpointKind.SegmentPartition));
        }
    }
}
