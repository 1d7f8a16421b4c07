using Traffic.Geo.Import.Osm;
using Traffic.Geo.Network;

namespace Traffic.Geo.Import;

/// <summary>Picks the reader for a road-network input by its name.</summary>
public static class NetworkImport
{
    /// <summary>The inputs <c>traffic network build</c> accepts, for help texts and errors.</summary>
    public const string Formats = "OSM XML (.osm, .osm.gz), OSM PBF (.osm.pbf, .pbf), a Kubicka graph (.nodes/.arcs), or a built network (.tnet)";

    /// <summary>
    /// Reads a network; an OSM input's ways without <c>maxspeed</c> take the default limits of <paramref name="country"/>
    /// (ISO 3166-1 alpha-2) or, when null, of the country the file names (<see cref="OsmNetworkImporter.Country"/>).
    /// </summary>
    public static RoadNetwork Read(string path, out ImportReport report, string? country = null)
    {
        string lower = path.ToLowerInvariant();
        if (lower.EndsWith(".nodes", StringComparison.Ordinal) || lower.EndsWith(".arcs", StringComparison.Ordinal))
            return KubickaGraphReader.Read(path, out report);
        if (!File.Exists(path)) throw new FileNotFoundException($"input not found: {path}", path);
        if (lower.EndsWith(".tnet", StringComparison.Ordinal))
        {
            report = new ImportReport();
            return NetworkFile.Read(path);
        }
        if (lower.EndsWith(".pbf", StringComparison.Ordinal))
            return FromOsm(OsmPbfReader.Read(path), out report, country);
        if (lower.EndsWith(".osm", StringComparison.Ordinal) || lower.EndsWith(".osm.gz", StringComparison.Ordinal)
            || lower.EndsWith(".xml", StringComparison.Ordinal))
            return FromOsm(OsmXmlReader.Read(path), out report, country);
        throw new InvalidDataException($"{path}: unrecognised input; expected {Formats}");
    }

    private static RoadNetwork FromOsm(OsmData data, out ImportReport report, string? country)
    {
        report = new ImportReport();
        return OsmNetworkImporter.Import(data, report, country);
    }
}
