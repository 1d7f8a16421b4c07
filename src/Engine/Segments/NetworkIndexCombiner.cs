using Traffic.Engine.Checkpoints;

namespace Traffic.Engine.Segments;

/// <summary>
/// Adds the segment partitions' parts of the network index into the whole network's, window by window, wherever the
/// partitions run (several engine processes): each partition reports its watermark with the parts of the windows it
/// has closed (<see cref="Add"/>), and a window is complete, and leaves (<see cref="Drain"/>), once every partition's
/// watermark has passed its end. Order and repeats do not matter: a partition's part of a window that ends at or
/// before the watermark already known for that partition was counted before (what a partition restored from an older
/// checkpoint sends again) and is ignored; windows can't reopen (<see cref="Pipeline.SegmentPartition"/> drops a late
/// traversal), so nothing is lost. A window in which no partition published a row has no index. One thread.
/// </summary>
public sealed class NetworkIndexCombiner
{
    /// <summary>
    /// The most windows waiting for their last part (a day of 1-minute windows): beyond, the oldest is published with
    /// the parts it has, so that a partition that never reports cannot grow the state without bound.
    /// </summary>
    public const int MaxPendingWindows = 1440;

    private readonly long[] _watermarks;                              // each partition's latest reported watermark
    private readonly SortedDictionary<long, NetworkSums> _pending = []; // windows not complete yet, by start

    public NetworkIndexCombiner(int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        _watermarks = new long[partitions];
        Array.Fill(_watermarks, long.MinValue);
    }

    /// <summary>The number of partitions whose parts make a window whole.</summary>
    public int Partitions => _watermarks.Length;

    /// <summary>Windows waiting for a part.</summary>
    public int PendingWindows => _pending.Count;

    /// <summary>Parts ignored because they had been counted (repeats after a partition's restart).</summary>
    public long Repeats { get; private set; }

    /// <summary>Windows published before every partition had passed them (<see cref="MaxPendingWindows"/>).</summary>
    public long Forced { get; private set; }

    /// <summary>The least watermark of all partitions: every window ending at or before it is complete.</summary>
    public long WatermarkMs
    {
        get
        {
            long least = long.MaxValue;
            foreach (long w in _watermarks) least = Math.Min(least, w);
            return least;
        }
    }

    /// <summary>
    /// One report of partition <paramref name="partition"/>: its watermark and its parts of the windows it closed on the way
    /// there (any order). Parts of windows it had already passed are repeats and ignored.
    /// </summary>
    public void Add(int partition, long watermarkMs, ReadOnlySpan<NetworkSums> parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _watermarks.Length);
        long known = _watermarks[partition];
        foreach (ref readonly NetworkSums part in parts)
        {
            if (part.WindowEndMs <= known)
            {
                Repeats++;
                continue;
            }
            if (_pending.TryGetValue(part.WindowStartMs, out NetworkSums sums))
            {
                sums.Add(in part);
                _pending[part.WindowStartMs] = sums;
            }
            else
            {
                _pending.Add(part.WindowStartMs, part);
            }
        }
        if (watermarkMs > known) _watermarks[partition] = watermarkMs;
    }

    /// <summary>Hands each complete window's sums to <paramref name="publish"/>, oldest first, and forgets them.</summary>
    public int Drain(Action<NetworkSums> publish)
    {
        ArgumentNullException.ThrowIfNull(publish);
        long least = WatermarkMs;
        int n = 0;
        while (_pending.Count > 0)
        {
            KeyValuePair<long, NetworkSums> first = _pending.First();
            bool complete = first.Value.WindowEndMs <= least;
            if (!complete && _pending.Count <= MaxPendingWindows) break;
            if (!complete) Forced++;
            _pending.Remove(first.Key);
            publish(first.Value);
            n++;
        }
        return n;
    }

    /// <summary>Writes the state (docs/checkpoint.md, kind <see cref="CheckpointKind.NetworkIndexCombiner"/>).</summary>
    public void Save(Stream checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        using var w = new CheckpointWriter();
        BinaryWriter o = w.Out;
        o.Write(_watermarks.Length);
        foreach (long wm in _watermarks) o.Write(wm);
        o.Write(Repeats);
        o.Write(Forced);
        o.Write(_pending.Count);
        foreach (NetworkSums s in _pending.Values) NetworkSumsFormat.Write(o, in s);
        w.WriteTo(checkpoint, CheckpointKind.NetworkIndexCombiner);
    }

    /// <summary>Restores a state <see cref="Save"/> wrote for the same number of partitions.</summary>
    public static NetworkIndexCombiner Load(int partitions, Stream checkpoint) =>
        CheckpointReader.Restore(checkpoint, CheckpointKind.NetworkIndexCombiner, r =>
        {
            BinaryReader i = r.In;
            int stored = i.ReadInt32();
            CheckpointReader.Check(stored == partitions, $"checkpoint combines {stored} partitions; the exchange has {partitions}");
            var c = new NetworkIndexCombiner(partitions);
            for (int k = 0; k < partitions; k++) c._watermarks[k] = i.ReadInt64();
            c.Repeats = i.ReadInt64();
            c.Forced = i.ReadInt64();
            CheckpointReader.Check(c.Repeats >= 0 && c.Forced >= 0, "checkpoint malformed: a negative count");
            int pending = r.Count();
            CheckpointReader.Check(pending <= MaxPendingWindows + 1, "checkpoint malformed: too many pending windows");
            for (int k = 0; k < pending; k++)
            {
                NetworkSums s = NetworkSumsFormat.Read(i);
                CheckpointReader.Check(c._pending.TryAdd(s.WindowStartMs, s), "checkpoint malformed: a window twice");
            }
            return c;
        });
}

/// <summary>The binary layout of <see cref="NetworkSums"/> in checkpoints and messages: start and end (int64 ms), then per grade VKT, length and severe length (int64 mm) and segments (int32).</summary>
public static class NetworkSumsFormat
{
    /// <summary>Bytes of one <see cref="NetworkSums"/>.</summary>
    public const int Size = 16 + (NetworkIndex.Grades * 28);

    public static void Write(BinaryWriter o, in NetworkSums s)
    {
        ArgumentNullException.ThrowIfNull(o);
        o.Write(s.WindowStartMs);
        o.Write(s.WindowEndMs);
        for (int g = 0; g < NetworkIndex.Grades; g++)
        {
            o.Write(s.Grades[g].VehicleMm);
            o.Write(s.Grades[g].LengthMm);
            o.Write(s.Grades[g].SevereLengthMm);
            o.Write(s.Grades[g].Segments);
        }
    }

    /// <summary>Reads one; <see cref="InvalidDataException"/> when the window or a sum is impossible.</summary>
    public static NetworkSums Read(BinaryReader i)
    {
        ArgumentNullException.ThrowIfNull(i);
        var s = new NetworkSums(i.ReadInt64(), i.ReadInt64());
        if (s.WindowEndMs <= s.WindowStartMs) throw new InvalidDataException($"network sums of an empty window [{s.WindowStartMs}, {s.WindowEndMs})");
        for (int g = 0; g < NetworkIndex.Grades; g++)
        {
            var sums = new GradeSums(i.ReadInt64(), i.ReadInt64(), i.ReadInt64(), i.ReadInt32());
            if (sums.VehicleMm < 0 || sums.LengthMm < 0 || sums.SevereLengthMm < 0 || sums.SevereLengthMm > sums.LengthMm || sums.Segments < 0)
                throw new InvalidDataException("network sums out of range");
            s.Grades[g] = sums;
        }
        return s;
    }
}
