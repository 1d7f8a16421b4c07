using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Traffic.Connectors.Jt808;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Zones;
using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;

namespace Traffic.Fuzz;

/// <summary>One fuzz target: what it reads, and the run of one input (throws on a finding).</summary>
public sealed record Target(string Name, string Description, Action<byte[]> Run)
{
    /// <summary>What the inputs run so far reached, printed after a replay; null when the target tells nothing.</summary>
    public Func<string>? Summary { get; init; }
}

/// <summary>The targets. Each lets through only the exception its code documents for bad input.</summary>
public static class Targets
{
    public static readonly Target[] All =
    [
        new("probes-ndjson", "probe lines (NDJSON) through the stream reader, whole and split into small reads: the same records, none lost", ProbesNdjson),
        new("probes-binary", "128-byte binary probe records through the stream reader, whole and split", ProbesBinary),
        new("probes-csv", "probe CSV (a header, then rows) through the CSV reader, whole and split", ProbesCsv),
        new("jt808-stream", "bytes from a terminal's TCP connection: frames taken, unescaped, headers and messages read, whole and split", Jt808Stream),
        new("jt808-message", "one JT/T 808 message (header and body; the check code is added): header and body read", Jt808Message),
        new("jt808-gateway", "the bytes of one connection sent to a running gateway over loopback: it must answer, go on, and fail on none", GatewayConnection),
        new("zones", "a zones file (GeoJSON FeatureCollection), then zone lookups around its zones", Zones),
        new("registry", "a vehicle registry file (NDJSON or a JSON array)", Registry),
        new("network", "a network file (.tnet; its length and checksum set to the input's), then candidate and route searches on it", Network),
        new("osm-xml", "an OSM XML extract imported into a road network", OsmXml),
        new("osm-pbf", "an OSM PBF extract imported into a road network", OsmPbf),
        new("checkpoint-vehicle", "a vehicle partition checkpoint's payload (framed and hashed as the engine writes it), restored on Monaco", CheckpointVehicle),
        new("checkpoint-segment", "a segment partition checkpoint's payload, restored on Monaco", CheckpointSegment),
        new("engine", "decoded probes of eight vehicles through a vehicle and a segment partition on Monaco (zones, registry, watermarks, checkpoints): none lost, alerts' lifecycles whole", EngineTarget.Run) { Summary = EngineTarget.Summary },
    ];

    // ---- probes ----

    private static void ProbesNdjson(byte[] input) => Probes(input, ProbeFormat.NdJson);

    private static void ProbesBinary(byte[] input) => Probes(input, ProbeFormat.Binary);

    private static void ProbesCsv(byte[] input)
    {
        try
        {
            Probes(input, ProbeFormat.Csv);
        }
        catch (InvalidDataException)
        {
            // A header without the required columns, or with a name twice: the file is refused as a whole, whole or split.
        }
    }

    /// <summary>
    /// Reads the input whole and again in reads of a few bytes (a pipe's buffers then split records anywhere): the two
    /// must see the same records, accepted and rejected alike, and every record must be one or the other.
    /// </summary>
    private static void Probes(byte[] input, ProbeFormat format)
    {
        string whole = Read(input, format, chunk: int.MaxValue, out ReadSummary a);
        string split = Read(input, format, ChunkOf(input), out ReadSummary b);
        if (whole != split) throw new FindingException($"{format}: read whole and split into reads of {ChunkOf(input)} bytes, the records differ:\n{whole}\n---\n{split}");
        if (a != b) throw new FindingException($"{format}: summaries differ: {a} whole, {b} split");
        if (a.Records != a.Accepted + a.Rejected) throw new FindingException($"{format}: {a.Records} records but {a.Accepted} accepted and {a.Rejected} rejected");
    }

    private static int ChunkOf(byte[] input) => 1 + (int)((uint)(input.Length * 31) % 23);

    private static string Read(byte[] input, ProbeFormat format, int chunk, out ReadSummary summary)
    {
        var ids = new VehicleIds();
        var log = new RecordLog(ids);
        using var stream = new Traffic.Testing.TrickleStream(input, chunk);
        summary = format == ProbeFormat.Csv
            ? new ProbeCsvReader(ids).Read(stream, log)
            : new ProbeStreamReader(format, ids).ReadAsync(stream, log).AsTask().GetAwaiter().GetResult();
        if (log.Accepted != summary.Accepted || log.Rejected != summary.Rejected)
            throw new FindingException($"{format}: the handler saw {log.Accepted} accepted and {log.Rejected} rejected, the summary says {summary}");
        return log.Text.ToString();
    }

    /// <summary>What a reader handed on, as text to compare: each probe's fields, each rejection's reason and bytes.</summary>
    private sealed class RecordLog(VehicleIds ids) : IProbeHandler
    {
        public StringBuilder Text { get; } = new();
        public long Accepted { get; private set; }
        public long Rejected { get; private set; }

        public void OnProbe(in Probe probe, in RecordSource source)
        {
            Accepted++;
            if (!double.IsFinite(probe.Lon) || !double.IsFinite(probe.Lat) || probe.Lon is < -180 or > 180 || probe.Lat is < -90 or > 90)
                throw new FindingException($"a probe accepted at ({probe.Lon}, {probe.Lat})");
            Text.Append($"ok {source.Record} {ids.Name(probe.Vehicle)} {probe.TimeMs} {probe.Lon:R} {probe.Lat:R} {probe.SpeedKmh:R} {probe.Heading:R} {probe.Class} {probe.Hazmat} {probe.Fix}\n");
        }

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
            Rejected++;
            Text.Append($"rejected {source.Record} {error} {Convert.ToHexString(raw)}\n");
        }
    }

    // ---- JT/T 808 ----

    /// <summary>The gateway's framing loop over the bytes, whole and split: the same frames and errors either way.</summary>
    private static void Jt808Stream(byte[] input)
    {
        string whole = Frames(input, int.MaxValue);
        string split = Frames(input, ChunkOf(input));
        if (whole != split) throw new FindingException($"JT/T 808: read whole and split into reads of {ChunkOf(input)} bytes, the frames differ:\n{whole}\n---\n{split}");
    }

    private static string Frames(byte[] input, int chunk)
    {
        var log = new StringBuilder();
        var content = new byte[Jt808Frame.MaxFrameBytes];
        var pending = new List<byte>();
        int at = 0;
        while (true)
        {
            int n = Math.Min(chunk, input.Length - at);
            pending.AddRange(input.AsSpan(at, n));
            at += n;
            bool completed = at == input.Length;
            var buffer = new ReadOnlySequence<byte>(pending.ToArray());
            long before = buffer.Length;
            while (Jt808Frame.TryTake(ref buffer, completed, out ReadOnlySequence<byte> frame, out Jt808Error framing))
            {
                // Each take moves the buffer on (measured from the take before, not from the first).
                if (buffer.Length >= before) throw new FindingException("a frame taken without the buffer moving on");
                before = buffer.Length;
                if (framing != Jt808Error.None)
                {
                    log.Append($"refused {framing} {Convert.ToHexString(frame.ToArray())}\n");
                    continue;
                }
                if (frame.Length > Jt808Frame.MaxFrameBytes) throw new FindingException($"a frame of {frame.Length} bytes taken");
                int length = Jt808Frame.Unescape(frame.ToArray(), content);
                if (length < 0)
                {
                    log.Append($"escape {Convert.ToHexString(frame.ToArray())}\n");
                    continue;
                }
                log.Append(Message(content.AsSpan(0, length))).Append('\n');
            }
            pending.Clear();
            pending.AddRange(buffer.ToArray());
            if (completed) break;
        }
        return log.ToString();
    }

    /// <summary>The input as a message's content with its check code added, so that the header and body are what is fuzzed.</summary>
    private static void Jt808Message(byte[] input)
    {
        var content = new byte[input.Length + 1];
        input.CopyTo(content, 0);
        byte check = 0;
        foreach (byte b in input) check ^= b;
        content[^1] = check;
        Message(content);
        // The same message framed as the gateway frames its replies must come back through the framing as it went in
        // (a frame longer than the limit is refused as too long, rightly).
        byte[] framed = Jt808Frame.Wrap(content);
        var buffer = new ReadOnlySequence<byte>(framed);
        if (!Jt808Frame.TryTake(ref buffer, completed: true, out ReadOnlySequence<byte> frame, out Jt808Error error))
            throw new FindingException("a framed message not taken");
        bool fits = framed.Length - 2 <= Jt808Frame.MaxFrameBytes;
        if (error != (fits ? Jt808Error.None : Jt808Error.TooLong)) throw new FindingException($"a framed message of {framed.Length} bytes taken as {error}");
        if (fits)
        {
            var back = new byte[Jt808Frame.MaxFrameBytes];
            int n = Jt808Frame.Unescape(frame.ToArray(), back);
            if (!back.AsSpan(0, n).SequenceEqual(content)) throw new FindingException("a message framed and unframed is not the same");
        }
    }

    /// <summary>What the gateway reads of one unescaped frame: the header, then the body of each message it handles.</summary>
    private static string Message(ReadOnlySpan<byte> content)
    {
        Jt808Error error = Jt808Frame.TryParse(content, out Jt808Header h, out int bodyAt);
        if (error is not (Jt808Error.None or Jt808Error.Subpackaged or Jt808Error.Encrypted)) return $"header {error}";
        if (bodyAt < 0 || h.BodyLength < 0 || bodyAt + h.BodyLength > content.Length)
            throw new FindingException($"header read with a body of {h.BodyLength} bytes at {bodyAt} in {content.Length}");
        if (error != Jt808Error.None) return $"header {error} {h.MessageId:x4} {h.PacketIndex}/{h.PacketTotal}";
        ReadOnlySpan<byte> body = content.Slice(bodyAt, h.BodyLength);
        string read = h.MessageId switch
        {
            Jt808Messages.Registration => Jt808Messages.TryReadRegistration(body, h.Version2019, out string? plate) + " " + plate,
            Jt808Messages.Authentication => Jt808Messages.TryReadAuthCode(body, h.Version2019, out string code) + " " + Jt808Gateway.VehicleOfAuthCode(code),
            Jt808Messages.PositionReport => Position(body),
            Jt808Messages.PositionQueryResponse => body.Length < 2 ? "short" : Position(body[2..]),
            Jt808Messages.BatchPositions => Batch(body),
            _ => "not read",
        };
        return $"{h.MessageId:x4} {h.Terminal} {h.Serial}: {read}";
    }

    private static string Position(ReadOnlySpan<byte> body)
    {
        Jt808Error error = Jt808Messages.TryReadPosition(body, out Jt808Position p);
        if (error != Jt808Error.None) return error.ToString();
        if (!double.IsFinite(p.Lon) || !double.IsFinite(p.Lat) || Math.Abs(p.Lon) > 180 || Math.Abs(p.Lat) > 90 || !(p.Heading is >= 0 and < 360))
            throw new FindingException($"a position taken at ({p.Lon}, {p.Lat}) heading {p.Heading}");
        return $"{p.TimeMs} {p.Lon:R} {p.Lat:R} {p.SpeedKmh:R} {p.Heading:R} {p.Alarm:x8} {p.Status:x8}";
    }

    private static string Batch(ReadOnlySpan<byte> body)
    {
        var items = new List<(int Offset, int Length)>();
        Jt808Error error = Jt808Messages.TryReadBatch(body, items);
        if (error != Jt808Error.None) return "batch " + error;
        var s = new StringBuilder("batch");
        foreach (var (offset, length) in items)
        {
            if (offset < 0 || length < 0 || offset + length > body.Length) throw new FindingException($"a batch item at {offset} of {length} bytes in {body.Length}");
            s.Append(' ').Append(Position(body.Slice(offset, length)));
        }
        return s.ToString();
    }

    private static readonly Lazy<Jt808Gateway> s_gateway = new(() =>
    {
        var gateway = new Jt808Gateway(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), Stream.Null, Stream.Null);
        gateway.Start();
        return gateway;
    });

    /// <summary>
    /// One connection's bytes through the real gateway: sent whole, then the connection half-closed; the gateway reads
    /// to the end, answers, and closes. A frame it fails on (<see cref="Jt808Counters.Faults"/>) is the finding.
    /// </summary>
    private static void GatewayConnection(byte[] input)
    {
        Jt808Gateway gateway = s_gateway.Value;
        long faults = gateway.Counters.Faults;
        using (var client = new System.Net.Sockets.TcpClient())
        {
            client.Connect(gateway.LocalEndPoint);
            client.ReceiveTimeout = 10_000;
            using var stream = client.GetStream();
            stream.Write(input);
            client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            var buffer = new byte[4096];
            while (stream.Read(buffer) > 0)
            {
            }
        }
        if (gateway.Counters.Faults != faults) throw new FindingException($"the gateway failed on a frame: {gateway.Counters.LastFault}");
    }

    // ---- files ----

    private static void Zones(byte[] input)
    {
        ZoneSet zones;
        try
        {
            zones = ZoneSet.Parse(Encoding.UTF8.GetString(input));
        }
        catch (InvalidDataException)
        {
            return;
        }
        Span<int> found = stackalloc int[64];
        for (int z = 0; z < zones.Zones.Count; z++)
        {
            var (lon, lat) = zones.Centre(z);
            for (int k = 0; k < 5; k++)
            {
                double x = lon + ((k - 2) * 0.001), y = lat + ((k - 2) * 0.0007);
                zones.Containing(x, y, found);
                zones.Holds(z, x, y);
                zones.SignedDistanceM(z, x, y);
            }
        }
    }

    private static void Registry(byte[] input)
    {
        string path = TempFile(input);
        try
        {
            VehicleRegistry.Load(path, new VehicleIds());
        }
        catch (InvalidDataException)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string TempFile(byte[] input)
    {
        string dir = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string path = Path.Combine(dir, $"traffic-fuzz-{Environment.ProcessId}");
        File.WriteAllBytes(path, input);
        return path;
    }

    private static void Network(byte[] input)
    {
        const int HeaderSize = 64;
        if (input.Length >= HeaderSize)
        {
            // The payload's length and hash as the writer sets them: a corrupt file fails them and nothing more is read.
            BinaryPrimitives.WriteInt64LittleEndian(input.AsSpan(32), input.Length - HeaderSize);
            BinaryPrimitives.WriteUInt64LittleEndian(input.AsSpan(40), XxHash64.HashToUInt64(input.AsSpan(HeaderSize)));
        }
        RoadNetwork net;
        try
        {
            net = NetworkFile.Read(input);
        }
        catch (InvalidDataException)
        {
            return;
        }
        Exercise(net);
    }

    /// <summary>What the engine does with a network it loaded: the candidate index, searches near its nodes, routes between its edges.</summary>
    private static void Exercise(RoadNetwork net)
    {
        var index = new EdgeIndex(net);
        var found = new EdgeCandidate[8];
        var router = new BoundedDijkstra(net);
        var distances = new double[8];
        for (int i = 0; i < Math.Min(net.NodeCount, 16); i++)
        {
            int n = index.Within(net.Lon(i), net.Lat(i), 50, found);
            index.Nearest(net.Lon(i), net.Lat(i), 200, found);
            if (n == 0) continue;
            var targets = new EdgePosition[n];
            for (int j = 0; j < n; j++) targets[j] = new EdgePosition(found[j].Edge, found[j].OffsetM);
            router.Run(targets[0], targets, 1000, distances);
            for (int j = 0; j < n; j++) net.BearingAt(found[j].Edge, found[j].OffsetM);
        }
    }

    private static void OsmXml(byte[] input)
    {
        try
        {
            OsmData data = OsmXmlReader.Read(new MemoryStream(input));
            Exercise(OsmNetworkImporter.Import(data, new ImportReport()));
        }
        catch (Exception e) when (e is System.Xml.XmlException or InvalidDataException or FormatException)
        {
        }
    }

    private static void OsmPbf(byte[] input)
    {
        try
        {
            var data = new OsmData();
            OsmPbfReader.Read(new MemoryStream(input), data);
            Exercise(OsmNetworkImporter.Import(data, new ImportReport()));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            // IOException: Google.Protobuf's InvalidProtocolBufferException, a message that is not one. NotSupportedException:
            // a blob compressed in a way the reader does not read (zstd, lzma).
        }
    }

    // ---- checkpoints ----

    private static readonly Lazy<EdgeIndex> s_monaco = new(() =>
        new EdgeIndex(NetworkImport.Read(Traffic.Testing.SharedData.Path("osm", "monaco.osm.pbf"), out _)));

    /// <summary>Monaco's road network and its index, imported once a process.</summary>
    public static EdgeIndex Monaco => s_monaco.Value;

    /// <summary>A checkpoint's payload framed (header, checksum) as the engine writes a checkpoint file: what the targets restore.</summary>
    public static MemoryStream Framed(byte[] payload, CheckpointKind kind)
    {
        var stream = new MemoryStream();
        CheckpointFile.Write(stream, kind, payload);
        stream.Position = 0;
        return stream;
    }

    private static void CheckpointVehicle(byte[] input)
    {
        EdgeIndex index = s_monaco.Value;
        try
        {
            VehiclePartition.Load(0, index, new VehicleIds(), null, null, Framed(input, CheckpointKind.VehiclePartition));
        }
        catch (CheckpointException)
        {
        }
    }

    private static void CheckpointSegment(byte[] input)
    {
        EdgeIndex index = s_monaco.Value;
        try
        {
            SegmentPartition.Load(index.Network, 0, 1, Framed(input, CheckpointKind.SegmentPartition));
        }
        catch (CheckpointException)
        {
        }
    }
}

/// <summary>A finding that is not an exception of the code under test: two reads that disagree, a count that does not add up.</summary>
public sealed class FindingException(string message) : Exception(message);
