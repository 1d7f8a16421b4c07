using System.IO.Compression;
using System.Text;
using Traffic.Engine.Simulation;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>The GTFS reader on a small hand-made feed: service calendars, CSV quoting, times past midnight.</summary>
public sealed class GtfsFeedTests
{
    [Fact]
    public void Reads_the_trips_of_the_day_with_quoted_fields_and_late_times()
    {
        string zip = Feed(new()
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
        string zip = Feed(new() { ["routes.txt"] = "route_id\n", ["trips.txt"] = "route_id,service_id,trip_id,shape_id\n" });
        Assert.Contains("stop_times.txt", Assert.Throws<InvalidDataException>(() => GtfsFeed.Read(zip, new DateOnly(2026, 1, 5))).Message);
    }

    [Theory]
    [InlineData("00:00:00", 0)]
    [InlineData("7:05:09", 25509)]
    [InlineData("25:10:05", 90605)]
    [InlineData("", -1)]
    public void Times_parse_past_midnight(string text, int seconds) => Assert.Equal(seconds, GtfsFeed.Time(text));

    private static string Feed(Dictionary<string, string> files)
    {
        string path = Path.Combine(Path.GetTempPath(), "traffic-sim-tests", Guid.NewGuid().ToString("N") + ".zip");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (name, text) in files)
            {
                using var w = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
                w.Write(text);
            }
        }
        return path;
    }
}
