using System.Buffers;
using System.Buffers.Binary;

namespace Traffic.Connectors.Jt808;

/// <summary>Why a JT/T 808 frame or message was refused; <see cref="Jt808Frame.Code"/> names each for dead letters.</summary>
public enum Jt808Error : byte
{
    None = 0,
    /// <summary>Bytes outside any frame (before a start flag).</summary>
    Garbage,
    /// <summary><c>0x7d</c> followed by something other than <c>0x01</c> or <c>0x02</c>.</summary>
    BadEscape,
    /// <summary>Shorter than a header and a check code.</summary>
    TooShort,
    /// <summary>The check code is not the XOR of the header and body.</summary>
    Checksum,
    /// <summary>The body's length in the header is not the body's length.</summary>
    Length,
    /// <summary>No end flag within <see cref="Jt808Frame.MaxFrameBytes"/>.</summary>
    TooLong,
    /// <summary>A terminal number that is not BCD digits.</summary>
    Terminal,
    /// <summary>A sub-package (the gateway reassembles those of the messages it reads); one out of its message's order.</summary>
    Subpackaged,
    /// <summary>An RSA-encrypted body: this gateway holds no key.</summary>
    Encrypted,
    /// <summary>A body too short or inconsistent for its message.</summary>
    Body,
    /// <summary>A position's BCD time that is not a real date and time.</summary>
    Time,
    /// <summary>A latitude over 90° or a longitude over 180°.</summary>
    Position,
    /// <summary>A heading over 360° (360 itself is north, as many units write it, and reads as 0).</summary>
    Heading,
    /// <summary>A registration's plate longer than a vehicle id may be (<see cref="Traffic.Engine.Probes.VehicleIds.MaxIdBytes"/> bytes of UTF-8).</summary>
    Plate,
    /// <summary>The gateway failed on the frame: a defect of its own, counted in <see cref="Jt808Counters.Faults"/>; the connection goes on.</summary>
    Internal,
}

/// <summary>
/// A message header (JT/T 808-2013, or -2019 when <see cref="Version2019"/>); a sub-package's carries the message's
/// packet count and this packet's index (from 1).
/// </summary>
public readonly record struct Jt808Header(ushort MessageId, int BodyLength, bool Subpackaged, int Encryption, bool Version2019, byte ProtocolVersion, string Terminal, ushort Serial,
    ushort PacketTotal = 0, ushort PacketIndex = 0);

/// <summary>
/// The framing of JT/T 808 (JT/T 808-2013 §4, -2019 §4): each message travels between two <c>0x7e</c> flags, with
/// <c>0x7e</c> inside written as <c>0x7d 0x02</c> and <c>0x7d</c> as <c>0x7d 0x01</c>, and ends in a check code that is
/// the XOR of every byte of the header and body. Words are big-endian; the terminal's number is 6 BCD bytes (12
/// digits; 10 bytes, 20 digits, in the 2019 header, which sets bit 14 of the body properties and carries a protocol
/// version byte).
/// </summary>
public static class Jt808Frame
{
    public const byte Flag = 0x7e;
    public const byte Escape = 0x7d;

    /// <summary>Longest frame accepted between its flags, escaped: a whole message is at most 1,023 body bytes plus its header.</summary>
    public const int MaxFrameBytes = 4096;

    /// <summary>The stable code of an error, e.g. <c>frame:checksum</c>.</summary>
    public static string Code(Jt808Error e) => e switch
    {
        Jt808Error.Garbage => "frame:garbage",
        Jt808Error.BadEscape => "frame:bad_escape",
        Jt808Error.TooShort => "frame:too_short",
        Jt808Error.Checksum => "frame:checksum",
        Jt808Error.Length => "frame:length",
        Jt808Error.TooLong => "frame:too_long",
        Jt808Error.Terminal => "header:terminal",
        Jt808Error.Subpackaged => "message:subpackaged",
        Jt808Error.Encrypted => "message:encrypted",
        Jt808Error.Body => "message:malformed",
        Jt808Error.Time => "time:malformed",
        Jt808Error.Position => "position:out_of_range",
        Jt808Error.Heading => "position:heading",
        Jt808Error.Plate => "registration:plate_too_long",
        Jt808Error.Internal => "gateway:internal_error",
        _ => "none",
    };

    /// <summary>The reason in words, for a dead letter.</summary>
    public static string Reason(Jt808Error e) => e switch
    {
        Jt808Error.Garbage => "bytes outside a frame",
        Jt808Error.BadEscape => "0x7d not followed by 0x01 or 0x02",
        Jt808Error.TooShort => "frame shorter than a header and check code",
        Jt808Error.Checksum => "check code does not match",
        Jt808Error.Length => "body length differs from the header's",
        Jt808Error.TooLong => $"no end flag within {MaxFrameBytes} bytes",
        Jt808Error.Terminal => "terminal number is not BCD digits",
        Jt808Error.Subpackaged => "sub-package out of its message's order, or a message never completed",
        Jt808Error.Encrypted => "encrypted body",
        Jt808Error.Body => "body too short or inconsistent for its message",
        Jt808Error.Time => "time is not a real BCD date and time",
        Jt808Error.Position => "latitude over 90 or longitude over 180 degrees",
        Jt808Error.Heading => "heading over 360 degrees",
        Jt808Error.Plate => $"plate longer than a vehicle id may be ({Traffic.Engine.Probes.VehicleIds.MaxIdBytes} bytes of UTF-8)",
        Jt808Error.Internal => "the gateway failed on this frame (a defect of its own; the connection went on)",
        _ => "",
    };

    /// <summary>Undoes the escaping of a frame's content (between its flags) into <paramref name="into"/>; -1 on a bad escape.</summary>
    public static int Unescape(ReadOnlySpan<byte> escaped, Span<byte> into)
    {
        int n = 0;
        for (int i = 0; i < escaped.Length; i++)
        {
            byte b = escaped[i];
            if (b == Escape)
            {
                if (++i >= escaped.Length) return -1;
                b = escaped[i] switch { 0x01 => Escape, 0x02 => Flag, _ => (byte)0 };
                if (b == 0) return -1;
            }
            into[n++] = b;
        }
        return n;
    }

    /// <summary>
    /// Takes the next piece of <paramref name="buffer"/>: a frame's escaped content between its flags (error None), or
    /// bytes that are not one (before a start flag: <see cref="Jt808Error.Garbage"/>; no end flag within the limit:
    /// <see cref="Jt808Error.TooLong"/>). False when more bytes are needed.
    /// </summary>
    public static bool TryTake(ref ReadOnlySequence<byte> buffer, bool completed, out ReadOnlySequence<byte> frame, out Jt808Error error)
    {
        frame = default;
        error = Jt808Error.None;
        while (true)
        {
            SequencePosition? start = buffer.PositionOf(Flag);
            if (start == null)
            {
                if (buffer.IsEmpty || (!completed && buffer.Length < MaxFrameBytes)) return false;
                frame = buffer;
                buffer = buffer.Slice(buffer.End);
                error = Jt808Error.Garbage;
                return true;
            }
            if (!buffer.Slice(0, start.Value).IsEmpty)
            {
                frame = buffer.Slice(0, start.Value);
                buffer = buffer.Slice(start.Value);
                error = Jt808Error.Garbage;
                return true;
            }
            ReadOnlySequence<byte> rest = buffer.Slice(1);
            SequencePosition? end = rest.PositionOf(Flag);
            if (end == null)
            {
                if (rest.Length <= MaxFrameBytes && !completed) return false;
                if (rest.IsEmpty)
                {
                    buffer = rest; // a lone flag as the stream ends: no frame, no bytes to keep
                    return false;
                }
                frame = rest;
                buffer = buffer.Slice(buffer.End);
                error = completed && rest.Length <= MaxFrameBytes ? Jt808Error.TooShort : Jt808Error.TooLong;
                return true;
            }
            ReadOnlySequence<byte> content = rest.Slice(0, end.Value);
            if (content.IsEmpty)
            {
                buffer = rest; // "7e 7e": one frame's end flag and the next one's start; the second flag starts a frame
                continue;
            }
            if (content.Length > MaxFrameBytes)
            {
                frame = content;
                buffer = rest.Slice(end.Value);
                error = Jt808Error.TooLong;
                return true;
            }
            frame = content;
            buffer = rest.Slice(rest.GetPosition(1, end.Value));
            return true;
        }
    }

    /// <summary>
    /// Reads a message's header from its unescaped content (header, body, check code) and checks the code and the body's
    /// length. The body is then <c>content.Slice(bodyOffset, header.BodyLength)</c>.
    /// </summary>
    public static Jt808Error TryParse(ReadOnlySpan<byte> content, out Jt808Header header, out int bodyOffset) =>
        TryParse(content, out header, out bodyOffset, known: null);

    /// <summary>
    /// <see cref="TryParse(ReadOnlySpan{byte}, out Jt808Header, out int)"/>, the header's terminal number the
    /// <paramref name="known"/> string itself when its digits are the same (a connection's frames all carry one number: no
    /// string a frame).
    /// </summary>
    public static Jt808Error TryParse(ReadOnlySpan<byte> content, out Jt808Header header, out int bodyOffset, string? known)
    {
        header = default;
        bodyOffset = 0;
        if (content.Length < 13) return Jt808Error.TooShort; // 2013 header 12 bytes + check code
        byte check = 0;
        foreach (byte b in content[..^1]) check ^= b;
        if (check != content[^1]) return Jt808Error.Checksum;
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(content);
        ushort props = BinaryPrimitives.ReadUInt16BigEndian(content[2..]);
        bool v2019 = (props & 0x4000) != 0;
        bool parts = (props & 0x2000) != 0;
        int encryption = (props >> 10) & 0x7;
        int at = 4;
        byte version = 0;
        if (v2019) version = content[at++];
        int phoneBytes = v2019 ? 10 : 6;
        if (content.Length < at + phoneBytes + 2 + (parts ? 4 : 0) + 1) return Jt808Error.TooShort;
        if (!TryBcdDigits(content.Slice(at, phoneBytes), known, out string terminal)) return Jt808Error.Terminal;
        at += phoneBytes;
        ushort serial = BinaryPrimitives.ReadUInt16BigEndian(content[at..]);
        at += 2;
        ushort total = 0, index = 0;
        if (parts)
        {
            total = BinaryPrimitives.ReadUInt16BigEndian(content[at..]);
            index = BinaryPrimitives.ReadUInt16BigEndian(content[(at + 2)..]);
            at += 4;
        }
        int length = props & 0x3ff;
        header = new Jt808Header(id, length, parts, encryption, v2019, version, terminal, serial, total, index);
        bodyOffset = at;
        if (content.Length - 1 - at != length) return Jt808Error.Length;
        if (encryption != 0) return Jt808Error.Encrypted;
        if (parts) return Jt808Error.Subpackaged; // a whole frame; the message is whole once its packets are
        return Jt808Error.None;
    }

    /// <summary>
    /// A whole frame, flags included: the header for <paramref name="terminal"/> (in the 2019 layout when
    /// <paramref name="version2019"/>), the body, the check code, escaped; one array of its exact length.
    /// </summary>
    public static byte[] Build(ushort messageId, string terminal, ushort serial, ReadOnlySpan<byte> body, bool version2019 = false, byte protocolVersion = 1)
    {
        if (body.Length > 0x3ff) throw new ArgumentException("a JT/T 808 body is at most 1,023 bytes", nameof(body));
        int phoneBytes = version2019 ? 10 : 6;
        int headerBytes = 4 + (version2019 ? 1 : 0) + phoneBytes + 2;
        Span<byte> header = stackalloc byte[17];
        header = header[..headerBytes];
        BinaryPrimitives.WriteUInt16BigEndian(header, messageId);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(body.Length | (version2019 ? 0x4000 : 0)));
        int at = 4;
        if (version2019) header[at++] = protocolVersion;
        WriteBcdDigits(terminal, header.Slice(at, phoneBytes));
        at += phoneBytes;
        BinaryPrimitives.WriteUInt16BigEndian(header[at..], serial);
        byte check = 0;
        foreach (byte b in header) check ^= b;
        foreach (byte b in body) check ^= b;
        ReadOnlySpan<byte> checkByte = [check];

        int length = 2 + EscapedLength(header) + EscapedLength(body) + EscapedLength(checkByte);
        var frame = new byte[length];
        frame[0] = Flag;
        int n = 1;
        n = EscapeInto(header, frame, n);
        n = EscapeInto(body, frame, n);
        n = EscapeInto(checkByte, frame, n);
        frame[n] = Flag;
        return frame;
    }

    /// <summary>A frame of a message's content (header, body and check code, as <see cref="TryParse(ReadOnlySpan{byte}, out Jt808Header, out int)"/> reads it): escaped, between flags.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> content)
    {
        var frame = new byte[2 + EscapedLength(content)];
        frame[0] = Flag;
        frame[EscapeInto(content, frame, 1)] = Flag;
        return frame;
    }

    private static int EscapedLength(ReadOnlySpan<byte> raw) => raw.Length + raw.Count(Flag) + raw.Count(Escape);

    private static int EscapeInto(ReadOnlySpan<byte> raw, byte[] into, int at)
    {
        foreach (byte b in raw)
        {
            if (b == Flag || b == Escape)
            {
                into[at++] = Escape;
                into[at++] = b == Flag ? (byte)0x02 : (byte)0x01;
            }
            else
            {
                into[at++] = b;
            }
        }
        return at;
    }

    /// <summary>
    /// BCD bytes as their digits ("013912345678"), the <paramref name="known"/> string itself when its digits are these;
    /// false when a nibble is not a digit.
    /// </summary>
    private static bool TryBcdDigits(ReadOnlySpan<byte> bcd, string? known, out string digits)
    {
        Span<char> chars = stackalloc char[bcd.Length * 2];
        for (int i = 0; i < bcd.Length; i++)
        {
            int hi = bcd[i] >> 4, lo = bcd[i] & 0xf;
            if (hi > 9 || lo > 9)
            {
                digits = "";
                return false;
            }
            chars[2 * i] = (char)('0' + hi);
            chars[(2 * i) + 1] = (char)('0' + lo);
        }
        digits = known != null && chars.SequenceEqual(known) ? known : new string(chars);
        return true;
    }

    /// <summary>Digits into BCD bytes, right-aligned and left-padded with zeros (a number too long keeps its last digits).</summary>
    public static void WriteBcdDigits(string digits, Span<byte> bcd)
    {
        bcd.Clear();
        int d = digits.Length - 1;
        for (int i = (bcd.Length * 2) - 1; i >= 0 && d >= 0; i--, d--)
        {
            int v = digits[d] - '0';
            if (v is < 0 or > 9) throw new ArgumentException($"terminal number '{digits}' is not all digits", nameof(digits));
            bcd[i / 2] |= (byte)((i % 2 == 0) ? v << 4 : v);
        }
    }
}
