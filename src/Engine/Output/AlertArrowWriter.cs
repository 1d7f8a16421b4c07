using Apache.Arrow;
using Apache.Arrow.Types;
using Traffic.Engine.Alerts;

namespace Traffic.Engine.Output;

/// <summary>
/// Writes alert events as rolling Arrow IPC files (<c>alerts-000001.arrow</c>, …), one record batch of up to
/// <see cref="RowsPerFile"/> rows per file, in the schema of docs/outputs.md: the rows and values of
/// <c>alerts.ndjson</c> (positions rounded to 7 decimals and evidence to 3, as there), timestamps as
/// timestamp[ms, UTC], repeated strings dictionary-encoded (each file's dictionaries hold the values it
/// uses), and <c>evidence</c> as a map&lt;string, double&gt;. Events are appended as they come; a file is
/// written when <see cref="RowsPerFile"/> rows are held or on <see cref="Flush"/>; <see cref="Dispose"/>
/// writes the rest. Builders are cleared and reused from file to file.
/// </summary>
public sealed class AlertArrowWriter : IDisposable
{
    private static readonly MapType s_evidence = new(StringType.Default, DoubleType.Default, nullable: false);

    /// <summary>The schema of every alert file.</summary>
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(f => f.Name("alert_id").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("kind").DataType(ArrowOutput.Dictionary).Nullable(false))
        .Field(f => f.Name("state").DataType(ArrowOutput.Dictionary).Nullable(false))
        .Field(f => f.Name("time").DataType(ArrowOutput.Time).Nullable(false))
        .Field(f => f.Name("start").DataType(ArrowOutput.Time).Nullable(false))
        .Field(f => f.Name("end").DataType(ArrowOutput.Time).Nullable(true))
        .Field(f => f.Name("vehicle_id").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("class").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("hazmat").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("road").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("way_id").DataType(Int64Type.Default).Nullable(true))
        .Field(f => f.Name("direction").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("zone").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("lon").DataType(DoubleType.Default).Nullable(true))
        .Field(f => f.Name("lat").DataType(DoubleType.Default).Nullable(true))
        .Field(f => f.Name("severity").DataType(UInt8Type.Default).Nullable(true))
        .Field(f => f.Name("evidence").DataType(s_evidence).Nullable(false))
        .Build();

    private readonly string _directory;       // where the files go
    private readonly string _name;            // file name stem: <name>-NNNNNN.arrow
    private readonly List<string> _written = [];
    private int _files;                       // files written, numbering the next
    private int _rows;                        // rows held in the builders
    private bool _disposed;

    // One builder per column, cleared after each file.
    private readonly StringArray.Builder _id = new();
    private readonly StringDictionaryColumn _kind = new();
    private readonly StringDictionaryColumn _state = new();
    private readonly TimestampArray.Builder _time = new(ArrowOutput.Time);
    private readonly TimestampArray.Builder _start = new(ArrowOutput.Time);
    private readonly TimestampArray.Builder _end = new(ArrowOutput.Time);
    private readonly StringDictionaryColumn _vehicle = new();
    private readonly StringDictionaryColumn _class = new();
    private readonly StringDictionaryColumn _hazmat = new();
    private readonly StringDictionaryColumn _road = new();
    private readonly Int64Array.Builder _way = new();
    private readonly StringDictionaryColumn _direction = new();
    private readonly StringDictionaryColumn _zone = new();
    private readonly DoubleArray.Builder _lon = new();
    private readonly DoubleArray.Builder _lat = new();
    private readonly UInt8Array.Builder _severity = new();
    // evidence: entries of row i are _evidenceKeys/_evidenceValues[offsets[i]..offsets[i + 1]); offsets start at 0.
    private readonly ArrowBuffer.Builder<int> _evidenceOffsets = new();
    private readonly StringArray.Builder _evidenceKeys = new();
    private readonly DoubleArray.Builder _evidenceValues = new();

    /// <param name="directory">Created if missing.</param>
    /// <param name="name">File name stem; writers sharing a folder (one per partition) need distinct stems.</param>
    public AlertArrowWriter(string directory, int rowsPerFile = 65_536, string name = "alerts")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerFile, 1);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Directory.CreateDirectory(directory);
        _directory = directory;
        _name = name;
        RowsPerFile = rowsPerFile;
        _evidenceOffsets.Append(0);
    }

    public int RowsPerFile { get; }

    /// <summary>Rows appended and not yet in a file.</summary>
    public int PendingRows => _rows;

    /// <summary>Files written so far.</summary>
    public IReadOnlyList<string> Files => _written;

    public void Append(AlertEvent a)
    {
        ArgumentNullException.ThrowIfNull(a);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _id.Append(a.AlertId);
        _kind.Append(a.Kind);
        _state.Append(AlertWriter.StateName(a.State));
        _time.Append(DateTimeOffset.FromUnixTimeMilliseconds(a.TimeMs));
        _start.Append(DateTimeOffset.FromUnixTimeMilliseconds(a.StartMs));
        if (a.EndMs is long end) _end.Append(DateTimeOffset.FromUnixTimeMilliseconds(end));
        else _end.AppendNull();
        _vehicle.Append(a.VehicleId);
        _class.Append(a.Class);
        _hazmat.Append(a.Hazmat);
        _road.Append(a.Road);
        _way.Append(a.WayId);
        _direction.Append(a.Direction);
        _zone.Append(a.Zone);
        if (a.Lon is double lon) _lon.Append(Math.Round(lon, 7));
        else _lon.AppendNull();
        if (a.Lat is double lat) _lat.Append(Math.Round(lat, 7));
        else _lat.AppendNull();
        if (a.Severity is int severity) _severity.Append(checked((byte)severity));
        else _severity.AppendNull();
        if (a.Evidence is Dictionary<string, double> evidence)
        {
            foreach (var (key, value) in evidence) AppendEvidence(key, value);   // the struct enumerator: no allocation
        }
        else
        {
            foreach (var (key, value) in a.Evidence) AppendEvidence(key, value);
        }
        _evidenceOffsets.Append(_evidenceKeys.Length);
        if (++_rows >= RowsPerFile) Flush();
    }

    /// <summary>Writes the rows held so far as one file (nothing when there are none).</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_rows > 0) WriteFile();
    }

    /// <summary>Writes the rows held; a writer that wrote no file writes one without rows, so that the folder always carries the schema.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_rows > 0 || _files == 0) WriteFile();
    }

    private void AppendEvidence(string key, double value)
    {
        _evidenceKeys.Append(key);
        _evidenceValues.Append(Math.Round(value, 3));
    }

    private void WriteFile()
    {
        int entries = _evidenceKeys.Length;
        var entryStructs = new StructArray(s_evidence.KeyValueType, entries, [_evidenceKeys.Build(), _evidenceValues.Build()], ArrowBuffer.Empty, 0);
        IArrowArray[] columns =
        [
            _id.Build(),
            _kind.Build(),
            _state.Build(),
            _time.Build(),
            _start.Build(),
            _end.Build(),
            _vehicle.Build(),
            _class.Build(),
            _hazmat.Build(),
            _road.Build(),
            _way.Build(),
            _direction.Build(),
            _zone.Build(),
            _lon.Build(),
            _lat.Build(),
            _severity.Build(),
            new MapArray(s_evidence, _rows, _evidenceOffsets.Build(), entryStructs, ArrowBuffer.Empty, 0),
        ];
        string path = Path.Combine(_directory, $"{_name}-{++_files:D6}.arrow");
        using (var batch = new RecordBatch(Schema, columns, _rows)) ArrowOutput.WriteFile(path, batch);
        _written.Add(path);
        _rows = 0;
        _id.Clear();
        _kind.Clear();
        _state.Clear();
        _time.Clear();
        _start.Clear();
        _end.Clear();
        _vehicle.Clear();
        _class.Clear();
        _hazmat.Clear();
        _road.Clear();
        _way.Clear();
        _direction.Clear();
        _zone.Clear();
        _lon.Clear();
        _lat.Clear();
        _severity.Clear();
        _evidenceOffsets.Clear();
        _evidenceOffsets.Append(0);
        _evidenceKeys.Clear();
        _evidenceValues.Clear();
    }
}
