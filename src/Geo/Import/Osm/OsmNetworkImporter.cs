using System.Runtime.InteropServices;
using Traffic.Geo.Network;

namespace Traffic.Geo.Import.Osm;

/// <summary>
/// Turns the highway ways of <see cref="OsmData"/> into a <see cref="RoadNetwork"/>: keeps the roads that
/// motor vehicles drive, splits ways into edges at junctions (intermediate nodes become shape points),
/// and derives direction, access and speed limit from the tags. Every way or reference left out is
/// counted in the <see cref="ImportReport"/> with its reason. See docs/network.md.
/// </summary>
public static class OsmNetworkImporter
{
    public const string MissingNodeReason = "missing node reference";
    public const string UnparseableMaxSpeedReason = "unparseable maxspeed";
    public const string ZeroLengthReason = "edge of zero length";

    // Values of access tags under which the road stays in the network, flagged RestrictedAccess:
    // buses, taxis and port trucks are exactly the vehicles allowed there.
    private static readonly HashSet<string> s_restricted = new(StringComparer.Ordinal)
    {
        "private", "destination", "delivery", "customers", "permit",
    };

    // Values of access tags that forbid ordinary motor traffic.
    private static readonly HashSet<string> s_forbidden = new(StringComparer.Ordinal)
    {
        "no", "agricultural", "forestry", "use_sidepath",
    };

    // Values of vehicle-specific tags that let at least that vehicle through despite access=no.
    private static readonly HashSet<string> s_allowed = new(StringComparer.Ordinal)
    {
        "yes", "designated", "permissive", "private", "destination", "delivery", "customers", "permit",
    };

    private enum Travel
    {
        Both,
        Forward,
        Backward,
        Reversible,
    }

    /// <summary>
    /// Builds the network; <paramref name="report"/> receives the counts of what was read, built and skipped.
    /// Ways without <c>maxspeed</c> take the default limits of <paramref name="country"/> or, when it is null, of the
    /// country the file names (<see cref="Country"/>).
    /// </summary>
    public static RoadNetwork Import(OsmData data, ImportReport report, string? country = null)
    {
        (report.Country, report.CountrySource) = country is null ? Country(data)
            : DefaultSpeedLimits.TryCountryCode(country, out string given) ? (given, "given")
            : throw new ArgumentException($"country '{country}' is not an ISO 3166-1 alpha-2 code (two letters, such as CN or MC)", nameof(country));
        var byLaw = DefaultSpeedLimits.ByClass(report.Country);

        report.NodesRead = data.NodesRead;
        report.WaysRead = data.WaysRead;
        report.RelationsRead = data.RelationsRead;
        long notHighway = data.WaysRead - data.HighwayWays.Count;
        if (notHighway > 0) report.Skip("way without a highway tag", notHighway);

        // Pass 1: choose the roads and count how often each node is used by them.
        var roads = new List<(OsmWay Way, RoadClass Class, EdgeFlags Flags)>();
        var uses = new Dictionary<long, int>();
        foreach (OsmWay way in data.HighwayWays)
        {
            if (!Keep(way, report, out RoadClass cls, out EdgeFlags flags)) continue;
            if (way.Refs.Length < 2)
            {
                report.Skip("way with fewer than two nodes");
                continue;
            }
            roads.Add((way, cls, flags));
            foreach (long r in way.Refs)
            {
                uses.TryGetValue(r, out int n);
                uses[r] = n + 1;
            }
        }
        report.RoadWays = roads.Count;

        // Pass 2: split at junctions and emit edges. Graph node ids are handed out in first-use order,
        // so the same input always gives the same network.
        var builder = new NetworkBuilder(NetworkSource.OpenStreetMap);
        var nodeIndex = new Dictionary<long, int>();
        var lons = new List<double>();
        var lats = new List<double>();
        foreach (var (way, cls, baseFlags) in roads)
        {
            Travel travel = Direction(way, cls);
            EdgeFlags flags = baseFlags;
            if (IsRoundabout(way)) flags |= EdgeFlags.Roundabout;
            string? name = way.Tag("name") ?? way.Tag("name:zh") ?? way.Tag("ref");
            var (lawKmh, noLimit) = byLaw[(int)cls];
            var both = Limit(way, "maxspeed", cls, (lawKmh, noLimit ? EdgeFlags.NoSpeedLimit : EdgeFlags.None), report);
            var (fwdLimit, fwdFlags) = Limit(way, "maxspeed:forward", cls, both, report);
            var (bwdLimit, bwdFlags) = Limit(way, "maxspeed:backward", cls, both, report);

            int start = -1;  // graph node where the current edge begins, -1 after a gap
            lons.Clear();
            lats.Clear();
            long[] refs = way.Refs;
            for (int i = 0; i < refs.Length; i++)
            {
                if (!data.Nodes.TryGetValue(refs[i], out var p))
                {
                    // Split at the gap rather than bridge it with a straight line that no road follows.
                    report.Skip(MissingNodeReason);
                    start = -1;
                    lons.Clear();
                    lats.Clear();
                    continue;
                }
                lons.Add(p.Lon);
                lats.Add(p.Lat);
                bool end = i == 0 || i == refs.Length - 1 || uses[refs[i]] >= 2
                    || !data.Nodes.ContainsKey(refs[i - 1]) || !data.Nodes.ContainsKey(refs[i + 1]);
                if (!end) continue;

                if (!nodeIndex.TryGetValue(refs[i], out int node))
                {
                    node = builder.AddNode(p.Lon, p.Lat);
                    nodeIndex.Add(refs[i], node);
                }
                if (start >= 0 && lons.Count >= 2)
                    AddRoad(builder, start, node, lons, lats, cls, flags, travel, fwdLimit, fwdFlags, bwdLimit, bwdFlags, way.Id, name);
                start = node;
                lons.Clear();
                lats.Clear();
                lons.Add(p.Lon);
                lats.Add(p.Lat);
            }
        }
        if (builder.DroppedZeroLengthEdges > 0) report.Skip(ZeroLengthReason, builder.DroppedZeroLengthEdges);
        report.EdgesBuilt = builder.EdgeCount;
        return builder.Build();
    }

    private static void AddRoad(NetworkBuilder builder, int a, int b, List<double> lons, List<double> lats, RoadClass cls,
        EdgeFlags flags, Travel travel, float fwdLimit, EdgeFlags fwdFlags, float bwdLimit, EdgeFlags bwdFlags, long wayId, string? name)
    {
        var lonSpan = CollectionsMarshal.AsSpan(lons);
        var latSpan = CollectionsMarshal.AsSpan(lats);
        EdgeFlags oneWay = travel is Travel.Forward or Travel.Backward ? EdgeFlags.OneWay : EdgeFlags.None;
        if (travel == Travel.Reversible) flags |= EdgeFlags.Reversible;

        int forward = -1, backward = -1;
        if (travel != Travel.Backward)
            forward = builder.AddEdge(a, b, lonSpan, latSpan, cls, flags | fwdFlags | oneWay, fwdLimit, wayId, name);
        if (travel != Travel.Forward)
        {
            double[] rLon = [.. lons], rLat = [.. lats];
            Array.Reverse(rLon);
            Array.Reverse(rLat);
            backward = builder.AddEdge(b, a, rLon, rLat, cls, flags | bwdFlags | oneWay | EdgeFlags.Backward, bwdLimit, wayId, name);
        }
        builder.SetTwins(forward, backward);
    }

    /// <summary>Decides whether a highway way is a road for motor vehicles; counts the reason when not.</summary>
    private static bool Keep(OsmWay way, ImportReport report, out RoadClass cls, out EdgeFlags flags)
    {
        flags = EdgeFlags.None;
        string highway = way.Tag("highway") ?? "";
        if (!RoadClasses.TryParseHighway(highway, out cls) || cls == RoadClass.Track)
        {
            // Tracks are farm and forest roads; construction and proposed roads are not open yet;
            // the rest (footway, path, cycleway, steps, pedestrian...) are not for motor vehicles.
            report.Skip("highway=" + (highway.Length <= 40 ? highway : highway[..40]));
            return false;
        }
        if (way.Tag("area") == "yes")
        {
            // A square or parking area drawn as a polygon: its outline is not a road.
            report.Skip("area=yes");
            return false;
        }

        // The most specific of motorcar > motor_vehicle > vehicle > access that is tagged decides.
        string? access = null, accessKey = null;
        foreach (string key in (ReadOnlySpan<string>)["motorcar", "motor_vehicle", "vehicle", "access"])
        {
            if (way.Tag(key) is { } v)
            {
                access = v;
                accessKey = key;
                break;
            }
        }
        if (access is not null && s_forbidden.Contains(access))
        {
            // Buses and taxis may still be let through (bus lanes, busways): keep those as restricted.
            if (IsAllowed(way.Tag("psv")) || IsAllowed(way.Tag("bus")) || IsAllowed(way.Tag("taxi")))
            {
                flags |= EdgeFlags.RestrictedAccess;
                return true;
            }
            report.Skip(accessKey + "=" + access);
            return false;
        }
        if (access is not null && s_restricted.Contains(access)) flags |= EdgeFlags.RestrictedAccess;
        return true;
    }

    private static bool IsAllowed(string? value) => value is not null && s_allowed.Contains(value);

    private static bool IsRoundabout(OsmWay way) => way.Tag("junction") is "roundabout" or "circular";

    /// <summary>
    /// The country the file's tags name most often (<see cref="OsmData.CountryTags"/>), else the one its roads' implicit
    /// limits name most often (<c>maxspeed=FR:urban</c>, <c>source:maxspeed</c>, <c>maxspeed:type</c>), else
    /// <see cref="DefaultSpeedLimits.HomeCountry"/>. Ties go to the code first in alphabetical order.
    /// </summary>
    public static (string Country, string Source) Country(OsmData data)
    {
        if (Most(data.CountryTags) is { } named)
            return (named, $"named by {data.CountryTags[named]:N0} of the file's {data.CountryTags.Values.Sum():N0} country tags");
        var implicitLimits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (OsmWay way in data.HighwayWays)
        {
            foreach (string key in (ReadOnlySpan<string>)["maxspeed", "source:maxspeed", "maxspeed:type"])
            {
                if (way.Tag(key) is { Length: > 3 } v && v[2] == ':' && DefaultSpeedLimits.TryCountryCode(v.AsSpan(0, 2), out string c))
                {
                    implicitLimits.TryGetValue(c, out int n);
                    implicitLimits[c] = n + 1;
                }
            }
        }
        if (Most(implicitLimits) is { } implied)
            return (implied, $"named by {implicitLimits[implied]:N0} implicit speed limits of the roads");
        return (DefaultSpeedLimits.HomeCountry, "no country named in the file");
    }

    private static string? Most(Dictionary<string, int> counts)
    {
        string? best = null;
        foreach (var (c, n) in counts)
        {
            if (best is null || n > counts[best] || (n == counts[best] && string.CompareOrdinal(c, best) < 0)) best = c;
        }
        return best;
    }

    private static Travel Direction(OsmWay way, RoadClass cls)
    {
        switch (way.Tag("oneway"))
        {
            case "yes" or "true" or "1":
                return Travel.Forward;
            case "-1" or "reverse":
                return Travel.Backward;
            case "reversible" or "alternating":
                return Travel.Reversible;
            case "no" or "false" or "0":
                return Travel.Both;
            default:
                // Roundabouts and motorways are one-way by definition unless tagged otherwise.
                return IsRoundabout(way) || cls is RoadClass.Motorway || cls is RoadClass.MotorwayLink ? Travel.Forward : Travel.Both;
        }
    }

    /// <summary>
    /// The limit the tag <paramref name="key"/> sets, or <paramref name="otherwise"/> when it is absent or
    /// unparseable (the latter counted): <c>maxspeed:forward|backward</c> fall back to <c>maxspeed</c>, which
    /// falls back to the class default.
    /// </summary>
    private static (float Kmh, EdgeFlags Flags) Limit(OsmWay way, string key, RoadClass cls, (float Kmh, EdgeFlags Flags) otherwise,
        ImportReport report)
    {
        if (way.Tag(key) is not { } value) return otherwise;
        if (!MaxSpeed.TryParse(value, out float kmh, out bool none))
        {
            report.Skip(UnparseableMaxSpeedReason);
            return otherwise;
        }
        // maxspeed=none: no legal limit, so the class default stands in as a design speed.
        return none ? (RoadClasses.DefaultLimitKmh(cls), EdgeFlags.NoSpeedLimit) : (kmh, EdgeFlags.SpeedLimitTagged);
    }
}
