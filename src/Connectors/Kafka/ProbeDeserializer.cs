using Confluent.Kafka;
using Traffic.Engine.Probes;

namespace Traffic.Connectors.Kafka;

/// <summary>A probe message decoded, or the reason it could not be.</summary>
public readonly record struct ProbeRecord(bool Ok, Probe Probe, DecodeError Error);

/// <summary>
/// Decodes a probe straight from the span that librdkafka hands over (no byte[] per message): the NDJSON
/// probe object, its vehicle id interned into <see cref="VehicleIds"/>. The span is freed when the call
/// returns, so the message's bytes are also copied into one reused buffer, <see cref="LastRaw"/>, valid until
/// the next message: a rejected record goes to the dead-letter topic with its original bytes (a tombstone, a null
/// value, as a null value: <see cref="LastWasNull"/>). A UTF-8 byte order mark before the object, as some Windows
/// producers write one into each value, is skipped, as replay skips one at the start of a file.
/// One per consumer; not thread-safe (the consumer's poll thread owns it).
/// </summary>
public sealed class ProbeDeserializer(VehicleIds ids) : IDeserializer<ProbeRecord>
{
    // "More than a day ahead" is judged per partition by the engine, not across this consumer's partitions.
    private readonly ProbeJsonDecoder _decoder = new(ids) { TrackNewest = false };
    private byte[] _raw = new byte[1024];
    private int _rawLength;

    /// <summary>The bytes of the message decoded last.</summary>
    public ReadOnlySpan<byte> LastRaw => _raw.AsSpan(0, _rawLength);

    /// <summary>Whether the message decoded last was a tombstone (a null value, not an empty one).</summary>
    public bool LastWasNull { get; private set; }

    public ProbeRecord Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (data.Length > _raw.Length) _raw = new byte[Math.Max(data.Length, _raw.Length * 2)];
        data.CopyTo(_raw);
        _rawLength = data.Length;
        LastWasNull = isNull;
        if (isNull || data.IsEmpty) return new(false, default, new DecodeError(ProbeField.Record, DecodeReason.Malformed));
        if (data.StartsWith("\uFEFF"u8)) data = data[3..];
        int live = ids.Live;
        bool ok = _decoder.TryDecode(data, out Probe probe, out DecodeError error);
        // A refused record whose id was new here leaves nothing that holds the id: it is released at once, or every
        // bad record with an id of its own would stay in the table for good.
        if (!ok && ids.Live == live + 1) ids.Release(ids.LastAdded);
        return new(ok, probe, error);
    }
}
