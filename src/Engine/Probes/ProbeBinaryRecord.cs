using System.Buffers.Binary;

namespace Traffic.Engine.Probes;

/// <summary>
/// The compact fixed-layout binary probe record: 128 bytes, little-endian, so a file of them is read by
/// offset with no parsing. Layout in docs/probe-formats.md.
/// </summary>
public static class ProbeBinaryRecord
{
    public const int Size = 128;

    /// <summary>Format version in byte 0; a reader refuses other values.</summary>
    public const byte Version = 1;

    private const int IdOffset = 64;

    [Flags]
    private enum Flags : uint
    {
        Fix = 1,
        Speed = 2,
        Heading = 4,
        Accuracy = 8,
        Alarm = 16,
        Status = 32,
    }

    /// <summary>Writes a probe; false when the vehicle id is longer than 64 UTF-8 bytes.</summary>
    public static bool TryWrite(in Probe p, ReadOnlySpan<byte> vehicleIdUtf8, Span<byte> record)
    {
        if (vehicleIdUtf8.Length > VehicleIds.MaxIdBytes || record.Length < Size) return false;
        record[..Size].Clear();
        record[0] = Version;
        record[1] = (byte)p.Class;
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], p.Hazmat);
        Flags f = (p.Fix ? Flags.Fix : 0) | (float.IsNaN(p.SpeedKmh) ? 0 : Flags.Speed) | (float.IsNaN(p.Heading) ? 0 : Flags.Heading)
            | (float.IsNaN(p.AccuracyM) ? 0 : Flags.Accuracy) | (p.HasAlarm ? Flags.Alarm : 0) | (p.HasStatus ? Flags.Status : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)f);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], p.TimeMs);
        BinaryPrimitives.WriteDoubleLittleEndian(record[16..], p.Lon);
        BinaryPrimitives.WriteDoubleLittleEndian(record[24..], p.Lat);
        BinaryPrimitives.WriteSingleLittleEndian(record[32..], p.SpeedKmh);
        BinaryPrimitives.WriteSingleLittleEndian(record[36..], p.Heading);
        BinaryPrimitives.WriteSingleLittleEndian(record[40..], p.AccuracyM);
        BinaryPrimitives.WriteUInt32LittleEndian(record[44..], p.Alarm);
        BinaryPrimitives.WriteUInt32LittleEndian(record[48..], p.Status);
        record[52] = (byte)vehicleIdUtf8.Length;
        vehicleIdUtf8.CopyTo(record[IdOffset..]);
        return true;
    }

    /// <summary>Decodes one record with the same checks as the text formats.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> record, VehicleIds ids, ref long newestMs, out Probe p, out DecodeError error)
    {
        p = Probe.Empty;
        if (record.Length < Size || record[0] != Version)
        {
            error = new(ProbeField.Record, DecodeReason.Malformed);
            return false;
        }
        int idLength = record[52];
        if (idLength == 0)
        {
            error = new(ProbeField.VehicleId, DecodeReason.Missing);
            return false;
        }
        if (idLength > VehicleIds.MaxIdBytes)
        {
            error = new(ProbeField.VehicleId, DecodeReason.TooLong);
            return false;
        }
        if (record[1] > (byte)VehicleClass.Hazmat)
        {
            error = new(ProbeField.Class, DecodeReason.UnknownValue);
            return false;
        }
        ushort hazmat = BinaryPrimitives.ReadUInt16LittleEndian(record[2..]);
        if (!ProbeRules.IsHazmatCode(hazmat))
        {
            error = new(ProbeField.Hazmat, DecodeReason.UnknownValue);
            return false;
        }
        int vehicle = ids.Intern(record.Slice(IdOffset, idLength));
        if (vehicle < 0)
        {
            error = new(ProbeField.VehicleId, DecodeReason.Malformed);
            return false;
        }
        var f = (Flags)BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
        p.Vehicle = vehicle;
        p.Class = (VehicleClass)record[1];
        p.Hazmat = hazmat;
        p.Fix = (f & Flags.Fix) != 0;
        p.TimeMs = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
        p.Lon = BinaryPrimitives.ReadDoubleLittleEndian(record[16..]);
        p.Lat = BinaryPrimitives.ReadDoubleLittleEndian(record[24..]);
        if ((f & Flags.Speed) != 0) p.SpeedKmh = BinaryPrimitives.ReadSingleLittleEndian(record[32..]);
        if ((f & Flags.Heading) != 0) p.Heading = BinaryPrimitives.ReadSingleLittleEndian(record[36..]);
        if ((f & Flags.Accuracy) != 0) p.AccuracyM = BinaryPrimitives.ReadSingleLittleEndian(record[40..]);
        if ((f & Flags.Alarm) != 0)
        {
            p.Alarm = BinaryPrimitives.ReadUInt32LittleEndian(record[44..]);
            p.HasAlarm = true;
        }
        if ((f & Flags.Status) != 0)
        {
            p.Status = BinaryPrimitives.ReadUInt32LittleEndian(record[48..]);
            p.HasStatus = true;
        }
        if (float.IsNaN(p.SpeedKmh) && (f & Flags.Speed) != 0)
        {
            error = new(ProbeField.SpeedKmh, DecodeReason.NotFinite);
            return false;
        }
        if (float.IsNaN(p.Heading) && (f & Flags.Heading) != 0)
        {
            error = new(ProbeField.Heading, DecodeReason.NotFinite);
            return false;
        }
        error = ProbeRules.Validate(ref p, newestMs);
        if (error.IsError) return false;
        if (p.TimeMs > newestMs) newestMs = p.TimeMs;
        return true;
    }
}
