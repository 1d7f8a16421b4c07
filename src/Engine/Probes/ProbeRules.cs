using System.Runtime.CompilerServices;

namespace Traffic.Engine.Probes;

/// <summary>
/// The checks every decoder applies after reading the fields (INTERFACES.md: missing or mistyped required
/// fields, coordinates out of range, non-finite numbers and impossible times are rejected, never guessed at),
/// and the parsing of the small text fields shared by the text formats.
/// </summary>
public static class ProbeRules
{
    /// <summary>2000-01-01T00:00:00Z: no fix of this system is older.</summary>
    public const long EarliestMs = 946_684_800_000;

    /// <summary>How far ahead of the newest accepted time a fix may be.</summary>
    public const long MaxAheadMs = 24L * 3600 * 1000;

    /// <summary>
    /// Range and consistency checks on a decoded probe; <paramref name="newestMs"/> is the newest time accepted so far.
    /// A heading of exactly 360° is north, as many units write it, and becomes 0.
    /// </summary>
    public static DecodeError Validate(ref Probe p, long newestMs)
    {
        if (!double.IsFinite(p.Lon)) return new(ProbeField.Lon, DecodeReason.NotFinite);
        if (!double.IsFinite(p.Lat)) return new(ProbeField.Lat, DecodeReason.NotFinite);
        if (p.Lon is < -180 or > 180) return new(ProbeField.Lon, DecodeReason.OutOfRange);
        if (p.Lat is < -90 or > 90) return new(ProbeField.Lat, DecodeReason.OutOfRange);
        if (p.TimeMs < EarliestMs) return new(ProbeField.Time, DecodeReason.TimeTooEarly);
        if (newestMs > long.MinValue && p.TimeMs > newestMs + MaxAheadMs) return new(ProbeField.Time, DecodeReason.TimeInFuture);
        if (float.IsInfinity(p.SpeedKmh)) return new(ProbeField.SpeedKmh, DecodeReason.NotFinite);
        if (p.SpeedKmh < 0) return new(ProbeField.SpeedKmh, DecodeReason.OutOfRange);
        if (float.IsInfinity(p.Heading)) return new(ProbeField.Heading, DecodeReason.NotFinite);
        if (p.Heading == 360) p.Heading = 0;
        if (p.Heading is < 0 or >= 360) return new(ProbeField.Heading, DecodeReason.OutOfRange);
        if (float.IsInfinity(p.AccuracyM)) return new(ProbeField.AccuracyM, DecodeReason.NotFinite);
        if (p.AccuracyM < 0) return new(ProbeField.AccuracyM, DecodeReason.OutOfRange);
        return default;
    }

    /// <summary>
    /// Epoch milliseconds from a number of them: an integer, or a number with an integral value written as a float
    /// (<c>1772413200000.0</c>, <c>1.7724132e12</c>, as JSON writers of floats do); a fraction of a millisecond is dropped.
    /// False for a number that is no time at all (not finite, beyond ±2^53).
    /// </summary>
    public static bool TryTimeFromNumber(double ms, out long timeMs)
    {
        const double Max = 9_007_199_254_740_992; // 2^53: every integer below it is exact in a double
        timeMs = 0;
        if (!(Math.Abs(ms) < Max)) return false;
        timeMs = (long)Math.Floor(ms);
        return true;
    }

    /// <summary>
    /// The time field given as text, into epoch milliseconds: an RFC 3339 date-time (<c>2026-03-02T09:00:00+08:00</c>,
    /// <c>…Z</c>, with a fraction of a second, digits beyond milliseconds dropped; <c>t</c>/<c>z</c> in lower case, or a
    /// space for the <c>T</c>, which RFC 3339 §5.6 allows), or the epoch milliseconds themselves as digits (as int64
    /// values are written in JSON by protobuf's mapping). A date and time without a UTC offset is
    /// <see cref="DecodeReason.NoUtcOffset"/>: which zone it meant would be a guess.
    /// </summary>
    public static DecodeReason ParseTimeText(ReadOnlySpan<char> s, out long timeMs)
    {
        timeMs = 0;
        if (s.Length is > 0 and <= 18 && long.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out timeMs))
            return DecodeReason.None;
        if (s.Length < 19 || s[4] != '-' || s[7] != '-' || s[10] is not ('T' or 't' or ' ') || s[13] != ':' || s[16] != ':') return DecodeReason.Malformed;
        if (!Digits(s[..4], out int year) || !Digits(s.Slice(5, 2), out int month) || !Digits(s.Slice(8, 2), out int day)
            || !Digits(s.Slice(11, 2), out int hour) || !Digits(s.Slice(14, 2), out int minute) || !Digits(s.Slice(17, 2), out int second))
            return DecodeReason.Malformed;
        int i = 19, millis = 0;
        if (i < s.Length && s[i] == '.')
        {
            int start = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                if (i - start < 3) millis = (millis * 10) + (s[i] - '0');
                i++;
            }
            if (i == start) return DecodeReason.Malformed;
            for (int k = i - start; k < 3; k++) millis *= 10;
        }
        if (i >= s.Length) return DecodeReason.NoUtcOffset;
        int offsetMinutes;
        if (s[i] is 'Z' or 'z' && i == s.Length - 1) offsetMinutes = 0;
        else if (s[i] is '+' or '-' && i == s.Length - 6 && s[i + 3] == ':' && Digits(s.Slice(i + 1, 2), out int oh) && Digits(s.Slice(i + 4, 2), out int om)
                 && oh <= 23 && om <= 59)
            offsetMinutes = (s[i] == '-' ? -1 : 1) * ((oh * 60) + om);
        else return DecodeReason.Malformed;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return DecodeReason.Malformed;
        if (second == 60) second = 59; // a leap second: the last whole second before it
        long local = new DateTimeOffset(year, month, day, hour, minute, second, TimeSpan.Zero).ToUnixTimeMilliseconds() + millis;
        timeMs = local - (offsetMinutes * 60_000L);
        return DecodeReason.None;

        static bool Digits(ReadOnlySpan<char> d, out int v)
        {
            v = 0;
            foreach (char c in d)
            {
                if (!char.IsAsciiDigit(c)) return false;
                v = (v * 10) + (c - '0');
            }
            return true;
        }
    }

    /// <summary>Parses a class name of the probe format, in any case (<c>taxi</c>, <c>Taxi</c>, <c>TAXI</c>).</summary>
    public static bool TryParseClass(ReadOnlySpan<byte> utf8, out VehicleClass c)
    {
        // By length first: one comparison for most names, not up to five (the reader parses a class on most probes).
        c = utf8.Length switch
        {
            3 when System.Text.Ascii.EqualsIgnoreCase(utf8, "bus"u8) => VehicleClass.Bus,
            4 when System.Text.Ascii.EqualsIgnoreCase(utf8, "taxi"u8) => VehicleClass.Taxi,
            5 when System.Text.Ascii.EqualsIgnoreCase(utf8, "truck"u8) => VehicleClass.Truck,
            6 when System.Text.Ascii.EqualsIgnoreCase(utf8, "hazmat"u8) => VehicleClass.Hazmat,
            3 when System.Text.Ascii.EqualsIgnoreCase(utf8, "car"u8) => VehicleClass.Car,
            _ => VehicleClass.Unspecified,
        };
        return c != VehicleClass.Unspecified;
    }

    /// <summary>Parses a class name given as text (configuration files).</summary>
    public static bool TryParseClass(string text, out VehicleClass c) => TryParseClass(System.Text.Encoding.UTF8.GetBytes(text), out c);

    /// <summary>Parses a UN class given as text (configuration files).</summary>
    public static bool TryParseHazmat(string text, out ushort un) => TryParseHazmat(System.Text.Encoding.UTF8.GetBytes(text), out un);

    public static string ClassName(VehicleClass c) => c switch
    {
        VehicleClass.Bus => "bus",
        VehicleClass.Taxi => "taxi",
        VehicleClass.Truck => "truck",
        VehicleClass.Hazmat => "hazmat",
        _ => "car",
    };

    /// <summary>The UN class as the probe format writes it ("3", "2.1"), or null for none.</summary>
    public static string? HazmatText(ushort un) =>
        un == 0 ? null : (un % 10 == 0 ? (un / 10).ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{un / 10}.{un % 10}");

    /// <summary>
    /// Parses a UN dangerous-goods class ("1" … "9", or one of the divisions the UN Model Regulations define:
    /// 1.1–1.6, 2.1–2.3, 4.1–4.3, 5.1–5.2, 6.1–6.2) into class × 10 + division; "" and "none" mean none (0).
    /// A division that does not exist ("9.9", "3.1") is refused: it is a unit's or a registry's error, not a class.
    /// As a table of numbers writes them (pandas turns a column with gaps into floats): "3.0" is class 3, "0" and "0.0" none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParseHazmat(ReadOnlySpan<byte> utf8, out ushort un)
    {
        un = 0;
        if (utf8.IsEmpty || utf8.SequenceEqual("none"u8) || utf8.SequenceEqual("0"u8) || utf8.SequenceEqual("0.0"u8)) return true;
        if (utf8[0] is < (byte)'1' or > (byte)'9') return false;
        int cls = utf8[0] - '0';
        if (utf8.Length == 1 || (utf8.Length == 3 && utf8[1] == '.' && utf8[2] == '0'))
        {
            un = (ushort)(cls * 10);
            return true;
        }
        if (utf8.Length == 3 && utf8[1] == '.' && utf8[2] >= (byte)'1' && utf8[2] - '0' <= LastDivision(cls))
        {
            un = (ushort)((cls * 10) + (utf8[2] - '0'));
            return true;
        }
        return false;
    }

    /// <summary>Whether a code of class × 10 + division (0: none) is a UN class or division that exists.</summary>
    public static bool IsHazmatCode(int un) => un == 0 || (un is >= 10 and <= 99 && un % 10 <= LastDivision(un / 10));

    /// <summary>The last division of a UN class (0: the class has none).</summary>
    private static int LastDivision(int cls) => cls switch { 1 => 6, 2 or 4 => 3, 5 or 6 => 2, _ => 0 };
}
