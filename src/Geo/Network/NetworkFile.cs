using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace Traffic.Geo.Network;

/// <summary>
/// The <c>.tnet</c> file: a 64-byte header, then every array of a <see cref="RoadNetwork"/> as raw
/// little-endian values, each padded to 8 bytes, so that loading is one read and a block copy per
/// array. The header carries the payload length and its XxHash64, so a truncated, corrupt or
/// foreign file is refused with a clear message. Layout in docs/network.md.
/// </summary>
public static class NetworkFile
{
    /// <summary>Current format version; a reader refuses any other.</summary>
    public const ushort Version = 1;

    private const int HeaderSize = 64;
    private static ReadOnlySpan<byte> Magic => "TNET"u8;

    public static void Write(RoadNetwork net, string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Write(net, stream);
    }

    public static void Write(RoadNetwork net, Stream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the network file is written on little-endian machines only");
        var payload = new MemoryStream();
        Put(payload, net.NodeLon);
        Put(payload, net.NodeLat);
        Put(payload, net.FirstOut);
        Put(payload, net.EdgeFrom);
        Put(payload, net.EdgeTo);
        Put(payload, net.EdgeLengthM);
        Put(payload, MemoryMarshal.Cast<RoadClass, byte>(net.EdgeClass.AsSpan()));
        Put(payload, MemoryMarshal.Cast<EdgeFlags, byte>(net.EdgeFlag.AsSpan()));
        Put(payload, net.EdgeLimitKmh);
        Put(payload, net.EdgeWayId);
        Put(payload, net.EdgeName);
        Put(payload, net.EdgeTwin);
        Put(payload, net.ShapeStart);
        Put(payload, net.ShapeLon);
        Put(payload, net.ShapeLat);
        Put(payload, net.ShapeOffsetM);
        var nameOffsets = new int[net.NameTable.Length + 1];
        var nameBytes = new MemoryStream();
        for (int i = 0; i < net.NameTable.Length; i++)
        {
            nameBytes.Write(Encoding.UTF8.GetBytes(net.NameTable[i]));
            nameOffsets[i + 1] = checked((int)nameBytes.Length);
        }
        Put(payload, nameOffsets);
        Put(payload, nameBytes.ToArray().AsSpan());

        ReadOnlySpan<byte> body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], Version);
        header[6] = (byte)net.Source;
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], net.NodeCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], net.EdgeCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], net.ShapePointCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], net.NameTable.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], checked((int)nameBytes.Length));
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], body.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(header[40..], XxHash64.HashToUInt64(body));
        stream.Write(header);
        stream.Write(body);
    }

    /// <summary>Loads a network file; <see cref="InvalidDataException"/> with the reason when it is not a sound one.</summary>
    public static RoadNetwork Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Read(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static RoadNetwork Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < HeaderSize || !file[..4].SequenceEqual(Magic))
            throw new InvalidDataException("not a Traffic network file (no TNET header); build one with 'traffic network build'");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file[4..]);
        if (version != Version)
            throw new InvalidDataException($"network file version {version} is not supported (this build reads version {Version}); rebuild it");
        var source = (NetworkSource)file[6];
        int n = BinaryPrimitives.ReadInt32LittleEndian(file[8..]);
        int m = BinaryPrimitives.ReadInt32LittleEndian(file[12..]);
        int p = BinaryPrimitives.ReadInt32LittleEndian(file[16..]);
        int names = BinaryPrimitives.ReadInt32LittleEndian(file[20..]);
        int nameBytes = BinaryPrimitives.ReadInt32LittleEndian(file[24..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(file[32..]);
        ulong hash = BinaryPrimitives.ReadUInt64LittleEndian(file[40..]);
        // Counts the payload cannot hold are a corrupt header, refused before anything is made of them (found by fuzzing:
        // a name count near int.MaxValue made an array of that many names).
        if (n < 0 || m < 0 || p < 0 || names < 1 || nameBytes < 0 || length < 0 || (long)names * sizeof(int) > length)
            throw new InvalidDataException("corrupt network file header");
        if (file.Length - HeaderSize < length)
            throw new InvalidDataException($"network file is truncated: {file.Length - HeaderSize} of {length} payload bytes present");
        if (file.Length - HeaderSize > length)
            throw new InvalidDataException("network file has trailing bytes after its payload");
        ReadOnlySpan<byte> body = file.Slice(HeaderSize, (int)length);
        if (XxHash64.HashToUInt64(body) != hash)
            throw new InvalidDataException("network file checksum mismatch: the file is corrupt");

        var reader = new Reader(body);
        var nodeLon = reader.Take<double>(n);
        var nodeLat = reader.Take<double>(n);
        var firstOut = reader.Take<int>(n + 1);
        var edgeFrom = reader.Take<int>(m);
        var edgeTo = reader.Take<int>(m);
        var edgeLength = reader.Take<double>(m);
        var edgeClass = reader.Take<RoadClass>(m);
        var edgeFlags = reader.Take<EdgeFlags>(m);
        var edgeLimit = reader.Take<float>(m);
        var wayId = reader.Take<long>(m);
        var edgeName = reader.Take<int>(m);
        var twin = reader.Take<int>(m);
        var shapeStart = reader.Take<int>(m + 1);
        var shapeLon = reader.Take<double>(p);
        var shapeLat = reader.Take<double>(p);
        var shapeOffset = reader.Take<double>(p);
        var nameOffsets = reader.Take<int>(names + 1);
        var utf8 = reader.Take<byte>(nameBytes);
        var table = new string[names];
        for (int i = 0; i < names; i++)
        {
            int a = nameOffsets[i], b = nameOffsets[i + 1];
            if (a < 0 || b < a || b > utf8.Length) throw new InvalidDataException("corrupt name table");
            table[i] = Encoding.UTF8.GetString(utf8, a, b - a);
        }
        return new RoadNetwork(source, nodeLon, nodeLat, firstOut, edgeFrom, edgeTo, edgeLength, edgeClass, edgeFlags,
            edgeLimit, wayId, edgeName, twin, shapeStart, shapeLon, shapeLat, shapeOffset, table);
    }

    private static void Put<T>(MemoryStream s, T[] values) where T : unmanaged => Put(s, MemoryMarshal.AsBytes(values.AsSpan()));

    private static void Put(MemoryStream s, ReadOnlySpan<byte> bytes)
    {
        s.Write(bytes);
        int pad = (int)(-s.Length & 7);
        for (int i = 0; i < pad; i++) s.WriteByte(0);
    }

    private ref struct Reader(ReadOnlySpan<byte> body)
    {
        private readonly ReadOnlySpan<byte> _body = body;
        private int _pos;

        public T[] Take<T>(int count) where T : unmanaged
        {
            long bytes = (long)count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (count < 0 || _pos + bytes > _body.Length) throw new InvalidDataException("network file payload is shorter than its header says");
            var result = MemoryMarshal.Cast<byte, T>(_body.Slice(_pos, (int)bytes)).ToArray();
            _pos += (int)((bytes + 7) & ~7L);
            return result;
        }
    }
}
