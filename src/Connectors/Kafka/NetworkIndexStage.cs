using Confluent.Kafka;
using Traffic.Engine.Segments;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The network-index stage of a Kafka engine process: a member of its own consumer group on the parts topic
/// (<see cref="KafkaTopics.TpiParts"/>), whose partition 0 carries every exchange partition's parts of the network index
/// with its watermark. The one process that owns that partition adds them up (<see cref="NetworkIndexCombiner"/>) and
/// publishes each window's index to <see cref="KafkaTopics.Tpi"/> once every exchange partition has passed it, however
/// many engine processes share the exchange; the others wait, ready to take over from its checkpoint.
/// </summary>
/// <remarks>
/// The combiner's state is checkpointed with the offset it has read to, after the index published so far is flushed,
/// so that a restart publishes again only windows it had published since, with the same bytes.
/// </remarks>
internal sealed class NetworkIndexStage : CheckpointedStage
{
    internal const int PartsPartition = 0;

    private readonly KafkaSinks _sinks;
    private readonly int _exchangePartitions;
    private NetworkIndexCombiner? _combiner;   // while partition 0 of the parts topic is assigned here
    private long _nextOffset;
    private bool _awaitingFirst;

    public NetworkIndexStage(KafkaEngineContext context, KafkaSinks sinks) : base(context, "network index stage", "-tpi")
    {
        _sinks = sinks;
        _exchangePartitions = context.Connection.PartitionCount(context.Topics.Exchange);
        if (_exchangePartitions < 1) throw new InvalidOperationException($"Kafka: topic {context.Topics.Exchange} does not exist");
    }

    protected override string Topic => Context.Topics.TpiParts;

    // The parts topic is the engine's own: created on first use where the brokers allow it (docs/kafka.md).
    protected override void Configure(ConsumerConfig config) => config.AllowAutoCreateTopics = true;

    protected override void OnRecord(ConsumeResult<Ignore, byte[]> record)
    {
        if (record.Partition.Value == PartsPartition && _combiner != null) OnRecord(_combiner, record);
    }

    private void OnRecord(NetworkIndexCombiner combiner, ConsumeResult<Ignore, byte[]> r)
    {
        long offset = r.Offset.Value;
        if (offset < _nextOffset)
        {
            if (_awaitingFirst) VehicleStageHost.ThrowCheckpointBeyondEnd(Topic, PartsPartition, _nextOffset, offset, Context.Checkpoints);
            return;
        }
        if (offset > _nextOffset)
        {
            long lost = offset - _nextOffset;
            Context.Counters.AddJump(lost);
            Context.Log($"{Name}: {Topic}[{PartsPartition}] jumped from offset {_nextOffset} to {offset}: {lost} messages were lost before this engine read them (retention); windows they completed are published with the parts left");
        }
        _nextOffset = offset + 1;
        _awaitingFirst = false;
        try
        {
            var (partition, watermark, parts) = NetworkIndexParts.Read(r.Message.Value);
            if (partition >= combiner.Partitions)
            {
                Context.Log($"{Name}: {Topic}@{offset}: parts of exchange partition {partition}, but the exchange has {combiner.Partitions}");
                return;
            }
            combiner.Add(partition, watermark, parts);
        }
        catch (InvalidDataException e)
        {
            // Only Traffic writes this topic: a foreign message is reported and skipped, never guessed at.
            Context.Log($"{Name}: {Topic}@{offset}: {e.Message}");
            return;
        }
        combiner.Drain(Publish);
    }

    private void Publish(NetworkSums sums)
    {
        NetworkIndexValue value = NetworkIndex.Of(in sums);
        Context.Counters.AddNetworkIndex(value.WindowStartMs, value.Tpi, value.Level);
        _sinks.NetworkIndex(in value);
    }

    protected override void CheckpointAll()
    {
        if (_combiner == null) return;
        _sinks.Flush();
        Context.Checkpoint(Consumer, Name, Topic, PartsPartition, _nextOffset, _combiner.Save);
    }

    protected override List<TopicPartitionOffset> Assign(List<TopicPartition> parts)
    {
        var offsets = new List<TopicPartitionOffset>(parts.Count);
        foreach (var tp in parts)
        {
            if (tp.Partition.Value != PartsPartition)
            {
                // Nothing is sent to the other partitions of an auto-created topic.
                offsets.Add(new TopicPartitionOffset(tp, Offset.End));
                continue;
            }
            if (Context.Checkpoints.TryLoad(Topic, PartsPartition, out long next, out byte[] bytes))
            {
                using var state = new MemoryStream(bytes);
                _combiner = NetworkIndexCombiner.Load(_exchangePartitions, state);
                _nextOffset = next;
                Context.Counters.AddRestored();
                offsets.Add(new TopicPartitionOffset(tp, new Offset(next)));
            }
            else
            {
                _combiner = new NetworkIndexCombiner(_exchangePartitions);
                _nextOffset = 0;
                offsets.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
            _awaitingFirst = true;
            Context.Log($"{Name}: assigned {Topic}[{PartsPartition}]: this process publishes the network index");
        }
        return offsets;
    }

    protected override void Revoke(IEnumerable<TopicPartition> parts, bool save)
    {
        if (_combiner == null || !parts.Any(p => p.Partition.Value == PartsPartition)) return;
        if (save) CheckpointAll();
        _combiner = null;
    }
}
