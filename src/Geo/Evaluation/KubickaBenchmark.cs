using System.Globalization;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Geo.Evaluation;

/// <summary>One track of the Kubicka benchmark: its graph and GPS track. The ground truth is read only by <see cref="KubickaBenchmark.Score"/>.</summary>
public sealed class KubickaTrack
{
    private KubickaTrack(string id, string folder, RoadNetwork network, GpsPoint[] points)
    {
        Id = id;
        Folder = folder;
        Network = network;
        Points = points;
    }

    public string Id { get; }
    public string Folder { get; }
    public RoadNetwork Network { get; }
    public GpsPoint[] Points { get; }

    /// <summary>The same track (network, ground truth) with other fixes: thinned, cut or noisier, for experiments.</summary>
    public KubickaTrack WithPoints(GpsPoint[] points) => new(Id, Folder, Network, points);

    /// <summary>Loads <c>&lt;folder&gt;/&lt;id&gt;.{nodes,arcs,track}</c>, id being the folder's name.</summary>
    public static KubickaTrack Load(string folder)
    {
        string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        string stem = Path.Combine(folder, id);
        var net = KubickaGraphReader.Read(stem, out _);
        return new KubickaTrack(id, folder, net, ReadTrack(stem + ".track"));
    }

    /// <summary>Reads <c>lon lat t</c> lines (t in seconds) into probes whose ids are their line numbers.</summary>
    public static GpsPoint[] ReadTrack(string path)
    {
        var points = new List<GpsPoint>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            string[] f = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3
                || !double.TryParse(f[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double lon)
                || !double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double lat)
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double t))
                throw new InvalidDataException($"{path}:{line}: expected 'lon lat t', found '{text}'");
            points.Add(new GpsPoint((long)Math.Round(t * 1000), lon, lat) { Id = line - 1 });
        }
        return [.. points];
    }
}

/// <summary>The result of matching one track.</summary>
public sealed record TrackResult(string Id, int Points, int Matched, double TruthLengthM, double ErrorLengthM, double Seconds, IReadOnlyList<long> RouteArcs)
{
    public double Accuracy => TruthLengthM > 0 ? 1 - (ErrorLengthM / TruthLengthM) : 0;
}

/// <summary>Runs the matcher over Kubicka tracks and scores the routes as Newson &amp; Krumm and Kubicka do.</summary>
public static class KubickaBenchmark
{
    /// <summary>The track folders under a directory (a folder holding its own &lt;id&gt;.track counts as one).</summary>
    public static IReadOnlyList<string> TrackFolders(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"benchmark folder not found: {dir}");
        static bool IsTrack(string f) => File.Exists(Path.Combine(f, Path.GetFileName(Path.TrimEndingDirectorySeparator(f)) + ".track"));
        if (IsTrack(dir)) return [dir];
        var folders = Directory.GetDirectories(dir).Where(IsTrack).Order(StringComparer.Ordinal).ToList();
        if (folders.Count == 0) throw new InvalidDataException($"{dir}: no track folders (<id>/<id>.track) found");
        return folders;
    }

    /// <summary>Matches a track online or offline and returns the matched route as arc ids in driving order.</summary>
    public static (IReadOnlyList<long> Arcs, int Matched) MatchRoute(KubickaTrack track, bool online, MatcherOptions? options = null) =>
        MatchRoute(track, new EdgeIndex(track.Network), online, options);

    public static (IReadOnlyList<long> Arcs, int Matched) MatchRoute(KubickaTrack track, EdgeIndex index, bool online, MatcherOptions? options = null)
    {
        var sink = new RouteCollector(track.Network);
        if (online)
        {
            var matcher = new OnlineMatcher(index, options);
            var state = matcher.NewState();
            foreach (ref readonly var p in track.Points.AsSpan()) matcher.Push(state, in p, ref sink);
            matcher.Flush(state, ref sink);
        }
        else
        {
            new OfflineMatcher(index, options).Match(track.Points, ref sink);
        }
        return (sink.Arcs, sink.Matched);
    }

    /// <summary>
    /// Route mismatch after Newson &amp; Krumm: length of matched arcs not on the truth route plus length of
    /// truth arcs missing from the match. Reads the track's ground truth <c>.route</c>.
    /// </summary>
    public static (double TruthLengthM, double ErrorLengthM) Score(KubickaTrack track, IReadOnlyList<long> matchedArcs)
    {
        string routePath = Path.Combine(track.Folder, track.Id + ".route");
        var truth = new HashSet<long>();
        foreach (string line in File.ReadLines(routePath))
        {
            if (long.TryParse(line.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long arc)) truth.Add(arc);
        }
        var arcLength = ArcLengths(track);
        var matched = new HashSet<long>(matchedArcs);
        double truthLength = truth.Sum(a => arcLength.GetValueOrDefault(a));
        double missing = truth.Where(a => !matched.Contains(a)).Sum(a => arcLength.GetValueOrDefault(a));
        double added = matched.Where(a => !truth.Contains(a)).Sum(a => arcLength.GetValueOrDefault(a));
        return (truthLength, missing + added);
    }

    public static TrackResult Run(string folder, bool online, MatcherOptions? options = null)
    {
        var track = KubickaTrack.Load(folder);
        var index = new EdgeIndex(track.Network);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (arcs, matched) = MatchRoute(track, index, online, options);
        double seconds = clock.Elapsed.TotalSeconds;
        var (truth, error) = Score(track, arcs);
        return new TrackResult(track.Id, track.Points.Length, matched, truth, error, seconds, arcs);
    }

    private static Dictionary<long, double> ArcLengths(KubickaTrack track)
    {
        var lengths = new Dictionary<long, double>();
        var net = track.Network;
        for (int e = 0; e < net.EdgeCount; e++) lengths[net.WayId(e)] = net.LengthM(e);
        return lengths;
    }

    /// <summary>Collects the matched route as arc ids, each arc once per consecutive run.</summary>
    private struct RouteCollector(RoadNetwork net) : IMatchSink
    {
        public List<long> Arcs { get; } = [];

        public int Matched { get; private set; }

        public void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            if (match.Edge < 0) return;
            Matched++;
            if (route.IsEmpty) Add(match.Edge);
            foreach (var t in route) Add(t.Edge);
        }

        private readonly void Add(int edge)
        {
            long arc = net.WayId(edge);
            if (Arcs.Count == 0 || Arcs[^1] != arc) Arcs.Add(arc);
        }
    }
}
