using System.Runtime.CompilerServices;
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
/// Appending allocates nothing: the columns hold a file's rows from the start and are reused from file to file.
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
    private int _rows;                        // rows held
    private bool _disposed;

    // The columns' values, each in a buffer builder of its own kept from file to file: appending a row is a store per
    // column, where the Arrow array builders (a validity bit appended with every value, a string hashed for each
    // dictionary column, a DateTimeOffset for each time) cost a few hundred nanoseconds a row. WriteFile builds the same
    // buffers the array builders made (sizes, padding, a validity bitmap only where a column has nulls: the same bytes).
    private readonly ArrowBuffer.Builder<long> _way = new();
    private readonly ArrowBuffer.Builder<int> _direction = new();   // index into this file's direction dictionary
    private readonly ArrowBuffer.Builder<int> _road = new();        // index into this file's road dictionary; 0 where null
    private readonly ArrowBuffer.Builder<int> _edge = new();
    private readonly ArrowBuffer.Builder<long> _start = new();      // ms since the epoch, as the timestamp column holds them
    private readonly ArrowBuffer.Builder<long> _end = new();
    private readonly ArrowBuffer.Builder<int> _vehicles = new();
    private readonly ArrowBuffer.Builder<double> _speed = new();
    private readonly ArrowBuffer.Builder<double> _freeFlow = new();
    private readonly ArrowBuffer.Builder<double> _travelTime = new();
    private readonly ArrowBuffer.Builder<byte> _level = new();
    private readonly ArrowBuffer.Builder<byte> _roadValidity = new();  // the road column's bitmap, built when it has a null
    private byte[] _roadValid;                // the road column's validity bits (Arrow's order: bit i of byte i / 8)
    private int _roadNulls;

    // The dictionaries of this file, in order of first appearance (as a dictionary column built from the values makes
    // them): codes by name index and by direction, so that a row looks its road up in an array. A network holds each name
    // once (NetworkBuilder), so a name index stands for its text.
    private readonly int[] _roadCode;                 // per name index: its code in this file, -1 when not yet met
    private readonly List<int> _roadCodesUsed = [];   // name indices whose code is set, reset after each file
    private readonly StringArray.Builder _roadNames = new();
    private readonly int[] _directionCode = [-1, -1]; // forward, backward: code in this file, -1 when not yet met
    private readonly StringArray.Builder _directionNames = new();

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
        _roadValid = new byte[(rows + 7) >> 3];
        _roadCode = new int[network.Names.Count];
        System.Array.Fill(_roadCode, -1);
    }

    public int RowsPerFile { get; }

    /// <summary>Rows appended and not yet in a file.</summary>
    public int PendingRows => _rows;

    /// <summary>Files written so far.</summary>
    public IReadOnlyList<string> Files => _written;

    public void Append(in SegmentStat s)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int i = _rows;
        int edge = s.Edge;
        _way.Append(_network.WayId(edge));
        _direction.Append(DirectionCode((_network.Flags(edge) & EdgeFlags.Backward) != 0 ? 1 : 0));
        int name = _network.NameIndex(edge);
        int road = _roadCode[name];
        if (road < 0) road = RoadCode(name);
        if (road >= 0)
        {
            _road.Append(road);
            if (i >> 3 == _roadValid.Length) System.Array.Resize(ref _roadValid, _roadValid.Length * 2);
            _roadValid[i >> 3] |= (byte)(1 << (i & 7));
        }
        else
        {
            // A road without a name is null; a null holds the value's default, as Arrow's builders wrote it.
            _road.Append(0);
            _roadNulls++;
        }
        _edge.Append(edge);
        _start.Append(s.WindowStartMs);
        _end.Append(s.WindowEndMs);
        _vehicles.Append(s.Vehicles);
        _speed.Append(Math.Round(s.SpeedKmh, 2));
        _freeFlow.Append(Math.Round(s.FreeFlowKmh, 2));
        _travelTime.Append(Math.Round(s.TravelTimeS, 2));
        _level.Append(checked((byte)s.Level));
        if (++_rows >= RowsPerFile) Flush();
    }

    private int DirectionCode(int backward)
    {
        int code = _directionCode[backward];
        if (code < 0)
        {
            _directionCode[backward] = code = _directionNames.Length;
            _directionNames.Append(backward != 0 ? "backward" : "forward");
        }
        return code;
    }

    /// <summary>The code in this file of a name met for the first time in it; -1 for the empty name (a null).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int RoadCode(int name)
    {
        string road = _network.Names[name];
        if (road.Length == 0) return -1;
        int code = _roadNames.Length;
        _roadNames.Append(road);
        _roadCode[name] = code;
        _roadCodesUsed.Add(name);
        return code;
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
        int n = _rows;
        IArrowArray[] columns =
        [
            new Int64Array(_way.Build(), ArrowBuffer.Empty, n, 0, 0),
            new DictionaryArray(ArrowOutput.Dictionary, new Int32Array(_direction.Build(), ArrowBuffer.Empty, n, 0, 0), _directionNames.Build()),
            new DictionaryArray(ArrowOutput.Dictionary, new Int32Array(_road.Build(), RoadValidity(), n, _roadNulls, 0), _roadNames.Build()),
            new Int32Array(_edge.Build(), ArrowBuffer.Empty, n, 0, 0),
            new TimestampArray(ArrowOutput.Time, _start.Build(), ArrowBuffer.Empty, n, 0, 0),
            new TimestampArray(ArrowOutput.Time, _end.Build(), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(_vehicles.Build(), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(_speed.Build(), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(_freeFlow.Build(), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(_travelTime.Build(), ArrowBuffer.Empty, n, 0, 0),
            new UInt8Array(_level.Build(), ArrowBuffer.Empty, n, 0, 0),
        ];
        string path = Path.Combine(_directory, $"{_name}-{++_files:D6}.arrow");
        using (var batch = new RecordBatch(Schema, columns, n)) ArrowOutput.WriteFile(path, batch);
        _written.Add(path);
        System.Array.Clear(_roadValid, 0, (n + 7) >> 3);
        _roadNulls = 0;
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
        foreach (int name in _roadCodesUsed) _roadCode[name] = -1;
        _roadCodesUsed.Clear();
        _roadNames.Clear();
        _directionCode[0] = _directionCode[1] = -1;
        _directionNames.Clear();
    }

    // A validity bitmap only where the column has a null, as Arrow's builders do.
    private ArrowBuffer RoadValidity()
    {
        if (_roadNulls == 0) return ArrowBuffer.Empty;
        _roadValidity.Clear();
        _roadValidity.Append(_roadValid.AsSpan(0, (_rows + 7) >> 3));
        return _roadValidity.Build();
    }
}
