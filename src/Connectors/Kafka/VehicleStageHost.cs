using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Confluent.Kafka;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The vehicle stage of a Kafka engine process: a member of the engine's consumer group on the probes topic.
/// Each assigned partition gets a <see cref="VehiclePartition"/> that owns the state of the vehicles keyed to
/// it (matcher frontiers, rule state, open alerts, watermark); everything runs on the consumer's thread, so
/// no lock is taken. Traversals go to the exchange topic, partitioned by segment; alerts, late probes and dead
/// letters to their topics.
/// </summary>
/// <remarks>
/// Checkpoints are taken at fixed input offsets (every <see cref="KafkaEngineOptions.CheckpointEvery"/>
/// records of a partition): the outputs up to there are flushed to the brokers first, then the partition's
/// state and the offset after it are written atomically to the state directory. A partition assigned to this
/// process (at start, after a crash, on a rebalance) resumes from its checkpoint's state and offset, not from
/// the group's committed offset, and replays: since checkpoints sit at offsets that do not depend on timing,
/// every output record produced again, matched-probe batches included, repeats its original byte for byte.
/// A stop that ends the whole pipeline (<see cref="KafkaEngineOptions.FlushOnStop"/>) drains first: it takes every
/// partition held to its end, and only then sends the unfinished batches and leaves the group. A partner process
/// that leaves meanwhile revokes and hands over partitions as at any rebalance; the drain takes the new assignment
/// to its end too, so that whichever process holds a partition last sends its unfinished batch, complete.
/// </remarks>
internal sealed class VehicleStageHost : IDisposable
{
    private readonly KafkaEngineContext _context;
    private readonly KafkaSinks _sinks;
    private readonly VehicleIds _ids;
    private readonly ProbeDeserializer _deserializer;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly int _exchangePartitions;
    private IConsumer<Ignore, ProbeRecord>? _consumer;
    private int[] _partitionOf = [];   // per dense vehicle id: 1 + the probes partition it came on first here; -1 once reported split
    private bool _revoked;   // partitions were revoked and the group's next assignment has not come yet

    public VehicleStageHost(KafkaEngineContext context, KafkaSinks sinks)
    {
        _context = context;
        _sinks = sinks;
        _ids = context.Ids;
        _deserializer = new ProbeDeserializer(_ids);
        _exchangePartitions = context.Connection.PartitionCount(context.Topics.Exchange);
        if (_exchangePartitions < 1) throw new InvalidOperationException($"Kafka: topic {context.Topics.Exchange} does not exist");
    }

    private EngineCounters Counters => _context.Counters;

    private string Topic => _context.Topics.Probes;

    /// <summary>Partitions this process owns now.</summary>
    public IReadOnlyCollection<int> Assigned => _partitions.Keys;

    /// <summary>Runs until <paramref name="cancel"/>, then drains if the options ask for it and <paramref name="failed"/> is not set.</summary>
    public void Run(CancellationToken cancel, CancellationToken failed)
    {
        var config = _context.Connection.Consumer(_context.Options.GroupId, $"{_context.Options.ClientId}-vehicles");
        config.EnablePartitionEof = true;   // the drain knows a partition's end by it, whatever -X says
        using var consumer = new ConsumerBuilder<Ignore, ProbeRecord>(config)
            .SetValueDeserializer(_deserializer)
            .SetPartitionsAssignedHandler((c, parts) => Assign(c, parts))
            .SetPartitionsRevokedHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition)))
            .SetPartitionsLostHandler((c, parts) => Revoke(parts.Select(p => p.TopicPartition)))
            .SetErrorHandler((c, e) => _context.Log($"vehicle stage: Kafka: {e.Reason}"))
            .Build();
        _consumer = consumer;
        _sinks.QueueFull = () =>
        {
            consumer.Pause(consumer.Assignment);
            Counters.AddPause();
        };
        _sinks.QueueDrained = () =>
        {
            consumer.Resume(consumer.Assignment);
            Counters.AddResume();
        };
        consumer.Subscribe(Topic);
        var lagClock = Stopwatch.StartNew();
        Stopwatch? draining = null;
        bool stopped = false;   // the loop ended on the stop: not on an exception, nor on another stage's failure
        try
        {
            while (true)
            {
                if (cancel.IsCancellationRequested)
                {
                    if (failed.IsCancellationRequested) break;
                    if (!_context.Options.FlushOnStop)
                    {
                        stopped = true;
                        break;
                    }
                    if (draining == null)
                    {
                        draining = Stopwatch.StartNew();
                        _context.Log($"vehicle stage: draining {Topic} partitions [{string.Join(",", _partitions.Keys.Order())}] to their ends");
                    }
                    stopped = !_revoked && _partitions.Values.All(p => p.AtEnd);
                    if (stopped) break;
                    if (draining.Elapsed > _context.Options.DrainTimeout)
                    {
                        stopped = true;
                        _context.Log($"vehicle stage: drain stopped after {_context.Options.DrainTimeout.TotalSeconds:0} s short of the end of {Topic} partitions [{string.Join(",", _partitions.Where(p => !p.Value.AtEnd).Select(p => p.Key).Order())}]{(_revoked ? " (a rebalance was under way)" : "")}: their unfinished batches are not sent");
                        break;
                    }
                }
                ConsumeResult<Ignore, ProbeRecord>? r;
                try
                {
                    r = consumer.Consume(100);
                }
                catch (ConsumeException e)
                {
                    _context.Log($"vehicle stage: {e.Error.Reason}");
                    continue;
                }
                if (_sinks.Paused) _sinks.Poll();
                if (lagClock.ElapsedMilliseconds > 1000)
                {
                    UpdateLag(consumer);
                    DeclareIdle();   // also while the other partitions keep the consumer busy
                    lagClock.Restart();
                }
                if (r == null)
                {
                    DeclareIdle();
                    continue;
                }
                if (!_partitions.TryGetValue(r.Partition.Value, out var part)) continue;
                if (r.IsPartitionEOF)
                {
                    part.AtEnd = true;
                    continue;
                }
                part.AtEnd = false;
                part.LastRecordMs = Environment.TickCount64;
                part.Idle = false;
                OnRecord(part, r);
            }
        }
        finally
        {
            // Leaving the group: what was produced since the last checkpoint is produced again by the next owner. At
            // the end of the whole pipeline, the partitions drained to their ends send their unfinished batches: the
            // same records as any other owner's at that end, so a partner that took them over sends only repeats.
            if (_context.Options.FlushOnStop && stopped)
            {
                foreach (var part in _partitions.Values)
                {
                    if (!part.AtEnd) continue;
                    part.Output.FlushExchange();
                    part.Output.FlushMatched(part.NextOffset / _context.Options.MatchedBatchEvery + 1);
                }
                _sinks.Flush(CancellationToken.None);
            }
            else if (_sinks.Paused) _sinks.Flush(CancellationToken.None);   // every pause has its resume
            _sinks.QueueFull = null;
            _sinks.QueueDrained = null;
            consumer.Close();
            _consumer = null;
        }
    }

    public void Dispose()
    {
    }

    private void OnRecord(PartitionState part, ConsumeResult<Ignore, ProbeRecord> r)
    {
        long offset = r.Offset.Value;
        if (offset != part.NextOffset)
        {
            if (offset < part.NextOffset)
            {
                if (part.AwaitingFirst) ThrowCheckpointBeyondEnd(Topic, part.Partition, part.NextOffset, offset, _context.Checkpoints);
                return;   // already processed
            }
            long lost = offset - part.NextOffset;
            Counters.AddJump(lost);
            _context.Log($"vehicle stage: {Topic}[{part.Partition}] jumped from offset {part.NextOffset} to {offset}: {lost} probes were lost before this engine read them (retention); they are not in any output");
        }
        part.NextOffset = offset + 1;
        part.AwaitingFirst = false;
        Counters.AddConsumed();
        var source = new RecordSource(offset, offset);
        ProbeRecord record = r.Message.Value;
        Probe probe = record.Probe;
        DecodeError error = record.Error;
        bool ok = record.Ok;
        // "More than a day ahead" is judged against this partition's own newest time: the same on every replay.
        long newest = part.Processor.MaxEventTimeMs;
        if (ok && newest != long.MinValue && record.Probe.TimeMs > newest + ProbeRules.MaxAheadMs)
        {
            ok = false;
            error = new DecodeError(ProbeField.Time, DecodeReason.TimeInFuture);
        }
        if (!ok)
        {
            Counters.AddRejected(error.Code);
            _sinks.DeadLetter(_deserializer.LastRaw, in error, Topic, part.Partition, offset, _deserializer.LastWasNull);
            if (record.Ok) ReleaseIfUnheld(probe.Vehicle);   // decoded, refused here: a new id nothing holds goes again
        }
        else
        {
            Counters.AddAccepted();
            if (probe.TimeMs > Counters.NewestEventMs) Counters.NewestEventMs = probe.TimeMs;
            CheckPartition(probe.Vehicle, part.Partition);
            part.Output.Offset = offset;
            part.Processor.OnProbe(in probe, in source, part.Output);
        }
        if (part.NextOffset % _context.Options.MatchedBatchEvery == 0) part.Output.FlushMatched(part.NextOffset / _context.Options.MatchedBatchEvery);
        if (part.NextOffset % _context.Options.CheckpointEvery == 0) Checkpoint(part);
    }

    /// <summary>
    /// A vehicle's probes must all reach one partition (the topic is keyed by vehicle id): one that comes on a second is
    /// matched apart on each, its track in pieces. Counted, and logged once per vehicle; the probe is taken all the same.
    /// </summary>
    private void CheckPartition(int vehicle, int partition)
    {
        if (vehicle >= _partitionOf.Length) Array.Resize(ref _partitionOf, Math.Max(vehicle + 1, _partitionOf.Length * 2));
        int first = _partitionOf[vehicle] - 1;
        if (first == partition || first == -2) return;
        if (first < 0)
        {
            _partitionOf[vehicle] = partition + 1;
            return;
        }
        _partitionOf[vehicle] = -1;
        Counters.AddSplitVehicle();
        _context.Log($"vehicle stage: vehicle {_ids.Name(vehicle)} came on {Topic}[{first}] and [{partition}]: its probes reach more than one of the topic's partitions (key them by vehicle id), and each matches its share of the track apart");
    }

    /// <summary>
    /// The first record after a restore lies before the checkpoint's offset: the consumer found that offset beyond the
    /// partition's end and reset to its start, so the topic is not the one the checkpoint was taken on (deleted and
    /// created again, another cluster). Going on would skip its records as processed, silently.
    /// </summary>
    [DoesNotReturn]
    internal static void ThrowCheckpointBeyondEnd(string topic, int partition, long checkpointOffset, long offset, CheckpointStore checkpoints) =>
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"{topic}[{partition}]: the checkpoint resumes at offset {checkpointOffset}, beyond the partition's end, and its records start again at offset {offset}: the topic is not the one the checkpoint was taken on (deleted and created again, or another cluster). Its records are not skipped as processed: remove {checkpoints.PathOf(topic, partition)} (or the whole state directory) to process the partition from its start"));

    /// <summary>
    /// Tells the segment stage of each partition read to its end that has had no record for
    /// <see cref="KafkaEngineOptions.IdlePartitionAfter"/> that it is idle (once, until it has a record again), with
    /// what it still had batched for the exchange sent first.
    /// </summary>
    private void DeclareIdle()
    {
        TimeSpan after = _context.Options.IdlePartitionAfter;
        if (after <= TimeSpan.Zero) return;
        long now = Environment.TickCount64;
        foreach (var part in _partitions.Values)
        {
            if (part.Idle || !part.AtEnd || now - part.LastRecordMs < after.TotalMilliseconds) continue;
            part.Idle = true;
            part.Output.Idle(new SegmentIdle(part.Partition, part.Processor.Sequence));
            Counters.AddIdle();
            _context.Log($"vehicle stage: {Topic}[{part.Partition}] has had no record for {after.TotalSeconds:0.#} s: idle, the segment windows close without it until it has a record again");
        }
    }

    private void Checkpoint(PartitionState part)
    {
        part.Output.FlushExchange();
        _sinks.Flush();
        _context.Checkpoint(_consumer, "vehicle stage", Topic, part.Partition, part.NextOffset, part.Processor.Save);
    }

    private List<TopicPartitionOffset> Assign(IConsumer<Ignore, ProbeRecord> consumer, List<TopicPartition> parts)
    {
        var offsets = new List<TopicPartitionOffset>(parts.Count);
        foreach (var tp in parts)
        {
            int p = tp.Partition.Value;
            PartitionState part;
            if (_context.Checkpoints.TryLoad(Topic, p, out long next, out byte[] bytes))
            {
                using var state = new MemoryStream(bytes);
                part = new PartitionState(p, _context.LoadVehiclePartition(p, state), new Output(this, p)) { NextOffset = next };
                Counters.AddRestored();
                if (part.Processor.ZonesChanged)
                    _context.Log($"vehicle stage: {Topic}[{p}] resumes with zones other than its checkpoint's: state on the zones still given is kept, {part.Processor.ClosedOnRemovedZones} alert(s) open on zones no longer given close now (evidence zone_removed)");
                if (part.Processor.NetworkChanged)
                    _context.Log($"vehicle stage: {Topic}[{p}] resumes on a road network other than its checkpoint's: the vehicles' state off the roads is kept, their map matching starts anew ({part.Processor.ResumedProbes} undecided probe(s) matched again), {part.Processor.ClosedOnNetworkChange} alert(s) open on the old roads close now (evidence network_changed)");
                part.Processor.HandRestoredCloses(part.Output);
                offsets.Add(new TopicPartitionOffset(tp, new Offset(next)));
            }
            else if (_context.Options.StartAt is { IsEarliest: false } start)
            {
                // Not from the beginning: the start is written at once as a checkpoint of empty state, so that a partner
                // that takes the partition over, or a restart, starts it at the same offset.
                long at = start.Resolve(consumer, tp, _context.Connection);
                part = new PartitionState(p, _context.NewVehiclePartition(p), new Output(this, p)) { NextOffset = at };
                _context.Checkpoint<Ignore, Ignore>(null, "vehicle stage", Topic, p, at, part.Processor.Save);
                _context.Log($"vehicle stage: {Topic}[{p}] has no checkpoint: starts at offset {at} ({start})");
                offsets.Add(new TopicPartitionOffset(tp, new Offset(at)));
            }
            else
            {
                // Nothing read yet: the first record must be offset 0, and a later one means the cluster dropped the
                // records before it unread (retention), which is reported like any other jump.
                part = new PartitionState(p, _context.NewVehiclePartition(p), new Output(this, p)) { NextOffset = 0 };
                offsets.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
            _partitions[p] = part;
        }
        _revoked = false;
        _context.Log($"vehicle stage: assigned {Topic} partitions [{string.Join(",", _partitions.Keys.Order())}]");
        return offsets;
    }

    /// <summary>
    /// Releases a vehicle's id when nothing here holds it: no partition (one forgot it after hours of silence, or was
    /// revoked; a vehicle whose probes came on two may be held by the other) and no registry entry. So the ids a
    /// long-running engine holds are those of the vehicles it knows, not of every one that ever came. Rows already in a
    /// matched batch keep their name.
    /// </summary>
    private void ReleaseIfUnheld(int vehicle)
    {
        if (_context.Registry?.Get(vehicle) != null) return;
        foreach (var part in _partitions.Values)
        {
            if (part.Processor.Holds(vehicle)) return;
        }
        _ids.Release(vehicle);
        if (vehicle < _partitionOf.Length) _partitionOf[vehicle] = 0;
        Counters.AddReleasedId();
    }

    private void Revoke(IEnumerable<TopicPartition> parts)
    {
        // No checkpoint here: checkpoints sit at fixed offsets only, so that the next owner's output repeats ours exactly.
        // Nor a flush: an unfinished batch is sent only by the owner at the end of the whole pipeline (the drain).
        var revokedParts = parts.Select(tp => tp.Partition.Value).Where(_partitions.ContainsKey).ToList();
        var gone = revokedParts.SelectMany(p => _partitions[p].Processor.HeldVehicles).Distinct().ToList();
        foreach (int p in revokedParts) _partitions.Remove(p);
        // The vehicles of partitions gone elsewhere: their ids as when they are forgotten (a restore interns them again).
        foreach (int vehicle in gone) ReleaseIfUnheld(vehicle);
        var revoked = revokedParts.Order().ToList();
        _revoked = true;
        if (revoked.Count > 0) _context.Log($"vehicle stage: revoked {Topic} partitions [{string.Join(",", revoked)}]");
    }

    private void UpdateLag(IConsumer<Ignore, ProbeRecord> consumer)
    {
        long lag = 0;
        foreach (var (p, part) in _partitions)
        {
            var w = consumer.GetWatermarkOffsets(new TopicPartition(Topic, p));
            if (w.High.Value >= 0) lag += Math.Max(0, w.High.Value - Math.Max(part.NextOffset, w.Low.Value));
        }
        Counters.ProbeLag = lag;
    }

    private sealed class PartitionState(int partition, VehiclePartition processor, Output output)
    {
        public int Partition { get; } = partition;
        public VehiclePartition Processor { get; } = processor;
        public Output Output { get; } = output;

        /// <summary>The offset of the next record to process: the checkpoint's, or 0 for a partition never processed.</summary>
        public long NextOffset { get; set; }

        /// <summary>No record taken since the partition was assigned.</summary>
        public bool AwaitingFirst { get; set; } = true;

        /// <summary>The consumer reported the partition's end after the last record taken (or, for none, since the assignment).</summary>
        public bool AtEnd { get; set; }

        /// <summary>When its last record came (<see cref="Environment.TickCount64"/>), or it was assigned.</summary>
        public long LastRecordMs { get; set; } = Environment.TickCount64;

        /// <summary>Declared idle to the segment stage, and no record since.</summary>
        public bool Idle { get; set; }
    }

    /// <summary>Where one partition's processor sends its results.</summary>
    private sealed class Output(VehicleStageHost host, int partition) : IVehiclePartitionOutput
    {
        private readonly ExchangeBatch[] _batches = Enumerable.Range(0, host._exchangePartitions).Select(_ => new ExchangeBatch(partition)).ToArray();
        private readonly MatchedBatchBuilder _matched = new(host._context.Network, host._ids);

        /// <summary>The offset of the probe being processed.</summary>
        public long Offset { get; set; }

        public void Alert(AlertEvent alert)
        {
            host.Counters.OnAlert(alert.Kind, alert.State);
            host._sinks.Alert(alert);
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match)
        {
            if (match.Edge >= 0) host.Counters.AddMatched();
            _matched.Append(vehicle, in match);
        }

        public void Traversal(in SegmentTraversal traversal)
        {
            int target = host._context.Roads.PartitionOf(traversal.Edge.Edge, _batches.Length); // a road's segments in one partition
            var batch = _batches[target];
            batch.AddTraversal(in traversal);
            host.Counters.AddExchange();
            if (batch.IsFull) host._sinks.Exchange(target, batch.Take());
        }

        public void Watermark(in SegmentWatermark watermark)
        {
            for (int i = 0; i < _batches.Length; i++)
            {
                _batches[i].AddWatermark(in watermark);
                host._sinks.Exchange(i, _batches[i].Take());
            }
        }

        /// <summary>The partition's word that it is idle, to every segment partition, after what each batch still held.</summary>
        public void Idle(in SegmentIdle idle)
        {
            for (int i = 0; i < _batches.Length; i++)
            {
                _batches[i].AddIdle(in idle);
                host._sinks.Exchange(i, _batches[i].Take());
            }
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
            host.Counters.AddRefused();
            host._sinks.Late(host._ids.Name(probe.Vehicle), in probe, host.Topic, partition, source.Record, reason);
        }

        public void Late(in Probe probe, in RecordSource source)
        {
            host.Counters.AddLate();
            host._sinks.Late(host._ids.Name(probe.Vehicle), in probe, host.Topic, partition, source.Record);
        }

        public void Forgotten(int vehicle) => host.ReleaseIfUnheld(vehicle);

        public void FlushExchange()
        {
            for (int i = 0; i < _batches.Length; i++)
            {
                if (_batches[i].Count > 0) host._sinks.Exchange(i, _batches[i].Take());
            }
        }

        public void FlushMatched(long batchNumber)
        {
            if (_matched.Rows > 0) host._sinks.Matched(partition, batchNumber, _matched.TakeIpcStream());
        }
    }
}
