using System.Globalization;
using System.Text.Json;
using Traffic.Engine.Simulation;
using Traffic.Geo;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>Buses driven by the real Monaco GTFS feed on the Monaco network.</summary>
public sealed class GtfsBusTests
{
    private static readonly TimeSpan s_monacoOffset = TimeSpan.FromHours(1);
    private static readonly DateTimeOffset s_start = new(2026, 1, 5, 8, 0, 0, s_monacoOffset);
    private static readonly Lazy<GtfsFeed> s_feed = new(() => GtfsFeed.ReadFor(TestFeeds.Monaco, s_start, 1800));
    private static readonly Lazy<SimRun> s_run = new(() =>
        SimRun.Run(SimRun.Monaco, new SimulationOptions { Vehicles = 0, DurationS = 1800, Start = s_start, Seed = 5, Gtfs = s_feed.Value }));

    // The Monaco feed has no block_id, but its trip ids carry the duty: <service date>-<service>-<duty>-<n>.
    private static readonly Lazy<string> s_blockFeed = new(() => TestFeeds.Rewrite(TestFeeds.Monaco, new Dictionary<string, Func<string, string>>
    {
        ["trips.txt"] = csv => TestFeeds.AddColumn(csv, "block_id", row => BlockOf(row[2])),
    }));

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
        var tripOf = Stops(run).GroupBy(t => Str(t, "vehicle_id")).ToDictionary(g => g.Key, g => Str(g.First(), "trip_id"));
        var shapeOf = feed.Trips.ToDictionary(t => t.TripId, t => t.ShapeId);
        Assert.True(tripOf.Count > 20, $"{tripOf.Count} buses");
        int n = 0, near = 0;
        foreach (var t in run.TruthProbes)
        {
            if (!tripOf.TryGetValue(Str(t, "vehicle_id"), out string? trip)) continue;
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
        var stops = Stops(s_run.Value);
        Assert.True(stops.Count > 300);
        AssertOnTime(stops);
    }

    [Fact]
    public void A_bus_goes_off_at_the_end_of_its_trip()
    {
        var run = s_run.Value;
        var stopCount = s_feed.Value.Trips.ToDictionary(t => t.TripId, t => t.Stops.Length);
        var lastProbe = run.TruthProbes.GroupBy(t => Str(t, "vehicle_id")).ToDictionary(g => g.Key, g => g.Max(t => SimRun.Ms(t, "time")));
        // Buses that served their trip's last stop: after it only the rest of the shape, if any, not the rest of the run.
        var ends = Stops(run).Where(s => s.GetProperty("seq").GetInt32() == stopCount[Str(s, "trip_id")]).ToList();
        Assert.True(ends.Count > 20, $"{ends.Count} trips ended");
        Assert.All(ends, s => Assert.True(lastProbe[Str(s, "vehicle_id")] - SimRun.Ms(s, "departure") <= 120_000,
            $"{Str(s, "vehicle_id")} reports {(lastProbe[Str(s, "vehicle_id")] - SimRun.Ms(s, "departure")) / 1000} s after its last stop"));
    }

    [Fact]
    public void Trips_of_the_day_before_run_after_midnight_on_their_timetable()
    {
        // Saturday 00:30: Friday's service runs until 26:33:00; Saturday's own trips begin hours later.
        var start = new DateTimeOffset(2026, 1, 10, 0, 30, 0, s_monacoOffset);
        var run = Simulate(TestFeeds.Monaco, start, 3600);
        var stops = Stops(run);
        Assert.True(stops.Select(s => Str(s, "vehicle_id")).Distinct().Count() >= 5, $"{stops.Count} stops served");
        Assert.All(stops, s => Assert.Equal("20260109", Str(s, "start_date")));
        Assert.All(stops, s => Assert.True(string.CompareOrdinal(Str(s, "start_time"), "24:00:00") >= 0, Str(s, "start_time")));
        // Friday's 24:18:00 trip is under way at 00:30: its bus reports from the first seconds on, in the middle of its trip.
        long startMs = start.ToUnixTimeMilliseconds();
        var early = run.TruthProbes.Where(t => SimRun.Ms(t, "time") < startMs + 15_000).Select(t => Str(t, "vehicle_id")).ToHashSet();
        Assert.Contains(stops, s => early.Contains(Str(s, "vehicle_id")) && Str(s, "start_time") == "24:18:00" && s.GetProperty("seq").GetInt32() > 1);
        AssertOnTime(stops);
    }

    [Fact]
    public void A_trip_that_runs_past_midnight_keeps_on()
    {
        // Friday's 23:38:00 trip moved 15 minutes later: 23:53:00 to 24:08:00, across midnight.
        const string trip = "260105-20414-38844-13";
        string zip = TestFeeds.Rewrite(TestFeeds.Monaco, new Dictionary<string, Func<string, string>>
        {
            ["trips.txt"] = csv => TestFeeds.KeepRows(csv, row => row[2] == trip),
            ["stop_times.txt"] = csv => string.Join('\n', csv.Split('\n').Select(line =>
            {
                var f = line.Split(',');
                if (f[0] != trip) return line;
                f[1] = GtfsFeed.FormatTime(GtfsFeed.Time(f[1]) + 900);
                f[2] = GtfsFeed.FormatTime(GtfsFeed.Time(f[2]) + 900);
                return string.Join(',', f);
            })),
        });
        var start = new DateTimeOffset(2026, 1, 9, 23, 45, 0, s_monacoOffset);
        var stops = Stops(Simulate(zip, start, 1800));
        long midnight = new DateTimeOffset(2026, 1, 10, 0, 0, 0, s_monacoOffset).ToUnixTimeMilliseconds();
        Assert.Single(stops.Select(s => Str(s, "vehicle_id")).Distinct());
        Assert.Equal(15, stops.Count);
        Assert.Contains(stops, s => SimRun.Ms(s, "scheduled_departure") < midnight);
        Assert.Contains(stops, s => SimRun.Ms(s, "scheduled_departure") > midnight);
        AssertOnTime(stops);
    }

    [Fact]
    public void A_frequency_trip_runs_every_headway_with_the_trips_offsets()
    {
        // A 16-stop trip of 21:22:00 made a frequency trip: every 10 minutes from 08:00 until before 09:00.
        const string trip = "260105-20413-38834-6";
        string zip = TestFeeds.Rewrite(TestFeeds.Monaco, new Dictionary<string, Func<string, string>>
        {
            ["trips.txt"] = csv => TestFeeds.KeepRows(csv, row => row[2] == trip),
        }, new Dictionary<string, string> { ["frequencies.txt"] = $"trip_id,start_time,end_time,headway_secs,exact_times\n{trip},08:00:00,09:00:00,600,1\n" });
        var start = new DateTimeOffset(2026, 1, 5, 7, 55, 0, s_monacoOffset);
        var feed = GtfsFeed.ReadFor(zip, start, 4800);
        var gtfsTrip = Assert.Single(feed.Trips);
        int[] departures = [.. Enumerable.Range(0, 6).Select(k => (8 * 3600) + (k * 600))];
        Assert.Equal(departures, gtfsTrip.Departures());

        var run = SimRun.Run(SimRun.Monaco, new SimulationOptions { Vehicles = 0, DurationS = 4800, Start = start, Seed = 5, Gtfs = feed });
        var stops = Stops(run);
        var runs = stops.GroupBy(s => Str(s, "start_time")).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(departures.Select(GtfsFeed.FormatTime), runs.Select(g => g.Key));
        Assert.Equal(6, File.ReadLines(Path.Combine(run.Dir, "vehicles.ndjson")).Count());
        long midnight = new DateTimeOffset(2026, 1, 5, 0, 0, 0, s_monacoOffset).ToUnixTimeMilliseconds();
        int first = gtfsTrip.Stops[0].DepartureS;
        foreach (var (g, departure) in runs.Zip(departures))
        {
            // One bus per run, every stop served, each at the trip's own offset from the run's departure.
            Assert.Single(g.Select(s => Str(s, "vehicle_id")).Distinct());
            Assert.Equal(gtfsTrip.Stops.Length, g.Count());
            foreach (var s in g)
            {
                var scheduled = gtfsTrip.Stops[s.GetProperty("seq").GetInt32() - 1];
                Assert.Equal(midnight + ((departure + scheduled.DepartureS - first) * 1000L), SimRun.Ms(s, "scheduled_departure"));
            }
        }
        AssertOnTime(stops);
    }

    [Fact]
    public void The_trips_of_a_block_are_one_bus_back_to_back()
    {
        // Monday 20:30–21:30: duty 38834 runs 20:35–20:57 to stop 0-372, lays over, leaves it again at 21:03.
        var start = new DateTimeOffset(2026, 1, 5, 20, 30, 0, s_monacoOffset);
        var run = Simulate(s_blockFeed.Value, start, 3600);
        var stops = Stops(run);
        var vehiclesOfBlock = stops.GroupBy(s => BlockOf(Str(s, "trip_id"))).ToDictionary(g => g.Key, g => g.Select(s => Str(s, "vehicle_id")).Distinct().ToList());
        var blocksOfVehicle = stops.GroupBy(s => Str(s, "vehicle_id")).ToDictionary(g => g.Key, g => g.Select(s => BlockOf(Str(s, "trip_id"))).Distinct().Count());
        Assert.All(vehiclesOfBlock, b => Assert.True(b.Value.Count == 1, $"block {b.Key}: {string.Join(", ", b.Value)}"));
        Assert.All(blocksOfVehicle.Values, n => Assert.Equal(1, n));
        int trips = stops.Select(s => Str(s, "trip_id")).Distinct().Count();
        Assert.True(vehiclesOfBlock.Count * 2 <= trips, $"{vehiclesOfBlock.Count} buses for {trips} trips");

        string bus = vehiclesOfBlock["260105-20413-38834"][0];
        var own = stops.Where(s => Str(s, "vehicle_id") == bus).ToList();
        long arrived = SimRun.Ms(own.Single(s => Str(s, "trip_id") == "260105-20413-38834-3" && s.GetProperty("seq").GetInt32() == 21), "departure");
        long left = SimRun.Ms(own.Single(s => Str(s, "trip_id") == "260105-20413-38834-4" && s.GetProperty("seq").GetInt32() == 1), "departure");
        // On time after the layover (the bus moves in one-second steps).
        long scheduled = new DateTimeOffset(2026, 1, 5, 21, 3, 0, s_monacoOffset).ToUnixTimeMilliseconds();
        Assert.InRange(left, scheduled, scheduled + 999);
        // The layover: the unit stays on, the bus stands at the terminus for minutes.
        var between = run.TruthProbes.Where(t => Str(t, "vehicle_id") == bus && SimRun.Ms(t, "time") > arrived && SimRun.Ms(t, "time") < left).ToList();
        Assert.True(between.Count >= (left - arrived) / 10_000 - 1, $"{between.Count} probes in {(left - arrived) / 1000} s");
        Assert.True(between.Count(t => Str(t, "state") == "stopped") * 10 >= 180, "less than 3 min standing");
        AssertNoJumps(run);
        AssertOnTime(stops);
    }

    [Fact]
    public void Same_seed_same_bytes_with_blocks_across_midnight()
    {
        // Friday 23:30–00:30: duty 38844 drives 23:38–23:53 and 24:02–24:18, one bus across midnight.
        var start = new DateTimeOffset(2026, 1, 9, 23, 30, 0, s_monacoOffset);
        var a = Simulate(s_blockFeed.Value, start, 3600);
        var b = Simulate(s_blockFeed.Value, start, 3600);
        foreach (string f in new[] { "probes.ndjson", "truth.ndjson", "vehicles.ndjson" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.Dir, f)), File.ReadAllBytes(Path.Combine(b.Dir, f)));
        var duty = Stops(a).Where(s => BlockOf(Str(s, "trip_id")) == "260105-20414-38844").ToList();
        Assert.Single(duty.Select(s => Str(s, "vehicle_id")).Distinct());
        Assert.Contains(duty, s => Str(s, "start_time") == "23:38:00");
        Assert.Contains(duty, s => Str(s, "start_time") == "24:02:00");
    }

    [Fact]
    public void A_run_without_the_day_before_in_the_feed_is_an_error()
    {
        var start = new DateTimeOffset(2026, 1, 10, 0, 30, 0, s_monacoOffset);
        var feed = GtfsFeed.Read(TestFeeds.Monaco, DateOnly.FromDateTime(start.DateTime));
        var e = Assert.Throws<ArgumentException>(() => new FleetSimulator(SimRun.Monaco, new SimulationOptions { Vehicles = 0, Start = start, Gtfs = feed }));
        Assert.Contains("2026-01-09", e.Message, StringComparison.Ordinal);
    }

    private static string BlockOf(string tripId) => tripId[..tripId.LastIndexOf('-')];

    private static SimRun Simulate(string zip, DateTimeOffset start, double seconds) =>
        SimRun.Run(SimRun.Monaco, new SimulationOptions { Vehicles = 0, DurationS = seconds, Start = start, Seed = 5, Gtfs = GtfsFeed.ReadFor(zip, start, seconds) });

    private static List<JsonElement> Stops(SimRun run) => [.. run.Truth.Where(t => t.GetProperty("type").GetString() == "stop")];

    private static string Str(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    // Never early; mostly within two minutes (a dwell of up to 20 s on arrival, a little time lost on steep streets).
    private static void AssertOnTime(List<JsonElement> stops)
    {
        Assert.NotEmpty(stops);
        var lateness = stops.Select(t => (SimRun.Ms(t, "departure") - SimRun.Ms(t, "scheduled_departure")) / 1000.0).ToList();
        Assert.All(lateness, l => Assert.True(l >= -1, $"left {-l} s early"));
        Assert.True(lateness.Count(l => l <= 120) >= lateness.Count * 0.95,
            string.Create(CultureInfo.InvariantCulture, $"{lateness.Count(l => l > 120)} of {lateness.Count} departures over 2 min late"));
    }

    // A bus going from one trip to the next drives there: consecutive true positions never jump.
    private static void AssertNoJumps(SimRun run)
    {
        foreach (var track in run.TruthProbes.GroupBy(t => Str(t, "vehicle_id")))
        {
            JsonElement? prev = null;
            foreach (var t in track)
            {
                if (prev is { } p)
                {
                    double m = GeoMath.Distance(p.GetProperty("lon").GetDouble(), p.GetProperty("lat").GetDouble(), t.GetProperty("lon").GetDouble(), t.GetProperty("lat").GetDouble());
                    double s = (SimRun.Ms(t, "time") - SimRun.Ms(p, "time")) / 1000.0;
                    Assert.True(m <= (s * 25) + 30, string.Create(CultureInfo.InvariantCulture, $"{track.Key} jumps {m:F0} m in {s} s"));
                }
                prev = t;
            }
        }
    }
}
