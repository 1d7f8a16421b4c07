using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Traffic.Geo.Import.Pbf;

namespace Traffic.Geo.Import.Osm;

/// <summary>
/// Reads an OpenStreetMap PBF file (https://wiki.openstreetmap.org/wiki/PBF_Format) into <see cref="OsmData"/>:
/// a sequence of (4-byte big-endian header length, <c>BlobHeader</c>, <c>Blob</c>) blocks, each blob raw or
/// zlib-compressed, holding string-table-indexed nodes (plain or dense), ways and relations.
/// Truncated or corrupt input fails with <see cref="InvalidDataException"/>; compressions other than zlib
/// with <see cref="NotSupportedException"/>.
/// </summary>
public static class OsmPbfReader
{
    /// <summary>The format caps a BlobHeader at 64 KiB.</summary>
    public const int MaxHeaderSize = 64 * 1024;

    /// <summary>The format caps a blob at 32 MiB; twice that still refuses garbage lengths before allocating.</summary>
    public const int MaxBlobSize = 64 * 1024 * 1024;

    // Features this reader understands; any other required feature means the data would be misread.
    private static readonly HashSet<string> s_supportedFeatures = new(StringComparer.Ordinal)
    {
        "OsmSchema-V0.6", "DenseNodes", "HistoricalInformation", "Sort.Type_then_ID", "Sort.Geographic",
    };

    public static OsmData Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var data = new OsmData();
        try
        {
            Read(stream, data);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{path}: {e.Message}", e);
        }
        return data;
    }

    /// <summary>Reads every block of <paramref name="stream"/> into <paramref name="data"/>.</summary>
    public static void Read(Stream stream, OsmData data)
    {
        Span<byte> lengthBytes = stackalloc byte[4];
        bool sawHeader = false;
        for (long block = 0; ; block++)
        {
            long at = stream.CanSeek ? stream.Position : -1;
            int got = ReadUpTo(stream, lengthBytes);
            if (got == 0) break; // clean end between blocks
            if (got < 4) Fail($"truncated: the file ends inside the length of block {block}");
            int headerSize = BinaryPrimitives.ReadInt32BigEndian(lengthBytes);
            if (headerSize <= 0 || headerSize > MaxHeaderSize)
                Fail($"block {block}{Where(at)}: header length {headerSize} is outside 1..{MaxHeaderSize} (not a PBF file, or corrupt)");

            BlobHeader header = Parse(BlobHeader.Parser, ReadExactly(stream, headerSize, block, "header"), block, "BlobHeader");
            if (header.Datasize < 0 || header.Datasize > MaxBlobSize)
                Fail($"block {block}{Where(at)}: blob size {header.Datasize} is outside 0..{MaxBlobSize}");
            Blob blob = Parse(Blob.Parser, ReadExactly(stream, header.Datasize, block, "blob"), block, "Blob");

            switch (header.Type)
            {
                case "OSMHeader":
                    CheckFeatures(Parse(HeaderBlock.Parser, Decompress(blob, block), block, "HeaderBlock"));
                    sawHeader = true;
                    break;
                case "OSMData":
                    if (!sawHeader) Fail($"block {block}: data before the OSMHeader block (not a PBF file, or corrupt)");
                    ReadPrimitives(Parse(PrimitiveBlock.Parser, Decompress(blob, block), block, "PrimitiveBlock"), data, block);
                    break;
                default:
                    break; // the format says to skip unknown block types
            }
        }
        if (!sawHeader) Fail("empty: no OSMHeader block");
    }

    private static void CheckFeatures(HeaderBlock header)
    {
        foreach (string feature in header.RequiredFeatures)
        {
            if (!s_supportedFeatures.Contains(feature))
                throw new NotSupportedException($"the file requires the PBF feature '{feature}', which this reader does not support");
        }
    }

    private static void ReadPrimitives(PrimitiveBlock pb, OsmData data, long block)
    {
        // Decode the string table once per block; keys and values are indices into it. The format requires it, but
        // protobuf reads a block without one as null (found by fuzzing).
        if (pb.Stringtable == null) Fail($"block {block}: a PrimitiveBlock without its string table (not a PBF file, or corrupt)");
        var table = pb.Stringtable.S;
        var strings = new string[table.Count];
        for (int i = 0; i < strings.Length; i++) strings[i] = Encoding.UTF8.GetString(table[i].Span);

        // Most ways are not roads (buildings, land use): recognise them by the key's index, before any allocation.
        int highwayKey = Array.IndexOf(strings, "highway");
        // The keys that name a country (for the default speed limits); most blocks have none.
        bool[]? countryKey = null;
        for (int i = 1; i < strings.Length; i++)
        {
            if (OsmData.IsCountryKey(strings[i])) (countryKey ??= new bool[strings.Length])[i] = true;
        }

        long granularity = pb.Granularity, latOffset = pb.LatOffset, lonOffset = pb.LonOffset;
        foreach (PrimitiveGroup group in pb.Primitivegroup)
        {
            foreach (Node node in group.Nodes)
            {
                data.AddNode(node.Id, Degrees(lonOffset, granularity, node.Lon), Degrees(latOffset, granularity, node.Lat));
                if (countryKey != null) CountCountries(node.Keys, node.Vals, countryKey, strings, data, block);
            }

            if (group.Dense is { } dense)
            {
                int n = dense.Id.Count;
                if (dense.Lat.Count != n || dense.Lon.Count != n)
                    Fail($"block {block}: dense nodes have {n} ids but {dense.Lat.Count} latitudes and {dense.Lon.Count} longitudes");
                long id = 0, lat = 0, lon = 0;
                for (int i = 0; i < n; i++)
                {
                    id += dense.Id[i];
                    lat += dense.Lat[i];
                    lon += dense.Lon[i];
                    data.AddNode(id, Degrees(lonOffset, granularity, lon), Degrees(latOffset, granularity, lat));
                }
                if (countryKey != null)
                {
                    // keys_vals: each node's key and value indices in pairs, a 0 after each node's last pair.
                    var kv = dense.KeysVals;
                    for (int i = 0; i + 1 < kv.Count; i++)
                    {
                        if (kv[i] == 0) continue;
                        if ((uint)kv[i] < (uint)countryKey.Length && countryKey[kv[i]]) data.CountCountry(String(strings, (uint)kv[i + 1], block));
                        i++;
                    }
                }
            }

            foreach (Way way in group.Ways)
            {
                if (way.Keys.Count != way.Vals.Count) Fail($"block {block}: way {way.Id} has {way.Keys.Count} keys but {way.Vals.Count} values");
                if (highwayKey <= 0 || !way.Keys.Contains((uint)highwayKey))
                {
                    if (countryKey != null) CountCountries(way.Keys, way.Vals, countryKey, strings, data, block); // a road counts its own in AddWay
                    data.CountOtherWay();
                    continue;
                }
                var tags = new Dictionary<string, string>(way.Keys.Count, StringComparer.Ordinal);
                for (int i = 0; i < way.Keys.Count; i++)
                    tags[String(strings, way.Keys[i], block)] = String(strings, way.Vals[i], block);
                var refs = new long[way.Refs.Count];
                long r = 0;
                for (int i = 0; i < refs.Length; i++)
                {
                    r += way.Refs[i];
                    refs[i] = r;
                }
                data.AddWay(way.Id, refs, tags);
            }

            data.RelationsRead += group.Relations.Count;
            if (countryKey != null)
            {
                foreach (Relation relation in group.Relations) CountCountries(relation.Keys, relation.Vals, countryKey, strings, data, block);
            }
        }
    }

    private static void CountCountries(RepeatedField<uint> keys, RepeatedField<uint> vals, bool[] countryKey, string[] strings, OsmData data, long block)
    {
        int n = Math.Min(keys.Count, vals.Count);
        for (int i = 0; i < n; i++)
        {
            if (keys[i] < (uint)countryKey.Length && countryKey[keys[i]]) data.CountCountry(String(strings, vals[i], block));
        }
    }

    private static double Degrees(long offset, long granularity, long value) => 1e-9 * (offset + (granularity * value));

    private static string String(string[] strings, uint index, long block)
    {
        if (index >= (uint)strings.Length) Fail($"block {block}: string index {index} outside the string table of {strings.Length}");
        return strings[index];
    }

    private static byte[] Decompress(Blob blob, long block)
    {
        switch (blob.DataCase)
        {
            case Blob.DataOneofCase.Raw:
                return blob.Raw.ToByteArray();
            case Blob.DataOneofCase.ZlibData:
                if (!blob.HasRawSize || blob.RawSize < 0 || blob.RawSize > MaxBlobSize)
                    Fail($"block {block}: zlib blob declares an uncompressed size of {(blob.HasRawSize ? blob.RawSize : "none")}, outside 0..{MaxBlobSize}");
                var output = new byte[blob.RawSize];
                try
                {
                    using var z = new ZLibStream(new MemoryStream(blob.ZlibData.ToByteArray(), writable: false), CompressionMode.Decompress);
                    z.ReadExactly(output);
                }
                catch (EndOfStreamException)
                {
                    Fail($"block {block}: zlib data is shorter than its declared size {blob.RawSize}");
                }
                catch (InvalidDataException e)
                {
                    Fail($"block {block}: corrupt zlib data ({e.Message})");
                }
                return output;
            case Blob.DataOneofCase.None:
                Fail($"block {block}: blob holds no data");
                return [];
            default:
                throw new NotSupportedException(
                    $"block {block}: blob compression {blob.DataCase} is not supported (only raw and zlib); re-encode with e.g. 'osmium cat -o out.osm.pbf in.osm.pbf'");
        }
    }

    private static T Parse<T>(MessageParser<T> parser, byte[] bytes, long block, string what)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            Fail($"block {block}: corrupt {what} ({e.Message})");
            return default!;
        }
    }

    private static byte[] ReadExactly(Stream stream, int count, long block, string what)
    {
        var bytes = new byte[count];
        if (ReadUpTo(stream, bytes) < count) Fail($"truncated: the file ends inside the {what} of block {block}");
        return bytes;
    }

    private static int ReadUpTo(Stream stream, Span<byte> buffer)
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

    private static string Where(long at) => at >= 0 ? $" at byte {at}" : "";

    [DoesNotReturn]
    private static void Fail(string message) => throw new InvalidDataException(message);
}
