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

    [Theory]
    [InlineData("""{"vehicle_id":"a","class":"truck","hazmat":12}""", "hazmat")]
    [InlineData("""{"vehicle_id":"a","class":"truck","corridor":["C1"]}""", "corridor")]
    [InlineData("""{"class":"bus"}""", "vehicle_id")]
    [InlineData("""{"vehicle_id":"a"}""", "class")]
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
