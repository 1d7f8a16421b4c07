using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace Traffic.Engine.Probes;

/// <summary>
/// The fast path of <see cref="ProbeJsonDecoder"/>: a probe record written compactly, as producers write them (one flat
/// object, known fields once each, no whitespace, no escapes, plain numbers), read in one pass over its bytes without
/// <see cref="System.Text.Json.Utf8JsonReader"/>. It only ever succeeds on a record the full decoder accepts with the
/// same values: anything else (whitespace, an escape, an unknown or repeated field, a string time, an exponent that the
/// simple conversion does not cover, any error at all) returns false having changed nothing outside the probe, and the
/// full decoder reads the record from the start, errors included.
/// </summary>
/// <remarks>
/// Numbers: a decimal with at most 2^53 as its digits and at most 22 of them after the point is that integer divided
/// by a power of ten that a double holds exactly, and one IEEE division is correctly rounded, as the runtime's parser
/// is: the same double (Clinger's fast path). Other numbers go through <see cref="Utf8Parser"/>, the parser
/// <see cref="System.Text.Json.Utf8JsonReader.GetDouble"/> uses.
/// </remarks>
internal static class CompactProbeJson
{
    private const ulong MaxExactMantissa = 1UL << 53;

    // 10^0 … 10^22: every one exact in a double.
    private static ReadOnlySpan<double> PowersOfTen =>
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    // The longest field name of the format (vehicle_id, accuracy_m).
    private const int MaxNameBytes = 10;

    /// <summary>Reads a compact record into <paramref name="p"/> (which starts as <see cref="Probe.Empty"/>); false: use the full decoder.</summary>
    public static bool TryRead(ReadOnlySpan<byte> r, VehicleIds ids, ref Probe p)
    {
        if (r.Length < 2 || r[0] != (byte)'{' || r[1] != (byte)'"') return false;
        int i = 1;
        uint seen = 0;
        ReadOnlySpan<byte> id = default;
        while (true)
        {
            if (!TryString(r, ref i, MaxNameBytes, out ReadOnlySpan<byte> key) || (uint)i >= (uint)r.Length || r[i] != (byte)':') return false;
            i++;
            ProbeField field = FieldOf(key);
            uint bit = 1u << (int)field;
            if (field == ProbeField.Record || (seen & bit) != 0) return false;
            seen |= bit;
            if ((uint)i >= (uint)r.Length) return false;
            bool isNull = r[i] == (byte)'n';
            if (isNull && field is ProbeField.VehicleId or ProbeField.Time or ProbeField.Lon or ProbeField.Lat) return false;
            if (isNull)
            {
                if (!r[i..].StartsWith("null"u8)) return false;
                i += 4;
            }
            else
            {
                switch (field)
                {
                    case ProbeField.VehicleId:
                        // Invalid UTF-8 needs no test here: Intern refuses it (-1), and the fast path then gives up.
                        if (!TryString(r, ref i, VehicleIds.MaxIdBytes, out id) || id.IsEmpty) return false;
                        break;
                    case ProbeField.Time:
                        if (!TryInteger(r, ref i, 18, out long ms)) return false;
                        p.TimeMs = ms;
                        break;
                    case ProbeField.Lon:
                        if (!TryNumber(r, ref i, out p.Lon)) return false;
                        break;
                    case ProbeField.Lat:
                        if (!TryNumber(r, ref i, out p.Lat)) return false;
                        break;
                    case ProbeField.SpeedKmh:
                    case ProbeField.Heading:
                    case ProbeField.AccuracyM:
                        if (!TryNumber(r, ref i, out double v)) return false;
                        if (field == ProbeField.SpeedKmh) p.SpeedKmh = (float)v;
                        else if (field == ProbeField.Heading) p.Heading = (float)v;
                        else p.AccuracyM = (float)v;
                        break;
                    case ProbeField.Class:
                        if (!TryString(r, ref i, VehicleIds.MaxIdBytes, out ReadOnlySpan<byte> cls) || !ProbeRules.TryParseClass(cls, out p.Class)) return false;
                        break;
                    case ProbeField.Hazmat:
                        if (!TryString(r, ref i, VehicleIds.MaxIdBytes, out ReadOnlySpan<byte> un) || !ProbeRules.TryParseHazmat(un, out p.Hazmat)) return false;
                        break;
                    case ProbeField.Fix:
                        if (r[i..].StartsWith("true"u8))
                        {
                            p.Fix = true;
                            i += 4;
                        }
                        else if (r[i..].StartsWith("false"u8))
                        {
                            p.Fix = false;
                            i += 5;
                        }
                        else return false;
                        break;
                    case ProbeField.Alarm:
                    case ProbeField.Status:
                        // Nine digits always fit a uint; a minus sign or more digits go to the full decoder.
                        if ((uint)i >= (uint)r.Length || r[i] == (byte)'-' || !TryInteger(r, ref i, 9, out long bits)) return false;
                        if (field == ProbeField.Alarm)
                        {
                            p.Alarm = (uint)bits;
                            p.HasAlarm = true;
                        }
                        else
                        {
                            p.Status = (uint)bits;
                            p.HasStatus = true;
                        }
                        break;
                    default:
                        return false;
                }
            }
            if ((uint)i >= (uint)r.Length) return false;
            byte next = r[i++];
            if (next == (byte)',') continue;
            if (next != (byte)'}' || i != r.Length) return false;
            break;
        }
        const uint required = (1u << (int)ProbeField.VehicleId) | (1u << (int)ProbeField.Time) | (1u << (int)ProbeField.Lon) | (1u << (int)ProbeField.Lat);
        if ((seen & required) != required) return false;
        // Interned last: a record the fast path gives up on must not have added its vehicle.
        p.Vehicle = ids.Intern(id);
        return p.Vehicle >= 0;
    }

    private static ProbeField FieldOf(ReadOnlySpan<byte> key) => key.Length switch
    {
        3 when key.SequenceEqual("lon"u8) => ProbeField.Lon,
        3 when key.SequenceEqual("lat"u8) => ProbeField.Lat,
        3 when key.SequenceEqual("fix"u8) => ProbeField.Fix,
        4 when key.SequenceEqual("time"u8) => ProbeField.Time,
        5 when key.SequenceEqual("class"u8) => ProbeField.Class,
        5 when key.SequenceEqual("alarm"u8) => ProbeField.Alarm,
        6 when key.SequenceEqual("hazmat"u8) => ProbeField.Hazmat,
        6 when key.SequenceEqual("status"u8) => ProbeField.Status,
        7 when key.SequenceEqual("heading"u8) => ProbeField.Heading,
        9 when key.SequenceEqual("speed_kmh"u8) => ProbeField.SpeedKmh,
        10 when key.SequenceEqual("vehicle_id"u8) => ProbeField.VehicleId,
        10 when key.SequenceEqual("accuracy_m"u8) => ProbeField.AccuracyM,
        _ => ProbeField.Record,
    };

    /// <summary>
    /// A string of at most <paramref name="maxBytes"/> bytes at <paramref name="i"/> without escapes or control characters;
    /// its content, and i past its closing quote. Anything else goes to the full decoder: a longer field name is no field's,
    /// a longer value (an id, a class, a UN class) one that decoder rejects as this path would, and a name with an escape
    /// may still spell a field's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryString(ReadOnlySpan<byte> r, scoped ref int i, int maxBytes, out ReadOnlySpan<byte> value)
    {
        value = default;
        if ((uint)i >= (uint)r.Length || r[i] != (byte)'"') return false;
        // A byte loop, one pass for the quote, escapes and control characters: the strings read here (field names, a
        // vehicle id, a class, a UN class) are a few bytes, too short for vectorized searches to pay.
        int start = i + 1;
        int end = Math.Min(r.Length, start + maxBytes + 1);
        int k = start;
        while (true)
        {
            if (k >= end) return false;
            byte b = r[k];
            if (b == (byte)'"') break;
            if (b == (byte)'\\' || b < 0x20) return false;
            k++;
        }
        value = r[start..k];
        i = k + 1;
        return true;
    }

    /// <summary>A JSON integer of at most <paramref name="maxDigits"/> digits (no fraction, no exponent), optionally negative.</summary>
    private static bool TryInteger(ReadOnlySpan<byte> r, ref int i, int maxDigits, out long value)
    {
        value = 0;
        int k = i;
        bool negative = k < r.Length && r[k] == (byte)'-';
        if (negative) k++;
        int first = k;
        ulong m = 0;
        while (k < r.Length && (uint)(r[k] - '0') <= 9) m = (m * 10) + (uint)(r[k++] - '0');
        int digits = k - first;
        if (digits == 0 || digits > maxDigits || (digits > 1 && r[first] == (byte)'0')) return false;
        if (k < r.Length && r[k] is (byte)'.' or (byte)'e' or (byte)'E') return false;
        value = negative ? -(long)m : (long)m;
        i = k;
        return true;
    }

    /// <summary>A JSON number, finite, as <see cref="System.Text.Json.Utf8JsonReader.GetDouble"/> reads it.</summary>
    private static bool TryNumber(ReadOnlySpan<byte> r, ref int i, out double value)
    {
        value = 0;
        int k = i;
        bool negative = k < r.Length && r[k] == (byte)'-';
        if (negative) k++;
        int first = k;
        ulong m = 0;
        int digits = 0;
        while (k < r.Length && (uint)(r[k] - '0') <= 9)
        {
            if (digits < 19) m = (m * 10) + (uint)(r[k] - '0');
            digits++;
            k++;
        }
        int intDigits = k - first;
        if (intDigits == 0 || (intDigits > 1 && r[first] == (byte)'0')) return false;
        int fraction = 0;
        if (k < r.Length && r[k] == (byte)'.')
        {
            k++;
            int fracStart = k;
            while (k < r.Length && (uint)(r[k] - '0') <= 9)
            {
                if (digits < 19) m = (m * 10) + (uint)(r[k] - '0');
                digits++;
                k++;
            }
            fraction = k - fracStart;
            if (fraction == 0) return false;
        }
        bool exponent = false;
        if (k < r.Length && r[k] is (byte)'e' or (byte)'E')
        {
            exponent = true;
            k++;
            if (k < r.Length && r[k] is (byte)'+' or (byte)'-') k++;
            int expStart = k;
            while (k < r.Length && (uint)(r[k] - '0') <= 9) k++;
            if (k == expStart) return false;
        }
        if (!exponent && digits <= 19 && m != 0 && m <= MaxExactMantissa && fraction < PowersOfTen.Length)
        {
            double v = fraction == 0 ? m : m / PowersOfTen[fraction];
            value = negative ? -v : v;
        }
        else if (!exponent && m == 0 && !negative && digits <= 19)
        {
            // Zero ("0", "0.0"): a stopped vehicle's speed, a quarter of all probes; +0 as the runtime's parser reads it.
            // (A negative zero is left to that parser.)
            value = 0;
        }
        else if (!Utf8Parser.TryParse(r[i..k], out value, out int consumed) || consumed != k - i || !double.IsFinite(value))
        {
            return false;
        }
        i = k;
        return true;
    }
}
