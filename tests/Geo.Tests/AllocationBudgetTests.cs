using Traffic.Geo.Evaluation;
using Traffic.Geo.Matching;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests;

/// <summary>
/// The guard on the hot path: every operation listed in bench/allocation-budget.json is measured with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> around a warmed-up loop and must stay within its
/// budget. Deterministic: it counts bytes, never time.
/// </summary>
public class AllocationBudgetTests
{
    private static readonly Lazy<KubickaTrack> s_track = new(() => KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka("00000042"))!));
    private static readonly Lazy<EdgeIndex> s_index = new(() => new EdgeIndex(s_track.Value.Network));

    /// <summary>Operations of this project; the Engine's (Probe*) are measured by tests/Engine.Tests.</summary>
    private static readonly string[] s_prefixes = ["EdgeIndex.", "BoundedDijkstra.", "OnlineMatcher."];

    public static TheoryData<string> Operations()
    {
        var data = new TheoryData<string>();
        foreach (var name in AllocationBudget.Budgets().Keys.Where(k => s_prefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)))) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public void Hot_path_operation_stays_within_its_allocation_budget(string operation)
    {
        long budget = AllocationBudget.Budgets()[operation];
        long perOp = AllocationBudget.BytesPerOperation(Operation(operation));
        Assert.True(perOp <= budget, $"{operation} allocates {perOp} bytes per operation; its budget is {budget}");
    }

    [Fact]
    public void The_measurement_sees_an_allocation()
    {
        byte[]? keep = null;
        Assert.True(AllocationBudget.BytesPerOperation(_ => keep = new byte[100]) >= 100);
        Assert.Equal(0, AllocationBudget.BytesPerOperation(i => keep![0] = (byte)i));
    }

    [Fact]
    public void Every_budgeted_operation_is_measured_by_some_test_project()
    {
        foreach (var name in AllocationBudget.Budgets().Keys)
        {
            if (name.StartsWith("Probe", StringComparison.Ordinal) || name.StartsWith("ZoneSet.", StringComparison.Ordinal)
                || name.StartsWith("SegmentArrowWriter.", StringComparison.Ordinal) || name.StartsWith("AlertArrowWriter.", StringComparison.Ordinal)
                || name.StartsWith("VehiclePartition.", StringComparison.Ordinal) || name.StartsWith("SegmentPartition.", StringComparison.Ordinal)
                || name.StartsWith("MatchedProbeArrowWriter.", StringComparison.Ordinal) || name.StartsWith("BatchQueue.", StringComparison.Ordinal)) continue; // tests/Engine.Tests
            Assert.NotNull(Operation(name));
        }
    }


    private static Action<int> Operation(string name)
    {
        var track = s_track.Value;
        var index = s_index.Value;
        var points = track.Points;
        var buffer = new EdgeCandidate[8];
        switch (name)
        {
            case "EdgeIndex.Within":
                return i => index.Within(points[i % points.Length].Lon, points[i % points.Length].Lat, 50, buffer);
            case "EdgeIndex.Nearest":
                return i => index.Nearest(points[i % points.Length].Lon, points[i % points.Length].Lat, 100, buffer);
            case "BoundedDijkstra.Run":
            case "BoundedDijkstra.PathTo":
            {
                var router = new BoundedDijkstra(track.Network);
                var targets = new EdgePosition[8];
                var dist = new double[8];
                var path = new int[4096];
                bool withPath = name.EndsWith("PathTo", StringComparison.Ordinal);
                return i =>
                {
                    var a = points[i % points.Length];
                    var b = points[(i + 10) % points.Length];
                    int na = index.Within(a.Lon, a.Lat, 50, buffer);
                    if (na == 0) return;
                    var source = new EdgePosition(buffer[0].Edge, buffer[0].OffsetM);
                    int nb = index.Within(b.Lon, b.Lat, 50, buffer);
                    for (int j = 0; j < nb; j++) targets[j] = new EdgePosition(buffer[j].Edge, buffer[j].OffsetM);
                    router.Run(source, targets.AsSpan(0, nb), 1000, dist.AsSpan(0, nb));
                    if (withPath && nb > 0) router.PathTo(0, path);
                };
            }
            case "OnlineMatcher.Push":
            {
                var matcher = new OnlineMatcher(index);
                var state = matcher.NewState();
                long shift = 0;
                int n = 0;
                return _ =>
                {
                    // Replays the track endlessly, shifting time so that it stays in order.
                    int k = n++ % points.Length;
                    if (k == 0 && n > 1) shift += points[^1].TimeMs + 1_000_000;
                    var p = points[k];
                    var sink = new CountingSink();
                    matcher.Push(state, p with { TimeMs = p.TimeMs + shift }, ref sink);
                };
            }
            default:
                throw new InvalidOperationException($"no measurement for budgeted operation '{name}'");
        }
    }

    private struct CountingSink : IMatchSink
    {
        public int Count;

        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route) => Count++;
    }
}
