using System.Text.Unicode;
using Traffic.Engine.Output;

namespace Traffic.Engine.Probes;

/// <summary>
/// Writes rejected input records to <c>dead-letter.ndjson</c> (INTERFACES.md): one JSON object per
/// record with the reason, where it came from and the original bytes, as text when they are valid
/// UTF-8, else base64. Also counts rejections by reason code for the run's summary.
/// </summary>
public sealed class DeadLetterWriter : IDisposable
{
    private readonly NdjsonWriter _lines;
    private readonly string _origin;
    private readonly Dictionary<string, long> _byReason = new(StringComparer.Ordinal);

    /// <param name="stream">Where the lines go.</param>
    /// <param name="origin">The input's name, e.g. the file path, written with each record.</param>
    public DeadLetterWriter(Stream stream, string origin)
    {
        _lines = new NdjsonWriter(stream);
        _origin = origin;
    }

    public long Count { get; private set; }

    /// <summary>Rejections by reason code (e.g. <c>lat:out_of_range</c>).</summary>
    public IReadOnlyDictionary<string, long> ByReason => _byReason;

    public void Write(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw, bool binary)
    {
        Count++;
        string code = error.Code;
        _byReason[code] = _byReason.GetValueOrDefault(code) + 1;
        var w = _lines.Begin();
        w.WriteString("reason"u8, error.ToString());
        w.WriteString("code"u8, code);
        w.WriteStartObject("source"u8);
        w.WriteString("file"u8, _origin);
        w.WriteNumber(binary ? "record"u8 : "line"u8, source.Record);
        if (source.Offset >= 0) w.WriteNumber("offset"u8, source.Offset); // CSV rows have a line and no byte offset (was -1)
        w.WriteEndObject();
        if (!binary && Utf8.IsValid(raw)) w.WriteString("original"u8, raw);
        else w.WriteBase64String("original_base64"u8, raw);
        _lines.End();
    }

    public void Dispose() => _lines.Dispose();
}
