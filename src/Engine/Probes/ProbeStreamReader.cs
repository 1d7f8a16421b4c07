using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Traffic.Engine.Probes;

/// <summary>The probe formats a stream can hold.</summary>
public enum ProbeFormat : byte
{
    /// <summary>One JSON object per line (INTERFACES.md).</summary>
    NdJson = 0,
    /// <summary>Fixed 128-byte records (<see cref="ProbeBinaryRecord"/>).</summary>
    Binary = 1,

    /// <summary>CSV with a header (<see cref="ProbeCsvReader"/>; not read by <see cref="ProbeStreamReader"/>).</summary>
    Csv = 2,
}

/// <summary>Where a record came from: its 1-based line (text) or record number (binary) and its byte offset.</summary>
public readonly record struct RecordSource(long Record, long Offset);

/// <summary>Receives decoded probes and rejected records, in input order.</summary>
public interface IProbeHandler
{
    void OnProbe(in Probe probe, in RecordSource source);

    /// <summary>A record that could not be accepted; <paramref name="raw"/> is its original bytes, valid during the call.</summary>
    void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw);
}

/// <summary>What a stream held: its records (blank lines are none), those accepted and rejected, and its length.</summary>
public readonly record struct ReadSummary(long Records, long Accepted, long Rejected, long Bytes);

/// <summary>
/// Reads probes from a <see cref="PipeReader"/>: records are decoded where they lie in the pipe's buffers
/// (a fast path for a record inside one segment, a copy into a pooled buffer only for a record split
/// across segments), so a stream of any length is read with a bounded buffer and no allocation per probe.
/// </summary>
public sealed class ProbeStreamReader
{
    /// <summary>A text record longer than this is rejected as malformed and skipped to its end.</summary>
    public const int MaxRecordBytes = 64 * 1024;

    private readonly ProbeFormat _format;
    private readonly ProbeJsonDecoder _json;
    private long _newestMs = long.MinValue;
    private long _records;   // lines so far, blank ones included: a record's line number
    private long _blank;
    private long _accepted;
    private long _rejected;
    private long _offset;
    private bool _skippingLongLine;

    public ProbeStreamReader(ProbeFormat format, VehicleIds ids)
    {
        if (format == ProbeFormat.Csv) throw new ArgumentException("CSV is read by ProbeCsvReader", nameof(format));
        _format = format;
        _json = new ProbeJsonDecoder(ids);
        Ids = ids;
    }

    public VehicleIds Ids { get; }

    public async ValueTask<ReadSummary> ReadAsync<THandler>(PipeReader reader, THandler handler, CancellationToken cancel = default)
        where THandler : IProbeHandler
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancel).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition consumed = Process(buffer, result.IsCompleted, handler);
            reader.AdvanceTo(consumed, buffer.End);
            if (result.IsCompleted) break;
        }
        await reader.CompleteAsync().ConfigureAwait(false);
        return new ReadSummary(_records - _blank, _accepted, _rejected, _offset);
    }

    /// <summary>Reads a whole stream (a file) through a pipe.</summary>
    public ValueTask<ReadSummary> ReadAsync<THandler>(Stream stream, THandler handler, CancellationToken cancel = default)
        where THandler : IProbeHandler =>
        ReadAsync(PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 1 << 16, leaveOpen: true)), handler, cancel);

    private SequencePosition Process<THandler>(ReadOnlySequence<byte> buffer, bool final, THandler handler) where THandler : IProbeHandler
    {
        return _format == ProbeFormat.Binary ? ProcessBinary(buffer, final, handler) : ProcessLines(buffer, final, handler);
    }

    private SequencePosition ProcessLines<THandler>(ReadOnlySequence<byte> buffer, bool final, THandler handler) where THandler : IProbeHandler
    {
        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            if (!_skippingLongLine)
            {
                // The lines that end in the current segment, read straight from its span: the sequence reader's
                // per-line slicing and positions cost more than the search for the newline. What is left (a line
                // that runs on into the next segment, or has no end yet) is the slower loop's below.
                ReadOnlySpan<byte> unread = reader.UnreadSpan;
                int at = 0;
                int length;
                while ((length = unread[at..].IndexOf((byte)'\n')) >= 0)
                {
                    Record(handler, unread.Slice(at, length));
                    _offset += length + 1;
                    at += length + 1;
                }
                reader.Advance(at);
                if (reader.End) return reader.Position;
            }
            SequencePosition start = reader.Position;
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                long rest = reader.Remaining;
                if (rest > MaxRecordBytes && !_skippingLongLine)
                {
                    // A line that never ends within the limit: reject it once, then skip to its newline.
                    _records++;
                    _rejected++;
                    Reject(handler, new DecodeError(ProbeField.Record, DecodeReason.TooLong), buffer.Slice(start, MaxRecordBytes));
                    _skippingLongLine = true;
                }
                if (_skippingLongLine)
                {
                    _offset += rest;
                    return buffer.End;
                }
                if (!final || rest == 0) return start;
                line = buffer.Slice(start);
                reader.Advance(rest);
            }
            long lineLength = line.Length;
            if (_skippingLongLine)
            {
                _skippingLongLine = false;
                _offset += lineLength + 1;
                continue;
            }
            Line(handler, line);
            _offset += lineLength + 1;
            if (reader.End) return reader.Position;
        }
    }

    private void Line<THandler>(THandler handler, in ReadOnlySequence<byte> line) where THandler : IProbeHandler
    {
        if (line.IsSingleSegment) Record(handler, line.FirstSpan);
        else RecordSplit(handler, line);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordSplit<THandler>(THandler handler, in ReadOnlySequence<byte> line) where THandler : IProbeHandler
    {
        int length = (int)Math.Min(line.Length, MaxRecordBytes + 1);
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            line.Slice(0, length).CopyTo(rented);
            Record(handler, rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void Record<THandler>(THandler handler, ReadOnlySpan<byte> line) where THandler : IProbeHandler
    {
        if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
        if (_offset == 0 && line.StartsWith("\uFEFF"u8)) line = line[3..]; // a UTF-8 byte order mark, as Windows tools write
        // Blank: spaces and tabs only. A record's first byte is '{', and the trim (a set search per byte) is left out.
        if (line.IsEmpty || (line[0] is (byte)' ' or (byte)'\t' && line.Trim(" \t"u8).IsEmpty))
        {
            _records++; // a blank line is counted as a line but is no record
            _blank++;
            return;
        }
        _records++;
        var source = new RecordSource(_records, _offset);
        if (line.Length > MaxRecordBytes)
        {
            _rejected++;
            handler.OnRejected(new DecodeError(ProbeField.Record, DecodeReason.TooLong), source, line[..MaxRecordBytes]);
            return;
        }
        if (_json.TryDecode(line, out Probe probe, out DecodeError error))
        {
            _accepted++;
            handler.OnProbe(in probe, in source);
        }
        else
        {
            _rejected++;
            handler.OnRejected(in error, in source, line);
        }
    }

    private SequencePosition ProcessBinary<THandler>(ReadOnlySequence<byte> buffer, bool final, THandler handler) where THandler : IProbeHandler
    {
        Span<byte> record = stackalloc byte[ProbeBinaryRecord.Size];
        while (buffer.Length >= ProbeBinaryRecord.Size)
        {
            ReadOnlySequence<byte> slice = buffer.Slice(0, ProbeBinaryRecord.Size);
            scoped ReadOnlySpan<byte> span;
            if (slice.IsSingleSegment) span = slice.FirstSpan;
            else
            {
                slice.CopyTo(record);
                span = record;
            }
            _records++;
            var source = new RecordSource(_records, _offset);
            if (ProbeBinaryRecord.TryDecode(span, Ids, ref _newestMs, out Probe probe, out DecodeError error))
            {
                _accepted++;
                handler.OnProbe(in probe, in source);
            }
            else
            {
                _rejected++;
                handler.OnRejected(in error, in source, span);
            }
            _offset += ProbeBinaryRecord.Size;
            buffer = buffer.Slice(ProbeBinaryRecord.Size);
        }
        if (final && buffer.Length > 0)
        {
            // A truncated last record.
            _records++;
            _rejected++;
            Reject(handler, new DecodeError(ProbeField.Record, DecodeReason.Malformed), buffer);
            _offset += buffer.Length;
            return buffer.End;
        }
        return buffer.Start;
    }

    private void Reject<THandler>(THandler handler, DecodeError error, ReadOnlySequence<byte> raw) where THandler : IProbeHandler
    {
        byte[] copy = raw.ToArray(); // rejected records are rare: a copy is fine here
        handler.OnRejected(in error, new RecordSource(_records, _offset), copy);
    }
}
