using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Matching;

/// <summary>GraphHopper's own map-matching regression cases, with the assertions its tests make.</summary>
public class GraphHopperCasesTests
{
    [Fact]
    public void Andorra_bike_trace_takes_no_dead_end_detours()
    {
        var (net, matches, routes) = Match("andorra.osm.pbf", "andorra_for_map_matching.gpx", new MatcherOptions { SigmaM = 20 });
        var gpx = GpxReader.Read(SharedData.Path("mapmatching", "graphhopper", "andorra_for_map_matching.gpx"));
        double traceLength = TraceLength(gpx);
        double matchedLength = matches.Sum(m => m.RouteDistanceM);
        Assert.All(matches, m => Assert.True(m.Edge >= 0));
        Assert.True(matchedLength / traceLength < 1.5, $"matched {matchedLength:F0} m for a trace of {traceLength:F0} m");
        Assert.True(matchedLength / traceLength > 0.5, $"matched {matchedLength:F0} m for a trace of {traceLength:F0} m");
        Assert.NotEmpty(routes);
        _ = net;
    }

    [Fact]
    public void Issue_13_points_with_one_timestamp_match_the_trace_length()
    {
        var (_, matches, _) = Match("map-issue13.osm.gz", "issue-13.gpx", new MatcherOptions());
        var gpx = GpxReader.Read(SharedData.Path("mapmatching", "graphhopper", "issue-13.gpx"));
        Assert.Equal(gpx.Length, matches.Count);
        double traceLength = TraceLength(gpx);
        double matchedLength = matches.Sum(m => m.RouteDistanceM);
        Assert.InRange(matchedLength, traceLength - 2.5, traceLength + 2.5);
    }

    [Fact]
    public void Issue_127_two_identical_points_match_with_zero_length()
    {
        var (_, matches, _) = Match("map-issue13.osm.gz", "issue-127.gpx", new MatcherOptions());
        Assert.NotEmpty(matches);
        Assert.All(matches, m => Assert.True(m.Edge >= 0));
        Assert.Equal(0, matches.Sum(m => m.RouteDistanceM), 3);
    }

    [Fact]
    public void Issue_70_follows_the_three_streets_in_order()
    {
        var (net, _, routes) = Match("issue-70.osm.gz", "issue-70.gpx", new MatcherOptions());
        var names = new List<string>();
        foreach (int e in routes)
        {
            string name = net.Name(e);
            if (name.Length > 0 && (names.Count == 0 || names[^1] != name)) names.Add(name);
        }
        Assert.Equal(["Милана Видака", "Бранка Радичевића", "Здравка Челара"], names);
    }

    private static double TraceLength(GpsPoint[] gpx)
    {
        double length = 0;
        for (int i = 1; i < gpx.Length; i++) length += GeoMath.Distance(gpx[i - 1].Lon, gpx[i - 1].Lat, gpx[i].Lon, gpx[i].Lat);
        return length;
    }

    private static (RoadNetwork Net, List<MatchedProbe> Matches, List<int> RouteEdges) Match(string osm, string gpx, MatcherOptions options)
    {
        var net = NetworkImport.Read(SharedData.Path("mapmatching", "graphhopper", osm), out _);
        var points = GpxReader.Read(SharedData.Path("mapmatching", "graphhopper", gpx));
        var sink = new Collector { Matches = [], Edges = [] };
        new OfflineMatcher(new EdgeIndex(net), options).Match(points, ref sink);
        return (net, sink.Matches, sink.Edges);
    }

    private struct Collector : IMatchSink
    {
        public List<MatchedProbe> Matches;
        public List<int> Edges;

        public readonly void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            Matches.Add(match);
            if (route.IsEmpty && match.Edge >= 0) Add(match.Edge);
            foreach (var t in route) Add(t.Edge);
        }

        private readonly void Add(int e)
        {
            if (Edges.Count == 0 || Edges[^1] != e) Edges.Add(e);
        }
    }
}
