using System.Globalization;

namespace Traffic.Geo.Network;

/// <summary>The figures <c>traffic network info</c> prints.</summary>
public sealed class NetworkSummary
{
    public required int Nodes { get; init; }
    public required int Edges { get; init; }
    public required int OneWayEdges { get; init; }

    /// <summary>Road length in km, each two-way road counted once.</summary>
    public required double RoadKm { get; init; }

    /// <summary>Sum of all directed edge lengths in km.</summary>
    public required double EdgeKm { get; init; }
    public required (double MinLon, double MinLat, double MaxLon, double MaxLat) Bounds { get; init; }
    public required IReadOnlyList<(RoadClass Class, int Edges, double Km)> ByClass { get; init; }

    /// <summary>Named roads by road length, longest first.</summary>
    public required IReadOnlyList<(string Name, double Km, int Edges)> NamedRoads { get; init; }

    public static NetworkSummary Of(RoadNetwork net)
    {
        var byClass = new (int Edges, double Km)[RoadClasses.Count];
        var byName = new Dictionary<int, (double Km, int Edges)>();
        int oneWay = 0;
        double roadKm = 0, edgeKm = 0;
        for (int e = 0; e < net.EdgeCount; e++)
        {
            double km = net.LengthM(e) / 1000;
            bool counted = net.Twin(e) < 0 || net.Twin(e) > e;
            if (net.IsOneWay(e)) oneWay++;
            edgeKm += km;
            if (counted) roadKm += km;
            ref var c = ref byClass[(int)net.Class(e)];
            c.Edges++;
            if (counted) c.Km += km;
            int name = net.NameIndex(e);
            if (name != 0)
            {
                byName.TryGetValue(name, out var r);
                byName[name] = (r.Km + (counted ? km : 0), r.Edges + 1);
            }
        }
        return new NetworkSummary
        {
            Nodes = net.NodeCount,
            Edges = net.EdgeCount,
            OneWayEdges = oneWay,
            RoadKm = roadKm,
            EdgeKm = edgeKm,
            Bounds = net.Bounds(),
            ByClass = [.. byClass.Select((c, i) => ((RoadClass)i, c.Edges, c.Km)).Where(c => c.Edges > 0)],
            NamedRoads = [.. byName.OrderByDescending(kv => kv.Value.Km).ThenBy(kv => net.Names[kv.Key], StringComparer.Ordinal)
                .Select(kv => (net.Names[kv.Key], kv.Value.Km, kv.Value.Edges))],
        };
    }

    public static void Write(RoadNetwork net, TextWriter o, int topRoads)
    {
        var s = Of(net);
        var ci = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(ci, $"source        {(net.Source == NetworkSource.Kubicka ? "Kubicka benchmark graph" : "OpenStreetMap (© OpenStreetMap contributors, ODbL 1.0)")}"));
        o.WriteLine(string.Create(ci, $"nodes         {s.Nodes:N0}"));
        o.WriteLine(string.Create(ci, $"edges         {s.Edges:N0} directed ({s.OneWayEdges:N0} one-way)"));
        o.WriteLine(string.Create(ci, $"length        {s.RoadKm:N1} km of road, {s.EdgeKm:N1} km of directed edges"));
        var b = s.Bounds;
        o.WriteLine(string.Create(ci, $"bounding box  {b.MinLon:F6},{b.MinLat:F6} .. {b.MaxLon:F6},{b.MaxLat:F6} (lon,lat)"));
        o.WriteLine("edges per road class:");
        foreach (var (cls, edges, km) in s.ByClass)
            o.WriteLine(string.Create(ci, $"  {RoadClasses.Name(cls),-15} {edges,8:N0} edges {km,9:N1} km"));
        if (s.NamedRoads.Count > 0 && topRoads > 0)
        {
            o.WriteLine(string.Create(ci, $"top named roads ({s.NamedRoads.Count:N0} names):"));
            foreach (var (name, km, edges) in s.NamedRoads.Take(topRoads))
                o.WriteLine(string.Create(ci, $"  {km,7:N2} km {edges,5:N0} edges  {name}"));
        }
    }
}
