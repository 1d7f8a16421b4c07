namespace Traffic.Testing;

/// <summary>
/// Locates the real data in <c>../shared/data</c> beside the repository (or <c>$TRAFFIC_SHARED_DATA</c>).
/// A missing file fails with a clear message; it is never skipped silently.
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    public static string Root => s_root.Value;

    /// <summary>Full path of a file under the data folder, e.g. <c>Path("osm", "monaco.osm.pbf")</c>.</summary>
    public static string Path(params string[] parts)
    {
        string path = System.IO.Path.Combine([Root, .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"shared test data missing: {path} (expected ../shared/data beside the repository)", path);
        return path;
    }

    /// <summary>The stem of a Kubicka track folder, e.g. <c>.../kubicka/00000042/00000042</c>.</summary>
    public static string Kubicka(string id) => Path("mapmatching", "kubicka", id, id + ".nodes")[..^".nodes".Length];

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Traffic.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("cannot find the repository root (Traffic.sln) above " + AppContext.BaseDirectory);
    }

    private static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("TRAFFIC_SHARED_DATA");
        if (!string.IsNullOrEmpty(env)) return env;
        string root = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepoRoot(), "..", "shared", "data"));
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"shared test data not found at {root}");
        return root;
    }
}
