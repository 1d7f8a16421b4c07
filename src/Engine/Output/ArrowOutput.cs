using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace Traffic.Engine.Output;

/// <summary>The types and file handling that the rolling Arrow writers share (docs/outputs.md).</summary>
internal static class ArrowOutput
{
    /// <summary>Strings: dictionary-encoded, int32 indices, not ordered.</summary>
    public static DictionaryType Dictionary { get; } = new(Int32Type.Default, StringType.Default, false);

    /// <summary>Times: timestamp[ms, UTC].</summary>
    public static TimestampType Time { get; } = new(TimeUnit.Millisecond, "UTC");

    /// <summary>
    /// Writes one record batch as an Arrow IPC file at <paramref name="path"/>. The bytes go to
    /// <c>path.partial</c> first and are renamed when complete, so a reader globbing <c>*.arrow</c> (DuckDB,
    /// pyarrow, a watcher on the folder while the engine runs) never opens a file without its footer.
    /// </summary>
    public static void WriteFile(string path, RecordBatch batch)
    {
        string partial = path + ".partial";
        // Unbuffered: the writer hands over whole buffers and a few small pieces (a few hundred writes a file), and a
        // FileStream's own buffer would be a new 64 KB array for every file of a long run.
        using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        using (var writer = new ArrowFileWriter(stream, batch.Schema))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        File.Move(partial, path, overwrite: true);
    }
}

/// <summary>
/// A dictionary-encoded string column whose dictionary is built from the values of one file, in order of
/// first appearance. Appending a value already seen costs a hash lookup and no allocation; <see cref="Clear"/>
/// keeps the builders' and the lookup's capacity for the next file.
/// </summary>
internal sealed class StringDictionaryColumn
{
    private readonly Dictionary<string, int> _codes = new(StringComparer.Ordinal);
    private readonly StringArray.Builder _values = new();
    private readonly Int32Array.Builder _indices = new();

    /// <summary>Appends a value; null appends a null.</summary>
    public void Append(string? value)
    {
        if (value is null)
        {
            _indices.AppendNull();
            return;
        }
        if (!_codes.TryGetValue(value, out int code))
        {
            code = _codes.Count;
            _codes.Add(value, code);
            _values.Append(value);
        }
        _indices.Append(code);
    }

    /// <summary>Makes room for this many values (the dictionary grows with the distinct ones).</summary>
    public void Reserve(int values) => _indices.Reserve(values);

    /// <summary>The column so far (the builders copy out: call <see cref="Clear"/> before reusing).</summary>
    public DictionaryArray Build() => new(ArrowOutput.Dictionary, _indices.Build(), _values.Build());

    public void Clear()
    {
        _codes.Clear();
        _values.Clear();
        _indices.Clear();
    }
}
