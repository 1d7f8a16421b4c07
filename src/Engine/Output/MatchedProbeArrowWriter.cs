using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Engine.Output;

/// <summary>
/// The columns of matched-probe rows (schema in docs/outputs.md), built row by row and turned into one
/// record batch at a time. The caller chooses the dictionaries: the file writer uses the vehicle ids its rows
/// use and the network's name table, the Kafka feed small per-batch dictionaries.
/// </summary>
public sealed class MatchedProbeColumns
{
    private static readonly DictionaryType s_dictionary = new(Int32Type.Default, StringType.Default, false);
    private static readonly TimestampType s_time = new(TimeUnit.Millisecond, "UTC");
    private static readonly string[] s_directions = ["forward", "backward"];
    private static readonly string[] s_breaks = ["start", "no_candidates", "time_gap", "no_route"];

    /// <summary>The schema of every matched-probe batch.</summary>
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(f => f.Name("vehicle_id").DataType(s_dictionary).Nullable(false))
        .Field(f => f.Name("time").DataType(s_time).Nullable(false))
        .Field(f => f.Name("lon").DataType(DoubleType.Default).Nullable(false))
        .Field(f => f.Name("lat").DataType(DoubleType.Default).Nullable(false))
        .Field(f => f.Name("edge").DataType(Int32Type.Default).Nullable(true))
        .Field(f => f.Name("way_id").DataType(Int64Type.Default).Nullable(true))
        .Field(f => f.Name("direction").DataType(s_dictionary).Nullable(true))
        .Field(f => f.Name("road").DataType(s_dictionary).Nullable(true))
        .Field(f => f.Name("offset_m").DataType(FloatType.Default).Nullable(true))
        .Field(f => f.Name("distance_m").DataType(FloatType.Default).Nullable(true))
        .Field(f => f.Name("speed_kmh").DataType(FloatType.Default).Nullable(true))
        .Field(f => f.Name("confidence").DataType(FloatType.Default).Nullable(false))
        .Field(f => f.Name("chain_break").DataType(s_dictionary).Nullable(true))
        .Field(f => f.Name("outlier").DataType(BooleanType.Default).Nullable(false))
        .Build();

    private readonly RoadNetwork _network;
    // The rows as plain arrays, all of one capacity, grown together and kept from batch to batch: appending a row is a
    // few stores. Build copies them into Arrow buffers through the reused buffer builders below, so the buffers (sizes,
    // padding, validity bitmaps only where a column has nulls) are those the Arrow array builders made before.
    private int[] _vehicle = new int[InitialRows];
    private long[] _time = new long[InitialRows];
    private double[] _lon = new double[InitialRows];
    private double[] _lat = new double[InitialRows];
    private int[] _edge = new int[InitialRows];
    private long[] _way = new long[InitialRows];
    private int[] _direction = new int[InitialRows];
    private int[] _road = new int[InitialRows];
    private float[] _offset = new float[InitialRows];
    private float[] _distance = new float[InitialRows];
    private float[] _speed = new float[InitialRows];
    private float[] _confidence = new float[InitialRows];
    private int[] _break = new int[InitialRows];
    // Bitmaps, one bit a row (Arrow's order: bit i of byte i / 8), cleared as far as used when a batch is built.
    private byte[] _outlier = new byte[InitialRows / 8];
    private byte[] _matchedValid = new byte[InitialRows / 8]; // edge, way, direction, offset, distance
    private byte[] _roadValid = new byte[InitialRows / 8];
    private byte[] _speedValid = new byte[InitialRows / 8];
    private byte[] _breakValid = new byte[InitialRows / 8];
    private int _unmatched, _roadNulls, _speedNulls, _breakNulls;
    // Reused by Build: they keep their capacity, so a batch allocates only the Arrow buffers themselves.
    private readonly ArrowBuffer.Builder<int> _ints = new();
    private readonly ArrowBuffer.Builder<long> _longs = new();
    private readonly ArrowBuffer.Builder<double> _doubles = new();
    private readonly ArrowBuffer.Builder<float> _floats = new();
    private readonly ArrowBuffer.Builder<byte> _bytes = new();

    private const int InitialRows = 1024;

    public MatchedProbeColumns(RoadNetwork network) => _network = network;

    public int Rows { get; private set; }

    /// <param name="vehicleIndex">The vehicle's index in the vehicle dictionary given to <see cref="Build"/>.</param>
    /// <param name="roadIndex">Maps the network's name index of the row's road to its index in the road dictionary.</param>
    public void Append<TRoads>(int vehicleIndex, in MatchedProbe m, ref TRoads roadIndex) where TRoads : IIndexMap
    {
        int i = Rows;
        if (i == _time.Length) Grow();
        int bitByte = i >> 3;
        byte bit = (byte)(1 << (i & 7));
        _vehicle[i] = vehicleIndex;
        _time[i] = m.TimeMs;
        _lon[i] = m.Lon;
        _lat[i] = m.Lat;
        if (m.Edge >= 0)
        {
            _edge[i] = m.Edge;
            _way[i] = _network.WayId(m.Edge);
            _direction[i] = (_network.Flags(m.Edge) & EdgeFlags.Backward) != 0 ? 1 : 0;
            _matchedValid[bitByte] |= bit;
            int name = _network.NameIndex(m.Edge);
            if (name > 0)
            {
                _road[i] = roadIndex.Map(name);
                _roadValid[bitByte] |= bit;
            }
            else
            {
                _road[i] = 0;
                _roadNulls++;
            }
            _offset[i] = (float)m.OffsetM;
            _distance[i] = (float)m.DistanceM;
        }
        else
        {
            // A null holds the value's default, as Arrow's builders wrote it.
            _edge[i] = 0;
            _way[i] = 0;
            _direction[i] = 0;
            _road[i] = 0;
            _offset[i] = 0;
            _distance[i] = 0;
            _unmatched++;
            _roadNulls++;
        }
        if (double.IsNaN(m.SpeedKmh))
        {
            _speed[i] = 0;
            _speedNulls++;
        }
        else
        {
            _speed[i] = (float)m.SpeedKmh;
            _speedValid[bitByte] |= bit;
        }
        _confidence[i] = (float)m.Confidence;
        if (m.Break == ChainBreak.None)
        {
            _break[i] = 0;
            _breakNulls++;
        }
        else
        {
            _break[i] = (int)m.Break - 1;
            _breakValid[bitByte] |= bit;
        }
        if (m.Outlier) _outlier[bitByte] |= bit;
        Rows = i + 1;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow()
    {
        int rows = _time.Length * 2;
        System.Array.Resize(ref _vehicle, rows);
        System.Array.Resize(ref _time, rows);
        System.Array.Resize(ref _lon, rows);
        System.Array.Resize(ref _lat, rows);
        System.Array.Resize(ref _edge, rows);
        System.Array.Resize(ref _way, rows);
        System.Array.Resize(ref _direction, rows);
        System.Array.Resize(ref _road, rows);
        System.Array.Resize(ref _offset, rows);
        System.Array.Resize(ref _distance, rows);
        System.Array.Resize(ref _speed, rows);
        System.Array.Resize(ref _confidence, rows);
        System.Array.Resize(ref _break, rows);
        System.Array.Resize(ref _outlier, rows / 8);
        System.Array.Resize(ref _matchedValid, rows / 8);
        System.Array.Resize(ref _roadValid, rows / 8);
        System.Array.Resize(ref _speedValid, rows / 8);
        System.Array.Resize(ref _breakValid, rows / 8);
    }

    /// <summary>The rows so far as one record batch, with the dictionaries given; the columns are then empty.</summary>
    public RecordBatch Build(StringArray vehicles, StringArray roads)
    {
        int n = Rows;
        // Edge, way, direction, offset and distance are null together (an unmatched probe): one validity buffer for all.
        ArrowBuffer matched = Validity(_matchedValid, _unmatched);
        IArrowArray[] columns =
        [
            new DictionaryArray(s_dictionary, new Int32Array(Ints(_vehicle), ArrowBuffer.Empty, n, 0, 0), vehicles),
            new TimestampArray(s_time, Buffer(_longs, _time), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(Buffer(_doubles, _lon), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(Buffer(_doubles, _lat), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(Ints(_edge), matched, n, _unmatched, 0),
            new Int64Array(Buffer(_longs, _way), matched, n, _unmatched, 0),
            new DictionaryArray(s_dictionary, new Int32Array(Ints(_direction), matched, n, _unmatched, 0), Strings(s_directions)),
            new DictionaryArray(s_dictionary, new Int32Array(Ints(_road), Validity(_roadValid, _roadNulls), n, _roadNulls, 0), roads),
            new FloatArray(Buffer(_floats, _offset), matched, n, _unmatched, 0),
            new FloatArray(Buffer(_floats, _distance), matched, n, _unmatched, 0),
            new FloatArray(Buffer(_floats, _speed), Validity(_speedValid, _speedNulls), n, _speedNulls, 0),
            new FloatArray(Buffer(_floats, _confidence), ArrowBuffer.Empty, n, 0, 0),
            new DictionaryArray(s_dictionary, new Int32Array(Ints(_break), Validity(_breakValid, _breakNulls), n, _breakNulls, 0), Strings(s_breaks)),
            new BooleanArray(Bits(_outlier), ArrowBuffer.Empty, n, 0, 0),
        ];
        var batch = new RecordBatch(Schema, columns, n);
        Reset();
        return batch;
    }

    private ArrowBuffer Ints(int[] values) => Buffer(_ints, values);

    private ArrowBuffer Buffer<T>(ArrowBuffer.Builder<T> builder, T[] values) where T : struct
    {
        builder.Clear();
        builder.Append(values.AsSpan(0, Rows));
        return builder.Build();
    }

    private ArrowBuffer Bits(byte[] bitmap)
    {
        _bytes.Clear();
        _bytes.Append(bitmap.AsSpan(0, (Rows + 7) >> 3));
        return _bytes.Build();
    }

    // A validity bitmap only where the column has a null, as Arrow's builders do.
    private ArrowBuffer Validity(byte[] bitmap, int nulls) => nulls > 0 ? Bits(bitmap) : ArrowBuffer.Empty;

    public static StringArray Strings(IEnumerable<string> values)
    {
        var b = new StringArray.Builder();
        foreach (string v in values) b.Append(v);
        return b.Build();
    }

    private void Reset()
    {
        int used = (Rows + 7) >> 3;
        System.Array.Clear(_outlier, 0, used);
        System.Array.Clear(_matchedValid, 0, used);
        System.Array.Clear(_roadValid, 0, used);
        System.Array.Clear(_speedValid, 0, used);
        System.Array.Clear(_breakValid, 0, used);
        _unmatched = _roadNulls = _speedNulls = _breakNulls = 0;
        Rows = 0;
    }
}

/// <summary>Maps one index space to another (a dictionary index), as a struct so that calls are not virtual.</summary>
public interface IIndexMap
{
    int Map(int index);
}

/// <summary>
/// Writes matched probes as rolling Arrow IPC files (<c>matched-000001.arrow</c>, …), one record batch of up
/// to <see cref="RowsPerFile"/> rows per file, in the schema of docs/outputs.md: timestamps as
/// timestamp[ms, UTC], strings dictionary-encoded (vehicle ids against the ids the file's rows use, roads
/// against the network's name table), OSM way id and direction on every matched row. Appending a row
/// costs a few array stores and no allocation beyond the columns' amortised growth; each file is built and written at once.
/// </summary>
public sealed class MatchedProbeArrowWriter : IDisposable
{
    private readonly string _directory;
    private readonly RoadNetwork _network;
    private readonly VehicleIds _ids;
    private readonly MatchedProbeColumns _columns;
    private readonly List<string> _written = [];
    private readonly StringArray.Builder _vehicleNames = new();  // the dictionaries, rebuilt for each file in reused builders
    private readonly StringArray.Builder _roadNames = new();
    // The vehicle dictionary of the file being filled: the ids its rows use, in the order of their first row. Per dense id,
    // its index there, valid while _fileOf holds that file's number. A process that runs for days interns every vehicle it
    // has seen, and a file carrying them all grew with the run (23,094 ids, 420 KB, in every file of a three-day replay).
    private readonly List<string> _fileVehicles = [];
    private int[] _fileIndex = [];
    private int[] _fileOf = [];
    private int _files;

    public MatchedProbeArrowWriter(string directory, RoadNetwork network, VehicleIds ids, int rowsPerFile = 65_536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerFile, 1);
        Directory.CreateDirectory(directory);
        _directory = directory;
        _network = network;
        _ids = ids;
        _columns = new MatchedProbeColumns(network);
        RowsPerFile = rowsPerFile;
    }

    /// <summary>The schema of every matched-probe file.</summary>
    public static Schema Schema => MatchedProbeColumns.Schema;

    public int RowsPerFile { get; }

    /// <summary>Files written so far.</summary>
    public IReadOnlyList<string> Files => _written;

    public void Append(int vehicle, in MatchedProbe m)
    {
        var same = default(Identity);
        _columns.Append(VehicleIndex(vehicle), in m, ref same);
        if (_columns.Rows >= RowsPerFile) Flush();
    }

    /// <summary>The vehicle's index in the vehicle dictionary of the file being filled, entered there at its first row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int VehicleIndex(int vehicle)
    {
        if ((uint)vehicle < (uint)_fileOf.Length && _fileOf[vehicle] == _files + 1) return _fileIndex[vehicle];
        return EnterVehicle(vehicle);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int EnterVehicle(int vehicle)
    {
        if (vehicle >= _fileOf.Length)
        {
            int size = Math.Max(vehicle + 1, Math.Max(256, _fileOf.Length * 2));
            System.Array.Resize(ref _fileOf, size);
            System.Array.Resize(ref _fileIndex, size);
        }
        _fileOf[vehicle] = _files + 1;
        _fileIndex[vehicle] = _fileVehicles.Count;
        _fileVehicles.Add(_ids.Name(vehicle));
        return _fileVehicles.Count - 1;
    }

    /// <summary>Writes the rows held so far as one file (nothing when there are none).</summary>
    public void Flush()
    {
        if (_columns.Rows > 0) WriteFile();
    }

    /// <summary>Writes the rows held; a writer that wrote no file writes one without rows, so that the folder always carries the schema.</summary>
    public void Dispose()
    {
        if (_columns.Rows == 0 && _files == 0) WriteFile();
        else Flush();
    }

    private void WriteFile()
    {
        _vehicleNames.Clear();
        foreach (string name in _fileVehicles) _vehicleNames.Append(name);
        _fileVehicles.Clear();   // and the next file's number makes every index of this one stale
        _roadNames.Clear();
        foreach (string name in _network.Names) _roadNames.Append(name);
        string path = Path.Combine(_directory, $"matched-{++_files:D6}.arrow");
        using (var batch = _columns.Build(_vehicleNames.Build(), _roadNames.Build())) ArrowOutput.WriteFile(path, batch);
        _written.Add(path);
    }

    private struct Identity : IIndexMap
    {
        public readonly int Map(int index) => index;
    }
}
