using Apache.Arrow;
using Apache.Arrow.Types;
using Traffic.Engine.Segments;
using Traffic.Geo.Network;

namespace Traffic.Engine.Output;

/// <summary>
/// Writes published segment windows as rolling Arrow IPC files (<c>segments-000001.arrow</c>, …), one record
/// batch of up to <see cref="RowsPerFile"/> rows per file, in the schema of docs/outputs.md: the rows and
/// values of <c>segments.ndjson</c> (speeds and times rounded to 0.01 as there), timestamps as
/// timestamp[ms, UTC], direction and road dictionary-encoded. Rows are appended as they come (a replay's
/// sorted list, or a streaming engine's windows as they close); a file is written when
/// <see cref="RowsPerFile"/> rows are held or on <see cref="Flush"/>; <see cref="Dispose"/> writes the rest.
/// Appending allocates nothing: the builders hold a file's rows from the start and are cleared and reused
/// from file to file.
/// </summary>
public sealed class SegmentArrowWriter : IDisposable
{
    /// <summary>The schema of every segment file.</summary>
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(f => f.Name("way_id").DataType(Int64Type.Default).Nullable(false))
        .Field(f => f.Name("direction").DataType(ArrowOutput.Dictionary).Nullable(false))
        .Field(f => f.Name("road").DataType(ArrowOutput.Dictionary).Nullable(true))
        .Field(f => f.Name("edge").DataType(Int32Type.Default).Nullable(false))
        .Field(f => f.Name("window_start").DataType(ArrowOutput.Time).Nullable(false))
        .Field(f => f.Name("window_end").DataType(ArrowOutput.Time).Nullable(false))
        .Field(f => f.Name("vehicles").DataType(Int32Type.Default).Nullable(false))
        .Field(f => f.Name("speed_kmh").DataType(DoubleType.Default).Nullable(false))
        .Field(f => f.Name("free_flow_kmh").DataType(DoubleType.Default).Nullable(false))
        .Field(f => f.Name("travel_time_s").DataType(DoubleType.Default).Nullable(false))
        .Field(f => f.Name("level").DataType(UInt8Type.Default).Nullable(false))
        .Build();

    private readonly string _directory;       // where the files go
    private readonly string _name;            // file name stem: <name>-NNNNNN.arrow
    private readonly RoadNetwork _network;    // way id, direction and road name of an edge
    private readonly List<string> _written = [];
    private int _files;                       // files written, numbering the next
    private int _rows;                        // rows held in the builders
    private bool _disposed;

    // One builder per column, cleared after each file.
    private readonly Int64Array.Builder _way = new();
    private readonly StringDictionaryColumn _direction = new();
    private readonly StringDictionaryColumn _road = new();
    private readonly Int32Array.Builder _edge = new();
    private readonly TimestampArray.Builder _start = new(ArrowOutput.Time);
    private readonly TimestampArray.Builder _end = new(ArrowOutput.Time);
    private readonly Int32Array.Builder _vehicles = new();
    private readonly DoubleArray.Builder _speed = new();
    private readonly DoubleArray.Builder _freeFlow = new();
    private readonly DoubleArray.Builder _travelTime = new();
    private readonly UInt8Array.Builder _level = new();

    /// <param name="directory">Created if missing.</param>
    /// <param name="name">File name stem; writers sharing a folder (one per partition) need distinct stems.</param>
    public SegmentArrowWriter(string directory, RoadNetwork network, int rowsPerFile = 65_536, string name = "segments")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerFile, 1);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Directory.CreateDirectory(directory);
        _directory = directory;
        _network = network;
        _name = name;
        RowsPerFile = rowsPerFile;
        // A file's rows, reserved up front (about 4 MB for 65,536): a long run's appends then never grow a builder.
        int rows = Math.Min(rowsPerFile, 65_536);
        _way.Reserve(rows);
        _direction.Reserve(rows);
        _road.Reserve(rows);
        _edge.Reserve(rows);
        _start.Reserve(rows);
        _end.Reserve(rows);
        _vehicles.Reserve(rows);
        _speed.Reserve(rows);
        _freeFlow.Reserve(rows);
        _travelTime.Reserve(rows);
        _level.Reserve(rows);
    }

    public int RowsPerFile { get; }

    /// <summary>Rows appended and not yet in a file.</summary>
    public int PendingRows => _rows;

    /// <summary>Files written so far.</summary>
    public IReadOnlyList<string> Files => _written;

    public void Append(in SegmentStat s)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _way.Append(_network.WayId(s.Edge));
        _direction.Append(_network.Direction(s.Edge));
        string road = _network.Name(s.Edge);
        _road.Append(road.Length > 0 ? road : null);
        _edge.Append(s.Edge);
        _start.Append(DateTimeOffset.FromUnixTimeMilliseconds(s.WindowStartMs));
        _end.Append(DateTimeOffset.FromUnixTimeMilliseconds(s.WindowEndMs));
        _vehicles.Append(s.Vehicles);
        _speed.Append(Math.Round(s.SpeedKmh, 2));
        _freeFlow.Append(Math.Round(s.FreeFlowKmh, 2));
        _travelTime.Append(Math.Round(s.TravelTimeS, 2));
        _level.Append(checked((byte)s.Level));
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

    private void WriteFile()
    {
        IArrowArray[] columns =
        [
            _way.Build(),
            _direction.Build(),
            _road.Build(),
            _edge.Build(),
            _start.Build(),
            _end.Build(),
            _vehicles.Build(),
            _speed.Build(),
            _freeFlow.Build(),
            _travelTime.Build(),
            _level.Build(),
        ];
        string path = Path.Combine(_directory, $"{_name}-{++_files:D6}.arrow");
        using (var batch = new RecordBatch(Schema, columns, _rows)) ArrowOutput.WriteFile(path, batch);
        _written.Add(path);
        _rows = 0;
        _way.Clear();
        _direction.Clear();
        _road.Clear();
        _edge.Clear();
        _start.Clear();
        _end.Clear();
        _vehicles.Clear();
        _speed.Clear();
        _freeFlow.Clear();
        _travelTime.Clear();
        _level.Clear();
    }
}
