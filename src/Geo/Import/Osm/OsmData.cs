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
/// <c>highway</c> tag. Other ways and all relations are only counted.
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
        if (tags.ContainsKey("highway")) HighwayWays.Add(new OsmWay(id, refs, tags));
    }
}
