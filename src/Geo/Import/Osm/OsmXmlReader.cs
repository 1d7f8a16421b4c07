using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Compression;
using System.Xml;

namespace Traffic.Geo.Import.Osm;

/// <summary>
/// Reads OpenStreetMap XML (<c>.osm</c>, or gzip-compressed <c>.osm.gz</c>) into <see cref="OsmData"/>, streaming
/// with <see cref="XmlReader"/> so that memory holds only what is kept. DTDs are refused (no entity expansion).
/// Broken XML fails with an <see cref="InvalidDataException"/> that names the line and position.
/// </summary>
public static class OsmXmlReader
{
    public static OsmData Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static OsmData Read(Stream stream)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreWhitespace = true,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            CloseInput = false,
        };
        var data = new OsmData();
        using var xml = XmlReader.Create(stream, settings);
        var lineInfo = (IXmlLineInfo)xml;
        try
        {
            bool sawRoot = false;
            while (xml.Read())
            {
                if (xml.NodeType != XmlNodeType.Element) continue;
                switch (xml.LocalName)
                {
                    case "osm":
                        sawRoot = true;
                        break;
                    case "node":
                        data.AddNode(Id(xml, lineInfo), Coordinate(xml, lineInfo, "lon", 180), Coordinate(xml, lineInfo, "lat", 90));
                        break;
                    case "way":
                        ReadWay(xml, lineInfo, data);
                        break;
                    case "relation":
                        data.RelationsRead++;
                        break;
                    case "tag": // of a node or a relation (a way reads its own)
                        if (OsmData.IsCountryKey(xml.GetAttribute("k"))) data.CountCountry(xml.GetAttribute("v"));
                        break;
                    default:
                        break; // bounds, members: not needed
                }
            }
            if (!sawRoot) Fail(lineInfo, "not an OSM XML file (no <osm> element)");
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"broken XML at line {e.LineNumber}, position {e.LinePosition}: {e.Message}", e);
        }
        return data;
    }

    private static void ReadWay(XmlReader xml, IXmlLineInfo lineInfo, OsmData data)
    {
        long id = Id(xml, lineInfo);
        var refs = new List<long>();
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!xml.IsEmptyElement)
        {
            int depth = xml.Depth;
            while (xml.Read() && !(xml.NodeType == XmlNodeType.EndElement && xml.Depth == depth))
            {
                if (xml.NodeType != XmlNodeType.Element) continue;
                if (xml.LocalName == "nd")
                {
                    string? r = xml.GetAttribute("ref");
                    if (!long.TryParse(r, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long nodeRef))
                        Fail(lineInfo, $"way {id}: <nd> without a valid ref ('{r}')");
                    refs.Add(nodeRef);
                }
                else if (xml.LocalName == "tag")
                {
                    string? k = xml.GetAttribute("k");
                    if (k is null) Fail(lineInfo, $"way {id}: <tag> without k");
                    tags[k] = xml.GetAttribute("v") ?? "";
                }
            }
        }
        data.AddWay(id, [.. refs], tags);
    }

    private static long Id(XmlReader xml, IXmlLineInfo lineInfo)
    {
        string? s = xml.GetAttribute("id");
        if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long id))
            Fail(lineInfo, $"<{xml.LocalName}> without a valid id ('{s}')");
        return id;
    }

    private static double Coordinate(XmlReader xml, IXmlLineInfo lineInfo, string name, double limit)
    {
        string? s = xml.GetAttribute(name);
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(Math.Abs(v) <= limit))
            Fail(lineInfo, $"<{xml.LocalName} id={xml.GetAttribute("id")}> has no valid {name} ('{s}')");
        return v;
    }

    [DoesNotReturn]
    private static void Fail(IXmlLineInfo at, string message) =>
        throw new InvalidDataException($"line {at.LineNumber}, position {at.LinePosition}: {message}");
}
