using System.Buffers.Binary;
using System.IO.Hashing;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// Checkpoints of partition state in a directory that every engine process of the group can reach (a local
/// disk on one machine, a shared volume across machines): one file per input partition holding the offset
/// to resume from and the partition's state, written so that a reader sees either the old checkpoint or the
/// new one, never a mix (write to a temporary file, flush to disk, rename over the old one).
/// </summary>
/// <remarks>
/// File layout, little-endian: magic "TCKP", version (int32), next offset (int64), state length (int32),
/// state bytes, XxHash64 of everything before it (uint64).
/// </remarks>
public sealed class CheckpointStore
{
    private const uint Magic = 0x504B4354; // "TCKP"
    private const int Version = 1;

    public CheckpointStore(string directory)
    {
        Directory.CreateDirectory(directory);
        DirectoryPath = directory;
    }

    public string DirectoryPath { get; }

    public string PathOf(string topic, int partition) => Path.Combine(DirectoryPath, $"{topic}-{partition}.ckpt");

    /// <summary>Writes a partition's checkpoint atomically.</summary>
    public void Save(string topic, int partition, long nextOffset, ReadOnlySpan<byte> state)
    {
        string path = PathOf(topic, partition);
        string temp = path + ".tmp";
        var header = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), Version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), nextOffset);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), state.Length);
        var hash = new XxHash64();
        hash.Append(header);
        hash.Append(state);
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            file.Write(header);
            file.Write(state);
            Span<byte> sum = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(sum, hash.GetCurrentHashAsUInt64());
            file.Write(sum);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Reads a partition's checkpoint: false when there is none. A checkpoint that is not one of ours, of
    /// another version, truncated or corrupt is refused with <see cref="InvalidDataException"/>: resuming
    /// from a wrong state would silently corrupt every output after it.
    /// </summary>
    public bool TryLoad(string topic, int partition, out long nextOffset, out byte[] state)
    {
        string path = PathOf(topic, partition);
        nextOffset = 0;
        state = [];
        if (!File.Exists(path)) return false;
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 28 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new InvalidDataException($"{path}: not a Traffic checkpoint");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        if (version != Version) throw new InvalidDataException($"{path}: checkpoint version {version}, this engine reads {Version}");
        int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16));
        if (length < 0 || 20L + length + 8 != bytes.Length) throw new InvalidDataException($"{path}: truncated checkpoint");
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(20 + length));
        if (XxHash64.HashToUInt64(bytes.AsSpan(0, 20 + length)) != expected) throw new InvalidDataException($"{path}: corrupt checkpoint (checksum)");
        nextOffset = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        state = bytes.AsSpan(20, length).ToArray();
        return true;
    }
}
