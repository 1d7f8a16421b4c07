using Traffic.Engine.Tests.Simulation;

namespace Traffic.Engine.Tests;

public class LocalTimeTests
{
    private static long Utc(int y, int mo, int d, int h, int mi) => new DateTimeOffset(y, mo, d, h, mi, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void A_network_s_day_is_its_own_time_zone()
    {
        Assert.Equal("Asia/Shanghai", LocalTime.ZoneIdOf(SimRun.Shenzhen));
        Assert.Equal("Asia/Shanghai", LocalTime.ZoneIdOf(SimRun.Shanghai));
        Assert.Equal("Europe/Monaco", LocalTime.ZoneIdOf(SimRun.Monaco));
    }

    [Theory]
    [InlineData(2.35, 48.86, "Europe/Paris")]
    [InlineData(24.94, 60.17, "Europe/Helsinki")]
    [InlineData(123.89, 10.32, "Asia/Manila")]         // Cebu
    [InlineData(4.35, 50.85, "Europe/Brussels")]
    [InlineData(-74.0, 40.7, "America/New_York")]
    [InlineData(-111.9, 33.45, "America/Phoenix")]     // no daylight saving, unlike its neighbours
    [InlineData(151.2, -33.87, "Australia/Sydney")]
    [InlineData(-46.63, -23.55, "America/Sao_Paulo")]
    [InlineData(-8.72, 42.24, "Europe/Lisbon")]        // Vigo, in Spain: Lisbon lies nearer than Madrid, so such a city needs --timezone
    [InlineData(-6.97, 38.88, "Europe/Lisbon")]        // Badajoz, in Spain, alike
    public void A_place_takes_the_zone_of_the_nearest_principal_place(double lon, double lat, string zone)
    {
        Assert.Equal(zone, LocalTime.NearestZoneId(lon, lat));
    }

    [Fact]
    public void The_hour_follows_daylight_saving_and_times_out_of_order()
    {
        var monaco = new LocalDay("Europe/Monaco");
        long winter = Utc(2026, 1, 5, 21, 30), summer = Utc(2026, 7, 6, 20, 30);
        Assert.Equal(22, monaco.Hour(winter));            // UTC+1
        Assert.Equal(22, monaco.Hour(summer));            // UTC+2
        Assert.Equal(21, monaco.Hour(Utc(2026, 7, 6, 19, 30)));
        Assert.Equal(22, monaco.Hour(winter));            // back to winter: the kept span is not used outside itself
        // The spring change, 2026-03-29 01:00 UTC: 01:59 CET is followed by 03:00 CEST.
        Assert.Equal(1, monaco.Hour(Utc(2026, 3, 29, 0, 59)));
        Assert.Equal(3, monaco.Hour(Utc(2026, 3, 29, 1, 0)));
        Assert.Equal(3600_000, monaco.OffsetMsAt(Utc(2026, 3, 29, 0, 59)));
        Assert.Equal(7200_000, monaco.OffsetMsAt(Utc(2026, 3, 29, 1, 0)));
        // China keeps UTC+8 all year; times at the ends of the range do not throw.
        var china = new LocalDay("Asia/Shanghai");
        Assert.Equal(23, china.Hour(Utc(2026, 7, 6, 15, 0)));
        Assert.Equal(8 * 3600_000, china.OffsetMsAt(Utc(2026, 1, 5, 15, 0)));
        _ = china.Hour(long.MinValue);
        _ = china.Hour(long.MaxValue);
        Assert.Throws<ArgumentException>(() => new LocalDay("Mars/Olympus_Mons"));
    }
}
