using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Engine.Segments;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The engine's outputs to Kafka, through one idempotent producer (records of a partition stay in the order
/// produced). Every record is keyed and its bytes derive from the input alone, so that a record produced
/// again after a restart repeats the original byte for byte and a consumer, or a compacted topic, dedupes it
/// by key: alerts by alert id (header <c>event</c> = state@time tells the lifecycle events apart), segment rows
/// and sliding views by segment and window, the network index by window, dead letters and late probes by their
/// input position. Topics and schemas: docs/kafka.md.
/// </summary>
public sealed class KafkaSinks : IDisposable
{
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly KafkaTopics _topics;
    private readonly RoadNetwork _network;
    private readonly MemoryStream _line = new();
    private readonly NdjsonWriter _json;
    private readonly SegmentRowFormatter _segmentRow;   // the rows' bytes as SegmentRow.WriteFields writes them, formatted directly
    private readonly AlertWriter _alerts;
    private readonly Action<DeliveryReport<byte[]?, byte[]>> _onDelivery;
    private readonly int _queueLimit;     // the producer's queue.buffering.max.messages
    private readonly int _messageLimit;   // the producer's message.max.bytes
    private bool _full;                   // QueueFull was called and QueueDrained not yet
    private long _failed;
    private string? _lastError;

    public KafkaSinks(KafkaConnection connection, KafkaTopics topics, RoadNetwork network, string clientId)
    {
        var config = connection.Producer(clientId);
        _queueLimit = config.QueueBufferingMaxMessages ?? 100_000;
        _messageLimit = config.MessageMaxBytes ?? 1_000_000;
        _producer = new ProducerBuilder<byte[]?, byte[]>(config).Build();
        _topics = topics;
        _network = network;
        _json = new NdjsonWriter(_line, lineByLine: true);
        _segmentRow = new SegmentRowFormatter(network);
        _alerts = new AlertWriter(_line, lineByLine: true);
        _onDelivery = OnDelivery;
    }

    /// <summary>Called when the producer's queue is full, before waiting for room (the engine pauses its input then).</summary>
    public Action? QueueFull { get; set; }

    /// <summary>Called when room is back after <see cref="QueueFull"/>.</summary>
    public Action? QueueDrained { get; set; }

    public long Produced { get; private set; }

    /// <summary>Between <see cref="QueueFull"/> and <see cref="QueueDrained"/>.</summary>
    public bool Paused => _full;

    /// <summary>Records the brokers did not take (after the producer's own retries).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public void Alert(AlertEvent alert)
    {
        _alerts.Write(alert);
        string state = alert.State switch { AlertState.Open => "open", AlertState.Update => "update", _ => "close" };
        Produce(_topics.Alerts, Encoding.UTF8.GetBytes(alert.AlertId), TakeLine(),
            new Headers { { "event", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{state}@{alert.TimeMs}")) } });
    }

    public void Segment(in SegmentStat s) => SegmentRowTo(_topics.Segments, in s);

    /// <summary>A sliding view of a segment, to the smoothed feed, keyed like a segment row.</summary>
    public void SegmentView(in SegmentStat s) => SegmentRowTo(_topics.SegmentViews, in s);

    private void SegmentRowTo(string topic, in SegmentStat s)
    {
        _segmentRow.Write(_json, in s);
        Produce(topic, SegmentKey(in s), TakeLine(), null);
    }

    /// <summary>A window of the network index, keyed by its start (epoch ms).</summary>
    public void NetworkIndex(in NetworkIndexValue v)
    {
        NetworkIndexRow.WriteFields(_json.Begin(), in v);
        _json.End();
        Produce(_topics.Tpi, Encoding.UTF8.GetBytes(v.WindowStartMs.ToString(CultureInfo.InvariantCulture)), TakeLine(), null);
    }

    /// <summary>A message of the network-index parts topic; all go to its partition 0, in order, whatever its partition count.</summary>
    public void NetworkParts(byte[] message) => Produce(new TopicPartition(_topics.TpiParts, 0), null, message, null);

    /// <summary>The key of a segment row: <c>way_id:direction:edge@window_start_ms</c>.</summary>
    public byte[] SegmentKey(in SegmentStat s) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"{_network.WayId(s.Edge)}:{_network.Direction(s.Edge)}:{s.Edge}@{s.WindowStartMs}"));

    /// <summary>
    /// A rejected input record: its original bytes, the reason and where it came from in headers. A record too large to
    /// go out whole with its key and headers (one the brokers took just under their limit) goes cut to fit, with header
    /// <c>original_length</c>: refused by the producer, it stopped the engine, and every restart on the same record again.
    /// A tombstone (<paramref name="tombstone"/>: the input's value was null) goes as a null value, so that it can be told
    /// from an empty one.
    /// </summary>
    public void DeadLetter(ReadOnlySpan<byte> original, in DecodeError error, string topic, int partition, long offset, bool tombstone = false)
    {
        string source = string.Create(CultureInfo.InvariantCulture, $"{topic}:{partition}:{offset}");
        byte[] key = Encoding.UTF8.GetBytes(source);
        var headers = new Headers
        {
            { "reason", Encoding.UTF8.GetBytes(error.ToString()) },
            { "code", Encoding.UTF8.GetBytes(error.Code) },
            { "source", key },
        };
        // What librdkafka counts against message.max.bytes besides the value, with room for its record overhead.
        int room = _messageLimit - key.Length - headers.Sum(h => h.Key.Length + h.GetValueBytes().Length + 16) - 1024;
        if (original.Length > room)
        {
            headers.Add("original_length", Encoding.UTF8.GetBytes(original.Length.ToString(CultureInfo.InvariantCulture)));
            original = original[..Math.Max(0, room - 64)];
        }
        Produce(_topics.DeadLetter, key, tombstone ? null : original.ToArray(), headers);
    }

    /// <summary>A probe behind the watermark, as a probe JSON object plus where it came from.</summary>
    public void Late(string vehicleId, in Probe p, string topic, int partition, long offset, PushResult why = PushResult.Accepted)
    {
        string source = string.Create(CultureInfo.InvariantCulture, $"{topic}:{partition}:{offset}");
        var w = _json.Begin();
        ProbeJsonWriter.WriteFields(w, vehicleId, in p);
        w.WriteString("source"u8, source);
        w.WriteString("reason"u8, LateReasons.Of(why));
        _json.End();
        Produce(_topics.Late, Encoding.UTF8.GetBytes(source), TakeLine(), null);
    }

    /// <summary>An exchange message to the segment-stage partition that owns its segments.</summary>
    public void Exchange(int partition, byte[] message) => Produce(new TopicPartition(_topics.Exchange, partition), null, message, null);

    /// <summary>A batch of matched probes (an Arrow IPC stream), keyed by its input partition and batch number.</summary>
    public void Matched(int inputPartition, long batch, byte[] arrowStream) =>
        Produce(_topics.Matched, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{inputPartition}:{batch}")), arrowStream, null);

    /// <summary>
    /// Waits until every record produced so far is on the brokers. Throws when any was refused: a checkpoint
    /// must not cover output that is not there.
    /// </summary>
    public void Flush(CancellationToken cancel = default)
    {
        while (_producer.Flush(TimeSpan.FromMilliseconds(200)) > 0) cancel.ThrowIfCancellationRequested();
        if (_full) Drained();
        if (Failed > 0) throw new KafkaException(new Error(ErrorCode.Local_Fail, $"{Failed} output records were not delivered: {_lastError}"));
    }

    /// <summary>
    /// Serves delivery reports without waiting and, after <see cref="QueueFull"/>, calls <see cref="QueueDrained"/>
    /// once the queue is down to half its size: with hysteresis, so that sustained back-pressure does not pause and
    /// resume the input on every record (each resume throws away what the consumer had fetched). The input's loop
    /// calls it between records.
    /// </summary>
    public void Poll()
    {
        _producer.Poll(TimeSpan.Zero);
        if (_full && _producer.Flush(TimeSpan.Zero) <= _queueLimit / 2) Drained();
    }

    private void Drained()
    {
        _full = false;
        QueueDrained?.Invoke();
    }

    public void Dispose()
    {
        _producer.Dispose();
        _alerts.Dispose();
        _json.Dispose();
        _line.Dispose();
    }

    private byte[] TakeLine()
    {
        // The writers end each line with '\n': a message is the JSON object alone.
        byte[] bytes = _line.GetBuffer().AsSpan(0, (int)_line.Length - 1).ToArray();
        _line.SetLength(0);
        return bytes;
    }

    private void Produce(string topic, byte[]? key, byte[]? value, Headers? headers) =>
        Produce(new TopicPartition(topic, Partition.Any), key, value, headers);

    private void Produce(TopicPartition where, byte[]? key, byte[]? value, Headers? headers)
    {
        var message = new Message<byte[]?, byte[]> { Key = key, Value = value!, Headers = headers };
        while (true)
        {
            try
            {
                _producer.Produce(where, message, _onDelivery);
                break;
            }
            catch (ProduceException<byte[]?, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                if (!_full)
                {
                    _full = true;
                    QueueFull?.Invoke();
                }
                _producer.Poll(TimeSpan.FromMilliseconds(20));
            }
        }
        Produced++;
    }

    private void OnDelivery(DeliveryReport<byte[]?, byte[]> report)
    {
        if (!report.Error.IsError) return;
        Interlocked.Increment(ref _failed);
        _lastError = $"{report.Topic}: {report.Error.Reason}";
    }
}
