namespace Traffic.Geo.Evaluation;

/// <summary>What kind of error a run of a matched route that parts from the true one is.</summary>
public enum RouteRunKind
{
    /// <summary>Before the first edge both routes share, or after the last: the first or last probe on another road.</summary>
    Ends = 0,

    /// <summary>
    /// Both routes leave the shared stretch at one edge and meet again at another, over lengths within 15 % (and 10 m) of
    /// each other: a road beside the true one (a carriageway's side road, a slip road along the road it joins).
    /// </summary>
    Parallel = 1,

    /// <summary>The match drove edges between two shared ones that the vehicle did not: a loop or a detour.</summary>
    MatchedOnly = 2,

    /// <summary>The vehicle drove edges between two shared ones that the match skipped.</summary>
    MissedOnly = 3,

    /// <summary>Both routes differ between two shared edges, over lengths unlike each other.</summary>
    Other = 4,
}

/// <summary>
/// A run of a true and a matched route that differ, between stretches both share: the edges of each (positions in the
/// sequences given, and counts) and their lengths, each edge counted as often as the run holds it (a loop driven twice,
/// twice), whole edges.
/// </summary>
public readonly record struct RouteRun(RouteRunKind Kind, int TruthStart, int TruthCount, int MatchStart, int MatchCount, double TruthM, double MatchM);

/// <summary>
/// Where a matched route parts from the true one: the two edge sequences aligned on their longest common subsequence,
/// and each run between the edges they share classified (<see cref="RouteRunKind"/>). A diagnostic of the evaluation
/// (`traffic eval synthetic --errors`), not of the matcher: it tells a parallel road from a loop or a wrong first probe.
/// </summary>
public static class RouteRuns
{
    /// <summary>The runs where <paramref name="matched"/> differs from <paramref name="truth"/>, in route order.</summary>
    public static List<RouteRun> Between(ReadOnlySpan<int> truth, ReadOnlySpan<int> matched, Func<int, double> lengthM)
    {
        ArgumentNullException.ThrowIfNull(lengthM);
        int n = truth.Length, m = matched.Length;
        // lcs[i, j]: the longest common subsequence of truth[i..] and matched[j..].
        var lcs = new int[n + 1, m + 1];
        for (int i = n - 1; i >= 0; i--)
        {
            for (int j = m - 1; j >= 0; j--)
            {
                lcs[i, j] = truth[i] == matched[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }
        var runs = new List<RouteRun>();
        int ti = 0, mi = 0, runT = 0, runM = 0;
        bool shared = false;   // whether an edge both share came before the run being gathered
        while (ti < n || mi < m)
        {
            if (ti < n && mi < m && truth[ti] == matched[mi])
            {
                Close(truth, matched, runT, ti, runM, mi, atEnd: !shared, lengthM, runs);
                shared = true;
                ti++;
                mi++;
                runT = ti;
                runM = mi;
            }
            else if (mi < m && (ti == n || lcs[ti, mi + 1] >= lcs[ti + 1, mi])) mi++;
            else ti++;
        }
        Close(truth, matched, runT, n, runM, m, atEnd: true, lengthM, runs);
        return runs;
    }

    private static void Close(ReadOnlySpan<int> truth, ReadOnlySpan<int> matched, int t0, int t1, int m0, int m1, bool atEnd, Func<int, double> lengthM, List<RouteRun> runs)
    {
        if (t1 == t0 && m1 == m0) return;
        double truthM = 0, matchM = 0;
        foreach (int e in truth[t0..t1]) truthM += lengthM(e);
        foreach (int e in matched[m0..m1]) matchM += lengthM(e);
        RouteRunKind kind = atEnd ? RouteRunKind.Ends
            : t1 == t0 ? RouteRunKind.MatchedOnly
            : m1 == m0 ? RouteRunKind.MissedOnly
            : Math.Abs(truthM - matchM) <= (0.15 * Math.Max(truthM, matchM)) + 10 ? RouteRunKind.Parallel
            : RouteRunKind.Other;
        runs.Add(new RouteRun(kind, t0, t1 - t0, m0, m1 - m0, truthM, matchM));
    }
}
