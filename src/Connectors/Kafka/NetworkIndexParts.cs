using Traffic.Engine.Segments;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// A message of the network-index parts topic (docs/kafka.md): one exchange partition's watermark and its parts of the
/// windows it closed on the way there. Little-endian:
/// <code>
/// version u8 (1), exchange partition u16, watermark ms i64, windows u16,
/// then per window: start ms i64, end ms i64, per road grade (4): VKT mm i64, length mm i64, severe length mm i64, segments i32
/// </code>
/// </summary>
public static class NetworkIndexParts
{
    private const byte Version = 1;

    public static byte[] Write(int partition, long watermarkMs, ReadOnlySpan<NetworkSums> parts)
    {
        using var stream = new MemoryStream(13 + (parts.Length * NetworkSumsFormat.Size));
        using (var o = new BinaryWriter(stream))
        {
            o.Write(Version);
            o.Write(checked((ushort)partition));
            o.Write(watermarkMs);
            o.Write(checked((ushort)parts.Length));
            foreach (ref readonly NetworkSums s in parts) NetworkSumsFormat.Write(o, in s);
        }
        return stream.ToArray();
    }

    /// <summary>Reads a message.</summary>
    /// <exception cref="InvalidDataException">Not a parts message of this version, truncated, or with impossible sums.</exception>
    public static (int Partition, long WatermarkMs, NetworkSums[] Parts) Read(byte[] message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Length < 13 || message[0] != Version) throw new InvalidDataException("network index parts: not a version-1 message");
        using var i = new BinaryReader(new MemoryStream(message, writable: false));
        i.ReadByte();
        int partition = i.ReadUInt16();
        long watermark = i.ReadInt64();
        int count = i.ReadUInt16();
        if (message.Length != 13 + (count * NetworkSumsFormat.Size)) throw new InvalidDataException($"network index parts: {message.Length} bytes for {count} windows");
        var parts = new NetworkSums[count];
        for (int k = 0; k < count; k++) parts[k] = NetworkSumsFormat.Read(i);
        return (partition, watermark, parts);
    }
}
