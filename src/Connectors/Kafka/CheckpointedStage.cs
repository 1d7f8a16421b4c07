using System.Diagnostics;
using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The loop of a stage that reads one of the engine's own binary topics in a consumer group of its own and checkpoints
/// what it has taken at a fixed interval, on revocation and on stop (<see cref="SegmentStageHost"/>,
/// <see cref="NetworkIndexStage"/>): the subclass restores partitions when they are assigned, takes records and saves.
/// </summary>
internal abstract class CheckpointedStage(KafkaEngineContext context, string name, string groupSuffix)
{
    protected KafkaEngineContext Context { get; } = context;

    /// <summary>The stage's name in the log.</summary>
    protected string Name { get; } = name;

    /// <summary>The topic read.</summary>
    protected abstract string Topic { get; }

    /// <summary>The consumer while <see cref="Run"/> runs (for the commits of checkpoints).</summary>
    protected IConsumer<Ignore, byte[]>? Consumer { get; private set; }

    public void Run(CancellationToken cancel)
    {
        var config = Context.Connection.Consumer(Context.Options.GroupId + groupSuffix, $"{Context.Options.ClientId}{groupSuffix}");
        Configure(config);
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetPartitionsAssignedHandler((c, parts) => Assign(parts))
            .SetPartitionsRevokedHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition), save: true))
            .SetPartitionsLostHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition), save: false))
            .SetErrorHandler((c, e) => Context.Log($"{Name}: Kafka: {e.Reason}"))
            .Build();
        Consumer = consumer;
        consumer.Subscribe(Topic);
        var clock = Stopwatch.StartNew();
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                ConsumeResult<Ignore, byte[]>? r;
                try
                {
                    r = consumer.Consume(100);
                }
                catch (ConsumeException e)
                {
                    Context.Log($"{Name}: {e.Error.Reason}");
                    continue;
                }
                if (clock.Elapsed >= Context.Options.SegmentCheckpointInterval)
                {
                    CheckpointAll();
                    clock.Restart();
                }
                if (r == null || r.IsPartitionEOF) continue;
                OnRecord(r);
            }
            CheckpointAll();
        }
        finally
        {
            // Close revokes the partitions, and the revocation checkpoints them once more: without the commit, which
            // from the rebalance callback of Close can wait for librdkafka's reply forever (the segment and network-index
            // stages were seen hung there). The checkpoint holds the position; the commit only shows lag.
            Consumer = null;
            consumer.Close();
        }
    }

    /// <summary>Adjusts the consumer's configuration before it is built.</summary>
    protected virtual void Configure(ConsumerConfig config)
    {
    }

    /// <summary>Restores the assigned partitions from their checkpoints; returns where to read each from.</summary>
    protected abstract List<TopicPartitionOffset> Assign(List<TopicPartition> parts);

    /// <summary>Lets partitions go, checkpointing them first when <paramref name="save"/> (not when they were lost).</summary>
    protected abstract void Revoke(IEnumerable<TopicPartition> parts, bool save);

    /// <summary>Checkpoints every partition held, after flushing the outputs so far.</summary>
    protected abstract void CheckpointAll();

    protected abstract void OnRecord(ConsumeResult<Ignore, byte[]> record);
}
