using System.Globalization;
using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// Where the engine starts reading a probes partition it has no checkpoint for: at the partition's beginning (the
/// default: every retained record is processed), at its end as the engine starts (only what comes from then on), or at
/// the first record produced at or after a time (the records' Kafka timestamps). A partition with a checkpoint always
/// resumes from it.
/// </summary>
public readonly record struct StartPosition
{
    /// <summary>The partition's beginning.</summary>
    public static StartPosition Earliest => default;

    /// <summary>The partition's end when the engine takes it.</summary>
    public static StartPosition Latest => new() { IsLatest = true };

    /// <summary>The first record produced at or after <paramref name="time"/> (the partition's end when there is none).</summary>
    public static StartPosition At(DateTimeOffset time) => new() { TimeMs = time.ToUnixTimeMilliseconds() };

    public bool IsLatest { get; private init; }

    /// <summary>The time to start at, epoch milliseconds; null for the beginning or the end.</summary>
    public long? TimeMs { get; private init; }

    public bool IsEarliest => !IsLatest && TimeMs == null;

    /// <summary><c>earliest</c>, <c>latest</c>, or an RFC 3339 time with its offset (<c>2026-11-28T08:00:00+08:00</c>).</summary>
    /// <exception cref="ArgumentException">None of those.</exception>
    public static StartPosition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Equals("earliest", StringComparison.OrdinalIgnoreCase)) return Earliest;
        if (text.Equals("latest", StringComparison.OrdinalIgnoreCase)) return Latest;
        if (text.Contains('T', StringComparison.Ordinal) && (text.EndsWith('Z') || text.LastIndexOfAny(['+', '-']) > text.IndexOf('T', StringComparison.Ordinal))
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
            return At(time);
        throw new ArgumentException($"--start-at: '{text}' is not earliest, latest or a time with its offset (2026-11-28T08:00:00+08:00)");
    }

    public override string ToString() =>
        IsLatest ? "latest" : TimeMs is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) : "earliest";

    /// <summary>The offset to start a partition at (not for <see cref="Earliest"/>: the caller reads it from its beginning).</summary>
    internal long Resolve<TKey, TValue>(IConsumer<TKey, TValue> consumer, TopicPartition partition, KafkaConnection connection)
    {
        var timeout = TimeSpan.FromSeconds(10);
        var marks = consumer.QueryWatermarkOffsets(partition, timeout);
        long end = marks.High.Value;
        if (TimeMs is not long ms) return end;
        var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(partition, new Timestamp(ms, TimestampType.CreateTime))], timeout);
        if (found.Count == 1 && found[0].Offset.Value >= 0) return found[0].Offset.Value;
        // None: no record at or after the time, or brokers that do not look records up by time (the embedded cluster
        // answers every time with none). The records' own timestamps tell, by a binary search over the partition.
        return FirstAtOrAfter(connection, partition, Math.Max(0, marks.Low.Value), end, ms);
    }

    private static long FirstAtOrAfter(KafkaConnection connection, TopicPartition partition, long low, long end, long timeMs)
    {
        var config = connection.Consumer("traffic-start-search", "traffic-start-search");
        config.EnablePartitionEof = false;
        using var reader = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        try
        {
            long lo = low, hi = end;
            while (lo < hi)
            {
                long mid = lo + ((hi - lo) / 2);
                if (TimestampAt(reader, partition, mid) >= timeMs) hi = mid;
                else lo = mid + 1;
            }
            return lo;
        }
        finally
        {
            reader.Close();
        }
    }

    private static long TimestampAt(IConsumer<Ignore, Ignore> reader, TopicPartition partition, long offset)
    {
        reader.Assign(new TopicPartitionOffset(partition, new Offset(offset)));
        var r = reader.Consume(TimeSpan.FromSeconds(10))
            ?? throw new TimeoutException($"Kafka: {partition.Topic}[{partition.Partition.Value}]: no record at offset {offset} in 10 s, looking for where to start");
        return r.Message.Timestamp.UnixTimestampMs;
    }
}
