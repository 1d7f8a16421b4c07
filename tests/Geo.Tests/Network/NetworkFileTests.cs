using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Network;

public class NetworkFileTests
{
    [Fact]
    public void Round_trip_gives_an_identical_network()
    {
        var net = KubickaGraphReader.Read(SharedData.Kubicka("00000015"), out _);
        var stream = new MemoryStream();
        NetworkFile.Write(net, stream);
        var back = NetworkFile.Read(stream.ToArray());
        NetworkAssert.Identical(net, back);
    }

    [Fact]
    public void Truncated_file_is_refused_with_a_clear_error()
    {
        byte[] bytes = Serialize();
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes.AsSpan(0, bytes.Length - 100)));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_byte_is_detected_by_the_checksum()
    {
        byte[] bytes = Serialize();
        bytes[bytes.Length / 2] ^= 0x40;
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes));
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Foreign_file_is_refused()
    {
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read("<?xml version='1.0'?><osm></osm>"u8.ToArray()));
        Assert.Contains("not a Traffic network file", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => NetworkFile.Read([]));
    }

    [Fact]
    public void Other_version_is_refused()
    {
        byte[] bytes = Serialize();
        bytes[4] = 99;
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes));
        Assert.Contains("version", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN, "node position not on the globe")]
    [InlineData(540.0, "node position not on the globe")]
    public void A_file_whose_checksum_holds_but_whose_positions_are_off_the_globe_is_refused(double lon, string reason)
    {
        // Found by fuzzing: such a file was taken, and the spatial index over it threw.
        byte[] bytes = Serialize();
        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(64), lon); // the first node's longitude
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan(64)));
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("adjacency", "adjacency is not monotonic")]
    [InlineData("shapes", "edge shape has fewer than two points")]
    public void A_file_whose_checksum_holds_but_whose_offsets_run_past_their_arrays_is_refused(string array, string reason)
    {
        // Found by fuzzing: an offset beyond the edges (or shape points), back within them further on, was read before
        // the check that it runs forward could see it.
        byte[] bytes = Serialize();
        int n = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        int m = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        static int Pad(long size) => (int)((size + 7) & ~7L);
        // The payload's arrays in the order the writer puts them, each padded to 8 bytes (docs/network-file.md).
        int firstOut = 64 + Pad(8L * n) + Pad(8L * n);
        int shapeStart = firstOut + Pad(4L * (n + 1)) + Pad(4L * m) + Pad(4L * m) + Pad(8L * m) + Pad(m) + Pad(m) + Pad(4L * m)
            + Pad(8L * m) + Pad(4L * m) + Pad(4L * m);
        int at = array == "adjacency" ? firstOut + 4 : shapeStart + 4;   // the second node's first edge; the second edge's first point
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), int.MaxValue / 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan(64)));
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_counting_more_names_than_the_file_holds_is_refused_before_anything_is_made()
    {
        byte[] bytes = Serialize();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20), int.MaxValue);
        var e = Assert.Throws<InvalidDataException>(() => NetworkFile.Read(bytes));
        Assert.Contains("corrupt network file header", e.Message, StringComparison.Ordinal);
    }

    private static byte[] Serialize()
    {
        var stream = new MemoryStream();
        NetworkFile.Write(KubickaGraphReader.Read(SharedData.Kubicka("00000046"), out _), stream);
        return stream.ToArray();
    }
}
