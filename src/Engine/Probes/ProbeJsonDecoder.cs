using System.Text.Json;

namespace Traffic.Engine.Probes;

/// <summary>
/// Decodes one NDJSON probe record straight from its bytes: no string is allocated per probe (the vehicle id is
/// interned from its bytes). A compactly written record is read in one pass (<see cref="CompactProbeJson"/>); any
/// other, and any record with an error, by <see cref="Utf8JsonReader"/>. A malformed record yields an error naming
/// the field and the reason; nothing throws out of <see cref="TryDecode"/>.
/// </summary>
public sealed class ProbeJsonDecoder(VehicleIds ids)
{
    private long _newestMs = long.MinValue;

    public VehicleIds Ids { get; } = ids;

    /// <summary>Newest time accepted so far, epoch ms (the reference for "more than a day ahead").</summary>
    public long NewestMs => _newestMs;

    /// <summary>
    /// Whether this decoder checks "more than a day ahead" against the newest time it accepted. Off where
    /// one decoder serves several independent inputs (Kafka partitions): the caller checks per input.
    /// </summary>
    public bool TrackNewest { get; init; } = true;

    /// <summary>Whether compactly written records take the fast path (tests turn it off to compare the two).</summary>
    internal bool Compact { get; init; } = true;

    public bool TryDecode(ReadOnlySpan<byte> record, out Probe probe, out DecodeError error)
    {
        probe = Probe.Empty;
        if (Compact && CompactProbeJson.TryRead(record, Ids, ref probe)) error = default;
        else
        {
            // Whatever the fast path wrote is dropped: the full reader starts again from the record's first byte.
            probe = Probe.Empty;
            try
            {
                error = Read(record, ref probe);
            }
            catch (JsonException)
            {
                error = new(ProbeField.Record, DecodeReason.Malformed);
            }
        }
        if (!error.IsError) error = ProbeRules.Validate(ref probe, TrackNewest ? _newestMs : long.MinValue);
        if (error.IsError) return false;
        if (TrackNewest && probe.TimeMs > _newestMs) _newestMs = probe.TimeMs;
        return true;
    }

    private DecodeError Read(ReadOnlySpan<byte> record, ref Probe p)
    {
        var reader = new Utf8JsonReader(record, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new(ProbeField.Record, DecodeReason.Malformed);
        bool hasId = false, hasTime = false, hasLon = false, hasLat = false;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                // Anything after the object but whitespace is malformed.
                if (reader.Read()) return new(ProbeField.Record, DecodeReason.Malformed);
                break;
            }
            if (reader.TokenType != JsonTokenType.PropertyName) return new(ProbeField.Record, DecodeReason.Malformed);
            ProbeField field;
            if (!reader.ValueIsEscaped) field = FieldOf(ref reader);
            else if (!TryEscapedFieldOf(ref reader, out field)) return new(ProbeField.Record, DecodeReason.Malformed);
            if (!reader.Read()) return new(ProbeField.Record, DecodeReason.Malformed);
            JsonTokenType t = reader.TokenType;
            DecodeError e = default;
            switch (field)
            {
                case ProbeField.VehicleId:
                    if (t != JsonTokenType.String) return new(field, DecodeReason.WrongType);
                    e = ReadVehicle(ref reader, ref p);
                    hasId = true;
                    break;
                case ProbeField.Time:
                    e = ReadTime(ref reader, ref p);
                    hasTime = true;
                    break;
                case ProbeField.Lon:
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    p.Lon = reader.GetDouble();
                    hasLon = true;
                    break;
                case ProbeField.Lat:
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    p.Lat = reader.GetDouble();
                    hasLat = true;
                    break;
                case ProbeField.SpeedKmh:
                    if (t == JsonTokenType.Null) break;
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    p.SpeedKmh = (float)reader.GetDouble();
                    break;
                case ProbeField.Heading:
                    if (t == JsonTokenType.Null) break;
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    p.Heading = (float)reader.GetDouble();
                    break;
                case ProbeField.AccuracyM:
                    if (t == JsonTokenType.Null) break;
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    p.AccuracyM = (float)reader.GetDouble();
                    break;
                case ProbeField.Class:
                    if (t == JsonTokenType.Null) break;
                    if (t != JsonTokenType.String) return new(field, DecodeReason.WrongType);
                    if (!TryReadClass(ref reader, out p.Class)) return new(field, DecodeReason.UnknownValue);
                    break;
                case ProbeField.Hazmat:
                    if (t == JsonTokenType.Null) break;
                    // A number is read by its digits, as the string would be: 3 is "3", 2.1 is "2.1".
                    if (t == JsonTokenType.Number && !reader.HasValueSequence)
                    {
                        if (!ProbeRules.TryParseHazmat(reader.ValueSpan, out p.Hazmat)) return new(field, DecodeReason.UnknownValue);
                        break;
                    }
                    if (t != JsonTokenType.String) return new(field, DecodeReason.WrongType);
                    if (!TryReadHazmat(ref reader, out p.Hazmat)) return new(field, DecodeReason.UnknownValue);
                    break;
                case ProbeField.Fix:
                    if (t == JsonTokenType.True) p.Fix = true;
                    else if (t == JsonTokenType.False) p.Fix = false;
                    else if (t == JsonTokenType.Number && reader.TryGetInt32(out int bit) && bit is 0 or 1) p.Fix = bit == 1; // as CSV and JT/T 808's status bit
                    else if (t != JsonTokenType.Null) return new(field, DecodeReason.WrongType);
                    break;
                case ProbeField.Alarm:
                case ProbeField.Status:
                    if (t == JsonTokenType.Null) break;
                    if (t != JsonTokenType.Number) return new(field, DecodeReason.WrongType);
                    if (!reader.TryGetUInt32(out uint bits)) return new(field, DecodeReason.OutOfRange);
                    if (field == ProbeField.Alarm)
                    {
                        p.Alarm = bits;
                        p.HasAlarm = true;
                    }
                    else
                    {
                        p.Status = bits;
                        p.HasStatus = true;
                    }
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored
                    break;
            }
            if (e.IsError) return e;
        }
        if (!hasId) return new(ProbeField.VehicleId, DecodeReason.Missing);
        if (!hasTime) return new(ProbeField.Time, DecodeReason.Missing);
        if (!hasLon) return new(ProbeField.Lon, DecodeReason.Missing);
        if (!hasLat) return new(ProbeField.Lat, DecodeReason.Missing);
        return default;
    }

    private const int ShortTextBytes = 32;

    // A class or UN class name is read as the string it is: its bytes where they lie, or, when written with JSON
    // escapes ("\u0074axi" is "taxi"), unescaped first. Longer than any such name: no name.
    private static bool TryReadClass(ref Utf8JsonReader reader, out VehicleClass c)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence) return ProbeRules.TryParseClass(reader.ValueSpan, out c);
        Span<byte> buffer = stackalloc byte[ShortTextBytes];
        c = default;
        return TryUnescape(ref reader, buffer, out int n) && ProbeRules.TryParseClass(buffer[..n], out c);
    }

    private static bool TryReadHazmat(ref Utf8JsonReader reader, out ushort un)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence) return ProbeRules.TryParseHazmat(reader.ValueSpan, out un);
        Span<byte> buffer = stackalloc byte[ShortTextBytes];
        un = 0;
        return TryUnescape(ref reader, buffer, out int n) && ProbeRules.TryParseHazmat(buffer[..n], out un);
    }

    private static bool TryUnescape(ref Utf8JsonReader reader, scoped Span<byte> buffer, out int n)
    {
        n = 0;
        long raw = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (raw > 6 * buffer.Length) return false; // not even all escapes would fit
        try
        {
            n = reader.CopyString(buffer);
            return true;
        }
        catch (ArgumentException)
        {
            return false; // too long for any name
        }
        catch (InvalidOperationException)
        {
            return false; // an escaped lone surrogate: no text, so no name
        }
    }

    private DecodeError ReadVehicle(ref Utf8JsonReader reader, ref Probe p)
    {
        Span<byte> buffer = stackalloc byte[VehicleIds.MaxIdBytes];
        scoped ReadOnlySpan<byte> id;
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            int n;
            try
            {
                n = reader.CopyString(buffer);
            }
            catch (ArgumentException)
            {
                return new(ProbeField.VehicleId, DecodeReason.TooLong);
            }
            catch (InvalidOperationException)
            {
                return new(ProbeField.VehicleId, DecodeReason.Malformed); // an escaped lone surrogate ("\uD800"): no text
            }
            id = buffer[..n];
        }
        else
        {
            id = reader.ValueSpan;
        }
        if (id.IsEmpty) return new(ProbeField.VehicleId, DecodeReason.Missing);
        if (id.Length > VehicleIds.MaxIdBytes) return new(ProbeField.VehicleId, DecodeReason.TooLong);
        int v = Ids.Intern(id);
        if (v < 0) return new(ProbeField.VehicleId, DecodeReason.Malformed);
        p.Vehicle = v;
        return default;
    }

    private static DecodeError ReadTime(ref Utf8JsonReader reader, ref Probe p)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out long ms)) p.TimeMs = ms;
                else if (!reader.TryGetDouble(out double d)) return new(ProbeField.Time, DecodeReason.WrongType);
                else if (!ProbeRules.TryTimeFromNumber(d, out p.TimeMs)) return new(ProbeField.Time, DecodeReason.OutOfRange);
                return default;
            case JsonTokenType.String:
            {
                // RFC 3339 is at most some 40 characters; anything longer is no time.
                int length = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
                if (length > 64) return new(ProbeField.Time, DecodeReason.Malformed);
                Span<char> text = stackalloc char[64];
                int n;
                try
                {
                    n = reader.CopyString(text);
                }
                catch (InvalidOperationException)
                {
                    return new(ProbeField.Time, DecodeReason.Malformed); // an escaped lone surrogate: no text
                }
                DecodeReason why = ProbeRules.ParseTimeText(text[..n], out p.TimeMs);
                return why == DecodeReason.None ? default : new(ProbeField.Time, why);
            }
            default:
                return new(ProbeField.Time, DecodeReason.WrongType);
        }
    }

    /// <summary>
    /// <see cref="FieldOf"/> for a name written with escapes; false for one whose escapes are no text (a lone surrogate,
    /// <c>"vehicl\ud83e_id"</c>), which the reader cannot compare and throws for, not with a JsonException: the record is
    /// malformed, where the exception ended the whole read (found by fuzzing, docs/fuzzing.md).
    /// </summary>
    private static bool TryEscapedFieldOf(ref Utf8JsonReader r, out ProbeField field)
    {
        try
        {
            field = FieldOf(ref r);
            return true;
        }
        catch (InvalidOperationException)
        {
            field = ProbeField.Record;
            return false;
        }
    }

    private static ProbeField FieldOf(ref Utf8JsonReader r)
    {
        if (r.ValueTextEquals("vehicle_id"u8)) return ProbeField.VehicleId;
        if (r.ValueTextEquals("time"u8)) return ProbeField.Time;
        if (r.ValueTextEquals("lon"u8)) return ProbeField.Lon;
        if (r.ValueTextEquals("lat"u8)) return ProbeField.Lat;
        if (r.ValueTextEquals("speed_kmh"u8)) return ProbeField.SpeedKmh;
        if (r.ValueTextEquals("heading"u8)) return ProbeField.Heading;
        if (r.ValueTextEquals("class"u8)) return ProbeField.Class;
        if (r.ValueTextEquals("hazmat"u8)) return ProbeField.Hazmat;
        if (r.ValueTextEquals("fix"u8)) return ProbeField.Fix;
        if (r.ValueTextEquals("accuracy_m"u8)) return ProbeField.AccuracyM;
        if (r.ValueTextEquals("alarm"u8)) return ProbeField.Alarm;
        if (r.ValueTextEquals("status"u8)) return ProbeField.Status;
        return ProbeField.Record; // unknown: skipped
    }
}
