namespace Traffic.Engine.Probes;

/// <summary>The field a decoding error is about.</summary>
public enum ProbeField : byte
{
    Record = 0,
    VehicleId,
    Time,
    Lon,
    Lat,
    SpeedKmh,
    Heading,
    Class,
    Hazmat,
    Fix,
    AccuracyM,
    Alarm,
    Status,
}

/// <summary>Why a record was rejected.</summary>
public enum DecodeReason : byte
{
    None = 0,
    /// <summary>The record is not well-formed (broken JSON, wrong number of CSV columns, short binary record).</summary>
    Malformed,
    /// <summary>A required field is absent.</summary>
    Missing,
    /// <summary>The field has the wrong type (a string where a number belongs...).</summary>
    WrongType,
    /// <summary>A number outside the field's range (a latitude of 95, a negative speed...).</summary>
    OutOfRange,
    /// <summary>NaN or an infinity.</summary>
    NotFinite,
    /// <summary>A value the field does not know (an unknown class, a UN class that is not one).</summary>
    UnknownValue,
    /// <summary>A time before 2000-01-01, which no fix of this system can have.</summary>
    TimeTooEarly,
    /// <summary>A time more than a day ahead of the newest time accepted so far.</summary>
    TimeInFuture,
    /// <summary>Longer than the format allows (a vehicle id over 64 bytes).</summary>
    TooLong,
    /// <summary>A date and time without a UTC offset: which zone it meant would be a guess.</summary>
    NoUtcOffset,
}

/// <summary>A decoding error: the field and the reason, with no allocation until it is printed.</summary>
public readonly record struct DecodeError(ProbeField Field, DecodeReason Reason)
{
    public bool IsError => Reason != DecodeReason.None;

    /// <summary>The field's name in the probe format.</summary>
    public static string FieldName(ProbeField field) => field switch
    {
        ProbeField.VehicleId => "vehicle_id",
        ProbeField.Time => "time",
        ProbeField.Lon => "lon",
        ProbeField.Lat => "lat",
        ProbeField.SpeedKmh => "speed_kmh",
        ProbeField.Heading => "heading",
        ProbeField.Class => "class",
        ProbeField.Hazmat => "hazmat",
        ProbeField.Fix => "fix",
        ProbeField.AccuracyM => "accuracy_m",
        ProbeField.Alarm => "alarm",
        ProbeField.Status => "status",
        _ => "record",
    };

    /// <summary>A short stable code for counting rejections by reason, e.g. <c>lat:out_of_range</c>.</summary>
    public string Code => FieldName(Field) + ":" + Reason switch
    {
        DecodeReason.Malformed => "malformed",
        DecodeReason.Missing => "missing",
        DecodeReason.WrongType => "wrong_type",
        DecodeReason.OutOfRange => "out_of_range",
        DecodeReason.NotFinite => "not_finite",
        DecodeReason.UnknownValue => "unknown_value",
        DecodeReason.TimeTooEarly => "before_2000",
        DecodeReason.TimeInFuture => "in_the_future",
        DecodeReason.TooLong => "too_long",
        DecodeReason.NoUtcOffset => "no_utc_offset",
        _ => "none",
    };

    public override string ToString() => Reason switch
    {
        DecodeReason.Malformed => Field == ProbeField.Record ? "malformed record" : $"{FieldName(Field)}: malformed value",
        DecodeReason.Missing => $"{FieldName(Field)}: required field missing",
        DecodeReason.WrongType => $"{FieldName(Field)}: wrong type",
        DecodeReason.OutOfRange => $"{FieldName(Field)}: out of range",
        DecodeReason.NotFinite => $"{FieldName(Field)}: not a finite number",
        DecodeReason.UnknownValue => $"{FieldName(Field)}: unknown value",
        DecodeReason.TimeTooEarly => "time: before 2000-01-01",
        DecodeReason.TimeInFuture => "time: more than a day ahead of the newest accepted time",
        DecodeReason.TooLong => $"{FieldName(Field)}: too long",
        DecodeReason.NoUtcOffset => $"{FieldName(Field)}: no UTC offset (Z or +08:00)",
        _ => "no error",
    };
}
