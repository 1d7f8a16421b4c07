using System.Diagnostics;
using Confluent.Kafka;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Segments;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The segment stage of a Kafka engine process: a member of the segment consumer group on the exchange
/// (repartition) topic, so that each segment has exactly one owner across all processes. Each assigned
/// partition gets a <see cref="SegmentPartition"/>: windows, space-mean speeds, sliding views, free-flow learning,
/// congestion and incident alerts, and each partition's part of the network index, which it sends to the parts topic
/// for <see cref="NetworkIndexStage"/> to add up with the other partitions', wherever they run. It drops exchange records it has seen (by the sender's sequence), so a
/// vehicle stage that replays after a restart causes no double count.
/// </summary>
/// <remarks>
/// Its outputs are not batched and depend only on the exchange records in their log order, so a checkpoint may
/// be taken at any moment: every <see cref="KafkaEngineOptions.SegmentCheckpointInterval"/> and when a
/// partition is revoked, after the outputs so far are flushed to the brokers.
/// </remarks>
internal sealed class SegmentStageHost
{
    private readonly KafkaEngineContext _context;
    private readonly KafkaSinks _sinks;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly Output _output;
    private IConsumer<Ignore, byte[]>? _consumer;
    private readonly List<NetworkSums> _closing = [];  // the network parts of the windows the record being taken closed

    public SegmentStageHost(KafkaEngineContext context, KafkaSinks sinks)
    {
        _context = context;
        _sinks = sinks;
        _output = new Output(this);
        SourcePartitions = context.Connection.PartitionCount(context.Topics.Probes);
        if (SourcePartitions < 1) throw new InvalidOperationException($"Kafka: topic {context.Topics.Probes} does not exist");
    }

    /// <summary>Partitions of the probes topic: the senders whose watermarks a window waits for.</summary>
    public int SourcePartitions { get; }

    private string Topic => _context.Topics.Exchange;

    private EngineCounters Counters => _context.Counters;

    public void Run(CancellationToken cancel)
    {
        var config = _context.Connection.Consumer(_context.Options.GroupId + "-segments", $"{_context.Options.ClientId}-segments");
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetPartitionsAssignedHandler((c, parts) => Assign(parts))
            .SetPartitionsRevokedHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition), save: true))
            .SetPartitionsLostHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition), save: false))
            .SetErrorHandler((c, e) => _context.Log($"segment stage: Kafka: {e.Reason}"))
            .Build();
        _consumer = consumer;
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
                    _context.Log($"segment stage: {e.Error.Reason}");
                    continue;
                }
                if (clock.Elapsed >= _context.Options.SegmentCheckpointInterval)
                {
                    foreach (var part in _partitions.Values) Checkpoint(part);
                    clock.Restart();
                }
                if (r == null || r.IsPartitionEOF) continue;
                if (!_partitions.TryGetValue(r.Partition.Value, out var p)) continue;
                OnRecord(p, r);
            }
            foreach (var part in _partitions.Values) Checkpoint(part);
        }
        finally
        {
            consumer.Close();
            _consumer = null;
        }
    }

    private void OnRecord(PartitionState part, ConsumeResult<Ignore, byte[]> r)
    {
        long offset = r.Offset.Value;
        if (offset != part.NextOffset)
        {
            if (offset < part.NextOffset)
            {
                if (part.AwaitingFirst) VehicleStageHost.ThrowCheckpointBeyondEnd(Topic, part.Partition, part.NextOffset, offset, _context.Checkpoints);
                return;
            }
            long lost = offset - part.NextOffset;
            Counters.AddJump(lost);
            _context.Log($"segment stage: {Topic}[{part.Partition}] jumped from offset {part.NextOffset} to {offset}: {lost} exchange messages were lost before this engine read them (retention)");
        }
        part.NextOffset = offset + 1;
        part.AwaitingFirst = false;
        var handler = new Records(this, part.Processor);
        try
        {
            ExchangeBatch.Read(r.Message.Value, ref handler);
        }
        catch (InvalidDataException e)
        {
            // Only Traffic writes this topic: a foreign message is reported and skipped, never guessed at.
            _context.Log($"segment stage: {Topic}[{part.Partition}]@{offset}: {e.Message}");
        }
        ReportNetworkParts(part);
    }

    private void Checkpoint(PartitionState part)
    {
        _sinks.Flush();
        _context.Checkpoint(_consumer, "segment stage", Topic, part.Partition, part.NextOffset, part.Processor.Save);
    }

    private List<TopicPartitionOffset> Assign(List<TopicPartition> parts)
    {
        var offsets = new List<TopicPartitionOffset>(parts.Count);
        foreach (var tp in parts)
        {
            int p = tp.Partition.Value;
            if (_context.Checkpoints.TryLoad(Topic, p, out long next, out byte[] bytes))
            {
                using var state = new MemoryStream(bytes);
                _partitions[p] = new PartitionState(p, _context.LoadSegmentPartition(p, SourcePartitions, state)) { NextOffset = next };
                Counters.AddRestored();
                offsets.Add(new TopicPartitionOffset(tp, new Offset(next)));
            }
            else
            {
                // Nothing read yet: a first record after offset 0 means the ones before it were dropped unread.
                _partitions[p] = new PartitionState(p, _context.NewSegmentPartition(p, SourcePartitions)) { NextOffset = 0 };
                offsets.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
        }
        _context.Log($"segment stage: assigned {Topic} partitions [{string.Join(",", _partitions.Keys.Order())}]");
        return offsets;
    }

    private void Revoke(IEnumerable<TopicPartition> parts, bool save)
    {
        foreach (var tp in parts)
        {
            if (!_partitions.Remove(tp.Partition.Value, out var part)) continue;
            if (save) Checkpoint(part);
        }
    }

    private sealed class PartitionState(int partition, SegmentPartition processor)
    {
        public int Partition { get; } = partition;
        public SegmentPartition Processor { get; } = processor;
        public long NextOffset { get; set; }

        /// <summary>The watermark last sent with the partition's network parts.</summary>
        public long ReportedWatermark { get; set; } = processor.WatermarkMs;

        /// <summary>No record taken since the partition was assigned.</summary>
        public bool AwaitingFirst { get; set; } = true;
    }

    /// <summary>Hands an exchange message's records to the partition's processor; repeats are counted.</summary>
    private readonly struct Records(SegmentStageHost host, SegmentPartition processor) : IExchangeHandler
    {
        public void Traversal(in SegmentTraversal traversal)
        {
            long late = processor.LateTraversals;
            if (!processor.OnTraversal(in traversal)) host.Counters.AddDuplicate();
            else if (processor.LateTraversals != late) host.Counters.AddLateTraversal();
        }

        public void Watermark(in SegmentWatermark watermark)
        {
            if (!processor.OnWatermark(in watermark, host._output)) host.Counters.AddDuplicate();
        }
    }

    /// <summary>
    /// Sends the partition's parts of the network index (the windows it closed since the last report, which its output
    /// collected) with its watermark to the parts topic, for <see cref="NetworkIndexStage"/> to add up: whenever the
    /// watermark has passed the end of another window. A restored partition sends from its restored watermark on; what
    /// it sends again after a crash between a report and its checkpoint the combiner knows as a repeat.
    /// </summary>
    private void ReportNetworkParts(PartitionState part)
    {
        SegmentPartition p = part.Processor;
        long watermark = p.WatermarkMs;
        if (_closing.Count == 0 && WindowsBefore(watermark, p.WindowMs) <= WindowsBefore(part.ReportedWatermark, p.WindowMs)) return;
        _sinks.NetworkParts(NetworkIndexParts.Write(part.Partition, watermark, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_closing)));
        _closing.Clear();
        part.ReportedWatermark = watermark;
    }

    // Windows of the epoch-aligned grid that end at or before a time (probe times are after 1970).
    private static long WindowsBefore(long timeMs, long windowMs) => timeMs < 0 ? long.MinValue : timeMs / windowMs;

    private sealed class Output(SegmentStageHost host) : ISegmentPartitionOutput
    {
        public void Window(in SegmentStat window)
        {
            host.Counters.AddSegmentRow(host._context.Network.Name(window.Edge), window.WindowStartMs, window.Level, window.SpeedKmh, window.FreeFlowKmh);
            host._sinks.Segment(in window);
        }

        public void Alert(AlertEvent alert)
        {
            host.Counters.OnAlert(alert.Kind, alert.State);
            host._sinks.Alert(alert);
        }

        public void View(in SegmentStat view)
        {
            host.Counters.AddSegmentView();
            host._sinks.SegmentView(in view);
        }

        // Collected for the partition being fed, and reported once it has taken the record (ReportNetworkParts).
        public void Network(in NetworkSums sums) => host._closing.Add(sums);
    }
}
