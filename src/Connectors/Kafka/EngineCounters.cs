using System.Collections.Concurrent;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// What a Kafka engine process has done so far, for the live view and the summary: updated by the stage
/// threads, read by anyone (plain counters: a reader may see a value a moment old).
/// </summary>
public sealed class EngineCounters
{
    private readonly Lock _indexLock = new();
    private (long WindowStartMs, double Tpi, int Level) _index = (long.MinValue, 0, 0);
    private int _indexWindows;
    private double _indexSum, _indexPeak;
    private long _segmentViews;
    private long _refused, _consumed, _accepted, _rejected, _late, _matched, _segmentRows, _exchangeRecords, _duplicatesDropped, _lateTraversals, _offsetJumps, _lostRecords, _splitVehicles, _releasedIds, _checkpoints, _restored, _pauses, _resumes, _idleDeclared;
    private long _foreignExchange;
    private long _oldNetworkTraversals;

    public long Consumed => Volatile.Read(ref _consumed);
    public long Accepted => Volatile.Read(ref _accepted);
    public long Rejected => Volatile.Read(ref _rejected);
    public long Late => Volatile.Read(ref _late);

    /// <summary>Probes the matcher refused (duplicates, older than the vehicle's last).</summary>
    public long Refused => Volatile.Read(ref _refused);
    public long Matched => Volatile.Read(ref _matched);
    public long SegmentRows => Volatile.Read(ref _segmentRows);
    public long ExchangeRecords => Volatile.Read(ref _exchangeRecords);

    /// <summary>Exchange records dropped as repeats (sent again by a restarted sender).</summary>
    public long DuplicatesDropped => Volatile.Read(ref _duplicatesDropped);

    /// <summary>
    /// Traversals not aggregated: their window had passed their own sender's watermark, or had closed while their sender was
    /// idle (<see cref="Traffic.Engine.Pipeline.SegmentPartition.LateTraversals"/>).
    /// </summary>
    public long LateTraversals => Volatile.Read(ref _lateTraversals);

    /// <summary>
    /// Exchange messages refused as foreign: they do not parse, or name a source partition or an edge the segment partition
    /// does not have (logged with their offset; the rest of such a message is skipped).
    /// </summary>
    public long ForeignExchangeMessages => Volatile.Read(ref _foreignExchange);

    /// <summary>
    /// Traversals of the road network before a restore on another one, dropped by the segment stage
    /// (<see cref="Traffic.Engine.Pipeline.SegmentPartition.OldNetworkTraversals"/>).
    /// </summary>
    public long OldNetworkTraversals => Volatile.Read(ref _oldNetworkTraversals);

    /// <summary>Times a partition's next record was not the one after the last: records lost (e.g. to retention).</summary>
    public long OffsetJumps => Volatile.Read(ref _offsetJumps);

    /// <summary>Records skipped by those jumps.</summary>
    public long LostRecords => Volatile.Read(ref _lostRecords);

    /// <summary>
    /// Vehicles whose probes reached this process on more than one probes partition (not keyed by vehicle id): each
    /// partition matched its share of the track apart.
    /// </summary>
    public long SplitVehicles => Volatile.Read(ref _splitVehicles);

    /// <summary>
    /// Vehicle ids released: of vehicles forgotten (silent for hours) or gone with a revoked partition, and of probes the
    /// engine refused that brought a new one (a record that does not decode gives its new id up itself, uncounted); their
    /// numbers go to the next new ids.
    /// </summary>
    public long ReleasedIds => Volatile.Read(ref _releasedIds);

    public long Checkpoints => Volatile.Read(ref _checkpoints);

    /// <summary>Times the vehicle stage paused its input partitions because the output producer's queue was full.</summary>
    public long BackPressurePauses => Volatile.Read(ref _pauses);

    /// <summary>Times it resumed them once the queue had room again.</summary>
    public long BackPressureResumes => Volatile.Read(ref _resumes);

    /// <summary>Times a probes partition was declared idle (<see cref="KafkaEngineOptions.IdlePartitionAfter"/>).</summary>
    public long IdleDeclared => Volatile.Read(ref _idleDeclared);

    /// <summary>Partitions resumed from a checkpoint.</summary>
    public long Restored => Volatile.Read(ref _restored);

    /// <summary>Rejected input by reason code.</summary>
    public ConcurrentDictionary<string, long> RejectedByReason { get; } = new(StringComparer.Ordinal);

    /// <summary>Alerts opened, by kind.</summary>
    public ConcurrentDictionary<string, long> AlertsOpened { get; } = new(StringComparer.Ordinal);

    /// <summary>Alerts open now, by kind.</summary>
    public ConcurrentDictionary<string, long> AlertsOpen { get; } = new(StringComparer.Ordinal);

    /// <summary>Per named road, its worst segment in the newest window published: (window start ms, level, speed km/h, free-flow km/h).</summary>
    public ConcurrentDictionary<string, (long WindowStartMs, int Level, double SpeedKmh, double FreeFlowKmh)> Roads { get; } = new(StringComparer.Ordinal);

    /// <summary>Sliding views published (the smoothed feed).</summary>
    public long SegmentViews => Volatile.Read(ref _segmentViews);

    /// <summary>The newest window of the network index: (window start ms, index, level); window start long.MinValue before the first.</summary>
    public (long WindowStartMs, double Tpi, int Level) NetworkIndex
    {
        get
        {
            lock (_indexLock) return _index;
        }
    }

    /// <summary>Windows of the network index published, their mean index and the peak.</summary>
    public (int Windows, double Mean, double Peak) NetworkIndexSummary
    {
        get
        {
            lock (_indexLock) return (_indexWindows, _indexWindows == 0 ? 0 : _indexSum / _indexWindows, _indexPeak);
        }
    }

    /// <summary>Consumer lag of the probes topic (records behind the end, all assigned partitions), as last seen.</summary>
    public long ProbeLag { get; set; }

    /// <summary>Newest event time processed, epoch ms.</summary>
    public long NewestEventMs { get; set; } = long.MinValue;

    internal void AddConsumed() => Interlocked.Increment(ref _consumed);
    internal void AddAccepted() => Interlocked.Increment(ref _accepted);
    internal void AddRefused() => Interlocked.Increment(ref _refused);
    internal void AddLate() => Interlocked.Increment(ref _late);
    internal void AddMatched() => Interlocked.Increment(ref _matched);
    internal void AddSegmentRow(string road, long windowStartMs, int level, double speedKmh, double freeFlowKmh)
    {
        Interlocked.Increment(ref _segmentRows);
        if (road.Length == 0) return;
        Roads.AddOrUpdate(road, (windowStartMs, level, speedKmh, freeFlowKmh), (_, old) =>
            windowStartMs > old.WindowStartMs || (windowStartMs == old.WindowStartMs && level > old.Level) ? (windowStartMs, level, speedKmh, freeFlowKmh) : old);
    }
    internal void AddSegmentView() => Interlocked.Increment(ref _segmentViews);

    internal void AddNetworkIndex(long windowStartMs, double tpi, int level)
    {
        lock (_indexLock)
        {
            // A restarted stage publishes its last windows again: they count once.
            if (windowStartMs <= _index.WindowStartMs) return;
            _index = (windowStartMs, tpi, level);
            _indexWindows++;
            _indexSum += tpi;
            _indexPeak = Math.Max(_indexPeak, tpi);
        }
    }

    internal void AddExchange() => Interlocked.Increment(ref _exchangeRecords);
    internal void AddDuplicate() => Interlocked.Increment(ref _duplicatesDropped);
    internal void AddLateTraversal() => Interlocked.Increment(ref _lateTraversals);
    internal void AddForeignExchange() => Interlocked.Increment(ref _foreignExchange);
    internal void AddOldNetworkTraversal() => Interlocked.Increment(ref _oldNetworkTraversals);
    internal void AddSplitVehicle() => Interlocked.Increment(ref _splitVehicles);
    internal void AddReleasedId() => Interlocked.Increment(ref _releasedIds);
    internal void AddCheckpoint() => Interlocked.Increment(ref _checkpoints);
    internal void AddRestored() => Interlocked.Increment(ref _restored);
    internal void AddIdle() => Interlocked.Increment(ref _idleDeclared);
    internal void AddPause() => Interlocked.Increment(ref _pauses);
    internal void AddResume() => Interlocked.Increment(ref _resumes);

    internal void AddRejected(string code)
    {
        Interlocked.Increment(ref _rejected);
        RejectedByReason.AddOrUpdate(code, 1, (_, n) => n + 1);
    }

    internal void AddJump(long lost)
    {
        Interlocked.Increment(ref _offsetJumps);
        Interlocked.Add(ref _lostRecords, lost);
    }

    internal void OnAlert(string kind, Traffic.Engine.Alerts.AlertState state)
    {
        if (state == Traffic.Engine.Alerts.AlertState.Open)
        {
            AlertsOpened.AddOrUpdate(kind, 1, (_, n) => n + 1);
            AlertsOpen.AddOrUpdate(kind, 1, (_, n) => n + 1);
        }
        else if (state == Traffic.Engine.Alerts.AlertState.Close) AlertsOpen.AddOrUpdate(kind, 0, (_, n) => Math.Max(0, n - 1));
    }
}
