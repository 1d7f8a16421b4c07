using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;

namespace Traffic.Connectors.Jt808;

/// <summary>Settings of a <see cref="Jt808Gateway"/>.</summary>
public sealed record Jt808GatewayOptions
{
    /// <summary>A connection that sends nothing for this long is closed (terminals send a heartbeat, 0x0002, every minute or so).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Probes and dead letters waiting for the writer beyond which connections wait (back-pressure to the terminals' sockets).</summary>
    public int QueueCapacity { get; init; } = 65_536;

    /// <summary>Called with each whole message's header before it is handled: the tests' way to make the gateway fail on one.</summary>
    internal Action<Jt808Header>? BeforeDispatch { get; init; }
}

/// <summary>What a gateway has seen since it started.</summary>
public sealed class Jt808Counters
{
    private long _connections, _frames, _probes, _unsupported, _deadLetters, _faults;
    private string? _lastFault;
    private readonly ConcurrentDictionary<string, long> _byReason = new(StringComparer.Ordinal);

    public long Connections => Interlocked.Read(ref _connections);
    public long Frames => Interlocked.Read(ref _frames);
    /// <summary>Position reports turned into probes (a batch counts each of its reports).</summary>
    public long Probes => Interlocked.Read(ref _probes);
    /// <summary>Well-formed messages of ids the gateway does not handle (answered "not supported").</summary>
    public long Unsupported => Interlocked.Read(ref _unsupported);
    public long DeadLetters => Interlocked.Read(ref _deadLetters);
    /// <summary>Dead letters by code (<see cref="Jt808Frame.Code"/>).</summary>
    public IReadOnlyDictionary<string, long> ByReason => _byReason;

    internal void Connection() => Interlocked.Increment(ref _connections);
    internal void Frame() => Interlocked.Increment(ref _frames);
    internal void Probe() => Interlocked.Increment(ref _probes);
    internal void NotSupported() => Interlocked.Increment(ref _unsupported);

    /// <summary>Frames the gateway failed on, a defect of its own (each also a dead letter, <c>gateway:internal_error</c>).</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>The last such failure, its exception's type and message; null when none.</summary>
    public string? LastFault => Volatile.Read(ref _lastFault);

    internal void Fault(Exception e)
    {
        Interlocked.Increment(ref _faults);
        Volatile.Write(ref _lastFault, $"{e.GetType().Name}: {e.Message}");
    }

    internal void DeadLetter(string code)
    {
        Interlocked.Increment(ref _deadLetters);
        _byReason.AddOrUpdate(code, 1, (_, n) => n + 1);
    }
}

/// <summary>
/// A TCP gateway for vehicle terminals that speak JT/T 808 (2013 and 2019): it answers registration (0x0100, with an auth
/// code that names the vehicle), authentication (0x0102), heartbeats and logouts with the platform's responses, and turns
/// every position report (0x0200, and each report of a batch upload, 0x0704) into one probe line of the NDJSON probe format
/// (INTERFACES.md), written to <c>probes</c>: a file, or <see cref="Kafka.KafkaProbeWriter"/> to feed the engine through
/// the probes topic. The vehicle id is the plate the terminal registered with (its auth code carries it across
/// reconnections and gateway restarts), else the terminal's number. Status bit 1 (no GNSS fix) becomes <c>"fix": false</c>;
/// alarm and status bits go on as <c>alarm</c> and <c>status</c>. Every frame or message that cannot be read goes to
/// <c>deadLetters</c> as a line with its reason, code, source (terminal, remote address, frame number) and original bytes,
/// is counted, and is answered with "message error" where its header could be read; the connection stays open. Each
/// connection is read through System.IO.Pipelines; one writer task owns both outputs, fed through a bounded channel.
/// </summary>
public sealed class Jt808Gateway : IAsyncDisposable
{
    /// <summary>Auth codes this gateway issues: this prefix and the vehicle id's UTF-8 bytes in hex.</summary>
    private const string AuthPrefix = "TR1";

    private readonly TcpListener _listener;
    private readonly Jt808GatewayOptions _options;
    private readonly Channel<Output> _queue;
    private readonly NdjsonWriter _probes;
    private readonly NdjsonWriter _dead;
    private readonly Stream _probeStream;
    private readonly Stream _deadStream;
    private readonly ConcurrentDictionary<string, string> _vehicleOf = new(StringComparer.Ordinal); // terminal number → vehicle id
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _sessions = new();
    private Task? _accept;
    private Task? _writer;
    private int _disposed;

    /// <param name="listen">Where to listen (port 0: any free port, see <see cref="LocalEndPoint"/>).</param>
    /// <param name="probes">Where the probe lines go.</param>
    /// <param name="deadLetters">Where the refused frames go.</param>
    public Jt808Gateway(IPEndPoint listen, Stream probes, Stream deadLetters, Jt808GatewayOptions? options = null)
    {
        _options = options ?? new Jt808GatewayOptions();
        _listener = new TcpListener(listen);
        _probeStream = probes;
        _deadStream = deadLetters;
        _probes = new NdjsonWriter(probes, lineByLine: true);
        _dead = new NdjsonWriter(deadLetters, lineByLine: true);
        _queue = Channel.CreateBounded<Output>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true });
    }

    public Jt808Counters Counters { get; } = new();

    /// <summary>The address listened on, once started.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Starts listening, accepting and writing.</summary>
    public void Start()
    {
        _listener.Start();
        _writer = Task.Run(WriteAsync);
        _accept = Task.Run(AcceptAsync);
    }

    /// <summary>Stops accepting, closes the connections, and writes out what was queued.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_accept != null) await _accept.ConfigureAwait(false);
        await Task.WhenAll(_sessions.Keys).ConfigureAwait(false);
        _queue.Writer.TryComplete();
        if (_writer != null) await _writer.ConfigureAwait(false);
        _probes.Dispose();
        _dead.Dispose();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Counters.Connection();
            Task session = Task.Run(() => ServeAsync(client));
            _sessions[session] = 0;
            _ = session.ContinueWith(t => _sessions.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            string remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
            var session = new Session(remote);
            NetworkStream stream = client.GetStream();
            PipeReader reader = PipeReader.Create(stream);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            try
            {
                while (true)
                {
                    idle.CancelAfter(_options.IdleTimeout);
                    ReadResult read = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = read.Buffer;
                    while (Jt808Frame.TryTake(ref buffer, read.IsCompleted, out ReadOnlySequence<byte> frame, out Jt808Error framing))
                    {
                        session.Frames++;
                        session.NotAFrame = false;
                        byte[] reply;
                        try
                        {
                            reply = framing == Jt808Error.None
                                ? await HandleAsync(session, frame).ConfigureAwait(false)
                                : await RefuseAsync(session, frame, framing, header: null).ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is not (OperationCanceledException or IOException or SocketException or ObjectDisposedException))
                        {
                            // A defect of the gateway's on this frame: the frame is a dead letter and counted, the fault
                            // too, and the connection goes on. Left to end the session, it closed the connection and
                            // nothing said why (a plate of 600 bytes did, until registrations checked it).
                            Counters.Fault(e);
                            reply = await RefuseAsync(session, frame, Jt808Error.Internal, header: null).ConfigureAwait(false);
                        }
                        // Bytes between two flags that are no frame (a stray 0x7e in line noise, the tail of a frame cut
                        // short): their closing flag is the next frame's opening one, not to be lost with them.
                        if (session.NotAFrame) buffer = read.Buffer.Slice(frame.End);
                        if (reply.Length > 0) await stream.WriteAsync(reply, idle.Token).ConfigureAwait(false);
                    }
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (read.IsCompleted) break;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // Idle, stopped, or the terminal went away: the connection ends; what it sent before is written.
            }
            finally
            {
                if (session.Gathering)
                {
                    try
                    {
                        await AbandonAsync(session).ConfigureAwait(false); // the connection ended between a message's packets
                    }
                    catch (OperationCanceledException)
                    {
                        // The gateway is stopping: the writer takes nothing more.
                    }
                }
                await reader.CompleteAsync().ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<byte[]> HandleAsync(Session session, ReadOnlySequence<byte> escaped)
    {
        Counters.Frame();
        byte[] content = session.Content; // the connection's frames are handled one at a time
        int length = Jt808Frame.Unescape(escaped.IsSingleSegment ? escaped.FirstSpan : escaped.ToArray(), content);
        if (length < 0)
        {
            session.NotAFrame = true;
            return await RefuseAsync(session, escaped, Jt808Error.BadEscape, header: null).ConfigureAwait(false);
        }
        Jt808Error error = Jt808Frame.TryParse(content.AsSpan(0, length), out Jt808Header h, out int bodyAt, session.Terminal);
        if (error != Jt808Error.None)
        {
            session.NotAFrame = error is Jt808Error.TooShort or Jt808Error.Checksum;
            bool headerRead = error is Jt808Error.Length or Jt808Error.Subpackaged or Jt808Error.Encrypted;
            if (error is Jt808Error.Subpackaged or Jt808Error.Encrypted && !Handles(h.MessageId))
            {
                // A message this gateway would not read whole either (a photo's packets, say): "not supported", as it
                // would be whole, so that the unit does not send it again, and no dead letter a packet.
                session.Terminal = h.Terminal;
                Counters.NotSupported();
                return General(session, h, Jt808Messages.NotSupported);
            }
            if (error == Jt808Error.Subpackaged)
            {
                session.Terminal = h.Terminal;
                return await PartAsync(session, h, content.AsMemory(bodyAt, h.BodyLength), escaped).ConfigureAwait(false);
            }
            return await RefuseAsync(session, escaped, error, headerRead ? h : null).ConfigureAwait(false);
        }
        session.Terminal = h.Terminal;
        return await DispatchAsync(session, h, content.AsMemory(bodyAt, h.BodyLength), escaped).ConfigureAwait(false);
    }

    /// <summary>Most packets a message may come in: 64 KB of body, some two thousand reports of a batch.</summary>
    private const int MaxPackets = 64;

    /// <summary>
    /// One sub-package of a message the gateway reads (the header's bit 13, then the packet count and this packet's index
    /// from 1; the message's body cut into the packets' bodies in order). Each packet but the last is answered 0 as it comes; the
    /// last one's answer is the whole message's. A packet out of order, or a message never completed (another begun,
    /// or the connection gone), is a dead letter with what was gathered.
    /// </summary>
    private async ValueTask<byte[]> PartAsync(Session session, Jt808Header h, ReadOnlyMemory<byte> body, ReadOnlySequence<byte> escaped)
    {
        Reassembly parts = session.Parts;
        if (h.PacketTotal is 0 or > MaxPackets || h.PacketIndex == 0 || h.PacketIndex > h.PacketTotal)
        {
            return await RefuseAsync(session, escaped, Jt808Error.Body, h).ConfigureAwait(false);
        }
        if (h.PacketIndex == 1)
        {
            if (parts.Gathering) await AbandonAsync(session).ConfigureAwait(false);
            parts.Begin(h);
        }
        else if (!parts.Continues(h))
        {
            if (parts.Gathering) await AbandonAsync(session).ConfigureAwait(false);
            return await RefuseAsync(session, escaped, Jt808Error.Subpackaged, h).ConfigureAwait(false);
        }
        parts.Add(body.Span);
        if (h.PacketIndex < h.PacketTotal) return General(session, h, Jt808Messages.Success);
        ReadOnlyMemory<byte> whole = parts.Body;
        try
        {
            Jt808Header message = h with { BodyLength = whole.Length, Subpackaged = false, PacketTotal = 0, PacketIndex = 0 };
            return await DispatchAsync(session, message, whole, new ReadOnlySequence<byte>(whole)).ConfigureAwait(false);
        }
        finally
        {
            parts.Clear();
        }
    }

    /// <summary>A message begun in sub-packages and never completed: a dead letter with the bodies gathered.</summary>
    private async ValueTask AbandonAsync(Session session)
    {
        byte[] gathered = session.Parts.Body.ToArray();
        session.Parts.Clear();
        await RefuseAsync(session, default, Jt808Error.Subpackaged, header: null, gathered).ConfigureAwait(false);
    }

    /// <summary>A whole message, its header read, handled by its id.</summary>
    private async ValueTask<byte[]> DispatchAsync(Session session, Jt808Header h, ReadOnlyMemory<byte> body, ReadOnlySequence<byte> escaped)
    {
        _options.BeforeDispatch?.Invoke(h);
        Jt808Error error;
        switch (h.MessageId)
        {
            case Jt808Messages.Registration:
            {
                error = Jt808Messages.TryReadRegistration(body.Span, h.Version2019, out string? plate);
                // A plate no vehicle id can be: the engine would refuse every probe of it, and its auth code would not fit a reply.
                if (error == Jt808Error.None && plate != null && Encoding.UTF8.GetByteCount(plate) > VehicleIds.MaxIdBytes) error = Jt808Error.Plate;
                if (error != Jt808Error.None) return await RefuseAsync(session, escaped, error, h).ConfigureAwait(false);
                string vehicle = plate ?? h.Terminal;
                _vehicleOf[h.Terminal] = vehicle;
                return Reply(session, h, Jt808Messages.RegistrationResponse,
                    Jt808Messages.RegistrationResponseBody(h.Serial, Jt808Messages.Success, AuthCodeOf(vehicle)));
            }
            case Jt808Messages.Authentication:
            {
                error = Jt808Messages.TryReadAuthCode(body.Span, h.Version2019, out string code);
                if (error != Jt808Error.None) return await RefuseAsync(session, escaped, error, h).ConfigureAwait(false);
                // A code this gateway did not issue fails: the terminal then registers again (JT/T 808 §8.5).
                if (VehicleOfAuthCode(code) is not { } vehicle) return General(session, h, Jt808Messages.Failure);
                _vehicleOf[h.Terminal] = vehicle;
                return General(session, h, Jt808Messages.Success);
            }
            case Jt808Messages.Heartbeat:
            case Jt808Messages.Logout:
                return General(session, h, Jt808Messages.Success);
            case Jt808Messages.TerminalGeneralResponse:
                return []; // the terminal acknowledging one of ours: nothing to answer
            case Jt808Messages.PositionReport:
            {
                error = Jt808Messages.TryReadPosition(body.Span, out Jt808Position p);
                if (error != Jt808Error.None) return await RefuseAsync(session, escaped, error, h).ConfigureAwait(false);
                await EnqueueAsync(Output.ProbeOf(VehicleOf(h.Terminal), p)).ConfigureAwait(false);
                return General(session, h, Jt808Messages.Success);
            }
            case Jt808Messages.PositionQueryResponse:
            {
                // The answer to a location query (0x8201): the query's serial, then a position report like any other.
                if (body.Length < 2) return await RefuseAsync(session, escaped, Jt808Error.Body, h).ConfigureAwait(false);
                error = Jt808Messages.TryReadPosition(body.Span[2..], out Jt808Position p);
                if (error != Jt808Error.None) return await RefuseAsync(session, escaped, error, h).ConfigureAwait(false);
                await EnqueueAsync(Output.ProbeOf(VehicleOf(h.Terminal), p)).ConfigureAwait(false);
                return General(session, h, Jt808Messages.Success);
            }
            case Jt808Messages.BatchPositions:
            {
                var items = new List<(int Offset, int Length)>();
                error = Jt808Messages.TryReadBatch(body.Span, items);
                if (error != Jt808Error.None) return await RefuseAsync(session, escaped, error, h).ConfigureAwait(false);
                string vehicle = VehicleOf(h.Terminal);
                foreach (var (offset, count) in items)
                {
                    error = Jt808Messages.TryReadPosition(body.Span.Slice(offset, count), out Jt808Position p);
                    // One bad report of a batch is dead-lettered alone; the others are taken.
                    if (error != Jt808Error.None) await RefuseAsync(session, escaped, error, h, body.Slice(offset, count)).ConfigureAwait(false);
                    else await EnqueueAsync(Output.ProbeOf(vehicle, p)).ConfigureAwait(false);
                }
                return General(session, h, Jt808Messages.Success);
            }
            default:
                Counters.NotSupported();
                return General(session, h, Jt808Messages.NotSupported);
        }
    }

    /// <summary>The messages <see cref="DispatchAsync"/> reads (all others are answered "not supported"): keep the two together.</summary>
    private static bool Handles(ushort messageId) => messageId is Jt808Messages.TerminalGeneralResponse or Jt808Messages.Heartbeat
        or Jt808Messages.Logout or Jt808Messages.Registration or Jt808Messages.Authentication or Jt808Messages.PositionReport
        or Jt808Messages.PositionQueryResponse or Jt808Messages.BatchPositions;

    private async ValueTask<byte[]> RefuseAsync(Session session, ReadOnlySequence<byte> original, Jt808Error error, Jt808Header? header, ReadOnlyMemory<byte>? part = null)
    {
        Counters.DeadLetter(Jt808Frame.Code(error));
        await EnqueueAsync(Output.DeadLetterOf(error, session.Terminal, session.Remote, session.Frames,
            part is { } p ? p.ToArray() : original.ToArray())).ConfigureAwait(false);
        return header is { } h ? General(session, h, Jt808Messages.MessageError) : [];
    }

    private ValueTask EnqueueAsync(Output o) => _queue.Writer.WriteAsync(o, _stop.Token);

    private static byte[] General(Session session, in Jt808Header h, byte result)
    {
        Span<byte> body = stackalloc byte[Jt808Messages.GeneralResponseBytes];
        Jt808Messages.WriteGeneralResponse(body, h.Serial, h.MessageId, result);
        return Reply(session, h, Jt808Messages.PlatformGeneralResponse, body);
    }

    private static byte[] Reply(Session session, in Jt808Header h, ushort messageId, ReadOnlySpan<byte> body) =>
        Jt808Frame.Build(messageId, h.Terminal, session.NextSerial(), body, h.Version2019, h.ProtocolVersion);

    private string VehicleOf(string terminal) => _vehicleOf.TryGetValue(terminal, out string? v) ? v : terminal;

    /// <summary>The auth code that names a vehicle: this gateway knows the vehicle again from it after a restart.</summary>
    public static string AuthCodeOf(string vehicle) => AuthPrefix + Convert.ToHexString(Encoding.UTF8.GetBytes(vehicle));

    /// <summary>The vehicle an auth code issued by <see cref="AuthCodeOf"/> names; null for any other code.</summary>
    public static string? VehicleOfAuthCode(string code)
    {
        if (!code.StartsWith(AuthPrefix, StringComparison.Ordinal) || code.Length == AuthPrefix.Length) return null;
        try
        {
            string vehicle = Encoding.UTF8.GetString(Convert.FromHexString(code.AsSpan(AuthPrefix.Length)));
            return Encoding.UTF8.GetByteCount(vehicle) <= VehicleIds.MaxIdBytes ? vehicle : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private async Task WriteAsync()
    {
        ChannelReader<Output> queue = _queue.Reader;
        while (await queue.WaitToReadAsync().ConfigureAwait(false))
        {
            while (queue.TryRead(out Output o))
            {
                if (o.Error == Jt808Error.None) WriteProbe(o);
                else WriteDeadLetter(o);
            }
            // Nothing more waiting: what was written leaves now (a live feed, not a batch).
            _probeStream.Flush();
            _deadStream.Flush();
        }
    }

    private void WriteProbe(in Output o)
    {
        Counters.Probe();
        Jt808Position p = o.Position;
        Probe probe = Probe.Empty;
        probe.TimeMs = p.TimeMs;
        probe.Lon = p.Lon;
        probe.Lat = p.Lat;
        probe.SpeedKmh = p.SpeedKmh;
        probe.Heading = p.Heading;
        probe.Fix = p.Positioned;
        probe.Alarm = p.Alarm;
        probe.HasAlarm = true;
        probe.Status = p.Status;
        probe.HasStatus = true;
        var w = _probes.Begin();
        ProbeJsonWriter.WriteFields(w, o.Vehicle!, in probe);
        _probes.End();
    }

    private void WriteDeadLetter(in Output o)
    {
        var w = _dead.Begin();
        w.WriteString("reason"u8, Jt808Frame.Reason(o.Error));
        w.WriteString("code"u8, Jt808Frame.Code(o.Error));
        w.WriteStartObject("source"u8);
        w.WriteString("protocol"u8, "jt808"u8);
        if (o.Vehicle != null) w.WriteString("terminal"u8, o.Vehicle);
        w.WriteString("remote"u8, o.Remote);
        w.WriteNumber("frame"u8, o.Frame);
        w.WriteEndObject();
        w.WriteBase64String("original_base64"u8, o.Original);
        _dead.End();
    }

    /// <summary>One connection's state (its own task only).</summary>
    private sealed class Session(string remote)
    {
        private ushort _serial;

        /// <summary>Room for one frame's unescaped content.</summary>
        public byte[] Content { get; } = new byte[Jt808Frame.MaxFrameBytes];

        public string Remote { get; } = remote;
        public string? Terminal { get; set; }
        public long Frames { get; set; }

        /// <summary>The piece just handled, though cut between two flags, was no frame (too short, bad escape, wrong check code).</summary>
        public bool NotAFrame { get; set; }

        /// <summary>The message being gathered from sub-packages (made at the first one: most connections never need it).</summary>
        public Reassembly Parts => _parts ??= new();

        /// <summary>Whether a message is being gathered from sub-packages.</summary>
        public bool Gathering => _parts?.Gathering == true;

        private Reassembly? _parts;

        public ushort NextSerial() => _serial++;
    }

    /// <summary>A message's body gathered from its sub-packages, in order.</summary>
    private sealed class Reassembly
    {
        private readonly ArrayBufferWriter<byte> _body = new();
        private ushort _messageId, _total, _next; // _next: the index of the packet awaited, 0 when none is

        public bool Gathering => _next != 0;

        public ReadOnlyMemory<byte> Body => _body.WrittenMemory;

        public void Begin(in Jt808Header h)
        {
            _body.ResetWrittenCount();
            _messageId = h.MessageId;
            _total = h.PacketTotal;
            _next = 1;
        }

        public bool Continues(in Jt808Header h) => Gathering && h.MessageId == _messageId && h.PacketTotal == _total && h.PacketIndex == _next;

        public void Add(ReadOnlySpan<byte> part)
        {
            _body.Write(part);
            _next++;
        }

        public void Clear()
        {
            _body.ResetWrittenCount();
            _next = 0;
        }
    }

    /// <summary>A probe or a dead letter on its way to the writer (a struct: the bounded channel's ring holds it, no object a report).</summary>
    private readonly struct Output
    {
        public Jt808Error Error { get; init; }
        public string? Vehicle { get; init; }          // the probe's vehicle id, or the dead letter's terminal number
        public Jt808Position Position { get; init; }
        public string Remote { get; init; }
        public long Frame { get; init; }
        public byte[] Original { get; init; }

        public static Output ProbeOf(string vehicle, in Jt808Position p) => new() { Vehicle = vehicle, Position = p };

        public static Output DeadLetterOf(Jt808Error error, string? terminal, string remote, long frame, byte[] original) =>
            new() { Error = error, Vehicle = terminal, Remote = remote, Frame = frame, Original = original };
    }
}
