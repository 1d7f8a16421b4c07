namespace Traffic.Testing;

/// <summary>
/// Scratch folders for tests, all under one folder of this test process (<c>$TMPDIR/traffic-tests-&lt;pid&gt;</c>) that
/// goes when the process ends. Simulated fleets and replays write hundreds of megabytes a run: left behind, a few
/// runs fill a developer's disk. A test that needs its files only while it runs may still delete its own.
/// </summary>
internal static class TestDirectory
{
    private static readonly Lazy<string> s_root = new(CreateRoot);

    /// <summary>A new, empty folder named <paramref name="prefix"/> and a unique suffix.</summary>
    public static string New(string prefix)
    {
        string dir = Path.Combine(s_root.Value, prefix + "-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A path for a new file named <paramref name="prefix"/>, a unique suffix and <paramref name="extension"/>; not created.</summary>
    public static string NewFile(string prefix, string extension) =>
        Path.Combine(s_root.Value, prefix + "-" + Guid.NewGuid().ToString("N")[..12] + extension);

    private static string CreateRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "traffic-tests-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A file still held open by a child process: the folder is left, and named in the process's temp path.
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return root;
    }
}
