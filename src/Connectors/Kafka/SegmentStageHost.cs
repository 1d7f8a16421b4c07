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
internal sealed class SegmentStageHost : CheckpointedStage
{
    private readonly KafkaSinks _sinks;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly Output _output;
    private readonly List<NetworkSums> _closing = [];  // the network parts of the windows the record being taken closed

    public SegmentStageHost(KafkaEngineContext context, KafkaSinks sinks) : base(context, "segment stage", "-segments")
    {
        _sinks = sinks;
        _output = new Output(this);
        SourcePartitions = context.Connection.PartitionCount(context.Topics.Probes);
        if (SourcePartitions < 1) throw new InvalidOperationException($"Kafka: topic {context.Topics.Probes} does not exist");
    }

    /// <summary>Partitions of the probes topic: the senders whose watermarks a window waits for.</summary>
    public int SourcePartitions { get; }

    protected override string Topic => Context.Topics.Exchange;

    private EngineCounters Counters => Context.Counters;

    protected override void CheckpointAll()
    {
        foreach (var part in _partitions.Values) Checkpoint(part);
    }

    protected override void OnRecord(ConsumeResult<Ignore, byte[]> record)
    {
        if (_partitions.TryGetValue(record.Partition.Value, out var p)) OnRecord(p, record);
    }

    private void OnRecord(PartitionState part, ConsumeResult<Ignore, byte[]> r)
    {
        long offset = r.Offset.Value;
        if (offset != part.NextOffset)
        {
            if (offset < part.NextOffset)
            {
                if (part.AwaitingFirst) VehicleStageHost.ThrowCheckpointBeyondEnd(Topic, part.Partition, part.NextOffset, offset, Context.Checkpoints);
                return;
            }
            long lost = offset - part.NextOffset;
            Counters.AddJump(lost);
            Context.Log($"segment stage: {Topic}[{part.Partition}] jumped from offset {part.NextOffset} to {offset}: {lost} exchange messages were lost before this engine read them (retention)");
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
            // Only Traffic writes this topic: a foreign message (one that does not parse, or names a source partition or an
            // edge this partition does not have) is counted, reported and skipped, never guessed at.
            Counters.AddForeignExchange();
            Context.Log($"segment stage: {Topic}[{part.Partition}]@{offset}: {e.Message}");
        }
        ReportNetworkParts(part);
    }

    private void Checkpoint(PartitionState part)
    {
        _sinks.Flush();
        Context.Checkpoint(Consumer, Name, Topic, part.Partition, part.NextOffset, part.Processor.Save);
    }

    protected override List<TopicPartitionOffset> Assign(List<TopicPartition> parts)
    {
        var offsets = new List<TopicPartitionOffset>(parts.Count);
        foreach (var tp in parts)
        {
            int p = tp.Partition.Value;
            if (Context.Checkpoints.TryLoad(Topic, p, out long next, out byte[] bytes))
            {
                using var state = new MemoryStream(bytes);
                var part = _partitions[p] = new PartitionState(p, Context.LoadSegmentPartition(p, SourcePartitions, state)) { NextOffset = next };
                Counters.AddRestored();
                if (part.Processor.NetworkChanged)
                {
                    Context.Log($"segment stage: {Topic}[{p}] resumes on a road network other than its checkpoint's: {part.Processor.SegmentsCarried} segment(s) found again by OSM way and ends keep their windows, free-flow learning and congestion state, {part.Processor.SegmentsDropped} no longer there are dropped, {part.Processor.ClosedOnNetworkChange} alert(s) open on them close now (evidence network_changed)");
                    part.Processor.HandRestoredCloses(_output);
                }
                offsets.Add(new TopicPartitionOffset(tp, new Offset(next)));
            }
            else
            {
                // Nothing read yet: a first record after offset 0 means the ones before it were dropped unread.
                _partitions[p] = new PartitionState(p, Context.NewSegmentPartition(p, SourcePartitions)) { NextOffset = 0 };
                offsets.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
        }
        Context.Log($"segment stage: assigned {Topic} partitions [{string.Join(",", _partitions.Keys.Order())}]");
        return offsets;
    }

    protected override void Revoke(IEnumerable<TopicPartition> parts, bool save)
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
            long late = processor.LateTraversals, old = processor.OldNetworkTraversals;
            if (!processor.OnTraversal(in traversal)) host.Counters.AddDuplicate();
            else if (processor.LateTraversals != late) host.Counters.AddLateTraversal();
            else if (processor.OldNetworkTraversals != old) host.Counters.AddOldNetworkTraversal();
        }

        public void Watermark(in SegmentWatermark watermark)
        {
            if (!processor.OnWatermark(in watermark, host._output)) host.Counters.AddDuplicate();
        }

        public void Idle(in SegmentIdle idle)
        {
            bool was = processor.IsIdle(idle.Source);
            if (processor.OnIdle(in idle, host._output) && !was)
                host.Context.Log($"segment stage: {host.Context.Topics.Probes}[{idle.Source}] is idle: the windows of {host.Topic}[{processor.Partition}] close without it until it sends again");
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
            host.Counters.AddSegmentRow(host.Context.Network.Name(window.Edge), window.WindowStartMs, window.Level, window.SpeedKmh, window.FreeFlowKmh);
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
