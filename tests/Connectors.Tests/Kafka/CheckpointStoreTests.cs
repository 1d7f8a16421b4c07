using System.Buffers.Binary;
using Traffic.Connectors.Kafka;
using Traffic.Testing;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>The checkpoint files of the Kafka engine: what is saved loads back; anything else is refused naming the file.</summary>
public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _dir = TestDirectory.New("ckpt");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] State(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void A_saved_checkpoint_loads_back_per_topic_and_partition_and_a_missing_one_is_none()
    {
        var store = new CheckpointStore(_dir);
        Assert.True(Directory.Exists(_dir));
        Assert.False(store.TryLoad("traffic.probes", 0, out long none, out byte[] empty));
        Assert.Equal(0, none);
        Assert.Empty(empty);

        byte[] a = State(100_000, 1), b = State(3, 2);
        store.Save("traffic.probes", 0, 8192, a);
        store.Save("traffic.probes", 1, long.MaxValue, b);
        store.Save("traffic.exchange", 0, 17, []);

        Assert.True(store.TryLoad("traffic.probes", 0, out long next, out byte[] state));
        Assert.Equal(8192, next);
        Assert.Equal(a, state);
        Assert.True(store.TryLoad("traffic.probes", 1, out next, out state));
        Assert.Equal(long.MaxValue, next);
        Assert.Equal(b, state);
        Assert.True(store.TryLoad("traffic.exchange", 0, out next, out state));
        Assert.Equal(17, next);
        Assert.Empty(state);
        Assert.False(store.TryLoad("traffic.exchange", 1, out _, out _));

        // Another store on the same directory (another engine process) reads the same.
        Assert.True(new CheckpointStore(_dir).TryLoad("traffic.probes", 0, out next, out state));
        Assert.Equal(8192, next);
        Assert.Equal(a, state);
    }

    [Fact]
    public void A_new_checkpoint_replaces_the_old_whole_and_leaves_no_temporary_file()
    {
        var store = new CheckpointStore(_dir);
        store.Save("p", 3, 2048, State(50_000, 1));
        byte[] newer = State(10, 2);
        store.Save("p", 3, 4096, newer);
        Assert.True(store.TryLoad("p", 3, out long next, out byte[] state));
        Assert.Equal(4096, next);
        Assert.Equal(newer, state);
        Assert.Equal([store.PathOf("p", 3)], Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_temporary_file_left_by_a_crash_mid_write_neither_hides_the_last_checkpoint_nor_blocks_the_next()
    {
        var store = new CheckpointStore(_dir);
        byte[] saved = State(1000, 1);
        store.Save("p", 0, 2048, saved);
        // A process died while writing the next checkpoint: half a file under the temporary name.
        string temp = store.PathOf("p", 0) + ".tmp";
        File.WriteAllBytes(temp, File.ReadAllBytes(store.PathOf("p", 0)).AsSpan(0, 500).ToArray());
        Assert.True(store.TryLoad("p", 0, out long next, out byte[] state));
        Assert.Equal(2048, next);
        Assert.Equal(saved, state);

        // A leftover temporary file only for a partition that has no checkpoint yet: still none.
        File.WriteAllBytes(store.PathOf("p", 1) + ".tmp", [1, 2, 3]);
        Assert.False(store.TryLoad("p", 1, out _, out _));

        byte[] newer = State(10, 3);
        store.Save("p", 0, 4096, newer);
        Assert.True(store.TryLoad("p", 0, out next, out state));
        Assert.Equal(4096, next);
        Assert.Equal(newer, state);
        Assert.False(File.Exists(temp));
    }

    [Fact]
    public void A_truncated_checkpoint_is_refused_at_every_length_naming_the_file()
    {
        var store = new CheckpointStore(_dir);
        store.Save("p", 0, 2048, State(64, 1));
        string path = store.PathOf("p", 0);
        byte[] whole = File.ReadAllBytes(path);
        for (int length = 0; length < whole.Length; length++)
        {
            File.WriteAllBytes(path, whole.AsSpan(0, length).ToArray());
            var e = Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        // Bytes after the checksum are not a checkpoint of ours either.
        File.WriteAllBytes(path, [.. whole, 0]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_with_any_one_byte_flipped_is_refused_naming_the_file()
    {
        var store = new CheckpointStore(_dir);
        store.Save("p", 0, 2048, State(64, 1));
        string path = store.PathOf("p", 0);
        byte[] whole = File.ReadAllBytes(path);
        for (int i = 0; i < whole.Length; i++)
        {
            byte[] flipped = [.. whole];
            flipped[i] ^= 0x10;
            File.WriteAllBytes(path, flipped);
            var e = Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        // The state and the offset are covered by the checksum.
        byte[] state = [.. whole];
        state[30] ^= 1;
        File.WriteAllBytes(path, state);
        Assert.Contains("corrupt", Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_foreign_file_or_another_version_is_refused_naming_the_file()
    {
        var store = new CheckpointStore(_dir);
        string path = store.PathOf("p", 0);

        // The engine's own partition checkpoint format (TRAFCKPT), not this store's file.
        File.WriteAllBytes(path, [.. "TRAFCKPT"u8, 1, 0, 1, 0, .. new byte[40]]);
        var foreign = Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _));
        Assert.Contains(path, foreign.Message, StringComparison.Ordinal);
        Assert.Contains("not a Traffic checkpoint", foreign.Message, StringComparison.Ordinal);

        File.WriteAllText(path, "{\"offset\": 2048, \"state\": \"...\"}");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _)).Message, StringComparison.Ordinal);

        // A checkpoint of another format version, with a correct checksum for its bytes.
        store.Save("p", 0, 2048, State(64, 1));
        byte[] other = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(other.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt64LittleEndian(other.AsSpan(other.Length - 8), System.IO.Hashing.XxHash64.HashToUInt64(other.AsSpan(0, other.Length - 8)));
        File.WriteAllBytes(path, other);
        var version = Assert.Throws<InvalidDataException>(() => store.TryLoad("p", 0, out _, out _));
        Assert.Contains(path, version.Message, StringComparison.Ordinal);
        Assert.Contains("version 2", version.Message, StringComparison.Ordinal);
    }
}
