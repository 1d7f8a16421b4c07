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

    /// <summary>Parses a class name of the probe format.</summary>
    public static bool TryParseClass(ReadOnlySpan<byte> utf8, out VehicleClass c)
    {
        c = utf8 switch
        {
            _ when utf8.SequenceEqual("bus"u8) => VehicleClass.Bus,
            _ when utf8.SequenceEqual("taxi"u8) => VehicleClass.Taxi,
            _ when utf8.SequenceEqual("truck"u8) => VehicleClass.Truck,
            _ when utf8.SequenceEqual("hazmat"u8) => VehicleClass.Hazmat,
            _ when utf8.SequenceEqual("car"u8) => VehicleClass.Car,
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
    /// Parses a UN dangerous-goods class ("1" … "9", or class.division such as "2.1", "5.2") into
    /// class × 10 + division; "" and "none" mean none (0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParseHazmat(ReadOnlySpan<byte> utf8, out ushort un)
    {
        un = 0;
        if (utf8.IsEmpty || utf8.SequenceEqual("none"u8)) return true;
        if (utf8[0] is < (byte)'1' or > (byte)'9') return false;
        int cls = utf8[0] - '0';
        if (utf8.Length == 1)
        {
            un = (ushort)(cls * 10);
            return true;
        }
        if (utf8.Length == 3 && utf8[1] == '.' && utf8[2] is >= (byte)'1' and <= (byte)'9')
        {
            un = (ushort)((cls * 10) + (utf8[2] - '0'));
            return true;
        }
        return false;
    }
}
