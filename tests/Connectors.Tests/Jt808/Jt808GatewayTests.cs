using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Traffic.Connectors.Jt808;
using Traffic.Engine.Probes;

namespace Traffic.Connectors.Tests.Jt808;

/// <summary>
/// The gateway over real TCP on loopback, driven by terminals written here as a unit's firmware would behave: register,
/// authenticate, report positions (whole, byte by byte, in batches), send broken frames, and read the platform's answers.
/// </summary>
public sealed class Jt808GatewayTests : IAsyncLifetime
{
    private static readonly long s_t0 = new DateTimeOffset(2026, 1, 5, 0, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private readonly MemoryStream _probes = new();
    private readonly MemoryStream _dead = new();
    private Jt808Gateway _gateway = null!;

    public Task InitializeAsync()
    {
        _gateway = new Jt808Gateway(new IPEndPoint(IPAddress.Loopback, 0), new KeepOpen(_probes), new KeepOpen(_dead));
        _gateway.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(List<JsonElement> Probes, List<JsonElement> Dead)> StopAsync()
    {
        await _gateway.DisposeAsync();
        return (Lines(_probes), Lines(_dead));
    }

    private static List<JsonElement> Lines(MemoryStream s) =>
        [.. Encoding.UTF8.GetString(s.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static Jt808Position At(int second, double lat, double lon, float speed = 36.5f, uint status = 0x3, uint alarm = 0) =>
        new(alarm, status, lat, lon, 10, speed, 90, s_t0 + (second * 1000L));

    [Fact]
    public async Task A_terminal_registers_authenticates_and_its_reports_become_probes_of_its_plate()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013912345678"))
        {
            byte[] plate = Jt808Messages.Gbk.GetBytes("粤B12345");
            await t.SendAsync(Jt808Messages.Registration, [.. new byte[4 + 5 + 20 + 7], 2, .. plate]);
            var (id, body) = await t.ReceiveAsync();
            Assert.Equal(Jt808Messages.RegistrationResponse, id);
            Assert.Equal(Jt808Messages.Success, body[2]);
            string code = Jt808Messages.Gbk.GetString(body.AsSpan(3));
            Assert.Equal("粤B12345", Jt808Gateway.VehicleOfAuthCode(code));
        }

        // A new connection (a unit reconnects after a tunnel): it authenticates with its code and reports.
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013912345678"))
        {
            await t.SendAsync(Jt808Messages.Authentication, Jt808Messages.Gbk.GetBytes(Jt808Gateway.AuthCodeOf("粤B12345")));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.Authentication)).Result);
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(0, 22.543338, 113.935943)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            // The next report byte by byte, as a slow link delivers it.
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(10, 22.543500, 113.936100, alarm: 0x2)), chunk: 1);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            await t.SendAsync(Jt808Messages.Heartbeat, []);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.Heartbeat)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Empty(dead);
        Assert.Equal(2, probes.Count);
        Assert.All(probes, p => Assert.Equal("粤B12345", p.GetProperty("vehicle_id").GetString()));
        Assert.Equal(s_t0, probes[0].GetProperty("time").GetInt64());
        Assert.Equal(113.935943, probes[0].GetProperty("lon").GetDouble(), 6);
        Assert.Equal(22.543338, probes[0].GetProperty("lat").GetDouble(), 6);
        Assert.Equal(36.5, probes[0].GetProperty("speed_kmh").GetDouble(), 3);
        Assert.Equal(90, probes[0].GetProperty("heading").GetDouble());
        Assert.Equal(3u, probes[0].GetProperty("status").GetUInt32());
        Assert.Equal(2u, probes[1].GetProperty("alarm").GetUInt32());
        Assert.False(probes[0].TryGetProperty("fix", out _)); // positioned: the format's default

        // The lines are probes of the contract: the engine's own decoder takes them as they are.
        var decoder = new ProbeJsonDecoder(new VehicleIds());
        foreach (var p in probes) Assert.True(decoder.TryDecode(Encoding.UTF8.GetBytes(p.GetRawText()), out _, out var e), e.ToString());
        Assert.Equal(2, _gateway.Counters.Probes);
    }

    [Theory]
    [InlineData(600, "B")]   // 600 bytes: its auth code did not fit a reply, the reply threw, and the connection closed unexplained
    [InlineData(22, "粤")]  // 66 bytes of UTF-8: no vehicle id the engine takes
    public async Task A_plate_longer_than_a_vehicle_id_is_refused_and_the_connection_goes_on(int count, string unit)
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013912345678"))
        {
            byte[] plate = Jt808Messages.Gbk.GetBytes(string.Concat(Enumerable.Repeat(unit, count)));
            await t.SendAsync(Jt808Messages.Registration, [.. new byte[4 + 5 + 20 + 7], 2, .. plate]);
            Assert.Equal(Jt808Messages.MessageError, (await t.ReceiveGeneralAsync(Jt808Messages.Registration)).Result);
            await t.SendAsync(Jt808Messages.Heartbeat, []);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.Heartbeat)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Empty(probes);
        Assert.Equal("registration:plate_too_long", Assert.Single(dead).GetProperty("code").GetString());
        Assert.Equal(0, _gateway.Counters.Faults);
    }

    [Fact]
    public async Task A_frame_the_gateway_fails_on_is_a_dead_letter_counted_as_a_fault_and_the_connection_goes_on()
    {
        var probes = new MemoryStream();
        var dead = new MemoryStream();
        var gateway = new Jt808Gateway(new IPEndPoint(IPAddress.Loopback, 0), new KeepOpen(probes), new KeepOpen(dead), new Jt808GatewayOptions
        {
            BeforeDispatch = h => { if (h.MessageId == Jt808Messages.PositionReport && h.Serial == 1) throw new IndexOutOfRangeException("a defect"); },
        });
        await using (gateway)
        {
            gateway.Start();
            using var t = await Terminal.ConnectAsync(gateway.LocalEndPoint, "013912345678");
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(0, 22.5, 113.9)));
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(1, 22.5, 113.9)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(2, 22.5, 113.9)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        }
        // The failed frame (serial 1) went nowhere but the dead letters, with its bytes; the ones before and after it are probes.
        Assert.Equal([s_t0, s_t0 + 2000], Lines(probes).Select(p => p.GetProperty("time").GetInt64()));
        JsonElement letter = Assert.Single(Lines(dead));
        Assert.Equal("gateway:internal_error", letter.GetProperty("code").GetString());
        Assert.Equal(1, gateway.Counters.Faults);
        Assert.Equal("IndexOutOfRangeException: a defect", gateway.Counters.LastFault);
        byte[] original = letter.GetProperty("original_base64").GetBytesFromBase64();
        var content = new byte[Jt808Frame.MaxFrameBytes];
        int n = Jt808Frame.Unescape(original, content);
        Assert.Equal(Jt808Error.None, Jt808Frame.TryParse(content.AsSpan(0, n), out Jt808Header h, out _));
        Assert.Equal((Jt808Messages.PositionReport, (ushort)1), (h.MessageId, h.Serial));
    }

    [Fact]
    public async Task Broken_frames_go_to_dead_letters_with_their_reason_and_the_connection_goes_on()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138000"))
        {
            // Garbage before a frame, a frame whose check code is wrong, and a position with a time of 30 February.
            await t.SendRawAsync("AT+RESET\r\n"u8.ToArray());
            byte[] bad = Jt808Frame.Build(Jt808Messages.PositionReport, "013800138000", 7, Jt808Messages.PositionBody(At(0, 22.5, 113.9)));
            bad[^2] ^= 0x01;
            if (bad[^2] is Jt808Frame.Flag or Jt808Frame.Escape) bad[^2] ^= 0x03;
            await t.SendRawAsync(bad);
            byte[] feb30 = Jt808Messages.PositionBody(At(0, 22.5, 113.9));
            feb30[23] = 0x02;
            feb30[24] = 0x30;
            await t.SendAsync(Jt808Messages.PositionReport, feb30);
            Assert.Equal(Jt808Messages.MessageError, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            // A message this gateway does not handle (data uplink, 0x0900): not supported, and not a dead letter.
            await t.SendAsync(0x0900, [0xf1, 0x01]);
            Assert.Equal(Jt808Messages.NotSupported, (await t.ReceiveGeneralAsync(0x0900)).Result);
            // A batch of three reports (a blind-area supplement), the second with a latitude of 95°: two probes, one dead letter.
            byte[] r1 = Jt808Messages.PositionBody(At(20, 22.51, 113.91)), r3 = Jt808Messages.PositionBody(At(40, 22.53, 113.93));
            byte[] r2 = Jt808Messages.PositionBody(At(30, 22.52, 113.92));
            r2[8] = 0x05;
            r2[9] = 0xa9;
            await t.SendAsync(Jt808Messages.BatchPositions, [0, 3, 1, 0, 28, .. r1, 0, 28, .. r2, 0, 28, .. r3]);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.BatchPositions)).Result);
            // The connection still works, and the unit without a fix (status bit 1 clear) reports fix false.
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(50, 22.53, 113.93, status: 0x1)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Equal([s_t0 + 20_000, s_t0 + 40_000, s_t0 + 50_000], probes.Select(p => p.GetProperty("time").GetInt64()));
        Assert.All(probes, p => Assert.Equal("013800138000", p.GetProperty("vehicle_id").GetString())); // never registered: its number
        Assert.False(probes[2].GetProperty("fix").GetBoolean());
        Assert.Equal(["frame:garbage", "frame:checksum", "time:malformed", "position:out_of_range"], dead.Select(d => d.GetProperty("code").GetString()));
        Assert.Equal("AT+RESET\r\n", Encoding.UTF8.GetString(Convert.FromBase64String(dead[0].GetProperty("original_base64").GetString()!)));
        Assert.Equal("jt808", dead[1].GetProperty("source").GetProperty("protocol").GetString());
        Assert.Equal("013800138000", dead[2].GetProperty("source").GetProperty("terminal").GetString());
        Assert.Equal(28, Convert.FromBase64String(dead[3].GetProperty("original_base64").GetString()!).Length); // the bad report alone
        Assert.Equal(4, _gateway.Counters.DeadLetters);
        Assert.Equal(1, _gateway.Counters.Unsupported);
    }

    [Fact]
    public async Task A_2019_terminal_and_a_2013_one_at_once_keep_their_own_order()
    {
        using var a = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "00000000013912340001", version2019: true);
        using var b = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013912340002");
        for (int i = 0; i < 50; i++)
        {
            await a.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(i, 22.5 + (i * 1e-4), 113.9)), chunk: 7);
            await b.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(i, 22.6, 113.9 + (i * 1e-4))), chunk: 5);
        }
        for (int i = 0; i < 50; i++)
        {
            var ra = await a.ReceiveGeneralAsync(Jt808Messages.PositionReport);
            Assert.Equal((ushort)i, ra.Serial);
            Assert.True(ra.Version2019);
            await b.ReceiveGeneralAsync(Jt808Messages.PositionReport);
        }
        a.Dispose();
        b.Dispose();
        var (probes, dead) = await StopAsync();
        Assert.Empty(dead);
        foreach (string v in new[] { "00000000013912340001", "013912340002" })
        {
            var times = probes.Where(p => p.GetProperty("vehicle_id").GetString() == v).Select(p => p.GetProperty("time").GetInt64()).ToList();
            Assert.Equal(Enumerable.Range(0, 50).Select(i => s_t0 + (i * 1000L)), times);
        }
    }

    [Fact]
    public async Task An_auth_code_this_gateway_did_not_issue_fails_so_the_unit_registers_again()
    {
        using var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013912345679");
        await t.SendAsync(Jt808Messages.Authentication, "0123456789"u8.ToArray());
        Assert.Equal(Jt808Messages.Failure, (await t.ReceiveGeneralAsync(Jt808Messages.Authentication)).Result);
    }

    [Fact]
    public async Task A_stray_flag_in_line_noise_or_a_frame_cut_short_does_not_cost_the_frame_after_it()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138001"))
        {
            // Noise holding a lone 0x7e: the next frame's start flag closes what the stray one opened.
            await t.SendRawAsync([0x11, 0x7e, 0x22, 0x33]);
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(0, 22.5, 113.9)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            // A frame that lost its tail (and its end flag) on the way, then a whole one.
            byte[] cut = Jt808Frame.Build(Jt808Messages.PositionReport, "013800138001", 90, Jt808Messages.PositionBody(At(5, 22.5, 113.9)));
            await t.SendRawAsync(cut[..20]);
            await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(10, 22.5, 113.9)));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Equal([s_t0, s_t0 + 10_000], probes.Select(p => p.GetProperty("time").GetInt64()));
        Assert.Equal(["frame:garbage", "frame:too_short", "frame:checksum"], dead.Select(d => d.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task A_heading_of_360_is_north_and_one_over_it_is_refused_not_written_out_of_the_probe_format()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138002"))
        {
            byte[] north = Jt808Messages.PositionBody(At(0, 22.5, 113.9));
            north[20] = 0x01;
            north[21] = 0x68; // 360
            await t.SendAsync(Jt808Messages.PositionReport, north);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
            byte[] wild = Jt808Messages.PositionBody(At(1, 22.5, 113.9));
            wild[20] = 0x01;
            wild[21] = 0x90; // 400
            await t.SendAsync(Jt808Messages.PositionReport, wild);
            Assert.Equal(Jt808Messages.MessageError, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Equal(0, Assert.Single(probes).GetProperty("heading").GetDouble());
        Assert.Equal("position:heading", Assert.Single(dead).GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_auth_code_sent_with_the_NULs_of_its_fixed_buffer_is_known()
    {
        using var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138003");
        await t.SendAsync(Jt808Messages.Authentication, [.. Jt808Messages.Gbk.GetBytes(Jt808Gateway.AuthCodeOf("琼A12345")), 0, 0, 0, 0]);
        Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.Authentication)).Result);
        await t.SendAsync(Jt808Messages.PositionReport, Jt808Messages.PositionBody(At(0, 22.5, 113.9)));
        Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        t.Dispose();
        var (probes, _) = await StopAsync();
        Assert.Equal("琼A12345", Assert.Single(probes).GetProperty("vehicle_id").GetString());
    }

    [Fact]
    public async Task A_location_query_answer_is_a_position_like_any_other()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138004"))
        {
            await t.SendAsync(Jt808Messages.PositionQueryResponse, [0x00, 0x09, .. Jt808Messages.PositionBody(At(0, 22.5, 113.9))]);
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.PositionQueryResponse)).Result);
            await t.SendAsync(Jt808Messages.PositionQueryResponse, [0x00]);
            Assert.Equal(Jt808Messages.MessageError, (await t.ReceiveGeneralAsync(Jt808Messages.PositionQueryResponse)).Result);
        }
        var (probes, dead) = await StopAsync();
        Assert.Equal(22.5, Assert.Single(probes).GetProperty("lat").GetDouble());
        Assert.Equal("message:malformed", Assert.Single(dead).GetProperty("code").GetString());
        Assert.Equal(0, _gateway.Counters.Unsupported);
    }

    [Fact]
    public async Task The_packets_of_a_message_the_gateway_does_not_handle_are_not_supported_not_dead_letters()
    {
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138005"))
        {
            // A photo (multimedia data upload, 0x0801) in three sub-packages, then an encrypted one of another unhandled id:
            // answered "not supported" as the same messages whole would be, so the unit does not send them again.
            for (ushort k = 1; k <= 3; k++)
            {
                await t.SendRawAsync(Subpackage(0x0801, "013800138005", (ushort)(10 + k), total: 3, index: k, new byte[900]));
                Assert.Equal(Jt808Messages.NotSupported, (await t.ReceiveGeneralAsync(0x0801)).Result);
            }
            byte[] encrypted = Jt808Frame.Build(0x0900, "013800138005", 20, [0xf1, 0x01]);
            encrypted[3] |= 0x04; // properties bit 10: RSA (no byte of the frame is a flag or escape, nor becomes one)
            encrypted[^2] ^= 0x04;
            await t.SendRawAsync(encrypted);
            Assert.Equal(Jt808Messages.NotSupported, (await t.ReceiveGeneralAsync(0x0900)).Result);
            // A packet of a message the gateway reads, out of its order (the second of two, no first): a dead letter.
            await t.SendRawAsync(Subpackage(Jt808Messages.PositionReport, "013800138005", 30, total: 2, index: 2, Jt808Messages.PositionBody(At(0, 22.5, 113.9))));
            Assert.Equal(Jt808Messages.MessageError, (await t.ReceiveGeneralAsync(Jt808Messages.PositionReport)).Result);
        }
        var (_, dead) = await StopAsync();
        Assert.Equal("message:subpackaged", Assert.Single(dead).GetProperty("code").GetString());
        Assert.Equal(4, _gateway.Counters.Unsupported);
    }

    [Fact]
    public async Task A_batch_in_sub_packages_is_reassembled_and_one_never_completed_is_a_dead_letter()
    {
        // Forty reports of a blind-area supplement: 1,123 bytes of body, more than one message holds, in two packets.
        var body = new List<byte> { 0, 40, 1 };
        for (int i = 0; i < 40; i++) body.AddRange([0, 28, .. Jt808Messages.PositionBody(At(i, 22.5 + (i * 1e-4), 113.9))]);
        byte[] all = [.. body];
        using (var t = await Terminal.ConnectAsync(_gateway.LocalEndPoint, "013800138006"))
        {
            await t.SendRawAsync(Subpackage(Jt808Messages.BatchPositions, "013800138006", 40, total: 2, index: 1, all[..1000]));
            var first = await t.ReceiveGeneralAsync(Jt808Messages.BatchPositions);
            Assert.Equal(Jt808Messages.Success, first.Result);
            await t.SendRawAsync(Subpackage(Jt808Messages.BatchPositions, "013800138006", 41, total: 2, index: 2, all[1000..]));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.BatchPositions)).Result);
            // The first of three packets, and the unit goes away.
            await t.SendRawAsync(Subpackage(Jt808Messages.BatchPositions, "013800138006", 42, total: 3, index: 1, all[..1000]));
            Assert.Equal(Jt808Messages.Success, (await t.ReceiveGeneralAsync(Jt808Messages.BatchPositions)).Result);
        }
        await Task.Delay(200);
        var (probes, dead) = await StopAsync();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => s_t0 + (i * 1000L)), probes.Select(p => p.GetProperty("time").GetInt64()));
        var d = Assert.Single(dead);
        Assert.Equal("message:subpackaged", d.GetProperty("code").GetString());
        Assert.Equal(all[..1000], Convert.FromBase64String(d.GetProperty("original_base64").GetString()!));
    }

    /// <summary>One sub-package of a 2013 message: the header with bit 13 and the packet count and index, escaped.</summary>
    private static byte[] Subpackage(ushort id, string terminal, ushort serial, ushort total, ushort index, byte[] body)
    {
        var raw = new List<byte> { (byte)(id >> 8), (byte)id, (byte)(0x20 | (body.Length >> 8)), (byte)body.Length };
        var bcd = new byte[6];
        Jt808Frame.WriteBcdDigits(terminal, bcd);
        raw.AddRange(bcd);
        raw.AddRange([(byte)(serial >> 8), (byte)serial, (byte)(total >> 8), (byte)total, (byte)(index >> 8), (byte)index]);
        raw.AddRange(body);
        byte check = 0;
        foreach (byte b in raw) check ^= b;
        raw.Add(check);
        var frame = new List<byte> { Jt808Frame.Flag };
        foreach (byte b in raw)
        {
            if (b is Jt808Frame.Flag or Jt808Frame.Escape) frame.AddRange([Jt808Frame.Escape, b == Jt808Frame.Flag ? (byte)0x02 : (byte)0x01]);
            else frame.Add(b);
        }
        frame.Add(Jt808Frame.Flag);
        return [.. frame];
    }

    /// <summary>A terminal's side of the connection: frames out, the platform's frames in.</summary>
    private sealed class Terminal : IDisposable
    {
        private readonly TcpClient _client;
        private readonly NetworkStream _stream;
        private readonly string _number;
        private readonly bool _v2019;
        private readonly List<byte> _in = [];
        private ushort _serial;

        private Terminal(TcpClient client, string number, bool v2019)
        {
            _client = client;
            _stream = client.GetStream();
            _number = number;
            _v2019 = v2019;
        }

        public static async Task<Terminal> ConnectAsync(IPEndPoint at, string number, bool version2019 = false)
        {
            var c = new TcpClient();
            await c.ConnectAsync(at);
            return new Terminal(c, number, version2019);
        }

        public Task SendAsync(ushort id, byte[] body, int chunk = 0) => SendRawAsync(Jt808Frame.Build(id, _number, _serial++, body, _v2019), chunk);

        public async Task SendRawAsync(byte[] bytes, int chunk = 0)
        {
            if (chunk <= 0) chunk = bytes.Length;
            for (int i = 0; i < bytes.Length; i += chunk)
            {
                await _stream.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
                await _stream.FlushAsync();
            }
        }

        public async Task<(ushort Id, byte[] Body)> ReceiveAsync()
        {
            var (h, body) = await ReceiveFrameAsync();
            return (h.MessageId, body);
        }

        public async Task<(byte Result, ushort Serial, bool Version2019)> ReceiveGeneralAsync(ushort answering)
        {
            var (h, body) = await ReceiveFrameAsync();
            Assert.Equal(Jt808Messages.PlatformGeneralResponse, h.MessageId);
            Assert.Equal(_number, h.Terminal);
            Assert.Equal(answering, (ushort)((body[2] << 8) | body[3]));
            return (body[4], h.Serial, h.Version2019);
        }

        private async Task<(Jt808Header, byte[])> ReceiveFrameAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[4096];
            while (true)
            {
                int start = _in.IndexOf(Jt808Frame.Flag);
                int end = start < 0 ? -1 : _in.IndexOf(Jt808Frame.Flag, start + 1);
                if (end > start + 1)
                {
                    byte[] escaped = _in.GetRange(start + 1, end - start - 1).ToArray();
                    _in.RemoveRange(0, end + 1);
                    var content = new byte[escaped.Length];
                    int n = Jt808Frame.Unescape(escaped, content);
                    Assert.Equal(Jt808Error.None, Jt808Frame.TryParse(content.AsSpan(0, n), out Jt808Header h, out int at));
                    return (h, content.AsSpan(at, h.BodyLength).ToArray());
                }
                int read = await _stream.ReadAsync(buffer, timeout.Token);
                Assert.True(read > 0, "the gateway closed the connection");
                _in.AddRange(buffer.AsSpan(0, read));
            }
        }

        public void Dispose() => _client.Dispose();
    }

    /// <summary>A stream the gateway may dispose without the test losing what it wrote.</summary>
    private sealed class KeepOpen(MemoryStream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) { lock (inner) inner.Write(buffer, offset, count); }
    }
}

/// <summary>The gateway feeding the probes topic, as `traffic gateway --to-kafka` runs it, read back from the embedded cluster.</summary>
public class Jt808GatewayKafkaTests
{
    [Fact]
    public async Task Reports_land_on_the_probes_topic_keyed_by_the_registered_plate_in_the_order_sent()
    {
        using var kafka = new Traffic.Connectors.Tests.Kafka.TestKafka();
        long t0 = new DateTimeOffset(2026, 1, 5, 0, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var gateway = new Jt808Gateway(new IPEndPoint(IPAddress.Loopback, 0),
            new Traffic.Connectors.Kafka.KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes), Stream.Null);
        await using (gateway)
        {
            gateway.Start();
            using var client = new TcpClient();
            await client.ConnectAsync(gateway.LocalEndPoint);
            NetworkStream s = client.GetStream();
            byte[] plate = Jt808Messages.Gbk.GetBytes("琼A12345");
            var frames = new List<byte>(Jt808Frame.Build(Jt808Messages.Registration, "013912345678", 0, [.. new byte[36], 1, .. plate]));
            for (int i = 0; i < 20; i++)
            {
                frames.AddRange(Jt808Frame.Build(Jt808Messages.PositionReport, "013912345678", (ushort)(i + 1),
                    Jt808Messages.PositionBody(new Jt808Position(0, 0x3, 20.02 + (i * 1e-4), 110.35, 0, 30, 0, t0 + (i * 5000L)))));
            }
            await s.WriteAsync(frames.ToArray());
            var reply = new byte[4096];
            int flags = 0;
            while (flags < 2 * 21)
            {
                int n = await s.ReadAsync(reply);
                Assert.True(n > 0);
                flags += reply.AsSpan(0, n).Count(Jt808Frame.Flag);
            }
        }
        var records = kafka.Read(kafka.Topics.Probes);
        Assert.Equal(20, records.Count);
        Assert.All(records, r => Assert.Equal("琼A12345", Traffic.Connectors.Tests.Kafka.TestKafka.Text(r.Key)));
        Assert.Single(records.Select(r => r.Partition).Distinct());
        Assert.Equal(Enumerable.Range(0, 20).Select(i => t0 + (i * 5000L)),
            records.OrderBy(r => r.Offset).Select(r => JsonDocument.Parse(r.Value!).RootElement.GetProperty("time").GetInt64()));
    }
}
