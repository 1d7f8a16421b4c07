using System.Buffers;
using System.IO.Pipelines;

namespace Traffic.Engine.Tests.Probes;

/// <summary>
/// A pipe reader over bytes cut into the given segments, each its own array, one more handed out at each read after the
/// consumer has examined all it was given: a record lies across segments exactly where the test cuts it, which a
/// <see cref="Pipe"/> does not promise (it fills a segment from its pool with one write after another).
/// </summary>
internal sealed class SegmentedPipeReader : PipeReader
{
    private readonly ReadOnlySequence<byte> _all;
    private readonly SequencePosition[] _ends;   // the end of each segment within _all
    private SequencePosition _consumed;
    private int _given;                          // segments handed out so far

    public SegmentedPipeReader(IReadOnlyList<byte[]> segments)
    {
        Segment? first = null, last = null;
        foreach (byte[] bytes in segments)
        {
            var s = new Segment(bytes, last);
            first ??= s;
            last = s;
        }
        _all = first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
        _ends = new SequencePosition[segments.Count];
        long end = 0;
        for (int i = 0; i < segments.Count; i++) _ends[i] = _all.GetPosition(end += segments[i].Length);
        _consumed = _all.Start;
    }

    /// <summary>The bytes cut at the given offsets.</summary>
    public static SegmentedPipeReader Cut(byte[] bytes, params int[] at)
    {
        var segments = new List<byte[]>();
        int from = 0;
        foreach (int to in at.Append(bytes.Length))
        {
            segments.Add(bytes[from..to]);
            from = to;
        }
        return new SegmentedPipeReader(segments);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => new(Next());

    public override bool TryRead(out ReadResult result)
    {
        result = Next();
        return true;
    }

    private ReadResult Next()
    {
        if (_given < _ends.Length) _given++;
        SequencePosition end = _given == 0 ? _all.Start : _ends[_given - 1];
        return new ReadResult(_all.Slice(_consumed, end), isCanceled: false, isCompleted: _given == _ends.Length);
    }

    public override void AdvanceTo(SequencePosition consumed) => _consumed = consumed;

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _consumed = consumed;

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, Segment? previous)
        {
            Memory = bytes;
            if (previous is null) return;
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }
}
