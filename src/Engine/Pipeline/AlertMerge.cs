using System.Runtime.InteropServices;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// The alerts of every shard of a replay, vehicle and segment shards alike, written while the run goes on
/// (<c>alerts.ndjson</c>, flushed as lines are final, and the rolling Arrow files <c>alerts/</c>) in the order a sort of
/// the whole run would give: by time, then alert id, then state (open, update, close).
/// </summary>
/// <remarks>
/// Each shard says, after each batch of messages, a time that every alert it raises later will be at or after (its
/// floor: a vehicle partition's watermark less the time its matches may trail it, <see cref="VehiclePartition.AlertFloorMs"/>;
/// a segment partition's watermark less a window, <see cref="SegmentPartition.AlertFloorMs"/>). The alerts before the
/// least of the shards' floors, sorted, come before everything still to come, and are written. A paced replay
/// (<c>--speed</c>) thus writes its alerts as they would come live, not once the file has been read; and a long run
/// holds only the alerts not yet final, not all of them. An alert that came below what was already written (a floor
/// that was not one) is still written, at the next hand-over, and counted (<see cref="OutOfOrder"/>): nothing is lost,
/// and the tests see the order broken.
/// </remarks>
internal sealed class AlertMerge : IDisposable
{
    private readonly List<AlertEvent>[] _incoming;   // per shard: added since its last Through, its thread's own
    private readonly long[] _floor;                   // per shard: every alert it adds later is at or after this
    private List<AlertEvent> _pending = [];           // handed over, not yet final, in output order
    private List<AlertEvent> _merged = [];            // scratch: a merge into _pending is made here, then the two swap
    private readonly Lock _gate = new();
    private readonly FileStream _stream;
    private readonly AlertWriter _ndjson;
    private readonly AlertArrowWriter _arrow;
    private readonly SortedDictionary<string, long> _opened = new(StringComparer.Ordinal);
    private long _written = long.MinValue;            // the time of the last alert written
    private bool _disposed;

    public AlertMerge(int shards, string outDir)
    {
        _incoming = new List<AlertEvent>[shards];
        for (int i = 0; i < shards; i++) _incoming[i] = [];
        _floor = new long[shards];
        Array.Fill(_floor, long.MinValue);
        _stream = new FileStream(Path.Combine(outDir, "alerts.ndjson"), FileMode.Create, FileAccess.Write, FileShare.Read);
        _ndjson = new AlertWriter(_stream, lineByLine: true);
        _arrow = new AlertArrowWriter(Path.Combine(outDir, "alerts"));
    }

    /// <summary>Alert events written.</summary>
    public long Written { get; private set; }

    /// <summary>Alerts that came in below what had already been written (written late, out of the order).</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>Alerts opened, by kind (read once the merge is complete).</summary>
    public IReadOnlyDictionary<string, long> OpenedByKind => _opened;

    /// <summary>An alert raised by a shard (on that shard's thread).</summary>
    public void Add(int shard, AlertEvent alert) => _incoming[shard].Add(alert);

    /// <summary>
    /// The shard will raise no alert before <paramref name="floorMs"/> from now on: its alerts so far are handed over, and
    /// whatever is final for every shard is written. <see cref="long.MaxValue"/>: the shard is done.
    /// </summary>
    public void Through(int shard, long floorMs)
    {
        List<AlertEvent> mine = _incoming[shard];
        if (mine.Count == 0 && floorMs <= _floor[shard]) return;   // read unlocked: only this shard writes its floor
        lock (_gate)
        {
            if (mine.Count > 0) MergeIntoPending(mine);
            mine.Clear();
            _floor[shard] = Math.Max(_floor[shard], floorMs);
            long least = _floor[0];
            for (int i = 1; i < _floor.Length; i++) least = Math.Min(least, _floor[i]);
            Span<AlertEvent> held = CollectionsMarshal.AsSpan(_pending);
            int final = 0;
            // Before the least floor (a later alert may still come at it, and sort before one already held there).
            while (final < held.Length && (least == long.MaxValue || held[final].TimeMs < least)) final++;
            if (final == 0) return;
            foreach (AlertEvent a in held[..final])
            {
                if (a.TimeMs <= _written) OutOfOrder++;
                _ndjson.Write(a);
                _arrow.Append(a);
                if (a.State == AlertState.Open) _opened[a.Kind] = _opened.GetValueOrDefault(a.Kind) + 1;
            }
            _written = Math.Max(_written, held[final - 1].TimeMs);
            Written += final;
            _pending.RemoveRange(0, final);
            _stream.Flush();
        }
    }

    /// <summary>Takes a shard's alerts into the pending ones, which stay in output order (a shard's own come nearly in it).</summary>
    private void MergeIntoPending(List<AlertEvent> mine)
    {
        // Stable, so that a shard's alerts equal in every key keep the order it raised them in (one alert's, one shard's).
        List<AlertEvent> add = mine.Count > 1 && !IsSorted(mine) ? [.. mine.OrderBy(a => a, Order.Instance)] : mine;
        if (_pending.Count == 0 || Order.Instance.Compare(add[0], _pending[^1]) >= 0)
        {
            _pending.AddRange(add);
            return;
        }
        _merged.Clear();
        int h = 0, k = 0;
        while (h < _pending.Count && k < add.Count)
        {
            // Ties keep the alerts held first (they came from another shard: no alert id is two shards').
            if (Order.Instance.Compare(add[k], _pending[h]) < 0) _merged.Add(add[k++]);
            else _merged.Add(_pending[h++]);
        }
        for (; h < _pending.Count; h++) _merged.Add(_pending[h]);
        for (; k < add.Count; k++) _merged.Add(add[k]);
        (_pending, _merged) = (_merged, _pending);
    }

    private static bool IsSorted(List<AlertEvent> alerts)
    {
        for (int i = 1; i < alerts.Count; i++)
        {
            if (Order.Instance.Compare(alerts[i], alerts[i - 1]) < 0) return false;
        }
        return true;
    }

    /// <summary>The order of the written alerts: by time, then alert id (ordinal), then state.</summary>
    internal sealed class Order : IComparer<AlertEvent>
    {
        public static readonly Order Instance = new();

        public int Compare(AlertEvent? a, AlertEvent? b)
        {
            int c = a!.TimeMs.CompareTo(b!.TimeMs);
            if (c == 0) c = string.CompareOrdinal(a.AlertId, b.AlertId);
            return c != 0 ? c : a.State.CompareTo(b.State);
        }
    }

    /// <summary>Closes the files (every alert is written once every shard has said it is done).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _ndjson.Dispose();
        _stream.Dispose();
        _arrow.Dispose();
    }
}
