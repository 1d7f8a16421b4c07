using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Traffic.Engine.Output;

/// <summary>
/// Writes NDJSON: one JSON object per line on a stream, with UTF-8 text (Chinese names) written as is.
/// <c>var w = Begin(); …; End();</c> per line. Lines are gathered and handed to the stream in blocks of about
/// <see cref="BlockBytes"/> and on <see cref="Dispose"/>: a write per line costs a system call per line on a file
/// (half the time a replay spent writing its segment rows). A writer made <c>lineByLine</c> hands each line to the
/// stream at its <see cref="End"/>, for a caller that takes every line as a message of its own.
/// </summary>
public sealed class NdjsonWriter : IDisposable
{
    /// <summary>Bytes of lines kept before they are written to the stream.</summary>
    public const int BlockBytes = 1 << 16;

    private readonly Stream _stream;
    private readonly bool _lineByLine;
    private readonly ArrayBufferWriter<byte> _pending = new(BlockBytes + 1024);  // lines not yet written to the stream
    private readonly Utf8JsonWriter _writer;

    public NdjsonWriter(Stream stream, bool lineByLine = false)
    {
        _stream = stream;
        _lineByLine = lineByLine;
        _writer = new Utf8JsonWriter(_pending, Options);
    }

    /// <summary>The options of the lines' writer (a formatter that escapes text ahead of time escapes it with these).</summary>
    public static JsonWriterOptions Options { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Lines written.</summary>
    public long Lines { get; private set; }

    /// <summary>Starts a line: the returned writer is inside a fresh object.</summary>
    public Utf8JsonWriter Begin()
    {
        _writer.WriteStartObject();
        return _writer;
    }

    /// <summary>Ends the object and the line.</summary>
    public void End()
    {
        _writer.WriteEndObject();
        _writer.Flush();
        _pending.Write("\n"u8);
        _writer.Reset();
        EndLine();
    }

    /// <summary>
    /// Starts a line that the caller formats itself (<see cref="SegmentRowFormatter"/>): room for a JSON object of up to
    /// <paramref name="maxBytes"/> bytes, to be ended by <see cref="EndRaw"/> with the bytes written.
    /// </summary>
    public Span<byte> BeginRaw(int maxBytes) => _pending.GetSpan(maxBytes);

    /// <summary>Ends a line started by <see cref="BeginRaw"/>: its first <paramref name="bytes"/> bytes are the object.</summary>
    public void EndRaw(int bytes)
    {
        _pending.Advance(bytes);
        _pending.Write("\n"u8);
        EndLine();
    }

    private void EndLine()
    {
        Lines++;
        if (_lineByLine || _pending.WrittenCount >= BlockBytes) WritePending();
    }

    public void Dispose()
    {
        WritePending();
        _writer.Dispose();
        _stream.Flush();
    }

    private void WritePending()
    {
        _stream.Write(_pending.WrittenSpan);
        _pending.ResetWrittenCount();
    }
}
