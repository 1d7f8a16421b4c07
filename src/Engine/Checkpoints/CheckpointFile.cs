using System.Buffers.Binary;
using System.IO.Hashing;

namespace Traffic.Engine.Checkpoints;

/// <summary>
/// The frame of a checkpoint (docs/checkpoint.md): a 20-byte header (magic <c>TRAFCKPT</c>, format version,
/// kind, a reserved byte, payload length), the payload, and the XxHash64 of header and payload. Reading
/// refuses anything else with a <see cref="CheckpointException"/> that says what is wrong.
/// </summary>
internal static class CheckpointFile
{
    /// <summary>The format version this build writes and reads.</summary>
    public const ushort Version = 20;

    public const int HeaderSize = 20;
    public const int TrailerSize = 8;

    /// <summary>Payloads beyond this are refused before anything is allocated for them (a corrupt length).</summary>
    private const long MaxPayload = 1L << 31;

    private static ReadOnlySpan<byte> Magic => "TRAFCKPT"u8;

    public static void Write(Stream stream, CheckpointKind kind, ReadOnlySpan<byte> payload)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are written on little-endian machines only");
        Span<byte> header = stackalloc byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], Version);
        header[10] = (byte)kind;
        header[11] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(header[12..], payload.Length);
        var hash = new XxHash64();
        hash.Append(header);
        hash.Append(payload);
        Span<byte> trailer = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
        stream.Write(header);
        stream.Write(payload);
        stream.Write(trailer);
    }

    /// <summary>Reads one checkpoint of the expected kind from the stream's position and returns its verified payload.</summary>
    public static byte[] Read(Stream stream, CheckpointKind expected)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderSize];
        int got = ReadFully(stream, header);
        if (got == 0) throw new CheckpointException("checkpoint is empty");
        int prefix = Math.Min(got, Magic.Length);
        if (!header[..prefix].SequenceEqual(Magic[..prefix])) throw new CheckpointException("not a Traffic checkpoint (no TRAFCKPT header)");
        if (got < HeaderSize) throw new CheckpointException($"checkpoint truncated: {got} bytes, the header alone is {HeaderSize}");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != Version)
            throw new CheckpointException($"checkpoint format version {version} is not supported (this build reads version {Version})");
        var kind = (CheckpointKind)header[10];
        if (kind != expected)
            throw new CheckpointException($"this is a {Describe(kind)} checkpoint; expected a {Describe(expected)} checkpoint");
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[12..]);
        if (length is < 0 or > MaxPayload || header[11] != 0) throw new CheckpointException("corrupt checkpoint header");

        // Read in pieces so that a corrupt length never allocates more than the stream holds.
        var payload = new MemoryStream();
        byte[] chunk = new byte[1 << 16];
        long left = length;
        while (left > 0)
        {
            int n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, left));
            if (n == 0) throw new CheckpointException($"checkpoint truncated: {length - left} of {length} payload bytes present");
            payload.Write(chunk, 0, n);
            left -= n;
        }
        Span<byte> trailer = stackalloc byte[TrailerSize];
        if (ReadFully(stream, trailer) < TrailerSize) throw new CheckpointException("checkpoint truncated: its checksum is missing");
        byte[] body = payload.ToArray();
        var hash = new XxHash64();
        hash.Append(header);
        hash.Append(body);
        if (hash.GetCurrentHashAsUInt64() != BinaryPrimitives.ReadUInt64LittleEndian(trailer))
            throw new CheckpointException("checkpoint checksum mismatch: the checkpoint is corrupt");
        return body;
    }

    private static string Describe(CheckpointKind kind) => kind switch
    {
        CheckpointKind.VehiclePartition => "vehicle-partition",
        CheckpointKind.SegmentPartition => "segment-partition",
        _ => $"unknown (kind {(byte)kind})",
    };

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
