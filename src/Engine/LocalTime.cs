using NodaTime;
using NodaTime.TimeZones;
using Traffic.Geo;
using Traffic.Geo.Network;

namespace Traffic.Engine;

/// <summary>
/// Local time. Zone <c>hours</c> are China Standard Time, UTC+8, with no daylight saving, wherever the network lies
/// (INTERFACES.md). The hours of the day itself (the night limits of passenger vehicles, the low-volume hours free flow
/// is learned in) are the network's own civil time, daylight saving included (<see cref="LocalDay"/>).
/// </summary>
public static class LocalTime
{
    public const long OffsetMs = 8L * 3600 * 1000;

    /// <summary>The zone of China Standard Time, the day of a network in China.</summary>
    public const string ChinaZoneId = "Asia/Shanghai";

    /// <summary>Minute of the local day (UTC+8), [0, 1440), of an epoch-ms time.</summary>
    public static int MinuteOfDay(long timeMs) => MinuteOfDay(timeMs, OffsetMs);

    /// <summary>Minute of the day, [0, 1440), of an epoch-ms time at <paramref name="offsetMs"/> from UTC.</summary>
    public static int MinuteOfDay(long timeMs, long offsetMs) => (int)((((timeMs + offsetMs) / 60_000 % 1440) + 1440) % 1440);

    /// <summary>Hour of the local day (UTC+8), [0, 24).</summary>
    public static int Hour(long timeMs) => MinuteOfDay(timeMs) / 60;

    /// <summary>Hour of the day at <paramref name="offsetMs"/> from UTC, [0, 24).</summary>
    public static int Hour(long timeMs, long offsetMs) => MinuteOfDay(timeMs, offsetMs) / 60;

    /// <summary>Whether an hour lies in [from, to), a window that may wrap midnight.</summary>
    public static bool InHours(int hour, int from, int to) => from <= to ? hour >= from && hour < to : hour >= from || hour < to;

    /// <summary>
    /// The time zone (tz database id) where a network lies: China Standard Time for a network in China (the box of lon
    /// 73–135°, lat 18–54°, all one zone in civil use) or an empty one; elsewhere the zone whose principal place
    /// (zone.tab, as the tz database ships it: one or more a country) lies nearest the network's centre. A network is a
    /// city or a region, and its nearest principal place is its own or its neighbour's in the same zone, short of a
    /// network astride a zone border.
    /// </summary>
    public static string ZoneIdOf(RoadNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.NodeCount == 0) return ChinaZoneId;
        var (minLon, minLat, maxLon, maxLat) = network.Bounds();
        double lon = (minLon + maxLon) / 2, lat = (minLat + maxLat) / 2;
        if (lon is >= 73 and <= 135 && lat is >= 18 and <= 54) return ChinaZoneId;
        return NearestZoneId(lon, lat);
    }

    /// <summary>Whether the tz database knows the zone (ids as <c>Europe/Madrid</c>).</summary>
    public static bool IsZoneId(string zoneId) => DateTimeZoneProviders.Tzdb.GetZoneOrNull(zoneId) != null;

    /// <summary>The tz database zone whose principal place lies nearest the point.</summary>
    public static string NearestZoneId(double lon, double lat)
    {
        string best = ChinaZoneId;
        double bestM = double.PositiveInfinity;
        foreach (TzdbZoneLocation place in TzdbDateTimeZoneSource.Default.ZoneLocations ?? [])
        {
            double d = GeoMath.Distance(lon, lat, place.Longitude, place.Latitude);
            if (d < bestM)
            {
                bestM = d;
                best = place.ZoneId;
            }
        }
        return best;
    }
}

/// <summary>
/// The civil day where a network lies: the hour of the day at an instant in the network's time zone, daylight saving
/// included (Monaco's night begins at 21:00 UTC in winter and 20:00 UTC in summer). The zone's offset holds between its
/// transitions, so the span around the last instant asked for is kept and most calls cost two comparisons. Any thread may
/// call it: the kept span is one immutable object, replaced whole.
/// </summary>
public sealed class LocalDay
{
    // NodaTime's instants span the years -9998 to 9999; probe times beyond are clamped (their hour is meaningless anyway).
    private static readonly long s_minMs = Instant.MinValue.ToUnixTimeMilliseconds();
    private static readonly long s_maxMs = Instant.MaxValue.ToUnixTimeMilliseconds();

    private readonly DateTimeZone _zone;
    private OffsetSpan _span = new(0, -1, 0); // empty: the first call looks the offset up

    public LocalDay(string zoneId)
    {
        ArgumentException.ThrowIfNullOrEmpty(zoneId);
        _zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(zoneId) ?? throw new ArgumentException($"unknown time zone '{zoneId}'", nameof(zoneId));
        ZoneId = zoneId;
    }

    /// <summary>The day of the zone named, or of the network's own time zone (<see cref="LocalTime.ZoneIdOf"/>) when none is.</summary>
    public static LocalDay Of(RoadNetwork network, string? zoneId = null) => new(zoneId ?? LocalTime.ZoneIdOf(network));

    public string ZoneId { get; }

    /// <summary>The offset from UTC, ms, at an epoch-ms instant.</summary>
    public long OffsetMsAt(long timeMs)
    {
        OffsetSpan s = _span;
        if (timeMs >= s.FromMs && timeMs < s.ToMs) return s.OffsetMs;
        long t = Math.Clamp(timeMs, s_minMs, s_maxMs);
        ZoneInterval zi = _zone.GetZoneInterval(Instant.FromUnixTimeMilliseconds(t));
        long from = zi.HasStart ? zi.Start.ToUnixTimeMilliseconds() : long.MinValue;
        long to = zi.HasEnd ? zi.End.ToUnixTimeMilliseconds() : long.MaxValue;
        s = new OffsetSpan(from, to, zi.WallOffset.Milliseconds);
        _span = s;
        return s.OffsetMs;
    }

    /// <summary>Hour of the local day, [0, 24), at an epoch-ms instant.</summary>
    public int Hour(long timeMs) => LocalTime.Hour(timeMs, OffsetMsAt(timeMs));

    private sealed record OffsetSpan(long FromMs, long ToMs, long OffsetMs);
}
