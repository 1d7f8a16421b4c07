using System.Text.Encodings.Web;
using System.Text.Json;

namespace Traffic.Engine.Output;

/// <summary>
/// Writes NDJSON: one JSON object per line on a stream, with UTF-8 text (Chinese names) written as is.
/// <c>var w = Begin(); …; End();</c> per line.
/// </summary>
public sealed class NdjsonWriter(Stream stream) : IDisposable
{
    private readonly Utf8JsonWriter _writer = new(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

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
        stream.WriteByte((byte)'\n');
        _writer.Reset();
        Lines++;
    }

    public void Dispose()
    {
        _writer.Dispose();
        stream.Flush();
    }
}
