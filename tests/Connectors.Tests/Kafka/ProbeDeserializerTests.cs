using System.Text;
using Confluent.Kafka;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Probes;
using Traffic.Testing;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// The probes topic's value deserializer: a probe decoded from the span librdkafka hands over, or the field and
/// reason it was refused for; either way <see cref="ProbeDeserializer.LastRaw"/> holds the message's own bytes for
/// the dead-letter topic.
/// </summary>
public class ProbeDeserializerTests
{
    private static readonly SerializationContext s_context = new(MessageComponentType.Value, "traffic.probes");

    private const string Valid = """{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.52,"speed_kmh":41.5,"heading":90,"class":"taxi"}""";

    private static ProbeRecord Decode(ProbeDeserializer d, byte[] bytes) => d.Deserialize(bytes, isNull: false, s_context);

    [Fact]
    public void A_valid_probe_decodes_and_its_bytes_are_kept()
    {
        var ids = new VehicleIds();
        var d = new ProbeDeserializer(ids);
        byte[] bytes = Encoding.UTF8.GetBytes(Valid);
        var r = Decode(d, bytes);
        Assert.True(r.Ok, r.Error.ToString());
        Assert.False(r.Error.IsError);
        Assert.Equal("T1", ids.Name(r.Probe.Vehicle));
        Assert.Equal(1767571200000, r.Probe.TimeMs);
        Assert.Equal(113.93, r.Probe.Lon);
        Assert.Equal(22.52, r.Probe.Lat);
        Assert.Equal(41.5f, r.Probe.SpeedKmh);
        Assert.Equal(VehicleClass.Taxi, r.Probe.Class);
        Assert.Equal(bytes, d.LastRaw.ToArray());
    }

    [Theory]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.5""", ProbeField.Record, DecodeReason.Malformed, "record:malformed")]
    [InlineData("""not json""", ProbeField.Record, DecodeReason.Malformed, "record:malformed")]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.5} {}""", ProbeField.Record, DecodeReason.Malformed, "record:malformed")]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lat":22.5}""", ProbeField.Lon, DecodeReason.Missing, "lon:missing")]
    [InlineData("""{"time":1767571200000,"lon":113.93,"lat":22.5}""", ProbeField.VehicleId, DecodeReason.Missing, "vehicle_id:missing")]
    [InlineData("""{"vehicle_id":"T1","lon":113.93,"lat":22.5}""", ProbeField.Time, DecodeReason.Missing, "time:missing")]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":95}""", ProbeField.Lat, DecodeReason.OutOfRange, "lat:out_of_range")]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.5,"speed_kmh":-4}""", ProbeField.SpeedKmh, DecodeReason.OutOfRange, "speed_kmh:out_of_range")]
    [InlineData("""{"vehicle_id":"T1","time":1767571200000,"lon":"113.93","lat":22.5}""", ProbeField.Lon, DecodeReason.WrongType, "lon:wrong_type")]
    [InlineData("""{"vehicle_id":"T1","time":900000000000,"lon":113.93,"lat":22.5}""", ProbeField.Time, DecodeReason.TimeTooEarly, "time:before_2000")]
    public void A_malformed_probe_is_refused_with_field_and_reason_and_its_original_bytes(string text, ProbeField field, DecodeReason reason, string code)
    {
        var d = new ProbeDeserializer(new VehicleIds());
        // A good message first: LastRaw must be this message's bytes, not a mix with the one before.
        Assert.True(Decode(d, Encoding.UTF8.GetBytes(Valid + "      ")).Ok);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var r = Decode(d, bytes);
        Assert.False(r.Ok);
        Assert.Equal(field, r.Error.Field);
        Assert.Equal(reason, r.Error.Reason);
        Assert.Equal(code, r.Error.Code);
        Assert.Contains(DecodeError.FieldName(field), r.Error.ToString(), StringComparison.Ordinal);
        Assert.Equal(bytes, d.LastRaw.ToArray());
    }

    [Fact]
    public void Bytes_that_are_not_UTF_8_are_refused_and_kept_as_they_were()
    {
        var d = new ProbeDeserializer(new VehicleIds());
        byte[] bytes = [.. """{"vehicle_id":"""u8, (byte)'"', 0xC3, 0x28, (byte)'"', .. ""","time":1767571200000,"lon":113.93,"lat":22.5}"""u8];
        var r = Decode(d, bytes);
        Assert.False(r.Ok);
        Assert.True(r.Error.IsError);
        Assert.Equal(bytes, d.LastRaw.ToArray());
    }

    [Fact]
    public void A_null_or_empty_value_is_a_malformed_record_with_no_bytes()
    {
        var d = new ProbeDeserializer(new VehicleIds());
        Assert.True(Decode(d, Encoding.UTF8.GetBytes(Valid)).Ok);
        var empty = d.Deserialize([], isNull: false, s_context);
        Assert.False(empty.Ok);
        Assert.Equal("record:malformed", empty.Error.Code);
        Assert.Equal(0, d.LastRaw.Length);

        Assert.True(Decode(d, Encoding.UTF8.GetBytes(Valid)).Ok);
        var none = d.Deserialize(ReadOnlySpan<byte>.Empty, isNull: true, s_context);
        Assert.False(none.Ok);
        Assert.Equal("record:malformed", none.Error.Code);
        Assert.Equal(0, d.LastRaw.Length);
        Assert.True(d.LastWasNull);
        d.Deserialize([], isNull: false, s_context);
        Assert.False(d.LastWasNull);
    }

    [Fact]
    public void A_byte_order_mark_before_the_object_is_skipped_and_kept_in_the_raw_bytes()
    {
        var ids = new VehicleIds();
        var d = new ProbeDeserializer(ids);
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Valid)];
        var r = Decode(d, bytes);
        Assert.True(r.Ok, r.Error.ToString());
        Assert.Equal("T1", ids.Name(r.Probe.Vehicle));
        Assert.Equal(bytes, d.LastRaw.ToArray());
        // Only one, and only first: a mark inside the object or two of them is not a probe.
        Assert.Equal("record:malformed", Decode(d, [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Valid)]).Error.Code);
    }

    [Fact]
    public void A_message_longer_than_the_initial_buffer_is_decoded_and_kept_whole_and_a_short_one_after_it_too()
    {
        var ids = new VehicleIds();
        var d = new ProbeDeserializer(ids);
        // An unknown field pads the probe well past the deserializer's first 1 KiB buffer, twice over.
        string padded = Valid[..^1] + ",\"note\":\"" + new string('x', 5000) + "\"}";
        byte[] bytes = Encoding.UTF8.GetBytes(padded);
        var r = Decode(d, bytes);
        Assert.True(r.Ok, r.Error.ToString());
        Assert.Equal(bytes, d.LastRaw.ToArray());

        // Refused and long: the dead letter gets all of it.
        byte[] broken = bytes.AsSpan(0, bytes.Length - 1).ToArray();
        Assert.False(Decode(d, broken).Ok);
        Assert.Equal(broken, d.LastRaw.ToArray());

        byte[] small = Encoding.UTF8.GetBytes("{}");
        Assert.Equal("vehicle_id:missing", Decode(d, small).Error.Code);
        Assert.Equal(small, d.LastRaw.ToArray());
    }

    [Fact]
    public void Chinese_vehicle_ids_are_interned_from_their_UTF_8_bytes_and_escaped_ones_are_the_same_vehicle()
    {
        var ids = new VehicleIds();
        var d = new ProbeDeserializer(ids);
        var a = Decode(d, Encoding.UTF8.GetBytes("""{"vehicle_id":"粤B12345","time":1767571200000,"lon":113.93,"lat":22.52}"""));
        var b = Decode(d, Encoding.UTF8.GetBytes("""{"vehicle_id":"\u7CA4B12345","time":1767571201000,"lon":113.93,"lat":22.52}"""));
        var c = Decode(d, Encoding.UTF8.GetBytes("""{"vehicle_id":"琼A00001","time":1767571201000,"lon":113.93,"lat":22.52}"""));
        Assert.True(a.Ok && b.Ok && c.Ok);
        Assert.Equal("粤B12345", ids.Name(a.Probe.Vehicle));
        Assert.Equal(a.Probe.Vehicle, b.Probe.Vehicle);
        Assert.NotEqual(a.Probe.Vehicle, c.Probe.Vehicle);
        Assert.Equal("琼A00001", ids.Name(c.Probe.Vehicle));
        // 22 Chinese characters are 66 UTF-8 bytes: over the id limit.
        string tooLong = new('粤', 22);
        var e = Decode(d, Encoding.UTF8.GetBytes($$"""{"vehicle_id":"{{tooLong}}","time":1767571200000,"lon":113.93,"lat":22.52}"""));
        Assert.Equal("vehicle_id:too_long", e.Error.Code);
    }

    [Fact]
    public void Deserializing_a_known_vehicle_allocates_nothing()
    {
        var d = new ProbeDeserializer(new VehicleIds());
        byte[][] messages = Enumerable.Range(0, 10).Select(i => Encoding.UTF8.GetBytes(
            $$"""{"vehicle_id":"粤B1000{{i}}","time":{{1767571200000 + i}},"lon":113.9{{i}},"lat":22.5{{i}},"speed_kmh":41.5,"heading":270,"class":"taxi"}""")).ToArray();
        byte[] broken = Encoding.UTF8.GetBytes("""{"vehicle_id":"粤B10001","time":1767571200000,"lon":113.9,"lat":95}""");
        Assert.Equal(0, AllocationBudget.BytesPerOperation(i => d.Deserialize(i % 11 == 10 ? broken : messages[i % 10], false, s_context)));
    }
}
