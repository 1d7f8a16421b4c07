using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Tests.Matching;

/// <summary>
/// The speed-plausibility term (<see cref="MatcherOptions.PlausibleSpeedFactor"/>) on the case no likelihood separates: a
/// primary road and a service road between the same two nodes, the service road bowing 9 m to one side (Shenzhen's
/// 深南大道 edge 1667 and its service road 1666), fixes lying nearer the service road.
/// </summary>
public class SpeedPlausibilityTests
{
    private const double Lat0 = 22.53, Lon0 = 113.93;

    /// <summary>West to east: 200 m of primary, then 400 m of primary and a service road beside it between the same nodes, then 200 m of primary.</summary>
    private static EdgeIndex Network(RoadClass side, float sideLimitKmh, RoadClass main = RoadClass.Primary, float mainLimitKmh = 60)
    {
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        int w = Node(b, 0, 0), a = Node(b, 200, 0), c = Node(b, 600, 0), e = Node(b, 800, 0);
        Edge(b, w, a, [(0, 0), (200, 0)], main, mainLimitKmh, 1);
        Edge(b, a, c, [(200, 0), (600, 0)], main, mainLimitKmh, 1);
        Edge(b, a, c, [(200, 0), (220, -9), (580, -9), (600, 0)], side, sideLimitKmh, 2);
        Edge(b, c, e, [(600, 0), (800, 0)], main, mainLimitKmh, 1);
        return new EdgeIndex(b.Build());
    }

    private static int Node(NetworkBuilder b, double x, double y) => b.AddNode(Lon(x), Lat(y));

    private static void Edge(NetworkBuilder b, int from, int to, (double X, double Y)[] shape, RoadClass cls, float limit, long way)
    {
        int id = b.AddEdge(from, to, shape.Select(p => Lon(p.X)).ToArray(), shape.Select(p => Lat(p.Y)).ToArray(), cls, EdgeFlags.OneWay, limit, way, null);
        b.MarkOneWay(id);
    }

    private static double Lon(double x) => Lon0 + (x / GeoMath.MetresPerDegreeLon(Lat0));

    private static double Lat(double y) => Lat0 + (y / GeoMath.MetresPerDegree);

    /// <summary>
    /// A vehicle driving east at <paramref name="kmh"/>, a fix every 5 s; beside the pair of roads each fix lies
    /// <paramref name="southM"/> south of the primary (nearer the service road, 9 m south), elsewhere on the road.
    /// Returns the edge matched for each fix beside the pair.
    /// </summary>
    private static List<int> Drive(EdgeIndex index, double kmh, double southM, MatcherOptions options)
    {
        var points = new List<GpsPoint>();
        for (int i = 0; ; i++)
        {
            double x = 5 + (kmh / 3.6 * 5 * i);
            if (x > 795) break;
            double y = x is > 240 and < 560 ? -southM : (i % 2 == 0 ? 1 : -1);
            points.Add(new GpsPoint(1_700_000_000_000 + (5000L * i), Lon(x), Lat(y)) { Id = i });
        }
        var matcher = new OnlineMatcher(index, options);
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        foreach (var p in points) matcher.Push(state, p, ref sink);
        matcher.Flush(state, ref sink);
        Assert.Equal(points.Count, sink.Matches.Count);
        return [.. sink.Matches.Where(m => (m.ProbeLon - Lon0) * GeoMath.MetresPerDegreeLon(Lat0) is > 240 and < 560).Select(m => m.Edge)];
    }

    [Fact]
    public void A_fast_vehicle_beside_a_service_road_is_matched_on_the_primary()
    {
        var index = Network(RoadClass.Service, 20);
        // 55 km/h: 76 m between fixes, more than 30 km/h (1.5 x the service road's 20) allows in 5 s.
        var matched = Drive(index, 55, 8, new MatcherOptions());
        Assert.True(matched.Count >= 4);
        Assert.All(matched, e => Assert.Equal(RoadClass.Primary, index.Network.Class(e)));

        // Without the term the fixes' distances decide, and they lie nearer the service road.
        var without = Drive(index, 55, 8, new MatcherOptions { PlausibleSpeedFactor = 0 });
        Assert.All(without, e => Assert.Equal(RoadClass.Service, index.Network.Class(e)));
    }

    [Fact]
    public void A_slow_vehicle_on_a_service_road_is_still_matched_there()
    {
        var index = Network(RoadClass.Service, 20);
        // 18 km/h: 25 m between fixes, within what the service road's limit allows; fixes 1 m from the service road.
        var matched = Drive(index, 18, 8, new MatcherOptions());
        Assert.True(matched.Count >= 10);
        Assert.All(matched, e => Assert.Equal(RoadClass.Service, index.Network.Class(e)));
    }

    [Fact]
    public void A_network_without_limits_is_matched_as_without_the_term()
    {
        // Kubicka's arcs: class road, no maxspeed tag (the loader's default limit is no limit the term believes).
        var index = Network(RoadClass.Road, 30, RoadClass.Road, 30);
        var with = Drive(index, 55, 8, new MatcherOptions());
        var without = Drive(index, 55, 8, new MatcherOptions { PlausibleSpeedFactor = 0 });
        Assert.NotEmpty(with);
        Assert.Equal(without, with);
        // As on the network with limits without the term: the fixes lie nearer the side road.
        Assert.All(with, e => Assert.Equal(2, index.Network.WayId(e)));
    }

    private struct Recorder : IMatchSink
    {
        public List<MatchedProbe> Matches;

        public readonly void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route) => Matches.Add(match);
    }
}
