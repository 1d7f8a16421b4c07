using System.Globalization;
using Traffic.Geo.Network;

namespace Traffic.Geo.Import;

/// <summary>
/// Reads the graph of the Kubicka map-matching benchmark: <c>&lt;id&gt;.nodes</c> (<c>lon lat</c> per line,
/// node id = 0-based line number) and <c>&lt;id&gt;.arcs</c> (<c>from to</c> per line, a straight directed
/// arc, arc id = 0-based line number). Each arc becomes one edge whose <see cref="RoadNetwork.WayId"/> is
/// the arc id, so matched routes can be written back as arc ids. An arc and its reverse are twins.
/// </summary>
public static class KubickaGraphReader
{
    /// <summary>Reads from either file's path, or the path without extension.</summary>
    public static RoadNetwork Read(string path, out ImportReport report)
    {
        string stem = path.EndsWith(".nodes", StringComparison.Ordinal) || path.EndsWith(".arcs", StringComparison.Ordinal)
            ? path[..path.LastIndexOf('.')]
            : path;
        string nodesPath = stem + ".nodes", arcsPath = stem + ".arcs";
        if (!File.Exists(nodesPath)) throw new FileNotFoundException($"Kubicka nodes file not found: {nodesPath}", nodesPath);
        if (!File.Exists(arcsPath)) throw new FileNotFoundException($"Kubicka arcs file not found: {arcsPath}", arcsPath);

        report = new ImportReport();
        var builder = new NetworkBuilder(NetworkSource.Kubicka);
        int line = 0;
        foreach (string text in File.ReadLines(nodesPath))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{nodesPath}:{line}: empty line (node ids are line numbers, so none may be skipped)");
            var (lon, lat) = ParsePair(text, nodesPath, line);
            if (!(lon is >= -180 and <= 180) || !(lat is >= -90 and <= 90))
                throw new InvalidDataException($"{nodesPath}:{line}: coordinate out of range: {text}");
            builder.AddNode(lon, lat);
        }
        report.NodesRead = line;

        var arcs = new List<(int From, int To)>();
        line = 0;
        foreach (string text in File.ReadLines(arcsPath))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{arcsPath}:{line}: empty line (arc ids are line numbers, so none may be skipped)");
            var (a, b) = ParsePair(text, arcsPath, line);
            if (a != Math.Floor(a) || b != Math.Floor(b) || a < 0 || b < 0 || a >= builder.NodeCount || b >= builder.NodeCount)
                throw new InvalidDataException($"{arcsPath}:{line}: arc refers to a node that does not exist: {text}");
            arcs.Add(((int)a, (int)b));
        }
        report.WaysRead = arcs.Count;

        // Pair each arc with an unpaired reverse arc, if the graph has one.
        var open = new Dictionary<(int, int), Stack<int>>();
        var edgeOfArc = new int[arcs.Count];
        Span<double> lons = stackalloc double[2], lats = stackalloc double[2];
        for (int i = 0; i < arcs.Count; i++)
        {
            var (a, b) = arcs[i];
            lons[0] = builder.NodeLon(a); lats[0] = builder.NodeLat(a);
            lons[1] = builder.NodeLon(b); lats[1] = builder.NodeLat(b);
            int e = builder.AddEdge(a, b, lons, lats, RoadClass.Road, EdgeFlags.None, RoadClasses.DefaultLimitKmh(RoadClass.Road), i, null);
            edgeOfArc[i] = e;
            if (e < 0)
            {
                report.Skip("arc of zero length");
                continue;
            }
            if (open.TryGetValue((b, a), out var waiting) && waiting.Count > 0)
                builder.SetTwins(waiting.Pop(), e);
            else
            {
                if (!open.TryGetValue((a, b), out var mine)) open[(a, b)] = mine = new Stack<int>();
                mine.Push(e);
            }
        }
        // Arcs left unpaired are one-way.
        foreach (var stack in open.Values)
        {
            foreach (int e in stack) builder.MarkOneWay(e);
        }
        report.EdgesBuilt = arcs.Count - report.SkippedTotal;
        return builder.Build();
    }

    private static (double, double) ParsePair(string text, string path, int line)
    {
        var span = text.AsSpan().Trim();
        int sep = span.IndexOfAny(' ', '\t');
        if (sep < 0
            || !double.TryParse(span[..sep], NumberStyles.Float, CultureInfo.InvariantCulture, out double x)
            || !double.TryParse(span[(sep + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double y)
            || !double.IsFinite(x) || !double.IsFinite(y))
            throw new InvalidDataException($"{path}:{line}: expected two numbers, found '{text}'");
        return (x, y);
    }
}
