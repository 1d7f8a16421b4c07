using System.Runtime.CompilerServices;
using Traffic.Geo.Network;

namespace Traffic.Engine.Checkpoints;

/// <summary>
/// A road segment as it is known across builds of a road network: its OSM way and the coordinates of its two ends,
/// rounded to 1e-7 degree (OSM's own precision). Edge ids are dense indexes that a rebuilt network numbers afresh; a
/// segment whose way and ends are the same in an updated extract is the same segment.
/// </summary>
internal readonly record struct EdgeKey(long WayId, int FromLon, int FromLat, int ToLon, int ToLat)
{
    public static EdgeKey Of(RoadNetwork network, int edge)
    {
        int from = network.From(edge), to = network.To(edge);
        return new EdgeKey(network.WayId(edge), Degrees(network.Lon(from)), Degrees(network.Lat(from)), Degrees(network.Lon(to)), Degrees(network.Lat(to)));
    }

    /// <summary>The segment's middle, between its ends (for an alert on a segment the network no longer has).</summary>
    public (double Lon, double Lat) Middle => ((FromLon + (double)ToLon) / 2e7, (FromLat + (double)ToLat) / 2e7);

    public void Write(BinaryWriter o)
    {
        o.Write(WayId);
        o.Write(FromLon);
        o.Write(FromLat);
        o.Write(ToLon);
        o.Write(ToLat);
    }

    public static EdgeKey Read(BinaryReader i) => new(i.ReadInt64(), i.ReadInt32(), i.ReadInt32(), i.ReadInt32(), i.ReadInt32());

    private static int Degrees(double degrees) => (int)Math.Round(degrees * 1e7);
}

/// <summary>
/// What a checkpoint written on another road network carries over to this one: each edge it names (by the key it wrote
/// for it, <see cref="EdgeKey"/>) mapped to this network's edge of the same key, or −1 when this network has none (or
/// more than one). Also collects the alerts a restore closes.
/// </summary>
internal sealed class NetworkChange
{
    private static readonly ConditionalWeakTable<RoadNetwork, Dictionary<EdgeKey, int>> s_index = [];

    private readonly Dictionary<int, (EdgeKey Key, int Edge)> _edges = [];

    /// <param name="timeMs">The time the alerts closed at the restore are given.</param>
    public NetworkChange(long timeMs) => TimeMs = timeMs;

    /// <summary>The time the alerts closed at the restore are given.</summary>
    public long TimeMs { get; }

    /// <summary>The alerts closed at the restore.</summary>
    public List<Alerts.AlertEvent> Closes { get; } = [];

    /// <summary>Edges of the checkpoint found in this network.</summary>
    public int Carried { get; private set; }

    /// <summary>Edges of the checkpoint this network no longer has.</summary>
    public int Dropped { get; private set; }

    /// <summary>Writes the keys of the edges a payload names, ascending: a count, then per edge its id (int32) and key.</summary>
    public static void WriteKeys(BinaryWriter o, RoadNetwork network, SortedSet<int> edges)
    {
        o.Write(edges.Count);
        foreach (int e in edges)
        {
            o.Write(e);
            EdgeKey.Of(network, e).Write(o);
        }
    }

    /// <summary>
    /// Reads what <see cref="WriteKeys"/> wrote: for a checkpoint of this network (<paramref name="change"/> null) only
    /// checked, else each edge mapped to this network's.
    /// </summary>
    public static void ReadKeys(CheckpointReader r, RoadNetwork network, NetworkChange? change)
    {
        int n = r.Count();
        Dictionary<EdgeKey, int>? index = change == null ? null : s_index.GetValue(network, Index);
        for (int k = 0; k < n; k++)
        {
            int edge = r.In.ReadInt32();
            EdgeKey key = EdgeKey.Read(r.In);
            if (change == null) continue;
            int now = index!.GetValueOrDefault(key, -1);
            CheckpointReader.Check(change._edges.TryAdd(edge, (key, now)), "checkpoint malformed: an edge's key twice");
            if (now >= 0) change.Carried++;
            else change.Dropped++;
        }
    }

    /// <summary>This network's edge for an edge of the checkpoint, or −1 when it has none; an edge without a key is malformed.</summary>
    public int Map(int edge)
    {
        CheckpointReader.Check(_edges.TryGetValue(edge, out var e), "checkpoint malformed: an edge without its key");
        return e.Edge;
    }

    /// <summary>The key written for an edge of the checkpoint.</summary>
    public EdgeKey KeyOf(int edge) => _edges[edge].Key;

    /// <summary>Every edge of a network by its key; −1 for a key that two edges share (neither is carried over).</summary>
    private static Dictionary<EdgeKey, int> Index(RoadNetwork network)
    {
        var index = new Dictionary<EdgeKey, int>(network.EdgeCount);
        for (int e = 0; e < network.EdgeCount; e++)
        {
            var key = EdgeKey.Of(network, e);
            if (!index.TryAdd(key, e)) index[key] = -1;
        }
        return index;
    }
}
