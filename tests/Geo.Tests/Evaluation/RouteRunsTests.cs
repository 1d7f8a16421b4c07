using Traffic.Geo.Evaluation;
using Xunit;

namespace Traffic.Geo.Tests.Evaluation;

public sealed class RouteRunsTests
{
    // Edge lengths by id: 100 m unless named here.
    private static double Length(int edge) => edge switch
    {
        5 => 300,
        7 => 95,
        8 => 110,
        _ => 100,
    };

    [Fact]
    public void The_same_route_has_no_runs()
    {
        Assert.Empty(RouteRuns.Between([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], Length));
    }

    [Fact]
    public void A_road_beside_the_true_one_between_one_fork_and_one_merge_is_a_parallel_run()
    {
        var runs = RouteRuns.Between([1, 2, 3, 9], [1, 7, 8, 9], Length);
        var run = Assert.Single(runs);
        Assert.Equal(new RouteRun(RouteRunKind.Parallel, 1, 2, 1, 2, 200, 205), run);
    }

    [Fact]
    public void Unlike_lengths_between_the_same_edges_are_another_run()
    {
        var run = Assert.Single(RouteRuns.Between([1, 2, 9], [1, 5, 9], Length));
        Assert.Equal(RouteRunKind.Other, run.Kind);
        Assert.Equal((100.0, 300.0), (run.TruthM, run.MatchM));
    }

    [Fact]
    public void A_loop_counts_each_edge_it_drives_and_a_skipped_edge_is_missed_only()
    {
        var loop = Assert.Single(RouteRuns.Between([1, 2, 3], [1, 2, 5, 6, 2, 3], Length));
        Assert.Equal(RouteRunKind.MatchedOnly, loop.Kind);
        Assert.Equal(3, loop.MatchCount);
        Assert.Equal(500, loop.MatchM);   // 5, 6 and 2 again
        Assert.Equal(0, loop.TruthCount);

        var missed = Assert.Single(RouteRuns.Between([1, 2, 3], [1, 3], Length));
        Assert.Equal(new RouteRun(RouteRunKind.MissedOnly, 1, 1, 1, 0, 100, 0), missed);
    }

    [Fact]
    public void Runs_before_the_first_shared_edge_and_after_the_last_are_the_ends()
    {
        var runs = RouteRuns.Between([1, 2, 3], [9, 2, 3, 8], Length);
        Assert.Equal(
            [new RouteRun(RouteRunKind.Ends, 0, 1, 0, 1, 100, 100), new RouteRun(RouteRunKind.Ends, 3, 0, 3, 1, 0, 110)],
            runs);
        var apart = Assert.Single(RouteRuns.Between([1], [2], Length));
        Assert.Equal(RouteRunKind.Ends, apart.Kind);
        Assert.Empty(RouteRuns.Between([], [], Length));
    }
}
