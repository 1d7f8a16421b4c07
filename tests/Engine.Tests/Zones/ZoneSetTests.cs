using Traffic.Engine.Probes;
using Traffic.Engine.Zones;
using Traffic.Geo;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Zones;

public class ZoneSetTests
{
    private const string Zones = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"Z1","name":"前海管控区","kind":"restricted","classes":["taxi","hazmat"]},
           "geometry":{"type":"Polygon","coordinates":[[[113.931,22.545],[113.937,22.545],[113.937,22.551],[113.931,22.551],[113.931,22.545]],
                                                       [[113.933,22.547],[113.935,22.547],[113.935,22.549],[113.933,22.549],[113.933,22.547]]]}},
          {"type":"Feature","properties":{"id":"H1","kind":"hazmat_forbidden","hours":"22:00-06:00","max_dwell_s":300},
           "geometry":{"type":"MultiPolygon","coordinates":[[[[114.0,22.5],[114.01,22.5],[114.01,22.51],[114.0,22.5]]],[[[114.02,22.5],[114.03,22.5],[114.03,22.51],[114.02,22.5]]]]}},
          {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":100},
           "geometry":{"type":"LineString","coordinates":[[113.9,22.52],[113.95,22.52]]}}
        ]}
        """;

    [Fact]
    public void Points_are_found_in_polygons_holes_multipolygons_and_corridor_bands()
    {
        var set = ZoneSet.Parse(Zones);
        Assert.Equal(3, set.Zones.Count);
        Span<int> found = stackalloc int[4];
        Assert.Equal(1, set.Containing(113.932, 22.546, found));
        Assert.Equal("Z1", set.Zones[found[0]].Id);
        Assert.Equal(0, set.Containing(113.934, 22.548, found)); // in the hole
        Assert.Equal(1, set.Containing(114.025, 22.502, found)); // second part of the multipolygon
        Assert.Equal("H1", set.Zones[found[0]].Id);
        // Corridor: 40 m from the line is inside a 100 m band, 60 m is not.
        double dLat40 = 40 / GeoMath.MetresPerDegree, dLat60 = 60 / GeoMath.MetresPerDegree;
        Assert.True(set.Holds(2, 113.92, 22.52 + dLat40));
        Assert.False(set.Holds(2, 113.92, 22.52 + dLat60));
        Assert.Equal(0, set.Containing(113.8, 22.52, found));
    }

    [Fact]
    public void Classes_and_hours_decide_whether_a_rule_applies()
    {
        var set = ZoneSet.Parse(Zones);
        Zone z1 = set.Zones[0], h1 = set.Zones[1];
        Assert.True(z1.AppliesTo(VehicleClass.Taxi));
        Assert.False(z1.AppliesTo(VehicleClass.Bus));
        Assert.True(h1.AppliesTo(VehicleClass.Bus));
        Assert.Equal(300, h1.MaxDwellS);
        // 22:00-06:00 local (UTC+8) wraps midnight: 23:30 local = 15:30Z in force, 12:00 local = 04:00Z not.
        Assert.True(h1.InForce(new DateTimeOffset(2025, 11, 25, 15, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()));
        Assert.True(h1.InForce(new DateTimeOffset(2025, 11, 25, 21, 59, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()));
        Assert.False(h1.InForce(new DateTimeOffset(2025, 11, 25, 4, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()));
        Assert.True(z1.InForce(0));
    }

    [Fact]
    public void Common_ways_of_writing_a_zone_read_as_the_format_says()
    {
        // The feature's own GeoJSON id, numbers for ids, one class as a string, numbers as strings, "至" and one-digit hours.
        var set = ZoneSet.Parse("""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","id":"Z-1","properties":{"kind":"restricted","classes":"truck","max_dwell_s":"300","hours":"7:00至9:30"},
               "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
              {"type":"Feature","id":7,"properties":{"kind":"Corridor","width_m":"60"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,0]]}},
              {"type":"Feature","id":"ignored","properties":{"id":8,"kind":"permitted_stop","classes":"taxi, bus"},
               "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}
            ]}
            """);
        Zone z = set.Zones[0], c = set.Zones[1], p = set.Zones[2];
        Assert.Equal(("Z-1", "7", "8"), (z.Id, c.Id, p.Id));
        Assert.True(z.AppliesTo(VehicleClass.Truck));
        Assert.False(z.AppliesTo(VehicleClass.Taxi));
        Assert.Equal(300, z.MaxDwellS);
        Assert.True(z.InForce(new DateTimeOffset(2025, 11, 25, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()));  // 08:00 local
        Assert.False(z.InForce(new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds())); // 10:00 local
        Assert.Equal((ZoneKind.Corridor, 60.0), (c.Kind, c.WidthM));
        Assert.True(p.AppliesTo(VehicleClass.Taxi) && p.AppliesTo(VehicleClass.Bus) && !p.AppliesTo(VehicleClass.Truck));
    }

    [Theory]
    [InlineData("07:00-09:00,17:00-19:00")]
    [InlineData("07:00-09:00; 17:00-19:00")]
    [InlineData("7:00-9:00、17:00至19:00")]
    [InlineData("[\"07:00-09:00\",\"17:00-19:00\"]")]
    public void Several_windows_of_hours_each_bound_the_rule(string hours)
    {
        // A rush-hour ban of trucks, 07:00-09:00 and 17:00-19:00 local (UTC+8): a list of windows, one text or an array.
        string value = hours.StartsWith('[') ? hours : $"\"{hours}\"";
        Zone z = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"R","kind":"restricted","hours":{{{value}}}},
             "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}
            """).Zones[0];
        static long Local(int hour, int minute) => new DateTimeOffset(2025, 11, 25, hour, minute, 0, TimeSpan.FromHours(8)).ToUnixTimeMilliseconds();
        Assert.Equal([false, true, true, false, true, false], new[] { Local(6, 59), Local(7, 0), Local(8, 59), Local(9, 0), Local(18, 0), Local(19, 0) }.Select(z.InForce));
        // The evening window's start, for a truck inside since noon; the morning window's end, seen at noon.
        Assert.Equal(Local(17, 0), z.InForceSinceMs(Local(12, 0), Local(18, 30)));
        Assert.Equal(Local(9, 0), z.LastEndMs(Local(12, 0)));
    }

    [Fact]
    public void Windows_that_meet_are_one_and_a_whole_day_is_always()
    {
        static Zone With(string hours) => ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"R","kind":"restricted","hours":"{{{hours}}}"},
             "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}
            """).Zones[0];
        static long Local(int hour, int minute) => new DateTimeOffset(2025, 11, 25, hour, minute, 0, TimeSpan.FromHours(8)).ToUnixTimeMilliseconds();
        Zone met = With("22:00-24:00,00:00-06:00");
        Assert.Equal(new DateTimeOffset(2025, 11, 24, 22, 0, 0, TimeSpan.FromHours(8)).ToUnixTimeMilliseconds(), met.InForceSinceMs(0, Local(1, 0)));
        Assert.Equal(Local(6, 0), met.LastEndMs(Local(12, 0)));
        Zone day = With("00:00-24:00");
        Assert.True(day.InForce(Local(3, 0)) && day.InForce(Local(23, 59)));
        Assert.Equal(Local(2, 0), day.InForceSinceMs(Local(2, 0), Local(3, 0)));
    }

    [Theory]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","hours":7},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "hours must be text")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","hours":[]},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "hours names no window")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","hours":"07:00-09:00 17:00-19:00"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "is not 'HH:MM-HH:MM'")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","max_dwell_s":"long"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "max_dwell_s must be a number")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"kind":"restricted"},"geometry":{"type":"Point","coordinates":[1,1]}}]}""", "'id' missing")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"parking"},"geometry":{"type":"Point","coordinates":[1,1]}}]}""", "unknown kind")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Point","coordinates":[1,1]}}]}""", "cannot be")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","hours":"late"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "hours")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","classes":["tram"]},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "unknown class")]
    [InlineData("""{"features": 3""", "FeatureCollection")]
    // A probe line given as the zones file (one JSON object, as a wrong --zones path hands over), a single Feature, a
    // collection without its features: each read as no zones at all, and the run went on without its zone rules.
    [InlineData("""{"vehicle_id":"a","time":1772413200000,"lon":113.95,"lat":22.54}""", "not a GeoJSON FeatureCollection")]
    [InlineData("""{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}""", "not a GeoJSON FeatureCollection")]
    [InlineData("""{"type":"FeatureCollection"}""", "'features'")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}}]}""", "must end at its first point")]
    public void A_bad_zone_is_refused_with_a_clear_message(string geoJson, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => ZoneSet.Parse(geoJson));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    // A square of 0.01° (about 1 km) at Shenzhen, cut in two halves at 113.905: as a zone exploded into single parts writes it.
    private const string West = "[[[113.90,22.50],[113.905,22.50],[113.905,22.51],[113.90,22.51],[113.90,22.50]]]";
    private const string East = "[[[113.905,22.50],[113.91,22.50],[113.91,22.51],[113.905,22.51],[113.905,22.50]]]";

    [Fact]
    public void Features_sharing_an_id_are_the_parts_of_one_zone()
    {
        // ogr2ogr -explodecollections and QGIS's "multipart to singleparts" write one feature per part, each with the
        // zone's id and properties: before, the first part was the zone (a corridor truck on the second part was off its
        // corridor) and the second part a zone of its own under the same id (two alerts for one drive through).
        var set = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"id":"Z1","kind":"restricted","classes":["truck"]},"geometry":{"type":"Polygon","coordinates":{{{West}}}}},
              {"type":"Feature","properties":{"id":"Z1","name":"东区","kind":"restricted","classes":["truck"]},"geometry":{"type":"Polygon","coordinates":{{{East}}}}},
              {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":60},"geometry":{"type":"LineString","coordinates":[[113.90,22.52],[113.95,22.52]]}},
              {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":60},"geometry":{"type":"LineString","coordinates":[[113.95,22.52],[113.95,22.56]]}}
            ]}
            """);
        Assert.Equal(["Z1", "C1"], set.Zones.Select(z => z.Id));
        Span<int> found = stackalloc int[4];
        Assert.Equal(1, set.Containing(113.902, 22.505, found));
        Assert.Equal(1, set.Containing(113.908, 22.505, found));
        Assert.Equal(0, found[0]);
        Assert.True(set.Holds(1, 113.93, 22.52) && set.Holds(1, 113.95, 22.55));
        Assert.True(set.SignedDistanceM(1, 113.95, 22.55) > 29);
        // The same id with another rule is refused: which one holds cannot be told.
        var e = Assert.Throws<InvalidDataException>(() => ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"id":"Z1","kind":"restricted","classes":["truck"]},"geometry":{"type":"Polygon","coordinates":{{{West}}}}},
              {"type":"Feature","properties":{"id":"Z1","kind":"restricted","classes":["taxi"]},"geometry":{"type":"Polygon","coordinates":{{{East}}}}}
            ]}
            """));
        Assert.Contains("feature 1 ('Z1'): the id of an earlier restricted zone with another rule", e.Message, StringComparison.Ordinal);
        // Zones of other kinds under one id (two layers numbered from 1, merged) are zones apart.
        set = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"id":1,"kind":"hazmat_forbidden"},"geometry":{"type":"Polygon","coordinates":{{{West}}}}},
              {"type":"Feature","properties":{"id":1,"kind":"permitted_stop"},"geometry":{"type":"Polygon","coordinates":{{{East}}}}}
            ]}
            """);
        Assert.Equal([ZoneKind.HazmatForbidden, ZoneKind.PermittedStop], set.Zones.Select(z => z.Kind));
    }

    [Fact]
    public void A_multilinestring_corridor_and_a_multipolygon_of_touching_parts_are_read()
    {
        // A MultiLineString corridor was refused ("cannot be a 'corridor' zone"), and a MultiPolygon whose parts share an
        // edge (QGIS's "collect geometries" of two drawn halves) was "invalid polygon (self-intersecting or unclosed)".
        var set = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"id":"Z1","kind":"hazmat_forbidden"},"geometry":{"type":"MultiPolygon","coordinates":[{{{West}}},{{{East}}}]}},
              {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":60},
               "geometry":{"type":"MultiLineString","coordinates":[[[113.90,22.52],[113.95,22.52]],[[113.95,22.52],[113.95,22.56]]]}}
            ]}
            """);
        Assert.True(set.Holds(0, 113.902, 22.505) && set.Holds(0, 113.908, 22.505) && !set.Holds(0, 113.912, 22.505));
        Assert.True(set.Holds(1, 113.93, 22.5201) && set.Holds(1, 113.9501, 22.55) && !set.Holds(1, 113.93, 22.53));
        // A part that is not a polygon on its own is still refused, saying why and where.
        var e = Assert.Throws<InvalidDataException>(() => ZoneSet.Parse("""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"B","kind":"restricted"},
             "geometry":{"type":"Polygon","coordinates":[[[113.90,22.50],[113.91,22.51],[113.91,22.50],[113.90,22.51],[113.90,22.50]]]}}]}
            """));
        Assert.Contains("feature 0 ('B'): invalid polygon: Self-intersection", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    // Web Mercator metres as a crs member says (QGIS, ogr2ogr), the same metres without one, latitude written first.
    [InlineData("""{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[12683000,2575000],[12684000,2575000],[12684000,2576000],[12683000,2575000]]]}}]}""", "the zones' crs is urn:ogc:def:crs:EPSG::3857")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[12683000,2575000],[12684000,2575000],[12684000,2576000],[12683000,2575000]]]}}]}""", "feature 0 ('A'): coordinate (12683000, 2575000) is not longitude and latitude")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"corridor"},"geometry":{"type":"LineString","coordinates":[[22.52,113.90],[22.52,113.95]]}}]}""", "is not longitude and latitude")]
    // Classes that name none: a rule for no vehicle, a zone that did nothing and said nothing.
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","classes":""},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "classes names no class")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","classes":[]},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "classes names no class")]
    // A band of no width, or less, held nothing: every corridor vehicle was off its corridor.
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"corridor","width_m":-60},"geometry":{"type":"LineString","coordinates":[[0,0],[1,0]]}}]}""", "width_m must be more than 0")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"corridor","width_m":"0"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,0]]}}]}""", "width_m must be more than 0")]
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted","max_dwell_s":-5},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}""", "max_dwell_s must not be negative")]
    // An unclosed ring, named by its feature (it was "a geometry is not valid" of no feature).
    [InlineData("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"A","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},{"type":"Feature","properties":{"id":"B","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}}]}""", "feature 1 ('B'): a geometry is not valid GeoJSON")]
    // A GeoJSON text sequence (ogr2ogr -f GeoJSONSeq), with or without its record separators: said so, not "'{' is invalid after a single JSON value".
    [InlineData("\u001E{\"type\":\"Feature\",\"properties\":{\"id\":\"A\",\"kind\":\"restricted\"},\"geometry\":null}\n\u001E{\"type\":\"Feature\",\"properties\":{\"id\":\"B\",\"kind\":\"restricted\"},\"geometry\":null}\n", "a GeoJSON text sequence")]
    [InlineData("{\"type\":\"Feature\",\"properties\":{\"id\":\"A\",\"kind\":\"restricted\"},\"geometry\":null}\n{\"type\":\"Feature\",\"properties\":{\"id\":\"B\",\"kind\":\"restricted\"},\"geometry\":null}\n", "a GeoJSON text sequence")]
    public void Zones_that_would_hold_nothing_or_nobody_are_refused(string geoJson, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => ZoneSet.Parse(geoJson));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("22:00～06:00")]   // a full-width tilde, as a Chinese input method writes it
    [InlineData("22：00-06：00")]   // full-width colons
    [InlineData("22:00 — 06:00")]   // an em dash with spaces
    [InlineData("22:00－06:00")]   // a full-width hyphen
    [InlineData("22:00:00-06:00:00")] // a database's time column
    public void Hours_as_other_tools_and_input_methods_write_them(string hours)
    {
        // Each was refused as "not 'HH:MM-HH:MM'".
        Zone z = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[{"type":"Feature",
             "properties":{"ID":"R","KIND":"restricted","HOURS":"{{{hours}}}"},"geometry":{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]]}}]}
            """).Zones[0];
        static long Local(int hour, int minute) => new DateTimeOffset(2025, 11, 25, hour, minute, 0, TimeSpan.FromHours(8)).ToUnixTimeMilliseconds();
        Assert.Equal("R", z.Id);
        Assert.Equal([false, true, true, false], new[] { Local(21, 59), Local(22, 0), Local(5, 59), Local(6, 0) }.Select(z.InForce));
        Assert.Throws<InvalidDataException>(() => ZoneSet.Parse("""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"R","kind":"restricted","hours":"22:00:30-06:00"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}
            """));
    }

    [Theory]
    [InlineData("""{"type":"MultiPolygon","coordinates":[]}""", "restricted")]
    [InlineData("""{"type":"Polygon","coordinates":[]}""", "restricted")]
    [InlineData("""{"type":"MultiLineString","coordinates":[]}""", "corridor")]
    public void An_empty_geometry_is_refused_not_a_zone_that_holds_nothing(string geometry, string kind)
    {
        // Found by fuzzing: an empty MultiPolygon made a zone with neither area nor line, and reading its centre threw.
        var e = Assert.Throws<InvalidDataException>(() => ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"E","kind":"{{{kind}}}"},"geometry":{{{geometry}}}}]}
            """));
        Assert.Contains("feature 0 ('E'): an empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zones_wholly_outside_a_network_are_named()
    {
        // A zones file of another city (or in another order of coordinates that still reads as degrees) holds no vehicle
        // of the network: the run warns of them by these ids.
        var set = ZoneSet.Parse($$$"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"id":"near","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":{{{West}}}}},
              {"type":"Feature","properties":{"id":"haikou","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[110.30,20.00],[110.31,20.00],[110.31,20.01],[110.30,20.00]]]}},
              {"type":"Feature","properties":{"id":"edge","kind":"corridor","width_m":100},"geometry":{"type":"LineString","coordinates":[[113.905,22.495],[113.905,22.40]]}}
            ]}
            """);
        Assert.Equal(["haikou"], set.Outside((113.90, 22.50, 113.95, 22.55)));
        Assert.Equal(["haikou", "edge"], set.Outside((113.90, 22.50, 113.95, 22.55), marginM: 100));
    }

    [Fact]
    public void The_example_zones_load()
    {
        var set = ZoneSet.Load(Path.Combine(SharedData.RepoRoot(), "docs", "examples", "zones.geojson"));
        Assert.Contains(set.Zones, z => z.Kind == ZoneKind.Corridor);
        Assert.Contains(set.Zones, z => z.Kind == ZoneKind.HazmatForbidden);
    }
}
