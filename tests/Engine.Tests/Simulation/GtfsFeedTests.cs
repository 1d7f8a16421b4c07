using Traffic.Engine.Simulation;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>The GTFS reader on small hand-made feeds: service calendars, CSV quoting, times past midnight, blocks, frequencies.</summary>
public sealed class GtfsFeedTests
{
    [Fact]
    public void Reads_the_trips_of_the_day_with_quoted_fields_and_late_times()
    {
        string zip = TestFeeds.Write(new Dictionary<string, string>
        {
            ["agency.txt"] = "agency_id,agency_name\r\nA,\"Bus, \"\"Night\"\" Line\"\r\n",
            // Two weekday services; S2 is cancelled on 2026-01-05 (a Monday) by calendar_dates, S3 added.
            ["calendar.txt"] = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                + "S1,1,1,1,1,1,0,0,20260101,20260131\nS2,1,1,1,1,1,0,0,20260101,20260131\nW,0,0,0,0,0,1,1,20260101,20260131\n",
            ["calendar_dates.txt"] = "service_id,date,exception_type\nS2,20260105,2\nS3,20260105,1\n",
            ["routes.txt"] = "route_id,route_short_name,route_long_name\nR,7,\"Port, via town\"\n",
            ["trips.txt"] = "route_id,service_id,trip_id,shape_id\nR,S1,T1,SH\nR,S2,T2,SH\nR,S3,T3,SH\nR,W,T4,SH\n",
            ["stop_times.txt"] = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n"
                + "T1,08:00:00,08:00:30,a,1,0\nT1,08:05:00,08:05:00,b,2,900\n"
                + "T2,09:00:00,09:00:00,a,1,0\nT2,09:05:00,09:05:00,b,2,900\n"
                + "T3,24:50:00,24:50:00,b,2,900\nT3,24:45:00,24:45:00,a,1,0\n"
                + "T4,10:00:00,10:00:00,a,1,0\nT4,10:05:00,10:05:00,b,2,900\n",
            ["shapes.txt"] = "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence,shape_dist_traveled\nSH,43.74,7.43,2,900\nSH,43.73,7.42,1,0\n",
        });
        var feed = GtfsFeed.Read(zip, new DateOnly(2026, 1, 5));
        Assert.Equal("Bus, \"Night\" Line", feed.AgencyName);
        Assert.Equal(["T1", "T3"], feed.Trips.Select(t => t.TripId));
        var late = feed.Trips[1];
        // Sorted by stop_sequence, not file order; hours past 24 are the next morning of the same service day.
        Assert.Equal(["a", "b"], late.Stops.Select(s => s.StopId));
        Assert.Equal((24 * 3600) + (45 * 60), late.Stops[0].DepartureS);
        Assert.Equal("7", late.RouteShortName);
        Assert.Equal((7.42, 43.73, 0.0), feed.Shapes["SH"][0]);
        Assert.Equal(900, feed.Trips[0].Stops[1].ShapeDist);
    }

    [Fact]
    public void A_feed_without_stop_times_is_an_error()
    {
        string zip = TestFeeds.Write(new Dictionary<string, string> { ["routes.txt"] = "route_id\n", ["trips.txt"] = "route_id,service_id,trip_id,shape_id\n" });
        Assert.Contains("stop_times.txt", Assert.Throws<InvalidDataException>(() => GtfsFeed.Read(zip, new DateOnly(2026, 1, 5))).Message);
    }

    [Theory]
    [InlineData("00:00:00", 0)]
    [InlineData("7:05:09", 25509)]
    [InlineData("25:10:05", 90605)]
    [InlineData("", -1)]
    public void Times_parse_past_midnight(string text, int seconds) => Assert.Equal(seconds, GtfsFeed.Time(text));

    [Fact]
    public void Reads_a_span_of_service_dates_each_with_its_own_services()
    {
        var feed = GtfsFeed.Read(TestFeeds.Write(Calendars()), new DateOnly(2026, 1, 4), new DateOnly(2026, 1, 5));
        Assert.Equal([new DateOnly(2026, 1, 4), new DateOnly(2026, 1, 5)], feed.Services.Keys);
        // Sunday 4 January: the weekend service only; Monday 5 January: S1 and the added S3, not the cancelled S2.
        Assert.Equal(["T4"], feed.TripsOn(new DateOnly(2026, 1, 4)).Select(t => t.TripId));
        Assert.Equal(["T1", "T3"], feed.TripsOn(new DateOnly(2026, 1, 5)).Select(t => t.TripId));
        Assert.Empty(feed.TripsOn(new DateOnly(2026, 1, 6)));
        Assert.Equal(["T1", "T4", "T3"], feed.Trips.Select(t => t.TripId));
        Assert.Equal("W", feed.Trips[1].ServiceId);
    }

    [Theory]
    [InlineData("2026-01-10T00:30:00+01:00", 1800, "2026-01-09", "2026-01-10")]
    [InlineData("2026-01-09T23:50:00+01:00", 1800, "2026-01-08", "2026-01-10")]
    [InlineData("2026-01-05T08:00:00+08:00", 3 * 86400, "2026-01-04", "2026-01-08")]
    public void A_run_needs_the_day_before_to_the_day_it_ends(string start, double seconds, string first, string last)
    {
        var (f, l) = GtfsFeed.ServiceDates(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), seconds);
        Assert.Equal(DateOnly.Parse(first, System.Globalization.CultureInfo.InvariantCulture), f);
        Assert.Equal(DateOnly.Parse(last, System.Globalization.CultureInfo.InvariantCulture), l);
    }

    [Fact]
    public void Reads_blocks_and_frequencies()
    {
        var files = Calendars();
        files["trips.txt"] = "route_id,service_id,trip_id,shape_id,block_id\nR,S1,T1,SH,B7\nR,S3,T3,SH,\n";
        // T1 every 10 min from 08:00 until before 09:00, then every 15 min until before 09:30 (given out of order).
        files["frequencies.txt"] = "trip_id,start_time,end_time,headway_secs,exact_times\nT1,09:00:00,09:30:00,900,1\nT1,08:00:00,09:00:00,600,1\n";
        var feed = GtfsFeed.Read(TestFeeds.Write(files), new DateOnly(2026, 1, 5));
        var t1 = feed.Trips.Single(t => t.TripId == "T1");
        var t3 = feed.Trips.Single(t => t.TripId == "T3");
        Assert.Equal("B7", t1.BlockId);
        Assert.Null(t3.BlockId);
        Assert.Equal([new GtfsFrequency(8 * 3600, 9 * 3600, 600, true), new GtfsFrequency(9 * 3600, (9 * 3600) + 1800, 900, true)], t1.Frequencies);
        int[] expected = [.. Enumerable.Range(0, 6).Select(k => (8 * 3600) + (k * 600)), 9 * 3600, (9 * 3600) + 900];
        Assert.Equal(expected, t1.Departures());
        // A trip without frequencies runs once, at its own time.
        Assert.Equal([(24 * 3600) + (45 * 60)], t3.Departures());
    }

    [Fact]
    public void A_frequency_without_a_positive_headway_is_an_error()
    {
        var files = Calendars();
        files["frequencies.txt"] = "trip_id,start_time,end_time,headway_secs\nT1,08:00:00,09:00:00,0\n";
        var e = Assert.Throws<InvalidDataException>(() => GtfsFeed.Read(TestFeeds.Write(files), new DateOnly(2026, 1, 5)));
        Assert.Contains("headway_secs", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "00:00:00")]
    [InlineData(90605, "25:10:05")]
    public void Times_format_past_midnight(int seconds, string text) => Assert.Equal(text, GtfsFeed.FormatTime(seconds));

    // The feed of the first test without its quoting: four trips on four services.
    private static Dictionary<string, string> Calendars() => new()
    {
        ["agency.txt"] = "agency_id,agency_name\nA,Bus\n",
        ["calendar.txt"] = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
            + "S1,1,1,1,1,1,0,0,20260101,20260131\nS2,1,1,1,1,1,0,0,20260101,20260131\nW,0,0,0,0,0,1,1,20260101,20260131\n",
        ["calendar_dates.txt"] = "service_id,date,exception_type\nS2,20260105,2\nS3,20260105,1\n",
        ["routes.txt"] = "route_id,route_short_name\nR,7\n",
        ["trips.txt"] = "route_id,service_id,trip_id,shape_id\nR,S1,T1,SH\nR,S2,T2,SH\nR,S3,T3,SH\nR,W,T4,SH\n",
        ["stop_times.txt"] = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n"
            + "T1,08:00:00,08:00:30,a,1,0\nT1,08:05:00,08:05:00,b,2,900\n"
            + "T2,09:00:00,09:00:00,a,1,0\nT2,09:05:00,09:05:00,b,2,900\n"
            + "T3,24:45:00,24:45:00,a,1,0\nT3,24:50:00,24:50:00,b,2,900\n"
            + "T4,10:00:00,10:00:00,a,1,0\nT4,10:05:00,10:05:00,b,2,900\n",
        ["shapes.txt"] = "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence,shape_dist_traveled\nSH,43.73,7.42,1,0\nSH,43.74,7.43,2,900\n",
    };
}
