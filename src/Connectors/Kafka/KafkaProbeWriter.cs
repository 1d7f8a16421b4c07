using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// A write-only stream of NDJSON probe lines that produces each line as one message of the probes topic,
/// keyed by its <c>vehicle_id</c> (so that a vehicle's probes stay in one partition, in order). Paced by
/// the probes' own <c>time</c> at real time × <see cref="Speed"/>, or as fast as possible when the speed
/// is 0. A line without a readable vehicle id (a malformed message, on purpose or not) is produced
/// unkeyed: the engine dead-letters it. Where each line lands depends on the input alone (the same lines give
/// the same partitions and offsets, hence the same engine outputs), unkeyed lines included.
/// </summary>
public sealed class KafkaProbeWriter : Stream
{
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly string _topic;
    private readonly CancellationToken _cancel;
    private readonly Stopwatch _wall = new();
    private byte[] _pending = new byte[1 << 16];   // bytes of an unfinished line
    private int _pendingLength;
    private long _firstTimeMs = long.MinValue;
    private Exception? _deliveryError;

    /// <param name="speed">Real time × this factor; 0 or less: as fast as possible.</param>
    public KafkaProbeWriter(KafkaConnection connection, string topic, double speed = 0, CancellationToken cancel = default)
    {
        var config = connection.Producer("traffic-simulate");
        // CRC32 of the key as librdkafka's default does, but unkeyed lines all to one partition rather than a random
        // one: a random partition would move every later offset of two partitions, and with them the dead-letter and
        // late keys and the matched batches, from one run of the same input to the next.
        config.Partitioner = Partitioner.Consistent;
        _producer = new ProducerBuilder<byte[]?, byte[]>(config).Build();
        _topic = topic;
        Speed = speed;
        _cancel = cancel;
    }

    public double Speed { get; }

    /// <summary>
    /// How many of the messages produced the consumer has taken so far (a process that hosts the engine too, as the demo
    /// does); null: not known. While more than <see cref="MaxAhead"/> are not yet taken, producing waits, and the pacing
    /// clock with it: the embedded cluster keeps only about 5 MiB a partition, and an engine slowed by a busy host would
    /// otherwise lose the oldest probes to its retention.
    /// </summary>
    public Func<long>? Taken { get; init; }

    /// <summary>Messages produced and not yet taken beyond which producing waits (<see cref="Taken"/>).</summary>
    public long MaxAhead { get; init; } = 100_000;

    /// <summary>Milliseconds spent waiting for the consumer (<see cref="Taken"/>).</summary>
    public long HeldMs { get; private set; }

    /// <summary>Messages produced.</summary>
    public long Produced { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int nl = buffer.IndexOf((byte)'\n');
            if (nl < 0)
            {
                Append(buffer);
                return;
            }
            if (_pendingLength == 0) Produce(buffer[..nl]);
            else
            {
                Append(buffer[..nl]);
                Produce(_pending.AsSpan(0, _pendingLength));
                _pendingLength = 0;
            }
            buffer = buffer[(nl + 1)..];
        }
    }

    public override void Flush()
    {
        if (_pendingLength > 0)
        {
            Produce(_pending.AsSpan(0, _pendingLength));
            _pendingLength = 0;
        }
        while (_producer.Flush(TimeSpan.FromMilliseconds(500)) > 0) _cancel.ThrowIfCancellationRequested();
        if (_deliveryError != null) throw new IOException($"Kafka: a probe was not delivered to {_topic}: {_deliveryError.Message}", _deliveryError);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                Flush();
            }
            finally
            {
                _producer.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_pendingLength + bytes.Length > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + bytes.Length));
        bytes.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += bytes.Length;
    }

    private void Produce(ReadOnlySpan<byte> line)
    {
        // A CRLF line ends before its CR: the message is the JSON object alone, as from an LF file.
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (line.IsEmpty || line.IndexOfAnyExcept((byte)' ', (byte)'\r', (byte)'\t') < 0) return;
        if (_deliveryError != null) throw new IOException($"Kafka: a probe was not delivered to {_topic}: {_deliveryError.Message}", _deliveryError);
        var (key, timeMs) = KeyAndTime(line);
        if (Taken != null && Produced - Taken() > MaxAhead) Hold();
        if (Speed > 0 && timeMs != long.MinValue) Pace(timeMs);
        var message = new Message<byte[]?, byte[]> { Key = key, Value = line.ToArray() };
        while (true)
        {
            try
            {
                _producer.Produce(_topic, message, OnDelivery);
                break;
            }
            catch (ProduceException<byte[]?, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Back-pressure: let deliveries drain.
                _producer.Poll(TimeSpan.FromMilliseconds(50));
                _cancel.ThrowIfCancellationRequested();
            }
        }
        Produced++;
    }

    private void OnDelivery(DeliveryReport<byte[]?, byte[]> report)
    {
        if (report.Error.IsError) _deliveryError ??= new KafkaException(report.Error);
    }

    // Waits until the consumer is within MaxAhead / 2 of what was produced; the pacing clock stands meanwhile.
    private void Hold()
    {
        bool pacing = _wall.IsRunning;
        _wall.Stop();
        var held = Stopwatch.StartNew();
        while (Produced - Taken!() > MaxAhead / 2)
        {
            _producer.Poll(TimeSpan.Zero);
            _cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(20));
            _cancel.ThrowIfCancellationRequested();
        }
        HeldMs += held.ElapsedMilliseconds;
        if (pacing) _wall.Start();
    }

    private void Pace(long timeMs)
    {
        if (_firstTimeMs == long.MinValue)
        {
            _firstTimeMs = timeMs;
            _wall.Start();
            return;
        }
        double dueMs = (timeMs - _firstTimeMs) / Speed;
        double waitMs = dueMs - _wall.Elapsed.TotalMilliseconds;
        if (waitMs > 1)
        {
            _producer.Poll(TimeSpan.Zero);
            _cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(waitMs));
            _cancel.ThrowIfCancellationRequested();
        }
    }

    // The vehicle id (as the key's bytes) and the time of a probe line; (null, MinValue) where unreadable.
    private static (byte[]? Key, long TimeMs) KeyAndTime(ReadOnlySpan<byte> line)
    {
        byte[]? key = null;
        long time = long.MinValue;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, time);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isId = reader.ValueTextEquals("vehicle_id"u8), isTime = reader.ValueTextEquals("time"u8);
                if (!reader.Read()) break;
                if (isId && reader.TokenType == JsonTokenType.String)
                {
                    int length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
                    var buffer = ArrayPool<byte>.Shared.Rent(length * 2 + 4);
                    try
                    {
                        key = buffer.AsSpan(0, reader.CopyString(buffer)).ToArray();
                    }
                    catch (InvalidOperationException)
                    {
                        // An escaped lone surrogate ("\uD800"): no text, so no key; the engine rejects the line.
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
                else if (isTime && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long t)) time = t;
                else if (isTime && reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var dto)) time = dto.ToUnixTimeMilliseconds();
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                if (key != null && time != long.MinValue) break;
            }
        }
        catch (JsonException)
        {
            // A malformed line: produced as it is, unkeyed.
        }
        return (key, time);
    }
}
