using System.Runtime.InteropServices;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// The probes of a replay that came behind the watermark or that a vehicle's matcher refused (<c>late.ndjson</c>), sorted
/// by input record: written while the run goes on when the probes are handed on in file order, each entry once every shard
/// has passed its record; held to the end when they are handed on sorted by time (a late probe's place in the file's order
/// is then known only at the end).
/// </summary>
/// <remarks>
/// The reader hands each shard its probes in record order, and stamps each watermark message with the record it read
/// last, so a shard past record R (a probe's or a watermark's) adds no entry at or below R from then on.
/// </remarks>
internal sealed class LateMerge : IDisposable
{
    private readonly List<(long Record, Probe Probe, PushResult Why)>[] _incoming;   // per shard, its thread's own
    private readonly long[] _through;
    private readonly List<(long Record, Probe Probe, PushResult Why)> _pending = [];
    private readonly Lock _gate = new();
    private readonly FileStream _stream;
    private readonly NdjsonWriter _lines;
    private readonly VehicleIds _ids;
    private readonly bool _streaming;
    private bool _disposed;

    /// <param name="streaming">The probes are handed on in file order: entries are written as every shard passes them.</param>
    public LateMerge(int shards, string path, VehicleIds ids, bool streaming)
    {
        _incoming = new List<(long, Probe, PushResult)>[shards];
        for (int i = 0; i < shards; i++) _incoming[i] = [];
        _through = new long[shards];
        _ids = ids;
        _streaming = streaming;
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        _lines = new NdjsonWriter(_stream, lineByLine: streaming);
    }

    /// <summary>Entries written.</summary>
    public long Written { get; private set; }

    /// <summary>A late (<see cref="PushResult.Accepted"/>) or refused probe of a shard (on that shard's thread).</summary>
    public void Add(int shard, long record, in Probe probe, PushResult why) => _incoming[shard].Add((record, probe, why));

    /// <summary>The shard has passed input record <paramref name="record"/>: its entries are handed over, and what every shard has passed is written.</summary>
    public void Through(int shard, long record)
    {
        List<(long Record, Probe Probe, PushResult Why)> mine = _incoming[shard];
        if (mine.Count == 0 && (!_streaming || record <= _through[shard])) return;   // read unlocked: only this shard writes its own
        lock (_gate)
        {
            _pending.AddRange(mine);
            mine.Clear();
            _through[shard] = Math.Max(_through[shard], record);
            if (!_streaming) return;
            long least = _through.Min();
            if (_pending.Count == 0 || least <= 0) return;
            _pending.Sort(static (a, b) => a.Record.CompareTo(b.Record));
            int final = 0;
            Span<(long Record, Probe Probe, PushResult Why)> held = CollectionsMarshal.AsSpan(_pending);
            while (final < held.Length && held[final].Record <= least) final++;
            if (final == 0) return;
            foreach (ref readonly var e in held[..final]) Write(in e);
            _pending.RemoveRange(0, final);
            _stream.Flush();
        }
    }

    private void Write(in (long Record, Probe Probe, PushResult Why) e)
    {
        var w = _lines.Begin();
        ProbeJsonWriter.WriteFields(w, _ids.Name(e.Probe.Vehicle), in e.Probe);
        w.WriteNumber("record"u8, e.Record);
        w.WriteString("reason"u8, LateReasons.Of(e.Why));
        _lines.End();
        Written++;
    }

    /// <summary>Writes what is left, sorted by record (everything, when not streaming), and closes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var mine in _incoming) _pending.AddRange(mine);
        _pending.Sort(static (a, b) => a.Record.CompareTo(b.Record));
        foreach (ref readonly var e in CollectionsMarshal.AsSpan(_pending)) Write(in e);
        _pending.Clear();
        _lines.Dispose();
        _stream.Dispose();
    }
}
