using Traffic.Engine.Output;
using Traffic.Engine.Segments;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// The network index of a replay (<c>tpi.ndjson</c>), written while the run goes on: a window's parts from every segment
/// shard are added up (integers: the same for any number of shards), and the window is written once every shard has
/// passed its end, in window order.
/// </summary>
/// <remarks>
/// A segment partition publishes a window's part when the window closes, at a watermark at or after its end, so a shard
/// past a watermark publishes no part of a window that ends at or before it (as <see cref="SegmentRowMerge"/>'s rows).
/// </remarks>
internal sealed class NetworkIndexMerge : IDisposable
{
    private readonly List<NetworkSums>[] _incoming;   // per shard: published since its last Through, its thread's own
    private readonly long[] _through;
    private readonly SortedDictionary<long, NetworkSums> _pending = [];   // by window start: the parts so far, summed
    private readonly List<NetworkIndexValue> _series = [];
    private readonly Lock _gate = new();
    private readonly FileStream _stream;
    private readonly NdjsonWriter _lines;
    private bool _disposed;

    public NetworkIndexMerge(int shards, string path)
    {
        _incoming = new List<NetworkSums>[shards];
        for (int i = 0; i < shards; i++) _incoming[i] = [];
        _through = new long[shards];
        Array.Fill(_through, long.MinValue);
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        _lines = new NdjsonWriter(_stream, lineByLine: true);
    }

    /// <summary>The index of every window written, in window order (read once the merge is complete).</summary>
    public IReadOnlyList<NetworkIndexValue> Series => _series;

    /// <summary>A window's part published by a shard (on that shard's thread).</summary>
    public void Add(int shard, in NetworkSums part) => _incoming[shard].Add(part);

    /// <summary>The shard has passed <paramref name="watermarkMs"/>: its parts are handed over, and the windows every shard has passed are written.</summary>
    public void Through(int shard, long watermarkMs)
    {
        List<NetworkSums> mine = _incoming[shard];
        if (mine.Count == 0 && watermarkMs <= _through[shard]) return;   // read unlocked: only this shard writes its own
        lock (_gate)
        {
            foreach (NetworkSums part in mine)
            {
                if (!_pending.TryGetValue(part.WindowStartMs, out NetworkSums total)) total = new NetworkSums(part.WindowStartMs, part.WindowEndMs);
                total.Add(in part);
                _pending[part.WindowStartMs] = total;
            }
            mine.Clear();
            _through[shard] = Math.Max(_through[shard], watermarkMs);
            long least = _through.Min();
            bool wrote = false;
            while (_pending.Count > 0 && _pending.First() is var (start, total) && total.WindowEndMs <= least)
            {
                NetworkIndexValue value = NetworkIndex.Of(in total);
                NetworkIndexRow.WriteFields(_lines.Begin(), in value);
                _lines.End();
                _series.Add(value);
                _pending.Remove(start);
                wrote = true;
            }
            if (wrote) _stream.Flush();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _lines.Dispose();
        _stream.Dispose();
    }
}
