using Traffic.Testing;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;

namespace Traffic.Engine.Tests.Registry;

public class VehicleRegistryTests
{
    [Fact]
    public void Registry_entries_fill_in_what_probes_leave_out()
    {
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.ndjson");
        File.WriteAllText(path, """
            {"vehicle_id":"琼A1","class":"hazmat","hazmat":"3","corridor":"yangpu-1","company":"洋浦物流"}

            {"vehicle_id":"琼B2","class":"bus"}
            """);
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(path, ids);
        Assert.Equal(2, registry.Count);
        var decoder = new ProbeJsonDecoder(ids);
        Assert.True(decoder.TryDecode("""{"vehicle_id":"琼A1","time":1764028800000,"lon":109.1,"lat":19.7}"""u8, out var hazmat, out _));
        Assert.Equal((VehicleClass.Hazmat, (ushort)30), registry.Resolve(hazmat));
        Assert.Equal("yangpu-1", registry.Get(hazmat.Vehicle)!.Value.Corridor);
        Assert.True(decoder.TryDecode("""{"vehicle_id":"琼B2","time":1764028800000,"lon":109.1,"lat":19.7,"class":"taxi"}"""u8, out var own, out _));
        Assert.Equal(VehicleClass.Taxi, registry.Resolve(own).Class);
        Assert.True(decoder.TryDecode("""{"vehicle_id":"琼C3","time":1764028800000,"lon":109.1,"lat":19.7}"""u8, out var unknown, out _));
        Assert.Equal((VehicleClass.Car, (ushort)0), registry.Resolve(unknown));
    }

    [Fact]
    public void A_UN_class_written_as_a_number_and_a_class_in_capitals_read_as_the_format_says()
    {
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.ndjson");
        File.WriteAllText(path, """
            {"vehicle_id":"琼A1","class":"Truck","hazmat":3}
            {"vehicle_id":"琼A2","class":"TRUCK","hazmat":2.1,"corridor":7}
            """);
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(path, ids);
        Assert.Equal((VehicleClass.Truck, (ushort)30), (registry.Get(ids.Intern("琼A1".AsSpan()))!.Value.Class, registry.Get(ids.Intern("琼A1".AsSpan()))!.Value.Hazmat));
        Assert.Equal(((ushort)21, "7"), (registry.Get(ids.Intern("琼A2".AsSpan()))!.Value.Hazmat, registry.Get(ids.Intern("琼A2".AsSpan()))!.Value.Corridor));
    }

    [Fact]
    public void Corridors_the_zones_lack_are_named_with_their_vehicles()
    {
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.ndjson");
        File.WriteAllText(path, """
            {"vehicle_id":"a","class":"truck","hazmat":"3","corridor":"C1"}
            {"vehicle_id":"b","class":"truck","hazmat":"3","corridor":"C9"}
            {"vehicle_id":"c","class":"truck","hazmat":"3","corridor":"C9"}
            {"vehicle_id":"d","class":"bus"}
            """);
        var registry = VehicleRegistry.Load(path, new VehicleIds());
        var zones = Traffic.Engine.Zones.ZoneSet.Parse("""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"C1","kind":"corridor"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,0]]}}]}
            """);
        Assert.Equal([("C9", 2)], registry.MissingCorridors(zones));
        Assert.Equal([("C1", 1), ("C9", 2)], registry.MissingCorridors(null));
    }

    [Fact]
    public void A_vehicle_listed_twice_alike_is_one_entry()
    {
        var registry = new VehicleRegistry(new VehicleIds());
        registry.Add("""{"vehicle_id":"粤B1","class":"truck","hazmat":"3"}""");
        registry.Add("""{"vehicle_id":"粤B1","class":"Truck","hazmat":3}""");
        Assert.Equal(1, registry.Count);
    }

    [Fact]
    public void Ids_as_a_fleet_database_exports_them_find_the_vehicles_the_units_name()
    {
        // A CHAR column's padding, full-width letters and digits typed with a Chinese input method, a terminal id from a
        // numeric column, a class left empty: before, the first two matched no probe (the hazardous-cargo truck was
        // judged a car without a corridor, saying nothing) and the last two refused the registry as "required field missing".
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.ndjson");
        File.WriteAllText(path, "\uFEFF" + string.Join("\r\n",
            """{"vehicle_id":"粤B12345   ","class":"truck","hazmat":"3","corridor":"C1","fleet_no":17,"company":null}""",
            """{"vehicle_id":"粤Ｂ６７８９０","class":"hazmat","hazmat":"2.1"}""",
            """{"vehicle_id":13800138000,"class":"truck"}""",
            """{"vehicle_id":"粤B55555","class":null,"hazmat":"8","corridor":"C2  "}""",
            """{"vehicle_id":"粤B66666","class":"truck","corridor":"","company":" "}""",
            """{"vehicle_id":"粤B12345","class":"truck","hazmat":"3","corridor":"C1"}""") + "\r\n");
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(path, ids);
        Assert.Equal(5, registry.Count);
        var decoder = new ProbeJsonDecoder(ids);
        VehicleInfo? Of(string id)
        {
            Assert.True(decoder.TryDecode(System.Text.Encoding.UTF8.GetBytes($$"""{"vehicle_id":"{{id}}","time":1764028800000,"lon":113.9,"lat":22.5}"""), out var p, out _));
            return registry.Get(p.Vehicle);
        }
        Assert.Equal(new VehicleInfo(VehicleClass.Truck, 30, "C1", null), Of("粤B12345"));
        Assert.Equal(new VehicleInfo(VehicleClass.Hazmat, 21, null, null), Of("粤B67890"));
        Assert.Equal(VehicleClass.Truck, Of("13800138000")?.Class);
        Assert.True(decoder.TryDecode("""{"vehicle_id":"粤B55555","time":1764028800000,"lon":113.9,"lat":22.5}"""u8, out var unknownClass, out _));
        Assert.Equal((VehicleClass.Car, (ushort)80), registry.Resolve(unknownClass));
        Assert.True(decoder.TryDecode("""{"vehicle_id":"粤B55555","time":1764028800000,"lon":113.9,"lat":22.5,"class":"truck"}"""u8, out var ownClass, out _));
        Assert.Equal((VehicleClass.Truck, (ushort)80), registry.Resolve(ownClass));
        Assert.Equal("C2", registry.Get(ownClass.Vehicle)?.Corridor);
        Assert.Equal(new VehicleInfo(VehicleClass.Truck, 0, null, null), Of("粤B66666"));
        Assert.Equal([("C1", 1), ("C2", 1)], registry.MissingCorridors(null));   // the padded id is one vehicle
        // The padded id and the plain one listed otherwise: which holds cannot be told.
        var e = Assert.Throws<InvalidDataException>(() => new VehicleRegistry(new VehicleIds()).AddAll(
            """{"vehicle_id":"粤B1 ","class":"truck","hazmat":"3"}""", """{"vehicle_id":"粤B1","class":"car"}"""));
        Assert.Contains("listed before with another entry", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_registry_as_pandas_writes_it_reads_the_same()
    {
        // pandas' to_json(orient="records"): a JSON array, and a UN class column with nulls written as floats (3.0, 8.0),
        // none as 0 from a numeric column. Before: "expected a JSON object" at line 1, and "hazmat: not a UN class: 3.0".
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.json");
        File.WriteAllText(path, """
            [{"vehicle_id":"粤B1","class":"truck","hazmat":3.0,"corridor":"C1"},
             {"vehicle_id":"粤B2","class":"truck","hazmat":2.1,"corridor":null},
             {"vehicle_id":"粤B3","class":"car","hazmat":null},
             {"vehicle_id":"粤B4","class":"truck","hazmat":0},
             {"vehicle_id":"粤B5","class":"truck","hazmat":"0"}]
            """);
        var ids = new VehicleIds();
        var registry = VehicleRegistry.Load(path, ids);
        Assert.Equal(5, registry.Count);
        ushort Hazmat(string id) => registry.Get(ids.Intern(id.AsSpan()))!.Value.Hazmat;
        Assert.Equal(new ushort[] { 30, 21, 0, 0, 0 }, new[] { "粤B1", "粤B2", "粤B3", "粤B4", "粤B5" }.Select(Hazmat));
        File.WriteAllText(path, """[{"vehicle_id":"粤B1","class":"truck"},{"vehicle_id":"粤B2","class":"tram"}]""");
        var e = Assert.Throws<InvalidDataException>(() => VehicleRegistry.Load(path, new VehicleIds()));
        Assert.Contains("vehicles.json: element 1: class: unknown value 'tram'", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => new VehicleRegistry(new VehicleIds()).Add("""{"vehicle_id":"a","class":"truck","hazmat":3.5}"""));
    }

    [Fact]
    public void A_corridor_id_naming_a_zone_of_another_kind_names_no_corridor()
    {
        // A registry naming a restricted zone as a truck's corridor: the truck was "off its corridor" whenever it was
        // outside the truck ban. Now warned of, like a corridor the zones lack, and not judged.
        var registry = new VehicleRegistry(new VehicleIds());
        registry.AddAll("""{"vehicle_id":"a","class":"truck","hazmat":"3","corridor":"Z1"}""", """{"vehicle_id":"b","class":"truck","hazmat":"3","corridor":"C1"}""");
        var zones = Traffic.Engine.Zones.ZoneSet.Parse("""
            {"type":"FeatureCollection","features":[
             {"type":"Feature","properties":{"id":"C1","kind":"corridor"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,0]]}},
             {"type":"Feature","properties":{"id":"Z1","kind":"restricted"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}
            """);
        Assert.Equal([("Z1", 1)], registry.MissingCorridors(zones));
    }

    [Theory]
    [InlineData("""{"vehicle_id":"a","class":"truck","hazmat":12}""", "hazmat")]
    [InlineData("""{"vehicle_id":"a","class":"truck","corridor":["C1"]}""", "corridor")]
    [InlineData("""{"class":"bus"}""", "vehicle_id")]
    [InlineData("""{"vehicle_id":"a"}""", "class")]
    [InlineData("""{"vehicle_id":true,"class":"car"}""", "vehicle_id: wrong type")]
    [InlineData("""{"vehicle_id":"a","class":3}""", "class: wrong type")]
    [InlineData("""{"vehicle_id":"a","class":"tram"}""", "class")]
    [InlineData("""{"vehicle_id":"a","class":"truck","hazmat":"10"}""", "hazmat")]
    [InlineData("""{"vehicle_id":"a",""", "vehicles.ndjson:2")]
    [InlineData("""{"vehicle_id":"ok","class":"truck","hazmat":"3"}""", "'ok' is listed before with another entry (class car, hazmat none, corridor none, company none; here class truck, hazmat 3")]
    public void A_bad_line_is_refused_with_its_file_and_line(string bad, string expected)
    {
        string path = Path.Combine(TestDirectory.New("tmp"), "vehicles.ndjson");
        File.WriteAllText(path, "{\"vehicle_id\":\"ok\",\"class\":\"car\"}\n" + bad + "\n");
        var e = Assert.Throws<InvalidDataException>(() => VehicleRegistry.Load(path, new VehicleIds()));
        Assert.Contains("vehicles.ndjson:2", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
