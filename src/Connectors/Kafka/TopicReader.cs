using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>One record of a topic, as read back.</summary>
public sealed record TopicRecord(string Topic, int Partition, long Offset, byte[]? Key, byte[]? Value, IReadOnlyDictionary<string, byte[]> Headers);

/// <summary>
/// Follows topics from the beginning of every partition, outside any consumer group (nothing is committed),
/// handing each record to a callback on its own thread as it arrives, until asked to drain: then it reads on to
/// the end of every partition as it stands at that moment and stops. The demo collects the engine's outputs with
/// it while they are produced (the embedded cluster keeps only about 5 MiB per partition, so reading them only
/// at the end could find the oldest gone); tests read whole topics with <see cref="ReadAll"/>.
/// </summary>
public sealed class TopicFollower : IDisposable
{
    private readonly string[] _topics;
    private readonly Action<TopicRecord> _onRecord;
    private readonly IConsumer<byte[]?, byte[]> _consumer;
    private readonly Thread _thread;
    private readonly Dictionary<TopicPartition, long> _next = [];   // per partition: offset of the next record to read
    private volatile Dictionary<TopicPartition, WatermarkOffsets>? _ends;   // set by Drain: where to stop
    private volatile bool _stop;
    private Exception? _failure;

    public TopicFollower(KafkaConnection connection, IEnumerable<string> topics, Action<TopicRecord> onRecord)
    {
        _topics = [.. topics];
        _onRecord = onRecord;
        var config = connection.Consumer("traffic-reader", "traffic-reader");
        config.EnablePartitionEof = false;
        _consumer = new ConsumerBuilder<byte[]?, byte[]>(config).Build();
        var assign = new List<TopicPartitionOffset>();
        foreach (string topic in _topics)
        {
            for (int p = 0; p < connection.PartitionCount(topic); p++)
            {
                var tp = new TopicPartition(topic, p);
                assign.Add(new TopicPartitionOffset(tp, Offset.Beginning));
                _next[tp] = 0;
            }
        }
        _consumer.Assign(assign);
        _thread = new Thread(Run) { IsBackground = true, Name = "traffic-topic-follower" };
        _thread.Start();
    }

    /// <summary>Records lost to retention before they were read (the offsets skipped).</summary>
    public long Lost { get; private set; }

    /// <summary>Reads on to the current end of every partition, then stops.</summary>
    public void Drain(TimeSpan timeout)
    {
        var ends = new Dictionary<TopicPartition, WatermarkOffsets>();
        foreach (var tp in _next.Keys) ends[tp] = _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10));
        _ends = ends;
        if (!_thread.Join(timeout))
        {
            _stop = true;
            _thread.Join();
            throw new TimeoutException($"Kafka: reading [{string.Join(", ", _topics)}] did not reach their end in {timeout.TotalSeconds:N0} s");
        }
        if (_failure != null) throw new InvalidOperationException($"Kafka: reading [{string.Join(", ", _topics)}] failed: {_failure.Message}", _failure);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _consumer.Close();
        _consumer.Dispose();
    }

    /// <summary>A whole topic, from the beginning to its end as it stands now.</summary>
    public static List<TopicRecord> ReadAll(KafkaConnection connection, string topic, TimeSpan? timeout = null)
    {
        var records = new List<TopicRecord>();
        using var follower = new TopicFollower(connection, [topic], records.Add);
        follower.Drain(timeout ?? TimeSpan.FromSeconds(60));
        return records;
    }

    private void Run()
    {
        try
        {
            while (!_stop)
            {
                // Done when every partition is read to its end, or holds nothing any more (all of it gone to retention).
                if (_ends is { } ends && ends.All(e => _next[e.Key] >= e.Value.High.Value || e.Value.High.Value <= e.Value.Low.Value)) return;
                var r = _consumer.Consume(100);
                if (r == null || r.IsPartitionEOF) continue;
                var tp = r.TopicPartition;
                long offset = r.Offset.Value;
                if (offset > _next[tp]) Lost += offset - _next[tp];
                _next[tp] = offset + 1;
                var headers = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                if (r.Message.Headers != null)
                {
                    foreach (var h in r.Message.Headers) headers[h.Key] = h.GetValueBytes();
                }
                _onRecord(new TopicRecord(tp.Topic, tp.Partition.Value, offset, r.Message.Key, r.Message.Value, headers));
            }
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }
}

/// <summary>Reads whole topics (see <see cref="TopicFollower.ReadAll"/>).</summary>
public static class TopicReader
{
    public static List<TopicRecord> ReadAll(KafkaConnection connection, string topic, TimeSpan? timeout = null) =>
        TopicFollower.ReadAll(connection, topic, timeout);
}
