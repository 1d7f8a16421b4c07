using System.Buffers;
using System.Text;
using Traffic.Connectors.Jt808;

namespace Traffic.Connectors.Tests.Jt808;

/// <summary>JT/T 808 framing: escaping, the check code, 2013 and 2019 headers, and position reports' fields.</summary>
public class Jt808FrameTests
{
    // A 0x0200 position report written out byte by byte from the standard (JT/T 808-2013 §4.4, §8.18), not by the code
    // under test: terminal 013912345678, serial 0x7e7d (both flag bytes, to be escaped), alarm bit 1 (overspeed),
    // status ACC on + positioned, 22.543338° N 113.935943° E, altitude 12 m, 45.6 km/h, heading 270,
    // 2026-01-05 08:30:15 GMT+8 (= 00:30:15 UTC).
    private static readonly byte[] s_positionContent =
    [
        0x02, 0x00, 0x00, 0x1c, 0x01, 0x39, 0x12, 0x34, 0x56, 0x78, 0x7e, 0x7d,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
        0x01, 0x57, 0xfb, 0xea,
        0x06, 0xca, 0x86, 0x47,
        0x00, 0x0c, 0x01, 0xc8, 0x01, 0x0e,
        0x26, 0x01, 0x05, 0x08, 0x30, 0x15,
    ];

    private static byte[] WithCheck(byte[] content)
    {
        byte check = 0;
        foreach (byte b in content) check ^= b;
        return [.. content, check];
    }

    private static byte[] Escape(byte[] raw)
    {
        var o = new List<byte> { 0x7e };
        foreach (byte b in raw)
        {
            if (b == 0x7e) o.AddRange([0x7d, 0x02]);
            else if (b == 0x7d) o.AddRange([0x7d, 0x01]);
            else o.Add(b);
        }
        o.Add(0x7e);
        return [.. o];
    }

    [Fact]
    public void A_position_report_written_by_hand_is_read_field_by_field()
    {
        byte[] frame = Escape(WithCheck(s_positionContent));
        Assert.Contains((byte)0x7d, frame[1..^1]);        // the serial's flag bytes were escaped
        Assert.DoesNotContain((byte)0x7e, frame[1..^1]);

        var content = new byte[frame.Length];
        int n = Jt808Frame.Unescape(frame.AsSpan(1, frame.Length - 2), content);
        Assert.Equal(s_positionContent.Length + 1, n);
        Assert.Equal(Jt808Error.None, Jt808Frame.TryParse(content.AsSpan(0, n), out Jt808Header h, out int bodyAt));
        Assert.Equal((ushort)0x0200, h.MessageId);
        Assert.Equal("013912345678", h.Terminal);
        Assert.Equal((ushort)0x7e7d, h.Serial);
        Assert.False(h.Version2019);
        Assert.Equal(28, h.BodyLength);

        Assert.Equal(Jt808Error.None, Jt808Messages.TryReadPosition(content.AsSpan(bodyAt, h.BodyLength), out Jt808Position p));
        Assert.Equal(2u, p.Alarm);
        Assert.Equal(3u, p.Status);
        Assert.True(p.Positioned);
        Assert.Equal(22.543338, p.Lat, 6);
        Assert.Equal(113.935943, p.Lon, 6);
        Assert.Equal(12, p.AltitudeM);
        Assert.Equal(45.6f, p.SpeedKmh, 3);
        Assert.Equal(270f, p.Heading);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 0, 30, 15, TimeSpan.Zero).ToUnixTimeMilliseconds(), p.TimeMs);
    }

    [Fact]
    public void Built_frames_read_back_in_both_header_versions_with_flag_bytes_inside_escaped()
    {
        byte[] body = [0x7e, 0x7d, 0x00, 0x7d, 0x02, 0xff];
        foreach (bool v2019 in new[] { false, true })
        {
            string terminal = v2019 ? "00000000013800138000" : "013800138000";
            byte[] frame = Jt808Frame.Build(0x0900, terminal, 0x1234, body, v2019, protocolVersion: 1);
            Assert.Equal(Jt808Frame.Flag, frame[0]);
            Assert.Equal(Jt808Frame.Flag, frame[^1]);
            Assert.DoesNotContain(Jt808Frame.Flag, frame[1..^1]);
            var content = new byte[frame.Length];
            int n = Jt808Frame.Unescape(frame.AsSpan(1, frame.Length - 2), content);
            Assert.Equal(Jt808Error.None, Jt808Frame.TryParse(content.AsSpan(0, n), out Jt808Header h, out int at));
            Assert.Equal((0x0900, terminal, (ushort)0x1234, v2019, 6), (h.MessageId, h.Terminal, h.Serial, h.Version2019, h.BodyLength));
            Assert.Equal(body, content.AsSpan(at, h.BodyLength).ToArray());
            // Wrap frames a message's content as Build does: the same bytes.
            Assert.Equal(frame, Jt808Frame.Wrap(content.AsSpan(0, n)));
        }
    }

    [Fact]
    public void A_wrong_check_code_a_bad_escape_a_wrong_length_and_a_short_frame_are_each_named()
    {
        byte[] good = WithCheck(s_positionContent);
        byte[] badCheck = [.. good];
        badCheck[^1] ^= 0x55;
        Assert.Equal(Jt808Error.Checksum, Jt808Frame.TryParse(badCheck, out _, out _));

        Assert.Equal(-1, Jt808Frame.Unescape([0x01, 0x7d, 0x03, 0x02], new byte[8]));
        Assert.Equal(-1, Jt808Frame.Unescape([0x01, 0x7d], new byte[8]));

        byte[] longer = [.. s_positionContent];
        longer[3] = 0x1d; // says 29 body bytes, carries 28
        Assert.Equal(Jt808Error.Length, Jt808Frame.TryParse(WithCheck(longer), out _, out _));
        Assert.Equal(Jt808Error.TooShort, Jt808Frame.TryParse(WithCheck([0x00, 0x02, 0x00, 0x00]), out _, out _));

        byte[] parts = [.. s_positionContent];
        parts[2] |= 0x20; // sub-packaged: the header grows by 4 bytes the frame lacks
        Assert.NotEqual(Jt808Error.None, Jt808Frame.TryParse(WithCheck(parts), out _, out _));

        byte[] notBcd = [.. s_positionContent];
        notBcd[4] = 0x0a;
        Assert.Equal(Jt808Error.Terminal, Jt808Frame.TryParse(WithCheck(notBcd), out _, out _));
    }

    [Theory]
    [InlineData(new byte[] { 0x26, 0x02, 0x30, 0x08, 0x00, 0x00 })]   // 30 February
    [InlineData(new byte[] { 0x26, 0x13, 0x01, 0x08, 0x00, 0x00 })]   // month 13
    [InlineData(new byte[] { 0x26, 0x01, 0x01, 0x24, 0x00, 0x00 })]   // 24:00
    [InlineData(new byte[] { 0x26, 0x01, 0x01, 0x08, 0x00, 0x6a })]   // not BCD
    public void A_time_that_is_no_real_BCD_date_is_refused(byte[] time)
    {
        byte[] body = s_positionContent[12..];
        time.CopyTo(body, 22);
        Assert.Equal(Jt808Error.Time, Jt808Messages.TryReadPosition(body, out _));
    }

    [Fact]
    public void South_and_west_come_from_the_status_bits_and_no_fix_from_bit_1()
    {
        var p = new Jt808Position(0, 0x1, -33.868820, -151.209290, 5, 0, 0, new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds());
        byte[] body = Jt808Messages.PositionBody(p);
        Assert.Equal(Jt808Error.None, Jt808Messages.TryReadPosition(body, out Jt808Position back));
        Assert.Equal(-33.868820, back.Lat, 6);
        Assert.Equal(-151.209290, back.Lon, 6);
        Assert.False(back.Positioned);
        Assert.Equal(p.TimeMs, back.TimeMs);
        byte[] north = [.. body];
        north[8] = 0x10; // 268 ° of latitude
        Assert.Equal(Jt808Error.Position, Jt808Messages.TryReadPosition(north, out _));
        Assert.Equal(Jt808Error.Body, Jt808Messages.TryReadPosition(body.AsSpan(0, 27), out _));
    }

    [Fact]
    public void A_registration_gives_the_plate_in_GBK_and_no_plate_when_its_colour_is_0()
    {
        byte[] plate = Jt808Messages.Gbk.GetBytes("粤B12345");
        byte[] body = [.. new byte[4 + 5 + 20 + 7], 2, .. plate];
        Assert.Equal(Jt808Error.None, Jt808Messages.TryReadRegistration(body, version2019: false, out string? p));
        Assert.Equal("粤B12345", p);
        body[4 + 5 + 20 + 7] = 0;
        Assert.Equal(Jt808Error.None, Jt808Messages.TryReadRegistration(body, version2019: false, out p));
        Assert.Null(p);
        Assert.Equal(Jt808Error.Body, Jt808Messages.TryReadRegistration(new byte[10], version2019: false, out _));
        byte[] body2019 = [.. new byte[4 + 11 + 30 + 30], 1, .. plate];
        Assert.Equal(Jt808Error.None, Jt808Messages.TryReadRegistration(body2019, version2019: true, out p));
        Assert.Equal("粤B12345", p);
    }

    [Fact]
    public void Auth_codes_name_their_vehicle_and_others_name_none()
    {
        string code = Jt808Gateway.AuthCodeOf("粤B12345");
        Assert.Equal("粤B12345", Jt808Gateway.VehicleOfAuthCode(code));
        Assert.Null(Jt808Gateway.VehicleOfAuthCode("123456"));
        Assert.Null(Jt808Gateway.VehicleOfAuthCode("TR1zz"));
        Assert.Null(Jt808Gateway.VehicleOfAuthCode("TR1"));
    }

    [Fact]
    public void Frames_are_cut_from_a_stream_with_garbage_adjacent_flags_and_a_runaway_frame()
    {
        byte[] a = Jt808Frame.Build(0x0002, "013800138000", 1, []);
        byte[] b = Jt808Frame.Build(0x0002, "013800138000", 2, []);
        byte[] stream = [.. "junk"u8, .. a, .. b];
        var buffer = new ReadOnlySequence<byte>(stream);
        var pieces = new List<(Jt808Error, int)>();
        while (Jt808GatewayFraming(ref buffer, completed: false, out var frame, out var error)) pieces.Add((error, (int)frame.Length));
        Assert.Equal([(Jt808Error.Garbage, 4), (Jt808Error.None, a.Length - 2), (Jt808Error.None, b.Length - 2)], pieces);
        Assert.True(buffer.IsEmpty);

        // A start flag and no end within the limit: cut off as too long, not waited for for ever.
        byte[] runaway = [0x7e, .. new byte[Jt808Frame.MaxFrameBytes + 10]];
        buffer = new ReadOnlySequence<byte>(runaway);
        Assert.True(Jt808GatewayFraming(ref buffer, completed: false, out var f, out var e));
        Assert.Equal(Jt808Error.TooLong, e);
        Assert.Equal(Jt808Frame.MaxFrameBytes + 10, f.Length);

        // Half a frame: wait for the rest.
        buffer = new ReadOnlySequence<byte>(a.AsMemory(0, a.Length - 3));
        Assert.False(Jt808GatewayFraming(ref buffer, completed: false, out _, out _));
    }

    [Fact]
    public void Mutated_and_random_bytes_never_throw_and_every_frame_is_read_or_named()
    {
        // Valid frames with bytes flipped, dropped and inserted, cut anywhere, and plain noise: the reading path (cut,
        // unescape, header, body) must name what it cannot read, never throw, and never lose the valid frames after it.
        var rng = new Random(808);
        long t0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var content = new byte[Jt808Frame.MaxFrameBytes];
        int read = 0, named = 0;
        for (int round = 0; round < 2000; round++)
        {
            var bytes = new List<byte>();
            for (int f = 0; f < 5; f++)
            {
                var p = new Jt808Position((uint)rng.Next(), (uint)rng.Next(), rng.NextDouble() * 90, rng.NextDouble() * 180, rng.Next(-100, 3000),
                    rng.Next(0, 2000) / 10f, rng.Next(360), t0 + rng.Next());
                byte[] frame = Jt808Frame.Build((ushort)rng.Next(0x0200, 0x0202), "0139" + rng.Next(10_000_000, 99_999_999), (ushort)rng.Next(), Jt808Messages.PositionBody(p), rng.Next(2) == 0);
                bytes.AddRange(frame);
            }
            switch (round % 4)
            {
                case 0: for (int k = 0; k < 3; k++) bytes[rng.Next(bytes.Count)] = (byte)rng.Next(256); break;
                case 1: bytes.RemoveAt(rng.Next(bytes.Count)); break;
                case 2: bytes.Insert(rng.Next(bytes.Count), (byte)rng.Next(256)); break;
                default: bytes = [.. Enumerable.Range(0, rng.Next(1, 600)).Select(_ => (byte)rng.Next(256))]; break;
            }
            int readBefore = read;
            var buffer = new ReadOnlySequence<byte>(bytes.ToArray());
            while (Jt808Frame.TryTake(ref buffer, completed: true, out ReadOnlySequence<byte> frame, out Jt808Error error))
            {
                if (error != Jt808Error.None)
                {
                    named++;
                    continue;
                }
                int n = Jt808Frame.Unescape(frame.ToArray(), content);
                if (n < 0)
                {
                    named++;
                    continue;
                }
                Jt808Error e = Jt808Frame.TryParse(content.AsSpan(0, n), out Jt808Header h, out int at);
                if (e == Jt808Error.None) e = Jt808Messages.TryReadPosition(content.AsSpan(at, h.BodyLength), out _);
                if (e == Jt808Error.None) read++;
                else named++;
            }
            Assert.True(buffer.IsEmpty);
            // The frames around the damage survive it: a byte dropped spoils at most two (a flag dropped joins two frames),
            // a byte inserted at most one.
            if (round % 4 == 1) Assert.InRange(read - readBefore, 3, 5);
            if (round % 4 == 2) Assert.InRange(read - readBefore, 4, 5);
        }
        Assert.True(named > 1000, $"{named} pieces named");
    }

    private static bool Jt808GatewayFraming(ref ReadOnlySequence<byte> buffer, bool completed, out ReadOnlySequence<byte> frame, out Jt808Error error) =>
        Jt808Frame.TryTake(ref buffer, completed, out frame, out error);
}
