using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;

namespace Traffic.Engine.Probes;

/// <summary>
/// Writes rejected input records to <c>dead-letter.ndjson</c> (INTERFACES.md): one JSON object per
/// record with the reason, where it came from and the original bytes, as text when they are valid
/// UTF-8, else base64. Also counts rejections by reason code for the run's summary.
/// </summary>
public sealed class DeadLetterWriter : IDisposable
{
    private readonly Utf8JsonWriter _writer;
    private readonly Stream _stream;
    private readonly string _origin;
    private readonly Dictionary<string, long> _byReason = new(StringComparer.Ordinal);

    /// <param name="stream">Where the lines go.</param>
    /// <param name="origin">The input's name, e.g. the file path, written with each record.</param>
    public DeadLetterWriter(Stream stream, string origin)
    {
        _stream = stream;
        _origin = origin;
        _writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false });
    }

    public long Count { get; private set; }

    /// <summary>Rejections by reason code (e.g. <c>lat:out_of_range</c>).</summary>
    public IReadOnlyDictionary<string, long> ByReason => _byReason;

    public void Write(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw, bool binary)
    {
        Count++;
        string code = error.Code;
        _byReason[code] = _byReason.GetValueOrDefault(code) + 1;
        _writer.WriteStartObject();
        _writer.WriteString("reason"u8, error.ToString());
        _writer.WriteString("code"u8, code);
        _writer.WriteStartObject("source"u8);
        _writer.WriteString("file"u8, _origin);
        _writer.WriteNumber(binary ? "record"u8 : "line"u8, source.Record);
        _writer.WriteNumber("offset"u8, source.Offset);
        _writer.WriteEndObject();
        if (!binary && Utf8.IsValid(raw)) _writer.WriteString("original"u8, raw);
        else _writer.WriteBase64String("original_base64"u8, raw);
        _writer.WriteEndObject();
        _writer.Flush();
        _stream.WriteByte((byte)'\n');
        _writer.Reset();
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Flush();
    }
}
