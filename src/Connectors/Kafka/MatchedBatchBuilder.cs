using Apache.Arrow;
using Apache.Arrow.Ipc;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// Matched probes of one input partition as Arrow IPC stream messages for the matched-probe topic: the schema
/// of docs/outputs.md, with dictionaries that hold only the vehicles and roads of the batch (a message stays
/// small whatever the fleet and the network). Each message is a whole IPC stream (schema, dictionaries, one
/// record batch), readable on its own by any Arrow implementation.
/// </summary>
public sealed class MatchedBatchBuilder(RoadNetwork network, VehicleIds ids)
{
    private readonly MatchedProbeColumns _columns = new(network);
    private readonly Dictionary<int, int> _vehicles = [];    // dense vehicle id → index in this batch's dictionary
    private readonly List<string> _vehicleNames = [];
    private LocalRoads _roads = new([], []);

    public int Rows => _columns.Rows;

    public void Append(int vehicle, in MatchedProbe m)
    {
        // A number released and given to another vehicle while this batch fills (its rows before keep their name) is a new entry.
        string name = ids.Name(vehicle);
        if (!_vehicles.TryGetValue(vehicle, out int index) || !ReferenceEquals(_vehicleNames[index], name))
        {
            index = _vehicleNames.Count;
            _vehicles[vehicle] = index;
            _vehicleNames.Add(name);
        }
        _columns.Append(index, in m, ref _roads);
    }

    /// <summary>The rows so far as the bytes of one Arrow IPC stream; the builder is then empty.</summary>
    public byte[] TakeIpcStream()
    {
        // An empty dictionary has no value buffer, which Arrow's stream writer cannot write: a batch without
        // named roads carries one unused empty name.
        var roadNames = new string[Math.Max(1, _roads.Names.Count)];
        roadNames[0] = "";
        for (int i = 0; i < _roads.Names.Count; i++) roadNames[i] = network.Names[_roads.Names[i]];
        var batch = _columns.Build(MatchedProbeColumns.Strings(_vehicleNames), MatchedProbeColumns.Strings(roadNames));
        _vehicles.Clear();
        _vehicleNames.Clear();
        _roads = new LocalRoads([], []);
        using var stream = new MemoryStream();
        // The batch stays alive, and its native memory owned, until it is written; then the memory goes back at once.
        using (batch)
        using (var writer = new ArrowStreamWriter(stream, MatchedProbeColumns.Schema))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return stream.ToArray();
    }

    /// <summary>A matched-probe message (an Arrow IPC stream) rewritten in the Arrow file format; returns its rows.</summary>
    public static int WriteAsFile(byte[] ipcStream, Stream file)
    {
        using var reader = new ArrowStreamReader(new MemoryStream(ipcStream));
        int rows = 0;
        ArrowFileWriter? writer = null;
        try
        {
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                // The schema as read, with the dictionary ids that the batch's dictionaries were registered under.
                writer ??= new ArrowFileWriter(file, batch.Schema, leaveOpen: true);
                writer.WriteRecordBatch(batch);
                rows += batch.Length;
            }
            writer?.WriteEnd();
        }
        finally
        {
            writer?.Dispose();
        }
        return rows;
    }
    /// <summary>The network's name indexes seen in this batch, numbered in order of appearance.</summary>
    private readonly struct LocalRoads(Dictionary<int, int> index, List<int> names) : IIndexMap
    {
        public List<int> Names => names;

        public int Map(int nameIndex)
        {
            if (index.TryGetValue(nameIndex, out int local)) return local;
            local = index.Count;
            index.Add(nameIndex, local);
            names.Add(nameIndex);
            return local;
        }
    }
}
