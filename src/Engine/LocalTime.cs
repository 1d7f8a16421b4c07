namespace Traffic.Engine;

/// <summary>
/// Local time. Zone <c>hours</c> are China Standard Time, UTC+8, with no daylight saving, wherever the network lies
/// (INTERFACES.md). The hours of the day itself (the night limits of passenger vehicles, the low-volume hours free flow
/// is learned in) are the network's own: China Standard Time in China, elsewhere the hour its longitude gives
/// (<see cref="OffsetMsOf"/>).
/// </summary>
public static class LocalTime
{
    public const long OffsetMs = 8L * 3600 * 1000;

    /// <summary>Minute of the local day (UTC+8), [0, 1440), of an epoch-ms time.</summary>
    public static int MinuteOfDay(long timeMs) => MinuteOfDay(timeMs, OffsetMs);

    /// <summary>Minute of the day, [0, 1440), of an epoch-ms time at <paramref name="offsetMs"/> from UTC.</summary>
    public static int MinuteOfDay(long timeMs, long offsetMs) => (int)((((timeMs + offsetMs) / 60_000 % 1440) + 1440) % 1440);

    /// <summary>Hour of the local day (UTC+8), [0, 24).</summary>
    public static int Hour(long timeMs) => MinuteOfDay(timeMs) / 60;

    /// <summary>Hour of the day at <paramref name="offsetMs"/> from UTC, [0, 24).</summary>
    public static int Hour(long timeMs, long offsetMs) => MinuteOfDay(timeMs, offsetMs) / 60;

    /// <summary>
    /// The offset from UTC of the day where <paramref name="network"/> lies: China Standard Time for a network in China
    /// (the box of lon 73–135°, lat 18–54°) or an empty one, else the whole hours of its centre's longitude / 15° (the
    /// sun's time, within an hour of the clock's: Monaco's night is 22:00–06:00 UTC, not 14:00–22:00, which in China's
    /// hours made every taxi doing 45 km/h on a 50 km/h street in the Monaco evening a speeder).
    /// </summary>
    public static long OffsetMsOf(Traffic.Geo.Network.RoadNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.NodeCount == 0) return OffsetMs;
        var (minLon, minLat, maxLon, maxLat) = network.Bounds();
        double lon = (minLon + maxLon) / 2, lat = (minLat + maxLat) / 2;
        if (lon is >= 73 and <= 135 && lat is >= 18 and <= 54) return OffsetMs;
        return (long)Math.Round(lon / 15) * 3600 * 1000;
    }

    /// <summary>Whether an hour lies in [from, to), a window that may wrap midnight.</summary>
    public static bool InHours(int hour, int from, int to) => from <= to ? hour >= from && hour < to : hour >= from || hour < to;
}
