using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using NetTopologySuite.Operation.Valid;
using Traffic.Engine.Probes;
using Traffic.Geo;

namespace Traffic.Engine.Zones;

/// <summary>The zone kinds of INTERFACES.md.</summary>
public enum ZoneKind : byte
{
    Restricted = 1,
    HazmatForbidden = 2,
    Corridor = 3,
    PermittedStop = 4,
}

/// <summary>One zone and its rule.</summary>
public sealed class Zone
{
    internal Zone(string id, string? name, ZoneKind kind, uint classMask, (int From, int To)[] hours, double? maxDwellS, double widthM)
    {
        Id = id;
        Name = name;
        Kind = kind;
        ClassMask = classMask;
        Hours = hours;
        MaxDwellS = maxDwellS;
        WidthM = widthM;
        if (hours.Length == 0) return;
        _inForce = new bool[MinutesPerDay];
        foreach (var (from, to) in hours)
        {
            // From the first minute up to the last; a window from a minute to the same one (00:00-24:00) is the whole day.
            int m = from;
            do
            {
                _inForce[m] = true;
                m = (m + 1) % MinutesPerDay;
            }
            while (m != to);
        }
    }

    internal const int MinutesPerDay = 1440;

    // Per minute of the local day, whether the rule is in force; null: always.
    private readonly bool[]? _inForce;

    public string Id { get; }
    public string? Name { get; }
    public ZoneKind Kind { get; }

    /// <summary>Bit (1 &lt;&lt; class) per vehicle class the rule applies to; all bits when the zone names none.</summary>
    public uint ClassMask { get; }

    /// <summary>The windows of the local day (UTC+8, minutes from and to; a window may wrap midnight) the rule applies in; none: always.</summary>
    public IReadOnlyList<(int From, int To)> Hours { get; }

    public double? MaxDwellS { get; }

    /// <summary>For a corridor given as a line: the band's width in metres.</summary>
    public double WidthM { get; }

    /// <summary>
    /// Whether two features of one id state the same rule (kind, classes, hours, dwell, width); names may differ, as the
    /// parts of one zone are often named (南区, 北区): the first part's name is the zone's.
    /// </summary>
    internal bool SameRule(Zone other) =>
        Kind == other.Kind && ClassMask == other.ClassMask && MaxDwellS == other.MaxDwellS && WidthM == other.WidthM
        && Hours.SequenceEqual(other.Hours);

    public bool AppliesTo(VehicleClass c) => (ClassMask & (1u << (int)(c == VehicleClass.Unspecified ? VehicleClass.Car : c))) != 0;

    /// <summary>
    /// Whether the rule applies to a vehicle of this class, carrying dangerous goods or not: a rule for trucks holds for
    /// dangerous-goods vehicles (class <c>hazmat</c>, trucks too), and a rule for class <c>hazmat</c> for any vehicle that
    /// carries dangerous goods (a <c>truck</c> whose probe or registry entry names a UN class). A vehicle carrying dangerous
    /// goods is a dangerous-goods vehicle whatever class it is given (none, or <c>car</c>, as a unit that knows only the
    /// cargo reports it), and so a truck too: a car whose probes named UN class 3 drove through a truck ban unseen.
    /// </summary>
    public bool AppliesTo(VehicleClass c, bool dangerousGoods) =>
        AppliesTo(c)
        || ((c == VehicleClass.Hazmat || dangerousGoods) && AppliesTo(VehicleClass.Truck))
        || (dangerousGoods && AppliesTo(VehicleClass.Hazmat));

    /// <summary>Whether the rule is in force at a time (its <c>hours</c>, local time UTC+8).</summary>
    public bool InForce(long timeMs) => InForceAtMinute(LocalTime.MinuteOfDay(timeMs));

    /// <summary>Whether the rule is in force at a minute of the local day, [0, 1440).</summary>
    public bool InForceAtMinute(int minute) => _inForce == null || _inForce[minute];

    /// <summary>
    /// For a rule in force at <paramref name="timeMs"/>: since when it has applied to a vehicle there since
    /// <paramref name="sinceMs"/>, the later of that and the start of its hours (a truck inside at 21:50 is in a zone
    /// closed to it from 22:00; windows that meet, 07:00-09:00 and 09:00-10:00, are one).
    /// </summary>
    public long InForceSinceMs(long sinceMs, long timeMs) =>
        _inForce != null && RunStartMs(timeMs) is long start ? Math.Max(sinceMs, start) : sinceMs;

    /// <summary>For a rule not in force at <paramref name="timeMs"/>: when its hours last ended.</summary>
    public long LastEndMs(long timeMs) => _inForce != null && RunStartMs(timeMs) is long end ? end : timeMs;

    /// <summary>
    /// When the rule last turned to what it is at <paramref name="timeMs"/> (in force or not), by the minutes of its hours
    /// before; null when it has been so all day.
    /// </summary>
    private long? RunStartMs(long timeMs)
    {
        int now = LocalTime.MinuteOfDay(timeMs), back = 0;
        bool state = _inForce![now];
        while (back < MinutesPerDay && _inForce[(now - back - 1 + MinutesPerDay) % MinutesPerDay] == state) back++;
        return back == MinutesPerDay ? null : LastMinuteMs(timeMs, (now - back + MinutesPerDay) % MinutesPerDay);
    }

    /// <summary>The last time at or before <paramref name="timeMs"/> that the local clock read <paramref name="minute"/>.</summary>
    private static long LastMinuteMs(long timeMs, int minute)
    {
        long minuteStart = timeMs - (((timeMs % 60_000) + 60_000) % 60_000);   // UTC+8 is whole minutes from UTC
        int back = ((LocalTime.MinuteOfDay(timeMs) - minute) % 1440 + 1440) % 1440;
        return minuteStart - (back * 60_000L);
    }
}

/// <summary>
/// The zones of a run (<c>--zones</c>, a GeoJSON FeatureCollection read and validated with NetTopologySuite):
/// polygons and multipolygons, and corridors given as a line with a width. <see cref="Containing"/> answers
/// which zones hold a point with an envelope pre-check and a crossing test over the zone's rings held as
/// flat coordinate arrays: NetTopologySuite's locators allocate per query, which the probe path may not.
/// Immutable: safe to share between shards.
/// </summary>
public sealed class ZoneSet
{
    // The name the reader keeps a feature's own GeoJSON "id" under (GetOptionalId): the zone's id when its properties name none.
    private const string FeatureIdAttribute = "_feature_id";

    private static readonly JsonSerializerOptions s_geoJson = new() { Converters = { new GeoJsonConverterFactory(false, FeatureIdAttribute) } };

    private readonly Zone[] _zones;
    private readonly Envelope[] _envelopes;          // in degrees; for corridors, grown by the band's half-width
    private readonly double[][][]?[] _areas;         // per zone: its polygons, each its rings (outer and holes) as lon,lat pairs; null: none
    private readonly double[][][] _lines;            // per zone: its corridor lines as lon,lat pairs (none for areas)
    private readonly int[] _areaZones;               // the zones that Containing looks at: every kind but corridors
    private readonly Dictionary<string, int> _corridors = new(StringComparer.Ordinal);   // corridor zones by id

    private ZoneSet(Zone[] zones, Envelope[] envelopes, double[][][]?[] areas, double[][][] lines)
    {
        _zones = zones;
        _envelopes = envelopes;
        _areas = areas;
        _lines = lines;
        _areaZones = [.. Enumerable.Range(0, zones.Length).Where(z => zones[z].Kind != ZoneKind.Corridor)];
        for (int z = 0; z < zones.Length; z++)
        {
            if (zones[z].Kind == ZoneKind.Corridor) _corridors.TryAdd(zones[z].Id, z);
        }
    }

    public IReadOnlyList<Zone> Zones => _zones;

    /// <summary>
    /// The corridor zone a registry's corridor id names. Only a corridor: a zone of another kind under that id (layers
    /// numbered each from 1, merged into one file) names none, and the run warns of it.
    /// </summary>
    public bool TryGetCorridor(string id, out int zone) => _corridors.TryGetValue(id, out zone);

    public static ZoneSet Empty { get; } = new([], [], [], []);

    /// <summary>Reads a zones file; a feature that breaks the format is refused with its index and id.</summary>
    public static ZoneSet Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"zones file not found: {path}", path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static ZoneSet Parse(string geoJson)
    {
        var features = new List<(IFeature Feature, string Where)>();
        try
        {
            // The reader takes any object for a collection and reads members it does not know as none: a probe line or
            // a collection without `features` given as the zones file was no zones at all, and the run went on without
            // its zone rules, saying nothing.
            using var doc = JsonDocument.Parse(geoJson);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out JsonElement type)
                || type.ValueKind != JsonValueKind.String || type.GetString() != "FeatureCollection")
                throw new InvalidDataException("not a GeoJSON FeatureCollection: the top level needs \"type\": \"FeatureCollection\"");
            if (!root.TryGetProperty("features", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException("not a GeoJSON FeatureCollection: it needs a 'features' array");
            CheckCrs(root);
            int index = 0;
            foreach (JsonElement element in list.EnumerateArray())
            {
                string where = $"feature {index++}";
                try
                {
                    // One feature at a time, so that a geometry the reader refuses is named by its feature.
                    features.Add((JsonSerializer.Deserialize<IFeature>(element.GetRawText(), s_geoJson)
                        ?? throw new InvalidDataException($"{where}: not a GeoJSON Feature"), where));
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"{where}{IdOf(element)}: not a GeoJSON Feature: {e.Message}", e);
                }
                catch (ArgumentException e)
                {
                    // NetTopologySuite refuses a geometry as it reads it: a ring that does not end where it began, too few points.
                    throw new InvalidDataException($"{where}{IdOf(element)}: a geometry is not valid GeoJSON: {e.Message} (a polygon's ring must end at its first point)", e);
                }
            }
        }
        catch (JsonException e)
        {
            // One Feature a line (RFC 8142, ogr2ogr -f GeoJSONSeq; or NDJSON of features): said so, not a parser's offset.
            if (IsFeatureSequence(geoJson))
                throw new InvalidDataException("a GeoJSON text sequence (one Feature a line, as ogr2ogr -f GeoJSONSeq writes), not a FeatureCollection: write the zones as one FeatureCollection (ogr2ogr -f GeoJSON)", e);
            throw new InvalidDataException($"not a GeoJSON FeatureCollection: {e.Message}", e);
        }
        var zones = new List<Zone>();
        var envelopes = new List<Envelope>();
        var areas = new List<List<double[][]>>();
        var lines = new List<List<double[]>>();
        var byId = new Dictionary<(string, ZoneKind), int>();
        foreach (var (f, at) in features)
        {
            string where = at;
            IAttributesTable a = f.Attributes ?? throw new InvalidDataException($"{where}: no properties");
            // The id in the properties, as INTERFACES.md puts it, else the feature's own; a number reads as its digits.
            string id = Id(a, "id") ?? IdText(f.GetOptionalId(FeatureIdAttribute)) ?? throw new InvalidDataException($"{where}: property 'id' missing");
            where += $" ('{id}')";
            ZoneKind kind = Text(a, "kind")?.Trim().ToLowerInvariant() switch
            {
                "restricted" => ZoneKind.Restricted,
                "hazmat_forbidden" => ZoneKind.HazmatForbidden,
                "corridor" => ZoneKind.Corridor,
                "permitted_stop" => ZoneKind.PermittedStop,
                null => throw new InvalidDataException($"{where}: property 'kind' missing (restricted, hazmat_forbidden, corridor or permitted_stop)"),
                var k => throw new InvalidDataException($"{where}: unknown kind '{k}'"),
            };
            uint mask = uint.MaxValue;
            if (Value(a, "classes") is { } classValue)
            {
                // An array of class names; one name alone, or names separated by commas, read the same.
                object[] classes = classValue switch
                {
                    object[] list => list,
                    string one => one.Split([',', ';', '，', '；', '、'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    var other => throw new InvalidDataException($"{where}: classes must be an array of class names, not '{other}'"),
                };
                // No class at all would be a rule for no vehicle: a zone that silently does nothing. Absent (or null) is all.
                if (classes.Length == 0)
                    throw new InvalidDataException($"{where}: classes names no class (leave it out, or null, for a rule of every class)");
                mask = 0;
                foreach (object c in classes)
                {
                    if (c is not string s || !ProbeRules.TryParseClass(s.Trim(), out VehicleClass vc))
                        throw new InvalidDataException($"{where}: unknown class '{c}'");
                    mask |= 1u << (int)vc;
                }
            }
            (int From, int To)[] hours = Hours(a, where);
            double? maxDwell = Number(a, "max_dwell_s", where);
            if (maxDwell < 0) throw new InvalidDataException($"{where}: max_dwell_s must not be negative, not {maxDwell}");
            double width = Number(a, "width_m", where) ?? 100;
            if (!(width > 0)) throw new InvalidDataException($"{where}: width_m must be more than 0 metres, not {width}");
            Geometry g = f.Geometry ?? throw new InvalidDataException($"{where}: no geometry");
            // An empty geometry ("coordinates": []): a zone that holds no point and whose rule never applies, saying nothing;
            // it also had no centre, and reading it threw (found by fuzzing). (The reader refuses an empty part of a multipart one.)
            if (g.IsEmpty) throw new InvalidDataException($"{where}: an empty {g.GeometryType} (no coordinates): a zone must hold some place");
            CheckDegrees(g, where);
            var zone = new Zone(id, Text(a, "name"), kind, mask, hours, maxDwell, width);
            // Features of one kind sharing an id are parts of one zone (a multipart zone exploded into single parts, as
            // ogr2ogr -explodecollections and QGIS's "multipart to singleparts" write it); with another rule, which holds
            // cannot be told. Zones of different kinds may share an id (layers numbered each from 1, merged into one
            // file): their rules and alerts are apart, and a registry's corridor names the corridor of that id.
            int z;
            if (byId.TryGetValue((id, kind), out z))
            {
                if (!zone.SameRule(zones[z]))
                    throw new InvalidDataException($"{where}: the id of an earlier {Text(a, "kind")?.Trim().ToLowerInvariant()} zone with another rule (classes, hours, max_dwell_s or width_m); ids must tell zones apart");
            }
            else
            {
                z = zones.Count;
                byId[(id, kind)] = z;
                zones.Add(zone);
                envelopes.Add(new Envelope());
                areas.Add([]);
                lines.Add([]);
            }
            switch (g)
            {
                case Polygon or MultiPolygon:
                    // Each polygon must be valid; the parts of a multipolygon may touch or overlap (a point is in the zone
                    // when it is in any part), as a collection of drawn parts often does.
                    for (int p = 0; p < g.NumGeometries; p++)
                    {
                        Geometry part = g.GetGeometryN(p);
                        if (new IsValidOp(part).ValidationError is { } error)
                            throw new InvalidDataException($"{where}: invalid polygon: {error.Message} at ({error.Coordinate?.X.ToString(CultureInfo.InvariantCulture)}, {error.Coordinate?.Y.ToString(CultureInfo.InvariantCulture)})");
                        areas[z].Add(Rings((Polygon)part));
                    }
                    envelopes[z].ExpandToInclude(g.EnvelopeInternal);
                    break;
                case LineString or MultiLineString when kind == ZoneKind.Corridor:
                    for (int p = 0; p < g.NumGeometries; p++)
                    {
                        var line = (LineString)g.GetGeometryN(p);
                        var coords = new double[line.NumPoints * 2];
                        for (int i = 0; i < line.NumPoints; i++)
                        {
                            coords[2 * i] = line.Coordinates[i].X;
                            coords[(2 * i) + 1] = line.Coordinates[i].Y;
                        }
                        lines[z].Add(coords);
                    }
                    var env = new Envelope(g.EnvelopeInternal);
                    double half = width / 2;
                    env.ExpandBy(half / GeoMath.MetresPerDegreeLon(Math.Max(Math.Abs(env.MinY), Math.Abs(env.MaxY))), half / GeoMath.MetresPerDegree);
                    envelopes[z].ExpandToInclude(env);
                    break;
                default:
                    throw new InvalidDataException($"{where}: a {g.GeometryType} cannot be a '{Text(a, "kind")}' zone (Polygon, MultiPolygon, or a LineString or MultiLineString corridor)");
            }
        }
        return new ZoneSet([.. zones], [.. envelopes], [.. areas.Select(p => p.Count == 0 ? null : p.ToArray())], [.. lines.Select(l => l.ToArray())]);

        static string IdOf(JsonElement feature) =>
            feature.ValueKind == JsonValueKind.Object && feature.TryGetProperty("properties", out JsonElement p) && p.ValueKind == JsonValueKind.Object
            && p.TryGetProperty("id", out JsonElement id) && id.ValueKind is JsonValueKind.String or JsonValueKind.Number ? $" ('{(id.ValueKind == JsonValueKind.String ? id.GetString() : id.GetRawText())}')" : "";
    }

    private static bool IsFeatureSequence(string text)
    {
        string first = text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n', '\u001E').Split('\n', 2)[0].Trim().TrimEnd('\r');
        try
        {
            using var doc = JsonDocument.Parse(first);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out JsonElement t)
                && t.ValueKind == JsonValueKind.String && t.GetString() == "Feature";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// A <c>crs</c> member (GeoJSON of 2008, which QGIS and ogr2ogr still write) naming anything but longitude and latitude
    /// on WGS84 (or CGCS2000, China's, the same to centimetres) is refused: the zones' coordinates would be in another
    /// system (metres of Web Mercator, of a Gauss-Krüger zone) and hold no probe.
    /// </summary>
    private static void CheckCrs(JsonElement root)
    {
        if (!root.TryGetProperty("crs", out JsonElement crs) || crs.ValueKind == JsonValueKind.Null) return;
        string? name = crs.ValueKind == JsonValueKind.Object && crs.TryGetProperty("properties", out JsonElement p) && p.ValueKind == JsonValueKind.Object
            && p.TryGetProperty("name", out JsonElement n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        if (name == null) return;   // a linked or unnamed crs: the coordinates' range is checked all the same
        string upper = name.ToUpperInvariant();
        if (upper.Contains("CRS84", StringComparison.Ordinal) || upper.Contains("WGS84", StringComparison.Ordinal) || upper.Contains("WGS 84", StringComparison.Ordinal)
            || upper.EndsWith(":4326", StringComparison.Ordinal) || upper.EndsWith(":4490", StringComparison.Ordinal))
            return;
        throw new InvalidDataException($"the zones' crs is {name}: zones must be WGS84 longitude and latitude in degrees (reproject them, e.g. ogr2ogr -t_srs EPSG:4326)");
    }

    /// <summary>Every coordinate must be longitude and latitude in degrees: projected metres, or the two swapped, hold no probe.</summary>
    private static void CheckDegrees(Geometry g, string where)
    {
        foreach (Coordinate c in g.Coordinates)
        {
            if (Math.Abs(c.X) <= 180 && Math.Abs(c.Y) <= 90) continue;
            throw new InvalidDataException($"{where}: coordinate ({c.X.ToString(CultureInfo.InvariantCulture)}, {c.Y.ToString(CultureInfo.InvariantCulture)}) is not longitude and latitude in degrees (projected metres? latitude first?)");
        }
    }

    /// <summary>
    /// Writes the indices of the area zones (restricted, hazardous-cargo forbidden, permitted stop) holding the point
    /// into <paramref name="found"/>; returns how many. Corridors are left out: a corridor concerns only the vehicles
    /// that name it, which ask <see cref="Holds"/> for theirs; scanning every truck's corridor (long lines whose
    /// envelopes cover half a city) for every probe of every vehicle was most of the cost of the zone rules.
    /// </summary>
    public int Containing(double lon, double lat, Span<int> found)
    {
        int n = 0;
        foreach (int z in _areaZones)
        {
            if (n >= found.Length) break;
            if (!_envelopes[z].Contains(lon, lat)) continue;
            if (Holds(z, lon, lat)) found[n++] = z;
        }
        return n;
    }

    /// <summary>The mean of the zone's outer ring's vertices (of its first part), or of its (first) corridor line's.</summary>
    public (double Lon, double Lat) Centre(int zone)
    {
        double[] xy = _areas[zone] is { } parts ? parts[0][0] : _lines[zone][0];
        int n = xy.Length / 2;
        if (_areas[zone] != null && n > 1 && xy[0] == xy[^2] && xy[1] == xy[^1]) n--; // closed ring: the last point repeats the first
        double lon = 0, lat = 0;
        for (int i = 0; i < n; i++)
        {
            lon += xy[2 * i];
            lat += xy[(2 * i) + 1];
        }
        return (lon / n, lat / n);
    }

    /// <summary>
    /// The zones lying wholly outside a box (a network's bounds) grown by <paramref name="marginM"/>: no vehicle matched to
    /// that network ever reaches them (a zones file of another city, or coordinates in another datum or order).
    /// </summary>
    public IReadOnlyList<string> Outside((double MinLon, double MinLat, double MaxLon, double MaxLat) box, double marginM = 1000)
    {
        double dLat = marginM / GeoMath.MetresPerDegree, dLon = marginM / GeoMath.MetresPerDegreeLon(Math.Max(Math.Abs(box.MinLat), Math.Abs(box.MaxLat)));
        var grown = new Envelope(box.MinLon - dLon, box.MaxLon + dLon, box.MinLat - dLat, box.MaxLat + dLat);
        return [.. Enumerable.Range(0, _zones.Length).Where(z => !grown.Intersects(_envelopes[z])).Select(z => _zones[z].Id)];
    }

    /// <summary>Whether the zone is an area (a polygon or multipolygon) rather than a corridor line.</summary>
    public bool IsArea(int zone) => _areas[zone] != null;

    /// <summary>Whether zone <paramref name="zone"/> holds the point: any of its polygons, or the band of any of its lines.</summary>
    public bool Holds(int zone, double lon, double lat)
    {
        if (!_envelopes[zone].Contains(lon, lat)) return false;
        if (_areas[zone] is { } parts)
        {
            foreach (double[][] rings in parts)
            {
                if (InPolygon(rings, lon, lat)) return true;
            }
        }
        double[][] lines = _lines[zone];
        if (lines.Length == 0) return false;
        double half = _zones[zone].WidthM / 2, kx = GeoMath.MetresPerDegreeLon(lat);
        foreach (double[] line in lines)
        {
            for (int i = 0; i + 3 < line.Length; i += 2)
            {
                if (GeoMath.ProjectOnSegment(lon, lat, line[i], line[i + 1], line[i + 2], line[i + 3], kx, out _) <= half) return true;
            }
        }
        return false;
    }

    // Even-odd crossings over a polygon's rings: holes subtract (a valid polygon).
    private static bool InPolygon(double[][] rings, double lon, double lat)
    {
        bool inside = false;
        foreach (double[] r in rings)
        {
            for (int i = 0, j = r.Length - 2; i < r.Length; j = i, i += 2)
            {
                double yi = r[i + 1], yj = r[j + 1];
                if ((yi > lat) != (yj > lat) && lon < ((r[j] - r[i]) * (lat - yi) / (yj - yi)) + r[i]) inside = !inside;
            }
        }
        return inside;
    }

    /// <summary>
    /// How far the point lies inside zone <paramref name="zone"/>, metres: its distance to the zone's border (a ring of
    /// an area, the edge of a corridor's band), positive inside and negative outside.
    /// </summary>
    public double SignedDistanceM(int zone, double lon, double lat)
    {
        // Of a zone of several parts (polygons, lines), the most inside of the parts: exact outside them all (the
        // distance to the nearest), and inside the overlap of two parts no more than the true depth.
        double kx = GeoMath.MetresPerDegreeLon(lat), best = double.MinValue;
        if (_areas[zone] is { } parts)
        {
            foreach (double[][] rings in parts)
            {
                double nearest = double.MaxValue;
                foreach (double[] r in rings)
                {
                    for (int i = 0; i + 3 < r.Length; i += 2)
                        nearest = Math.Min(nearest, GeoMath.ProjectOnSegment(lon, lat, r[i], r[i + 1], r[i + 2], r[i + 3], kx, out _));
                }
                best = Math.Max(best, InPolygon(rings, lon, lat) ? nearest : -nearest);
            }
        }
        foreach (double[] line in _lines[zone])
        {
            double toLine = double.MaxValue;
            for (int i = 0; i + 3 < line.Length; i += 2)
                toLine = Math.Min(toLine, GeoMath.ProjectOnSegment(lon, lat, line[i], line[i + 1], line[i + 2], line[i + 3], kx, out _));
            best = Math.Max(best, (_zones[zone].WidthM / 2) - toLine);
        }
        return best;
    }

    private static double[][] Rings(Polygon polygon)
    {
        var rings = new List<double[]> { Flat(polygon.ExteriorRing) };
        for (int h = 0; h < polygon.NumInteriorRings; h++) rings.Add(Flat(polygon.GetInteriorRingN(h)));
        return [.. rings];

        static double[] Flat(LineString ring)
        {
            var xy = new double[ring.NumPoints * 2];
            for (int i = 0; i < ring.NumPoints; i++)
            {
                xy[2 * i] = ring.GetCoordinateN(i).X;
                xy[(2 * i) + 1] = ring.GetCoordinateN(i).Y;
            }
            return xy;
        }
    }

    /// <summary>
    /// The windows of <c>hours</c>: "22:00-06:00"; several separated by commas or semicolons ("07:00-09:00,17:00-19:00",
    /// the rush-hour bans of trucks), or an array of them. An en dash, a tilde or 至 between the two times reads as a dash,
    /// and an hour may have one digit. Anything else is refused, never ignored (a zone whose hours were dropped would
    /// apply all day).
    /// </summary>
    private static (int From, int To)[] Hours(IAttributesTable a, string where)
    {
        if (Value(a, "hours") is not { } value) return [];
        IEnumerable<object?> items = value switch
        {
            string one => [one],
            object[] list => list,
            _ => throw new InvalidDataException($"{where}: hours must be text such as '22:00-06:00', not '{value}'"),
        };
        var windows = new List<(int, int)>();
        foreach (object? item in items)
        {
            if (item is not string text) throw new InvalidDataException($"{where}: hours must be text such as '22:00-06:00', not '{item}'");
            // As Chinese input methods and other tools write them: a full-width colon, an em dash, a full-width hyphen
            // or tilde, a wave dash, a minus sign between the two times.
            string normal = text.Replace('：', ':').Replace('—', '-').Replace('－', '-').Replace('～', '-').Replace('〜', '-').Replace('−', '-').Replace('‐', '-');
            foreach (string window in normal.Split([',', ';', '，', '；', '、'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = window.Split(['-', '–', '~', '至']);
                if (parts.Length != 2 || !TryMinute(parts[0], out int from) || !TryMinute(parts[1], out int to) || from == to)
                    throw new InvalidDataException($"{where}: hours '{text}' is not 'HH:MM-HH:MM' (several: 'HH:MM-HH:MM,HH:MM-HH:MM')");
                windows.Add((from % Zone.MinutesPerDay, to % Zone.MinutesPerDay));
            }
        }
        if (windows.Count == 0) throw new InvalidDataException($"{where}: hours names no window");
        return [.. windows];

        static bool TryMinute(string s, out int minute)
        {
            minute = 0;
            if (s.Trim() is "24:00" or "24:00:00")
            {
                minute = 1440;
                return true;
            }
            // Seconds as a database's time column writes them (22:00:00); a window's minute is the rule's finest step.
            if (!TimeOnly.TryParseExact(s.Trim(), ["HH:mm", "H:mm", "HH:mm:ss", "H:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly t) || t.Second != 0) return false;
            minute = (t.Hour * 60) + t.Minute;
            return true;
        }
    }

    /// <summary>
    /// A property by its name, else by its name in another case (dBase fields of a shapefile come out as ID, KIND,
    /// CLASSES through ogr2ogr); null when absent or null.
    /// </summary>
    private static object? Value(IAttributesTable a, string name)
    {
        if (a.Exists(name)) return a[name];
        foreach (string other in a.GetNames())
        {
            if (string.Equals(other, name, StringComparison.OrdinalIgnoreCase)) return a[other];
        }
        return null;
    }

    private static string? Text(IAttributesTable a, string name) => Value(a, name) as string;

    private static string? Id(IAttributesTable a, string name) => IdText(Value(a, name));

    private static string? IdText(object? value) => value switch
    {
        string s when s.Length > 0 => s,
        decimal or double or int or long => Convert.ToString(value, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>A number property; a string of a number reads as the number, anything else is refused (not ignored).</summary>
    private static double? Number(IAttributesTable a, string name, string where)
    {
        if (Value(a, name) is not { } v) return null;
        if (v is decimal or double or int or long) return Convert.ToDouble(v, CultureInfo.InvariantCulture);
        if (v is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return d;
        throw new InvalidDataException($"{where}: {name} must be a number, not '{v}'");
    }
}
