using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Traffic.Connectors.Jt808;

namespace Traffic.Bench.Connectors;

/// <summary>
/// The JT/T 808 gateway: a position frame read as the gateway reads one (cut from the stream, unescaped, header and
/// body parsed), and the whole gateway over loopback TCP: 100 terminals each sending 1,000 position reports and
/// reading the 1,000 answers, the probe lines written to a null stream. Figures per report.
/// </summary>
[MemoryDiagnoser]
public class Jt808GatewayBenchmarks
{
    private const int Terminals = 100;
    private const int ReportsEach = 1_000;

    private byte[] _stream = [];
    private int _frames;
    private byte[][] _terminalBytes = [];
    private readonly byte[] _content = new byte[Jt808Frame.MaxFrameBytes];
    private Jt808Gateway _gateway = null!;

    [GlobalSetup]
    public void Setup()
    {
        long t0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var rng = new Random(1);
        _terminalBytes = new byte[Terminals][];
        var all = new List<byte>();
        for (int v = 0; v < Terminals; v++)
        {
            var bytes = new List<byte>();
            string number = "0139" + (12_340_000 + v).ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (int i = 0; i < ReportsEach; i++)
            {
                var p = new Jt808Position(0, 0x3, 22.50 + (rng.NextDouble() * 0.08), 113.88 + (rng.NextDouble() * 0.08), 10,
                    (float)(rng.NextDouble() * 80), rng.Next(360), t0 + (i * 10_000L));
                bytes.AddRange(Jt808Frame.Build(Jt808Messages.PositionReport, number, (ushort)i, Jt808Messages.PositionBody(p)));
            }
            _terminalBytes[v] = [.. bytes];
            all.AddRange(bytes);
        }
        _stream = [.. all];
        _frames = Terminals * ReportsEach;
        _gateway = new Jt808Gateway(new IPEndPoint(IPAddress.Loopback, 0), Stream.Null, Stream.Null);
        _gateway.Start();
    }

    [GlobalCleanup]
    public void Cleanup() => _gateway.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "position frame: cut, unescape, header, body", OperationsPerInvoke = Terminals * ReportsEach)]
    public long Decode()
    {
        long sum = 0;
        string? terminal = null; // as a connection keeps its terminal's number (its frames are in runs of one terminal here)
        var buffer = new ReadOnlySequence<byte>(_stream);
        while (Jt808Frame.TryTake(ref buffer, completed: true, out ReadOnlySequence<byte> frame, out Jt808Error error))
        {
            if (error != Jt808Error.None) continue;
            int n = Jt808Frame.Unescape(frame.FirstSpan, _content);
            if (Jt808Frame.TryParse(_content.AsSpan(0, n), out Jt808Header h, out int at, terminal) == Jt808Error.None
                && Jt808Messages.TryReadPosition(_content.AsSpan(at, h.BodyLength), out Jt808Position p) == Jt808Error.None)
            {
                terminal = h.Terminal;
                sum += p.TimeMs;
            }
        }
        return sum + _frames;
    }

    [Benchmark(Description = "gateway over loopback TCP, 100 terminals", OperationsPerInvoke = Terminals * ReportsEach)]
    public async Task Gateway()
    {
        await Task.WhenAll(_terminalBytes.Select(async bytes =>
        {
            using var client = new TcpClient { NoDelay = true };
            await client.ConnectAsync(_gateway.LocalEndPoint);
            NetworkStream s = client.GetStream();
            Task send = s.WriteAsync(bytes).AsTask();
            // Every report is answered (0x8001): count the answers' end flags (two flags a frame).
            var reply = new byte[1 << 16];
            int flags = 0;
            while (flags < 2 * ReportsEach)
            {
                int n = await s.ReadAsync(reply);
                if (n == 0) throw new InvalidOperationException("the gateway closed the connection");
                flags += reply.AsSpan(0, n).Count(Jt808Frame.Flag);
            }
            await send;
        }));
    }
}
