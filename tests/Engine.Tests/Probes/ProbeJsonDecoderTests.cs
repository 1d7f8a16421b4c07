using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Probes;

public class ProbeJsonDecoderTests
{
    private const string Good = """{"vehicle_id":"琼A12345","time":1764028800000,"lon":110.35,"lat":20.02,"speed_kmh":42.5,"heading":90,"class":"hazmat","hazmat":"2.1","fix":true,"accuracy_m":3.5,"alarm":4,"status":3,"extra":{"a":[1,2]}}""";

    [Fact]
    public void A_full_record_decodes_every_field()
    {
        var ids = new VehicleIds();
        var d = new ProbeJsonDecoder(ids);
        Assert.True(d.TryDecode(Encoding.UTF8.GetBytes(Good), out var p, out var e), e.ToString());
        Assert.Equal("琼A12345", ids.Name(p.Vehicle));
        Assert.Equal(1764028800000, p.TimeMs);
        Assert.Equal(110.35, p.Lon);
        Assert.Equal(20.02, p.Lat);
        Assert.Equal(42.5f, p.SpeedKmh);
        Assert.Equal(90f, p.Heading);
        Assert.Equal(VehicleClass.Hazmat, p.Class);
        Assert.Equal(21, p.Hazmat);
        Assert.Equal("2.1", p.HazmatText);
        Assert.True(p.Fix);
        Assert.Equal(3.5f, p.AccuracyM);
        Assert.True(p.HasAlarm && p.HasStatus);
        Assert.Equal(4u, p.Alarm);
        Assert.Equal(3u, p.Status);
    }

    [Fact]
    public void Optional_fields_default_and_RFC_3339_times_parse()
    {
        var d = new ProbeJsonDecoder(new VehicleIds());
        Assert.True(d.TryDecode("""{"vehicle_id":"T1","time":"2025-11-25T08:00:00+08:00","lon":114.0,"lat":22.5}"""u8, out var p, out _));
        Assert.Equal(new DateTimeOffset(2025, 11, 25, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), p.TimeMs);
        Assert.True(float.IsNaN(p.SpeedKmh) && float.IsNaN(p.Heading) && float.IsNaN(p.AccuracyM));
        Assert.Equal(VehicleClass.Unspecified, p.Class);
        Assert.True(p.Fix);
        Assert.False(p.HasAlarm);
        Assert.Equal(0, p.Hazmat);
    }

    [Theory]
    [InlineData("""{"time":1764028800000,"lon":1,"lat":1}""", "vehicle_id:missing")]
    [InlineData("""{"vehicle_id":"a","lon":1,"lat":1}""", "time:missing")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lat":1}""", "lon:missing")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1}""", "lat:missing")]
    [InlineData("""{"vehicle_id":7,"time":1764028800000,"lon":1,"lat":1}""", "vehicle_id:wrong_type")]
    [InlineData("""{"vehicle_id":"a","time":true,"lon":1,"lat":1}""", "time:wrong_type")]
    [InlineData("""{"vehicle_id":"a","time":"yesterday","lon":1,"lat":1}""", "time:malformed")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":"1","lat":1}""", "lon:wrong_type")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":181,"lat":1}""", "lon:out_of_range")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":-90.5}""", "lat:out_of_range")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"speed_kmh":-3}""", "speed_kmh:out_of_range")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"speed_kmh":1e999}""", "speed_kmh:not_finite")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"heading":360}""", "heading:out_of_range")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"class":"tram"}""", "class:unknown_value")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"hazmat":"12"}""", "hazmat:unknown_value")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"hazmat":3}""", "hazmat:wrong_type")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"fix":"no"}""", "fix:wrong_type")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1,"alarm":-1}""", "alarm:out_of_range")]
    [InlineData("""{"vehicle_id":"a","time":900000000000,"lon":1,"lat":1}""", "time:before_2000")]
    [InlineData("""{"vehicle_id":"","time":1764028800000,"lon":1,"lat":1}""", "vehicle_id:missing")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1""", "record:malformed")]
    [InlineData("""[1,2,3]""", "record:malformed")]
    [InlineData("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1} trailing""", "record:malformed")]
    [InlineData("""not json at all""", "record:malformed")]
    public void A_bad_record_is_rejected_naming_the_field_and_reason(string record, string code)
    {
        var d = new ProbeJsonDecoder(new VehicleIds());
        Assert.False(d.TryDecode(Encoding.UTF8.GetBytes(record), out _, out var e));
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrEmpty(e.ToString()));
    }

    [Fact]
    public void A_time_more_than_a_day_ahead_of_the_newest_accepted_is_rejected()
    {
        var d = new ProbeJsonDecoder(new VehicleIds());
        Assert.True(d.TryDecode("""{"vehicle_id":"a","time":1764028800000,"lon":1,"lat":1}"""u8, out _, out _));
        Assert.True(d.TryDecode("""{"vehicle_id":"a","time":1764090000000,"lon":1,"lat":1}"""u8, out _, out _));
        Assert.False(d.TryDecode("""{"vehicle_id":"a","time":1764290000000,"lon":1,"lat":1}"""u8, out _, out var e));
        Assert.Equal("time:in_the_future", e.Code);
    }

    [Fact]
    public void Vehicle_ids_are_interned_to_dense_integers_without_allocating_for_known_ones()
    {
        var ids = new VehicleIds();
        var d = new ProbeJsonDecoder(ids);
        byte[] a = """{"vehicle_id":"粤B-77","time":1764028800000,"lon":1,"lat":1}"""u8.ToArray();
        byte[] b = """{"vehicle_id":"粤B-78","time":1764028800000,"lon":1,"lat":1}"""u8.ToArray();
        Assert.True(d.TryDecode(a, out var pa, out _));
        Assert.True(d.TryDecode(b, out var pb, out _));
        Assert.Equal(0, pa.Vehicle);
        Assert.Equal(1, pb.Vehicle);
        for (int i = 0; i < 1000; i++) d.TryDecode(a, out _, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) d.TryDecode(i % 2 == 0 ? a : b, out _, out _);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2, ids.Count);
    }

    [Fact]
    public void Escaped_ids_decode_to_the_same_vehicle()
    {
        var ids = new VehicleIds();
        var d = new ProbeJsonDecoder(ids);
        Assert.True(d.TryDecode("""{"vehicle_id":"琼A1","time":1764028800000,"lon":1,"lat":1}"""u8, out var p1, out _));
        Assert.True(d.TryDecode("""{"vehicle_id":"\u743cA1","time":1764028800000,"lon":1,"lat":1}"""u8, out var p2, out _));
        Assert.Equal(p1.Vehicle, p2.Vehicle);
    }
}
