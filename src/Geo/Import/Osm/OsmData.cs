namespace Traffic.Geo.Import.Osm;

/// <summary>A way tagged <c>highway=*</c> as read from the file: node refs in order, and its tags.</summary>
public sealed class OsmWay
{
    public OsmWay(long id, long[] refs, Dictionary<string, string> tags)
    {
        Id = id;
        Refs = refs;
        Tags = tags;
    }

    public long Id { get; }

    public long[] Refs { get; }

    public Dictionary<string, string> Tags { get; }

    public string? Tag(string key) => Tags.TryGetValue(key, out string? v) ? v : null;
}

/// <summary>
/// The raw content of an OSM file that a road network needs, filled by <see cref="OsmXmlReader"/> and
/// <see cref="OsmPbfReader"/>: every node's coordinates (ways may come before their nodes in files that
/// are not sorted by id, so refs are resolved only once everything is read) and the ways with a
/// <c>highway</c> tag. Other ways and all relations are only counted, but for the countries their tags name.
/// </summary>
public sealed class OsmData
{
    /// <summary>Node coordinates by OSM id, WGS84 degrees.</summary>
    public Dictionary<long, (double Lon, double Lat)> Nodes { get; } = [];

    /// <summary>Ways with a <c>highway</c> tag, in file order.</summary>
    public List<OsmWay> HighwayWays { get; } = [];

    public long NodesRead { get; set; }

    public long WaysRead { get; set; }

    public long RelationsRead { get; set; }

    /// <summary>
    /// The countries the file's elements name (<c>addr:country</c> on any element, <c>ISO3166-1:alpha2</c> or
    /// <c>ISO3166-1</c> on boundaries), with how often: which country's default speed limits apply.
    /// </summary>
    public Dictionary<string, int> CountryTags { get; } = new(StringComparer.Ordinal);

    /// <summary>The keys whose values name a country.</summary>
    public static bool IsCountryKey(ReadOnlySpan<char> key) =>
        key.SequenceEqual("addr:country") || key.SequenceEqual("ISO3166-1:alpha2") || key.SequenceEqual("ISO3166-1");

    /// <summary>Counts a country named by a tag; values that are not a two-letter code are ignored.</summary>
    public void CountCountry(ReadOnlySpan<char> value)
    {
        if (!DefaultSpeedLimits.TryCountryCode(value, out string country)) return;
        CountryTags.TryGetValue(country, out int n);
        CountryTags[country] = n + 1;
    }

    /// <summary>Records a node; a later duplicate id replaces the earlier position (as in a change applied on top).</summary>
    public void AddNode(long id, double lon, double lat)
    {
        NodesRead++;
        Nodes[id] = (lon, lat);
    }

    /// <summary>Counts a way that a reader already knows has no <c>highway</c> tag.</summary>
    public void CountOtherWay() => WaysRead++;

    /// <summary>Counts a way and keeps it when it has a <c>highway</c> tag.</summary>
    public void AddWay(long id, long[] refs, Dictionary<string, string> tags)
    {
        WaysRead++;
        foreach (var (key, value) in tags)
        {
            if (IsCountryKey(key)) CountCountry(value);
        }
        if (tags.ContainsKey("highway")) HighwayWays.Add(new OsmWay(id, refs, tags));
    }
}
