using Traffic.Engine.Simulation;
using Traffic.Geo;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>Buses driven by the real Monaco GTFS feed on the Monaco network.</summary>
public sealed class GtfsBusTests
{
    private static readonly DateTimeOffset s_start = new(2026, 1, 5, 8, 0, 0, TimeSpan.FromHours(1));
    private static readonly Lazy<GtfsFeed> s_feed = new(() => GtfsFeed.Read(SharedData.Path("gtfs", "monaco-gtfs.zip"), DateOnly.FromDateTime(s_start.DateTime)));
    private static readonly Lazy<SimRun> s_run = new(() =>
        SimRun.Run(SimRun.Monaco, new SimulationOptions { Vehicles = 0, DurationS = 1800, Start = s_start, Seed = 5, Gtfs = s_feed.Value }));

    [Fact]
    public void Feed_HasTheTripsOfTheDay()
    {
        var feed = s_feed.Value;
        Assert.Equal("Compagnie des Autobus de Monaco", feed.AgencyName);
        Assert.True(feed.Trips.Count > 100, $"{feed.Trips.Count} trips");
        Assert.All(feed.Trips, t => Assert.True(feed.Shapes.ContainsKey(t.ShapeId)));
        Assert.All(feed.Trips, t => Assert.True(t.Stops.Zip(t.Stops.Skip(1)).All(p => p.First.DepartureS <= p.Second.ArrivalS)));
    }

    [Fact]
    public void Buses_FollowTheirShapes()
    {
        var run = s_run.Value;
        var feed = s_feed.Value;
        var tripOf = run.Truth.Where(t => t.GetProperty("type").GetString() == "stop")
            .GroupBy(t => t.GetProperty("vehicle_id").GetString()!)
            .ToDictionary(g => g.Key, g => g.First().GetProperty("trip_id").GetString()!);
        var shapeOf = feed.Trips.ToDictionary(t => t.TripId, t => t.ShapeId);
        Assert.True(tripOf.Count > 20, $"{tripOf.Count} buses");
        int n = 0, near = 0;
        foreach (var t in run.TruthProbes)
        {
            if (!tripOf.TryGetValue(t.GetProperty("vehicle_id").GetString()!, out string? trip)) continue;
            var shape = feed.Shapes[shapeOf[trip]];
            double lon = t.GetProperty("lon").GetDouble(), lat = t.GetProperty("lat").GetDouble();
            double kx = GeoMath.MetresPerDegreeLon(lat);
            double best = double.MaxValue;
            for (int i = 0; i + 1 < shape.Length; i++)
                best = Math.Min(best, GeoMath.ProjectOnSegment(lon, lat, shape[i].Lon, shape[i].Lat, shape[i + 1].Lon, shape[i + 1].Lat, kx, out _));
            n++;
            if (best <= 30) near++;
        }
        Assert.True(n > 2000);
        // A few shape ends lie off the drivable network (a bus station yard): most of the way is on the shape.
        Assert.True(near >= n * 0.95, $"{near} of {n} true positions within 30 m of the shape");
    }

    [Fact]
    public void Buses_KeepToTheTimetable()
    {
        var stops = s_run.Value.Truth.Where(t => t.GetProperty("type").GetString() == "stop").ToList();
        Assert.True(stops.Count > 300);
        var lateness = stops.Select(t => (SimRun.Ms(t, "departure") - SimRun.Ms(t, "scheduled_departure")) / 1000.0).ToList();
        // Never early; mostly within two minutes (a dwell of up to 20 s on arrival, a little time lost on steep streets).
        Assert.All(lateness, l => Assert.True(l >= -1, $"left {-l} s early"));
        Assert.True(lateness.Count(l => l <= 120) >= lateness.Count * 0.95, $"{lateness.Count(l => l > 120)} of {lateness.Count} departures over 2 min late");
    }
}
