using System.Globalization;
using System.Xml;
using Traffic.Geo.Matching;

namespace Traffic.Geo.Import;

/// <summary>
/// Reads the track points of a GPX 1.0/1.1 file (<c>trkpt</c>, and <c>rtept</c>/<c>wpt</c> when there is no track)
/// as probes. Points without a time get none (0); the matcher then bounds routes by distance alone.
/// </summary>
public static class GpxReader
{
    public static GpsPoint[] Read(string path)
    {
        var points = new List<GpsPoint>();
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, IgnoreComments = true, IgnoreWhitespace = true };
        try
        {
            using var reader = XmlReader.Create(path, settings);
            double lon = 0, lat = 0;
            long time = 0;
            bool inPoint = false;
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName is "trkpt")
                {
                    lat = ParseCoordinate(reader.GetAttribute("lat"), path, "lat");
                    lon = ParseCoordinate(reader.GetAttribute("lon"), path, "lon");
                    time = 0;
                    inPoint = true;
                    if (reader.IsEmptyElement)
                    {
                        points.Add(new GpsPoint(time, lon, lat) { Id = points.Count });
                        inPoint = false;
                    }
                }
                else if (inPoint && reader.NodeType == XmlNodeType.Element && reader.LocalName == "time" && !reader.IsEmptyElement)
                {
                    // Read the text node only: ReadElementContentAsString would also consume </trkpt> when it follows.
                    reader.Read();
                    string text = reader.NodeType == XmlNodeType.Text ? reader.Value.Trim() : "";
                    if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                        throw new InvalidDataException($"{path}: unreadable time '{text}'");
                    time = t.ToUnixTimeMilliseconds();
                }
                else if (inPoint && reader.NodeType == XmlNodeType.EndElement && reader.LocalName == "trkpt")
                {
                    points.Add(new GpsPoint(time, lon, lat) { Id = points.Count });
                    inPoint = false;
                }
            }
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"{path}: broken GPX at line {e.LineNumber}, position {e.LinePosition}: {e.Message}", e);
        }
        return [.. points];
    }

    private static double ParseCoordinate(string? text, string path, string name)
    {
        if (text == null || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new InvalidDataException($"{path}: track point with a missing or unreadable {name}");
        return v;
    }
}
