using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using Traffic.Geo.Network;

namespace Traffic.Engine.Checkpoints;

/// <summary>
/// A 64-bit fingerprint of a road network's edges (ends, OSM way, length): state that names edges by their dense
/// index is only restored into a process running the same network. Computed once per network object.
/// </summary>
internal static class NetworkFingerprint
{
    private static readonly ConditionalWeakTable<RoadNetwork, StrongBox<ulong>> s_cache = [];

    public static ulong Of(RoadNetwork network) => s_cache.GetValue(network, n => new StrongBox<ulong>(Compute(n))).Value;

    /// <summary>Of a zone set: its zones' ids and kinds in order (0 for none), so that state kept per zone is not read against other zones.</summary>
    public static ulong Of(Zones.ZoneSet? zones)
    {
        if (zones == null || zones.Zones.Count == 0) return 0;
        var hash = new XxHash64();
        foreach (var z in zones.Zones)
        {
            hash.Append(System.Text.Encoding.UTF8.GetBytes(z.Id));
            hash.Append([(byte)z.Kind, 0]);
        }
        return hash.GetCurrentHashAsUInt64();
    }

    private static ulong Compute(RoadNetwork network)
    {
        var hash = new XxHash64();
        Span<byte> record = stackalloc byte[24];
        BinaryPrimitives.WriteInt32LittleEndian(record, network.NodeCount);
        BinaryPrimitives.WriteInt32LittleEndian(record[4..], network.EdgeCount);
        hash.Append(record[..8]);
        for (int e = 0; e < network.EdgeCount; e++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(record, network.From(e));
            BinaryPrimitives.WriteInt32LittleEndian(record[4..], network.To(e));
            BinaryPrimitives.WriteInt64LittleEndian(record[8..], network.WayId(e));
            BinaryPrimitives.WriteDoubleLittleEndian(record[16..], network.LengthM(e));
            hash.Append(record);
        }
        return hash.GetCurrentHashAsUInt64();
    }
}
