using Apache.Arrow;
using Apache.Arrow.Types;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Engine.Output;

/// <summary>
/// The columns of matched-probe rows (schema in docs/outputs.md), built row by row and turned into one
/// record batch at a time. The caller chooses the dictionaries: the file writer uses the decoders' dense
/// vehicle ids and the network's name table, the Kafka feed small per-batch dictionaries.
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
    // Built into a batch and cleared, never replaced: they keep the capacity they have grown to, so appending a row
    // allocates nothing once the first batch is built (Build copies the values out).
    private readonly Int32Array.Builder _vehicle = new();
    private readonly TimestampArray.Builder _timeB = new(s_time);
    private readonly DoubleArray.Builder _lon = new();
    private readonly DoubleArray.Builder _lat = new();
    private readonly Int32Array.Builder _edge = new();
    private readonly Int64Array.Builder _way = new();
    private readonly Int32Array.Builder _direction = new();
    private readonly Int32Array.Builder _road = new();
    private readonly FloatArray.Builder _offset = new();
    private readonly FloatArray.Builder _distance = new();
    private readonly FloatArray.Builder _speed = new();
    private readonly FloatArray.Builder _confidence = new();
    private readonly Int32Array.Builder _break = new();
    private readonly BooleanArray.Builder _outlier = new();

    public MatchedProbeColumns(RoadNetwork network) => _network = network;

    public int Rows { get; private set; }

    /// <param name="vehicleIndex">The vehicle's index in the vehicle dictionary given to <see cref="Build"/>.</param>
    /// <param name="roadIndex">Maps the network's name index of the row's road to its index in the road dictionary.</param>
    public void Append<TRoads>(int vehicleIndex, in MatchedProbe m, ref TRoads roadIndex) where TRoads : IIndexMap
    {
        _vehicle.Append(vehicleIndex);
        _timeB.Append(DateTimeOffset.FromUnixTimeMilliseconds(m.TimeMs));
        _lon.Append(m.Lon);
        _lat.Append(m.Lat);
        if (m.Edge >= 0)
        {
            _edge.Append(m.Edge);
            _way.Append(_network.WayId(m.Edge));
            _direction.Append((_network.Flags(m.Edge) & EdgeFlags.Backward) != 0 ? 1 : 0);
            int name = _network.NameIndex(m.Edge);
            if (name > 0) _road.Append(roadIndex.Map(name));
            else _road.AppendNull();
            _offset.Append((float)m.OffsetM);
            _distance.Append((float)m.DistanceM);
        }
        else
        {
            _edge.AppendNull();
            _way.AppendNull();
            _direction.AppendNull();
            _road.AppendNull();
            _offset.AppendNull();
            _distance.AppendNull();
        }
        if (double.IsNaN(m.SpeedKmh)) _speed.AppendNull();
        else _speed.Append((float)m.SpeedKmh);
        _confidence.Append((float)m.Confidence);
        if (m.Break == ChainBreak.None) _break.AppendNull();
        else _break.Append((int)m.Break - 1);
        _outlier.Append(m.Outlier);
        Rows++;
    }

    /// <summary>The rows so far as one record batch, with the dictionaries given; the columns are then empty.</summary>
    public RecordBatch Build(StringArray vehicles, StringArray roads)
    {
        IArrowArray[] columns =
        [
            new DictionaryArray(s_dictionary, _vehicle.Build(), vehicles),
            _timeB.Build(),
            _lon.Build(),
            _lat.Build(),
            _edge.Build(),
            _way.Build(),
            new DictionaryArray(s_dictionary, _direction.Build(), Strings(s_directions)),
            new DictionaryArray(s_dictionary, _road.Build(), roads),
            _offset.Build(),
            _distance.Build(),
            _speed.Build(),
            _confidence.Build(),
            new DictionaryArray(s_dictionary, _break.Build(), Strings(s_breaks)),
            _outlier.Build(),
        ];
        var batch = new RecordBatch(Schema, columns, Rows);
        Reset();
        return batch;
    }

    public static StringArray Strings(IEnumerable<string> values)
    {
        var b = new StringArray.Builder();
        foreach (string v in values) b.Append(v);
        return b.Build();
    }

    private void Reset()
    {
        Rows = 0;
        _vehicle.Clear();
        _timeB.Clear();
        _lon.Clear();
        _lat.Clear();
        _edge.Clear();
        _way.Clear();
        _direction.Clear();
        _road.Clear();
        _offset.Clear();
        _distance.Clear();
        _speed.Clear();
        _confidence.Clear();
        _break.Clear();
        _outlier.Clear();
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
/// timestamp[ms, UTC], strings dictionary-encoded (vehicle ids against the decoders' dense ids, roads
/// against the network's name table), OSM way id and direction on every matched row. Appending a row
/// costs no allocation beyond the builders' amortised growth; each file is built and written at once.
/// </summary>
public sealed class MatchedProbeArrowWriter : IDisposable
{
    private readonly string _directory;
    private readonly RoadNetwork _network;
    private readonly VehicleIds _ids;
    private readonly MatchedProbeColumns _columns;
    private readonly List<string> _written = [];
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
        _columns.Append(vehicle, in m, ref same);
        if (_columns.Rows >= RowsPerFile) Flush();
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
        var vehicleNames = new StringArray.Builder();
        for (int i = 0; i < _ids.Count; i++) vehicleNames.Append(_ids.Name(i));
        string path = Path.Combine(_directory, $"matched-{++_files:D6}.arrow");
        using (var batch = _columns.Build(vehicleNames.Build(), MatchedProbeColumns.Strings(_network.Names))) ArrowOutput.WriteFile(path, batch);
        _written.Add(path);
    }

    private struct Identity : IIndexMap
    {
        public readonly int Map(int index) => index;
    }
}
