using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
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
    private readonly double[][]?[] _areas;               // per area zone: its rings (outer and holes of every part) as lon,lat pairs
    private readonly double[][] _lines;              // corridor lines as lon,lat pairs (empty for areas)
    private readonly int[] _areaZones;               // the zones that Containing looks at: every kind but corridors

    private ZoneSet(Zone[] zones, Envelope[] envelopes, double[][]?[] areas, double[][] lines)
    {
        _zones = zones;
        _envelopes = envelopes;
        _areas = areas;
        _lines = lines;
        _areaZones = [.. Enumerable.Range(0, zones.Length).Where(z => zones[z].Kind != ZoneKind.Corridor)];
    }

    public IReadOnlyList<Zone> Zones => _zones;

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
        FeatureCollection features;
        try
        {
            // The reader takes any object for a collection and reads members it does not know as none: a probe line or
            // a collection without `features` given as the zones file was no zones at all, and the run went on without
            // its zone rules, saying nothing.
            using (var doc = JsonDocument.Parse(geoJson))
            {
                JsonElement root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out JsonElement type)
                    || type.ValueKind != JsonValueKind.String || type.GetString() != "FeatureCollection")
                    throw new InvalidDataException("not a GeoJSON FeatureCollection: the top level needs \"type\": \"FeatureCollection\"");
                if (!root.TryGetProperty("features", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                    throw new InvalidDataException("not a GeoJSON FeatureCollection: it needs a 'features' array");
            }
            features = JsonSerializer.Deserialize<FeatureCollection>(geoJson, s_geoJson)
                ?? throw new InvalidDataException("not a GeoJSON FeatureCollection");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"not a GeoJSON FeatureCollection: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            // NetTopologySuite refuses a geometry as it reads it: a ring that does not end where it began, too few points.
            throw new InvalidDataException($"a geometry is not valid GeoJSON: {e.Message} (a polygon's ring must end at its first point)", e);
        }
        var zones = new List<Zone>();
        var envelopes = new List<Envelope>();
        var areas = new List<double[][]?>();
        var lines = new List<double[]>();
        int index = 0;
        foreach (IFeature f in features)
        {
            string where = $"feature {index++}";
            IAttributesTable a = f.Attributes ?? throw new InvalidDataException($"{where}: no properties");
            // The id in the properties, as INTERFACES.md puts it, else the feature's own; a number reads as its digits.
            string id = Id(a, "id") ?? IdText(f.GetOptionalId(FeatureIdAttribute)) ?? throw new InvalidDataException($"{where}: property 'id' missing");
            where += $" ('{id}')";
            ZoneKind kind = Text(a, "kind")?.ToLowerInvariant() switch
            {
                "restricted" => ZoneKind.Restricted,
                "hazmat_forbidden" => ZoneKind.HazmatForbidden,
                "corridor" => ZoneKind.Corridor,
                "permitted_stop" => ZoneKind.PermittedStop,
                var k => throw new InvalidDataException($"{where}: unknown kind '{k}'"),
            };
            uint mask = uint.MaxValue;
            if (a.Exists("classes") && a["classes"] != null)
            {
                // An array of class names; one name alone, or names separated by commas, read the same.
                object[] classes = a["classes"] switch
                {
                    object[] list => list,
                    string one => one.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    var other => throw new InvalidDataException($"{where}: classes must be an array of class names, not '{other}'"),
                };
                mask = 0;
                foreach (object c in classes)
                {
                    if (c is not string s || !ProbeRules.TryParseClass(s, out VehicleClass vc))
                        throw new InvalidDataException($"{where}: unknown class '{c}'");
                    mask |= 1u << (int)vc;
                }
            }
            (int From, int To)[] hours = Hours(a, where);
            double? maxDwell = Number(a, "max_dwell_s", where);
            double width = Number(a, "width_m", where) ?? 100;
            Geometry g = f.Geometry ?? throw new InvalidDataException($"{where}: no geometry");
            switch (g)
            {
                case Polygon or MultiPolygon:
                    if (!g.IsValid) throw new InvalidDataException($"{where}: invalid polygon (self-intersecting or unclosed)");
                    areas.Add(Rings(g));
                    envelopes.Add(g.EnvelopeInternal);
                    lines.Add([]);
                    break;
                case LineString line when kind == ZoneKind.Corridor:
                    areas.Add(null);
                    var coords = new double[line.NumPoints * 2];
                    for (int i = 0; i < line.NumPoints; i++)
                    {
                        coords[2 * i] = line.Coordinates[i].X;
                        coords[(2 * i) + 1] = line.Coordinates[i].Y;
                    }
                    lines.Add(coords);
                    var env = new Envelope(line.EnvelopeInternal);
                    double half = width / 2;
                    env.ExpandBy(half / GeoMath.MetresPerDegreeLon(Math.Max(Math.Abs(env.MinY), Math.Abs(env.MaxY))), half / GeoMath.MetresPerDegree);
                    envelopes.Add(env);
                    break;
                default:
                    throw new InvalidDataException($"{where}: a {g.GeometryType} cannot be a '{Text(a, "kind")}' zone (Polygon, MultiPolygon, or a LineString corridor)");
            }
            zones.Add(new Zone(id, Text(a, "name"), kind, mask, hours, maxDwell, width));
        }
        return new ZoneSet([.. zones], [.. envelopes], [.. areas], [.. lines]);
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

    /// <summary>The mean of the zone's outer ring's vertices (of its first part), or of its corridor line's.</summary>
    public (double Lon, double Lat) Centre(int zone)
    {
        double[] xy = _areas[zone] is { } rings ? rings[0] : _lines[zone];
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

    /// <summary>Whether the zone is an area (a polygon or multipolygon) rather than a corridor line.</summary>
    public bool IsArea(int zone) => _areas[zone] != null;

    /// <summary>Whether zone <paramref name="zone"/> holds the point.</summary>
    public bool Holds(int zone, double lon, double lat)
    {
        if (!_envelopes[zone].Contains(lon, lat)) return false;
        double[][]? rings = _areas[zone];
        if (rings != null)
        {
            // Even-odd crossings over all rings: holes subtract, disjoint parts add (valid polygons only).
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
        double[] line = _lines[zone];
        double half = _zones[zone].WidthM / 2, kx = GeoMath.MetresPerDegreeLon(lat);
        for (int i = 0; i + 3 < line.Length; i += 2)
        {
            if (GeoMath.ProjectOnSegment(lon, lat, line[i], line[i + 1], line[i + 2], line[i + 3], kx, out _) <= half) return true;
        }
        return false;
    }

    /// <summary>
    /// How far the point lies inside zone <paramref name="zone"/>, metres: its distance to the zone's border (a ring of
    /// an area, the edge of a corridor's band), positive inside and negative outside.
    /// </summary>
    public double SignedDistanceM(int zone, double lon, double lat)
    {
        double kx = GeoMath.MetresPerDegreeLon(lat);
        double[][]? rings = _areas[zone];
        if (rings != null)
        {
            double nearest = double.MaxValue;
            foreach (double[] r in rings)
            {
                for (int i = 0; i + 3 < r.Length; i += 2)
                    nearest = Math.Min(nearest, GeoMath.ProjectOnSegment(lon, lat, r[i], r[i + 1], r[i + 2], r[i + 3], kx, out _));
            }
            return Holds(zone, lon, lat) ? nearest : -nearest;
        }
        double[] line = _lines[zone];
        double toLine = double.MaxValue;
        for (int i = 0; i + 3 < line.Length; i += 2)
            toLine = Math.Min(toLine, GeoMath.ProjectOnSegment(lon, lat, line[i], line[i + 1], line[i + 2], line[i + 3], kx, out _));
        return (_zones[zone].WidthM / 2) - toLine;
    }

    private static double[][] Rings(Geometry g)
    {
        var rings = new List<double[]>();
        for (int p = 0; p < g.NumGeometries; p++)
        {
            var polygon = (Polygon)g.GetGeometryN(p);
            rings.Add(Flat(polygon.ExteriorRing));
            for (int h = 0; h < polygon.NumInteriorRings; h++) rings.Add(Flat(polygon.GetInteriorRingN(h)));
        }
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
        if (!a.Exists("hours") || a["hours"] is not { } value) return [];
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
            foreach (string window in text.Split([',', ';', '，', '；', '、'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
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
            if (s.Trim() == "24:00")
            {
                minute = 1440;
                return true;
            }
            if (!TimeOnly.TryParseExact(s.Trim(), ["HH:mm", "H:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly t)) return false;
            minute = (t.Hour * 60) + t.Minute;
            return true;
        }
    }

    private static string? Text(IAttributesTable a, string name) => a.Exists(name) ? a[name] as string : null;

    private static string? Id(IAttributesTable a, string name) => a.Exists(name) ? IdText(a[name]) : null;

    private static string? IdText(object? value) => value switch
    {
        string s when s.Length > 0 => s,
        decimal or double or int or long => Convert.ToString(value, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>A number property; a string of a number reads as the number, anything else is refused (not ignored).</summary>
    private static double? Number(IAttributesTable a, string name, string where)
    {
        if (!a.Exists(name) || a[name] is not { } v) return null;
        if (v is decimal or double or int or long) return Convert.ToDouble(v, CultureInfo.InvariantCulture);
        if (v is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return d;
        throw new InvalidDataException($"{where}: {name} must be a number, not '{v}'");
    }
}
