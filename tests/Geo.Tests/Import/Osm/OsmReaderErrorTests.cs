using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>Broken inputs fail with a clear <see cref="InvalidDataException"/>, never a crash or a hang.</summary>
public sealed class OsmReaderErrorTests : IDisposable
{
    private readonly OsmTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(5_000)]
    [InlineData(300_000)]
    [InlineData(1_759_100)]
    public void Truncated_pbf_is_refused(int length)
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("osm", "monaco.osm.pbf"));
        string path = _files.Write("cut.osm.pbf", bytes[..length]);
        var e = Assert.Throws<InvalidDataException>(() => NetworkImport.Read(path, out _));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains("cut.osm.pbf", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absurd_header_length_is_refused_before_allocating()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("osm", "monaco.osm.pbf"))[..1000];
        bytes[0] = 0x7f;
        var e = Assert.Throws<InvalidDataException>(() => OsmPbfReader.Read(_files.Write("big.pbf", bytes)));
        Assert.Contains("header length", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Xml_given_as_pbf_is_refused()
    {
        string path = _files.Write("wrong.pbf", OsmTestFiles.Osm("<node id='1' lat='1' lon='2'/>"));
        Assert.Throws<InvalidDataException>(() => OsmPbfReader.Read(path));
    }

    [Fact]
    public void Empty_pbf_is_refused()
    {
        var e = Assert.Throws<InvalidDataException>(() => OsmPbfReader.Read(_files.Write("empty.pbf", [])));
        Assert.Contains("OSMHeader", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_compression_is_named()
    {
        var blob = new Traffic.Geo.Import.Pbf.Blob { RawSize = 10, ZstdData = Google.Protobuf.ByteString.CopyFrom(new byte[5]) };
        var header = new Traffic.Geo.Import.Pbf.BlobHeader { Type = "OSMHeader", Datasize = blob.CalculateSize() };
        var stream = new MemoryStream();
        byte[] headerBytes = Google.Protobuf.MessageExtensions.ToByteArray(header);
        stream.Write([0, 0, 0, (byte)headerBytes.Length]);
        stream.Write(headerBytes);
        stream.Write(Google.Protobuf.MessageExtensions.ToByteArray(blob));
        var e = Assert.Throws<NotSupportedException>(() => OsmPbfReader.Read(_files.Write("zstd.pbf", stream.ToArray())));
        Assert.Contains("ZstdData", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_data_block_without_its_string_table_is_refused_with_its_block()
    {
        // Found by fuzzing: protobuf reads a PrimitiveBlock without its (required) string table as null, and the reader
        // threw NullReferenceException.
        var stream = new MemoryStream();
        void Block(string type, Google.Protobuf.IMessage message)
        {
            var blob = new Traffic.Geo.Import.Pbf.Blob { Raw = Google.Protobuf.MessageExtensions.ToByteString(message), RawSize = message.CalculateSize() };
            byte[] header = Google.Protobuf.MessageExtensions.ToByteArray(new Traffic.Geo.Import.Pbf.BlobHeader { Type = type, Datasize = blob.CalculateSize() });
            stream.Write([0, 0, 0, (byte)header.Length]);
            stream.Write(header);
            stream.Write(Google.Protobuf.MessageExtensions.ToByteArray(blob));
        }
        Block("OSMHeader", new Traffic.Geo.Import.Pbf.HeaderBlock { RequiredFeatures = { "OsmSchema-V0.6" } });
        Block("OSMData", new Traffic.Geo.Import.Pbf.PrimitiveBlock { Granularity = 100 });
        var e = Assert.Throws<InvalidDataException>(() => OsmPbfReader.Read(_files.Write("no-strings.pbf", stream.ToArray())));
        Assert.Contains("block 1: a PrimitiveBlock without its string table", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_xml_names_line_and_position()
    {
        string text = "<?xml version='1.0'?>\n<osm version='0.6'>\n<node id='1' lat='1' lon='2'/>\n<way id='5'><nd ref='1'/>\n<tag k='highway' v='primary'\n";
        var e = Assert.Throws<InvalidDataException>(() => NetworkImport.Read(_files.Write("broken.osm", text), out _));
        Assert.Contains("line 5", e.Message, StringComparison.Ordinal);
        Assert.Contains("position", e.Message, StringComparison.Ordinal);
        Assert.Contains("broken.osm", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_xml_is_refused()
    {
        string text = File.ReadAllText(SharedData.Path("osm", "shanghai.osm"))[..100_000];
        var e = Assert.Throws<InvalidDataException>(() => NetworkImport.Read(_files.Write("cut.osm", text), out _));
        Assert.Contains("line", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_coordinate_names_its_line()
    {
        string text = OsmTestFiles.Osm("<node id='1' lat='1' lon='2'/>\n<node id='2' lat='north' lon='2'/>");
        var e = Assert.Throws<InvalidDataException>(() => OsmXmlReader.Read(_files.Write("bad.osm", text)));
        Assert.Contains("line 4", e.Message, StringComparison.Ordinal);
        Assert.Contains("lat", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dtd_is_refused()
    {
        string text = "<?xml version='1.0'?><!DOCTYPE osm [<!ENTITY a 'aaaa'>]><osm version='0.6'>&a;</osm>";
        Assert.Throws<InvalidDataException>(() => OsmXmlReader.Read(_files.Write("dtd.osm", text)));
    }

    [Fact]
    public void Corrupt_gzip_is_refused()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("mapmatching", "graphhopper", "issue-70.osm.gz"));
        Assert.Throws<InvalidDataException>(() => OsmXmlReader.Read(_files.Write("cut.osm.gz", bytes[..(bytes.Length / 2)])));
    }
}
