using System.Buffers.Binary;
using System.Text;

namespace Traffic.Connectors.Jt808;

/// <summary>A position report's fields (the basic information of message 0x0200).</summary>
public readonly record struct Jt808Position(uint Alarm, uint Status, double Lat, double Lon, int AltitudeM, float SpeedKmh, float Heading, long TimeMs)
{
    /// <summary>Status bit 1: the unit has a GNSS fix (定位); without one its position is the last it had, or none.</summary>
    public bool Positioned => (Status & 0x2) != 0;
}

/// <summary>The message ids this gateway speaks, and the bodies it reads and writes.</summary>
public static class Jt808Messages
{
    public const ushort TerminalGeneralResponse = 0x0001;
    public const ushort Heartbeat = 0x0002;
    public const ushort Logout = 0x0003;
    public const ushort Registration = 0x0100;
    public const ushort Authentication = 0x0102;
    public const ushort PositionReport = 0x0200;
    public const ushort PositionQueryResponse = 0x0201;
    public const ushort BatchPositions = 0x0704;
    public const ushort PlatformGeneralResponse = 0x8001;
    public const ushort RegistrationResponse = 0x8100;

    /// <summary>Results of the platform's general response.</summary>
    public const byte Success = 0, Failure = 1, MessageError = 2, NotSupported = 3;

    /// <summary>Length of a position report's basic information; additional items may follow.</summary>
    public const int PositionBytes = 28;

    private static readonly TimeSpan s_chinaOffset = TimeSpan.FromHours(8);

    /// <summary>GBK (code page 936): plates and auth codes are written in it.</summary>
    public static Encoding Gbk { get; } = CreateGbk();

    private static Encoding CreateGbk()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        return Encoding.GetEncoding(936);
    }

    /// <summary>
    /// Reads the basic information of a position report: alarm and status bits, latitude and longitude in millionths
    /// of a degree (south and west by status bits 2 and 3), altitude in metres, speed in tenths of km/h, heading in
    /// degrees (360 read as 0, over 360 refused), and the time as BCD <c>YYMMDDhhmmss</c> in GMT+8 (JT/T 808-2013 §8.18).
    /// Additional items after it are not read.
    /// </summary>
    public static Jt808Error TryReadPosition(ReadOnlySpan<byte> body, out Jt808Position position)
    {
        position = default;
        if (body.Length < PositionBytes) return Jt808Error.Body;
        uint alarm = BinaryPrimitives.ReadUInt32BigEndian(body);
        uint status = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
        double lat = BinaryPrimitives.ReadUInt32BigEndian(body[8..]) / 1e6;
        double lon = BinaryPrimitives.ReadUInt32BigEndian(body[12..]) / 1e6;
        if (lat > 90 || lon > 180) return Jt808Error.Position;
        if ((status & 0x4) != 0) lat = -lat;
        if ((status & 0x8) != 0) lon = -lon;
        int altitude = BinaryPrimitives.ReadInt16BigEndian(body[16..]);
        float speed = BinaryPrimitives.ReadUInt16BigEndian(body[18..]) / 10f;
        int heading = BinaryPrimitives.ReadUInt16BigEndian(body[20..]);
        // The standard's range is 0–359; 360 is north as many units write it (the probe rules read it so too), and
        // anything over it is no direction: refused, as the engine would refuse the probe, rather than guessed at.
        if (heading == 360) heading = 0;
        else if (heading > 360) return Jt808Error.Heading;
        if (!TryBcdTime(body.Slice(22, 6), out long timeMs)) return Jt808Error.Time;
        position = new Jt808Position(alarm, status, lat, lon, altitude, speed, heading, timeMs);
        return Jt808Error.None;
    }

    /// <summary>
    /// Where the position reports of a batch upload (0x0704: a count, a type, then each report's length and body) lie in
    /// it, into <paramref name="items"/>; <see cref="Jt808Error.Body"/> when the lengths do not add up.
    /// </summary>
    public static Jt808Error TryReadBatch(ReadOnlySpan<byte> body, List<(int Offset, int Length)> items)
    {
        items.Clear();
        if (body.Length < 3) return Jt808Error.Body;
        int count = BinaryPrimitives.ReadUInt16BigEndian(body);
        int at = 3;
        for (int i = 0; i < count; i++)
        {
            if (at + 2 > body.Length) return Jt808Error.Body;
            int length = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            at += 2;
            if (at + length > body.Length) return Jt808Error.Body;
            items.Add((at, length));
            at += length;
        }
        return at == body.Length ? Jt808Error.None : Jt808Error.Body;
    }

    /// <summary>
    /// The plate of a terminal registration (0x0100), GBK; null when the plate colour is 0 (no plate: the body then
    /// carries the VIN, which is not a vehicle id the registry knows). 2013: province, city, maker (5), model (20),
    /// terminal id (7), colour, plate; 2019: maker (11), model (30), terminal id (30).
    /// </summary>
    public static Jt808Error TryReadRegistration(ReadOnlySpan<byte> body, bool version2019, out string? plate)
    {
        plate = null;
        int colourAt = version2019 ? 4 + 11 + 30 + 30 : 4 + 5 + 20 + 7;
        if (body.Length < colourAt + 1) return Jt808Error.Body;
        byte colour = body[colourAt];
        ReadOnlySpan<byte> text = body[(colourAt + 1)..];
        int nul = text.IndexOf((byte)0);
        if (nul >= 0) text = text[..nul];
        string value = Gbk.GetString(text).Trim();
        if (colour != 0 && value.Length > 0) plate = value;
        return Jt808Error.None;
    }

    /// <summary>
    /// The auth code of an authentication (0x0102): the whole body in 2013; a length byte and the code in 2019 (then the
    /// IMEI and software version, not read). Trailing NULs are not part of it: units keep the code in a fixed buffer and
    /// some send the whole buffer.
    /// </summary>
    public static Jt808Error TryReadAuthCode(ReadOnlySpan<byte> body, bool version2019, out string code)
    {
        code = "";
        if (version2019)
        {
            if (body.Length < 1 || body.Length < 1 + body[0]) return Jt808Error.Body;
            body = body.Slice(1, body[0]);
        }
        code = Gbk.GetString(body.TrimEnd((byte)0));
        return Jt808Error.None;
    }

    /// <summary>Length of the platform's general response body.</summary>
    public const int GeneralResponseBytes = 5;

    /// <summary>The body of the platform's general response (0x8001): the message answered and the result.</summary>
    public static void WriteGeneralResponse(Span<byte> body, ushort serial, ushort messageId, byte result)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, serial);
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], messageId);
        body[4] = result;
    }

    /// <summary>The body of a registration response (0x8100): the registration answered, the result, and on success the auth code.</summary>
    public static byte[] RegistrationResponseBody(ushort serial, byte result, string? authCode)
    {
        byte[] code = result == Success && authCode != null ? Gbk.GetBytes(authCode) : [];
        var body = new byte[3 + code.Length];
        BinaryPrimitives.WriteUInt16BigEndian(body, serial);
        body[2] = result;
        code.CopyTo(body, 3);
        return body;
    }

    /// <summary>A position report's basic information (for terminals in tests and tools).</summary>
    public static byte[] PositionBody(in Jt808Position p)
    {
        var body = new byte[PositionBytes];
        uint status = p.Status | (p.Lat < 0 ? 0x4u : 0) | (p.Lon < 0 ? 0x8u : 0);
        BinaryPrimitives.WriteUInt32BigEndian(body, p.Alarm);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), status);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(8), (uint)Math.Round(Math.Abs(p.Lat) * 1e6));
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(12), (uint)Math.Round(Math.Abs(p.Lon) * 1e6));
        BinaryPrimitives.WriteInt16BigEndian(body.AsSpan(16), (short)p.AltitudeM);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(18), (ushort)Math.Round(p.SpeedKmh * 10));
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(20), (ushort)p.Heading);
        DateTime china = DateTimeOffset.FromUnixTimeMilliseconds(p.TimeMs).ToOffset(s_chinaOffset).DateTime;
        Span<int> parts = [china.Year % 100, china.Month, china.Day, china.Hour, china.Minute, china.Second];
        for (int i = 0; i < 6; i++) body[22 + i] = (byte)(((parts[i] / 10) << 4) | (parts[i] % 10));
        return body;
    }

    /// <summary>BCD <c>YYMMDDhhmmss</c> in GMT+8 (years 2000–2099) as epoch milliseconds UTC.</summary>
    public static bool TryBcdTime(ReadOnlySpan<byte> bcd, out long timeMs)
    {
        timeMs = 0;
        Span<int> v = stackalloc int[6];
        for (int i = 0; i < 6; i++)
        {
            int hi = bcd[i] >> 4, lo = bcd[i] & 0xf;
            if (hi > 9 || lo > 9) return false;
            v[i] = (hi * 10) + lo;
        }
        int year = 2000 + v[0];
        if (v[1] is < 1 or > 12 || v[2] < 1 || v[2] > DateTime.DaysInMonth(year, v[1]) || v[3] > 23 || v[4] > 59 || v[5] > 59) return false;
        var china = new DateTimeOffset(year, v[1], v[2], v[3], v[4], v[5], s_chinaOffset);
        timeMs = china.ToUnixTimeMilliseconds();
        return true;
    }
}
