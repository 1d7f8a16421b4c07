namespace Traffic.Engine;

/// <summary>
/// Local time of the deployment: the rules' hours (zone <c>hours</c>, night limits, low-volume hours) are
/// China Standard Time, UTC+8, with no daylight saving (INTERFACES.md).
/// </summary>
public static class LocalTime
{
    public const long OffsetMs = 8L * 3600 * 1000;

    /// <summary>Minute of the local day, [0, 1440), of an epoch-ms time.</summary>
    public static int MinuteOfDay(long timeMs) => (int)((((timeMs + OffsetMs) / 60_000 % 1440) + 1440) % 1440);

    /// <summary>Hour of the local day, [0, 24).</summary>
    public static int Hour(long timeMs) => MinuteOfDay(timeMs) / 60;

    /// <summary>Whether an hour lies in [from, to), a window that may wrap midnight.</summary>
    public static bool InHours(int hour, int from, int to) => from <= to ? hour >= from && hour < to : hour >= from || hour < to;
}
