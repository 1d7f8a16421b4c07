using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>One record of a topic, as read back.</summary>
public sealed record TopicRecord(int Partition, long Offset, byte[]? Key, byte[] Value, IReadOnlyDictionary<string, byte[]> Headers);

/// <summary>
/// Reads a whole topic from the beginning of every partition up to its end as it stands when the read starts,
/// outside any consumer group (nothing is committed): the demo's summary and the tests read the engine's output
/// topics with it.
/// </summary>
public static class TopicReader
{
    public static List<TopicRecord> ReadAll(KafkaConnection connection, string topic, TimeSpan? timeout = null)
    {
        var config = connection.Consumer("traffic-reader", "traffic-reader");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(config).Build();
        int partitions = connection.PartitionCount(topic);
        var records = new List<TopicRecord>();
        if (partitions == 0) return records;
        var ends = new Dictionary<int, long>();
        var assign = new List<TopicPartitionOffset>();
        for (int p = 0; p < partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            if (w.High.Value > w.Low.Value)
            {
                ends[p] = w.High.Value;
                assign.Add(new TopicPartitionOffset(topic, p, w.Low));
            }
        }
        if (assign.Count == 0) return records;
        consumer.Assign(assign);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (ends.Count > 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Kafka: reading {topic} did not reach the end of partitions [{string.Join(",", ends.Keys)}]");
            var r = consumer.Consume(200);
            if (r == null) continue;
            int p = r.Partition.Value;
            if (!r.IsPartitionEOF)
            {
                var headers = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                if (r.Message.Headers != null)
                {
                    foreach (var h in r.Message.Headers) headers[h.Key] = h.GetValueBytes();
                }
                records.Add(new TopicRecord(p, r.Offset.Value, r.Message.Key, r.Message.Value, headers));
            }
            if (ends.TryGetValue(p, out long end) && (r.IsPartitionEOF ? r.Offset.Value : r.Offset.Value + 1) >= end) ends.Remove(p);
        }
        consumer.Close();
        return records;
    }
}
