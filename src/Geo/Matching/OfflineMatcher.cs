namespace Traffic.Geo.Matching;

/// <summary>
/// Matches a whole trace at once (batch Viterbi) for backfill and evaluation: the online matcher with
/// an unbounded lag, so that both share one model and online with a very large lag equals offline.
/// </summary>
public sealed class OfflineMatcher
{
    private readonly OnlineMatcher _matcher;

    public OfflineMatcher(Spatial.EdgeIndex index, MatcherOptions? options = null) =>
        _matcher = new OnlineMatcher(index, (options ?? new MatcherOptions()).AsOffline());

    /// <summary>Matches the trace in time order; every accepted probe reaches the sink exactly once.</summary>
    public void Match<TSink>(ReadOnlySpan<GpsPoint> trace, ref TSink sink) where TSink : IMatchSink, allows ref struct
    {
        var state = _matcher.NewState();
        foreach (ref readonly GpsPoint p in trace) _matcher.Push(state, in p, ref sink);
        _matcher.Flush(state, ref sink);
    }
}
