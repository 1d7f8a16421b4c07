using System.Runtime.InteropServices;
using Traffic.Engine.Output;
using Traffic.Engine.Segments;
using Traffic.Geo.Network;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// One output of segment rows (the windows, or the sliding views) from every segment shard of a replay, written while
/// the run goes on and in the order a sort of the whole run would give: by window start, then edge. Written as
/// <c>&lt;name&gt;.ndjson</c> and the rolling Arrow files <c>&lt;name&gt;/</c>.
/// </summary>
/// <remarks>
/// A shard's rows are final once its partition has passed a watermark: windows and views close when their end is at or
/// before the partition's watermark, and a traversal is taken only into a window that ends after it (see
/// <see cref="SegmentPartition.OnTraversal"/>), so every row a shard publishes later ends after that watermark. Rows
/// of one output all span the same time, so ordering by start is ordering by end: the rows that end at or before the
/// least of the shards' watermarks, sorted, come before everything still to come, and are written. Each shard adds to
/// a list of its own without a lock; <see cref="Through"/> takes the lock once per batch of messages. The lists keep
/// their capacity, so a long run allocates nothing per row once they have grown to a window's rows.
/// </remarks>
internal sealed class SegmentRowMerge : IDisposable
{
    private readonly RoadNetwork _network;
    private readonly List<SegmentStat>[] _incoming;   // per shard: added since its last Through, its thread's own
    private readonly long[] _through;                 // per shard: every row it adds later ends after this
    private List<SegmentStat> _pending = [];          // handed over, not yet final (some shard is behind), by start then edge
    private List<SegmentStat> _merged = [];           // scratch: a merge into _pending is made here, then the two swap
    private readonly Lock _gate = new();
    private readonly FileStream _stream;
    private readonly NdjsonWriter _ndjson;
    private readonly SegmentRowFormatter _format;
    private readonly SegmentArrowWriter _arrow;
    private long _written = long.MinValue;            // the least watermark the written rows were final for

    public SegmentRowMerge(RoadNetwork network, int shards, string outDir, string name)
    {
        _network = network;
        _incoming = new List<SegmentStat>[shards];
        for (int i = 0; i < shards; i++) _incoming[i] = [];
        _through = new long[shards];
        Array.Fill(_through, long.MinValue);
        _stream = new FileStream(Path.Combine(outDir, name + ".ndjson"), FileMode.Create, FileAccess.Write);
        _ndjson = new NdjsonWriter(_stream);
        _format = new SegmentRowFormatter(network);
        _arrow = new SegmentArrowWriter(Path.Combine(outDir, name), network, name: name);
    }

    /// <summary>Rows written.</summary>
    public long Rows { get; private set; }

    /// <summary>A row published by a shard (on that shard's thread).</summary>
    public void Add(int shard, in SegmentStat row) => _incoming[shard].Add(row);

    /// <summary>
    /// The shard's partition has passed <paramref name="watermarkMs"/>: its rows so far are handed over, and whatever
    /// every shard has made final is written.
    /// </summary>
    public void Through(int shard, long watermarkMs)
    {
        lock (_gate)
        {
            List<SegmentStat> mine = _incoming[shard];
            if (mine.Count > 0) MergeIntoPending(mine);
            mine.Clear();
            _through[shard] = Math.Max(_through[shard], watermarkMs);
            long least = _through[0];
            for (int i = 1; i < _through.Length; i++) least = Math.Min(least, _through[i]);
            if (least <= _written || _pending.Count == 0) return;
            _written = least;
            Span<SegmentStat> rows = CollectionsMarshal.AsSpan(_pending);
            int final = 0;
            while (final < rows.Length && rows[final].WindowEndMs <= least) final++;
            foreach (ref readonly SegmentStat row in rows[..final])
            {
                _format.Write(_ndjson, in row);
                _arrow.Append(in row);
            }
            Rows += final;
            _pending.RemoveRange(0, final);
        }
    }

    /// <summary>
    /// Takes a shard's rows into the pending ones, which stay in order by start, then edge. A partition publishes its rows
    /// in that order already (by window, then edge; see <see cref="SegmentPartition"/>), so the two lists are merged, one
    /// comparison a row, where a sort of the pending rows after each batch (a comparison delegate called n log n times on
    /// 64-byte rows) took a tenth of the segment shards' time; rows that come out of order are sorted first.
    /// </summary>
    private void MergeIntoPending(List<SegmentStat> mine)
    {
        Span<SegmentStat> add = CollectionsMarshal.AsSpan(mine);
        for (int i = 1; i < add.Length; i++)
        {
            if (ByStartThenEdge.Before(in add[i], in add[i - 1]))
            {
                add.Sort(default(ByStartThenEdge));
                break;
            }
        }
        if (_pending.Count == 0 || !ByStartThenEdge.Before(in add[0], in CollectionsMarshal.AsSpan(_pending)[^1]))
        {
            _pending.AddRange(add);
            return;
        }
        ReadOnlySpan<SegmentStat> held = CollectionsMarshal.AsSpan(_pending);
        _merged.Clear();
        int h = 0, a = 0;
        while (h < held.Length && a < add.Length)
        {
            // Ties (none: one row per segment and window) keep the rows held first.
            if (ByStartThenEdge.Before(in add[a], in held[h])) _merged.Add(add[a++]);
            else _merged.Add(held[h++]);
        }
        _merged.AddRange(held[h..]);
        _merged.AddRange(add[a..]);
        (_pending, _merged) = (_merged, _pending);
    }

    /// <summary>The order of the written rows: by window start, then edge.</summary>
    private readonly struct ByStartThenEdge : IComparer<SegmentStat>
    {
        public static bool Before(in SegmentStat a, in SegmentStat b) =>
            a.WindowStartMs < b.WindowStartMs || (a.WindowStartMs == b.WindowStartMs && a.Edge < b.Edge);

        public int Compare(SegmentStat a, SegmentStat b) =>
            a.WindowStartMs != b.WindowStartMs ? a.WindowStartMs.CompareTo(b.WindowStartMs) : a.Edge.CompareTo(b.Edge);
    }

    /// <summary>Closes the files (every row is written once every shard has passed the end of the input).</summary>
    public void Dispose()
    {
        _ndjson.Dispose();
        _stream.Dispose();
        _arrow.Dispose();
    }
}
