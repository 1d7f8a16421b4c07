using System.Globalization;

namespace Traffic.Geo.Import.Osm;

/// <summary>
/// Parses OSM <c>maxspeed</c> values (https://wiki.openstreetmap.org/wiki/Key:maxspeed) into km/h:
/// plain numbers (km/h), numbers with a unit (<c>km/h</c>, <c>kmh</c>, <c>kph</c>, <c>mph</c>, <c>knots</c>),
/// <c>walk</c>, <c>none</c>, implicit zone values such as <c>CN:urban</c> or <c>DE:zone30</c>, and lists
/// (<c>60;40</c>, whose lowest value is the one that binds every vehicle).
/// </summary>
public static class MaxSpeed
{
    /// <summary>Walking pace, for <c>maxspeed=walk</c> (living streets in much of Europe).</summary>
    public const float WalkKmh = 7;

    public const double KmhPerMph = 1.609344;

    public const double KmhPerKnot = 1.852;

    // Limits above this are typos (e.g. 500 for 50), not limits.
    private const float MaxPlausibleKmh = 300;

    /// <summary>
    /// Parses <paramref name="value"/>. Returns false when it means nothing usable (empty, <c>signals</c>,
    /// <c>variable</c>, garbage); true with <paramref name="noLimit"/> set and <paramref name="kmh"/> 0 for
    /// <c>none</c>; otherwise true with the limit in km/h.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> value, out float kmh, out bool noLimit)
    {
        kmh = 0;
        noLimit = false;
        value = value.Trim();
        if (value.IsEmpty) return false;

        float lowest = float.PositiveInfinity;
        bool anyNone = false;
        foreach (Range part in value.Split(';'))
        {
            if (!TryParseOne(value[part].Trim(), out float v, out bool none)) return false;
            if (none) anyNone = true;
            else lowest = Math.Min(lowest, v);
        }
        if (float.IsPositiveInfinity(lowest))
        {
            noLimit = anyNone;
            return anyNone;
        }
        kmh = lowest;
        return true;
    }

    private static bool TryParseOne(ReadOnlySpan<char> s, out float kmh, out bool none)
    {
        kmh = 0;
        none = false;
        if (s.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            none = true;
            return true;
        }
        if (s.Equals("walk", StringComparison.OrdinalIgnoreCase))
        {
            kmh = WalkKmh;
            return true;
        }
        int colon = s.IndexOf(':');
        if (colon == 2 && char.IsAsciiLetter(s[0]) && char.IsAsciiLetter(s[1]))
            return TryZone(s[..2], s[3..], out kmh, out none);

        // A number, then an optional unit.
        int end = 0;
        while (end < s.Length && (char.IsAsciiDigit(s[end]) || s[end] == '.')) end++;
        if (end == 0 || !double.TryParse(s[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
            return false;
        ReadOnlySpan<char> unit = s[end..].Trim();
        double factor;
        if (unit.IsEmpty || unit.Equals("km/h", StringComparison.OrdinalIgnoreCase) || unit.Equals("kmh", StringComparison.OrdinalIgnoreCase)
            || unit.Equals("kph", StringComparison.OrdinalIgnoreCase))
            factor = 1;
        else if (unit.Equals("mph", StringComparison.OrdinalIgnoreCase))
            factor = KmhPerMph;
        else if (unit.Equals("knots", StringComparison.OrdinalIgnoreCase) || unit.Equals("kn", StringComparison.OrdinalIgnoreCase))
            factor = KmhPerKnot;
        else
            return false;
        double result = number * factor;
        if (!(result > 0 && result <= MaxPlausibleKmh)) return false;
        kmh = (float)result;
        return true;
    }

    /// <summary>
    /// Implicit limits <c>XX:type</c> (https://wiki.openstreetmap.org/wiki/Default_speed_limits): a few
    /// countries' own values first, then values common to most countries.
    /// </summary>
    private static bool TryZone(ReadOnlySpan<char> country, ReadOnlySpan<char> type, out float kmh, out bool none)
    {
        kmh = 0;
        none = false;
        string c = country.ToString().ToUpperInvariant();
        string t = type.ToString().ToLowerInvariant();

        // Zones carry their number: zone30, zone:30, zone20...
        if (t.StartsWith("zone", StringComparison.Ordinal))
        {
            ReadOnlySpan<char> digits = t.AsSpan(4).TrimStart(':');
            if (int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int z) && z > 0 && z <= MaxPlausibleKmh)
            {
                kmh = c == "GB" ? (float)(z * KmhPerMph) : z; // British zones are in mph
                return true;
            }
            return false;
        }

        double? v = (c, t) switch
        {
            // China: Road Traffic Safety Law implementing regulations art. 45/46/78.
            ("CN", "urban") => 50,
            ("CN", "rural") => 70,
            ("CN", "motorway" or "expressway") => 120,
            ("DE", "rural") => 100,
            ("DE", "motorway") => double.PositiveInfinity, // no general limit (advisory 130)
            ("DE" or "AT" or "CH", "living_street") => WalkKmh,
            ("AT", "rural") => 100,
            ("FR", "rural") => 80,
            ("FR" or "IT" or "AT" or "UA" or "HR" or "CZ" or "SK" or "HU" or "SI" or "RO", "motorway") => 130,
            ("PL" or "BG", "motorway") => 140,
            ("FR", "trunk") => 110,
            ("JP", "urban" or "rural") => 60, // Road Traffic Act: 60 km/h on general roads where no sign says otherwise
            ("JP" or "KR" or "TW" or "CA", "motorway") => 100,
            ("US", "urban") => 25 * KmhPerMph, // the usual statutory residential limit
            ("US", "rural") => 55 * KmhPerMph,
            ("US", "motorway") => 65 * KmhPerMph,
            ("AU", "motorway") => 110,
            ("RU", "urban") => 60,
            ("RU", "motorway") => 110,
            ("RU", "living_street") => 20,
            ("GB", "urban") => 30 * KmhPerMph,
            ("GB", "rural" or "nsl_single") => 60 * KmhPerMph,
            ("GB", "nsl_dual" or "motorway") => 70 * KmhPerMph,
            (_, "urban") => 50,
            (_, "rural") => 90,
            (_, "trunk") => 100,
            (_, "motorway" or "expressway") => 120,
            (_, "living_street") => 20,
            (_, "bicycle_road") => 30,
            _ => null,
        };
        if (v is not { } limit) return false;
        if (double.IsPositiveInfinity(limit))
        {
            none = true;
            return true;
        }
        kmh = (float)limit;
        return true;
    }
}
