using System.Diagnostics;
using System.Globalization;

namespace Traffic.Testing;

/// <summary>
/// Scratch folders for tests, all under one folder of this test process (<c>$TMPDIR/traffic-tests-&lt;pid&gt;</c>) that
/// goes when the process ends. Simulated fleets and replays write hundreds of megabytes a run: left behind, a few
/// runs fill a developer's disk. A test that needs its files only while it runs may still delete its own.
/// </summary>
internal static class TestDirectory
{
    private const string Prefix = "traffic-tests-";

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
        RemoveOrphans();
        string root = Path.Combine(Path.GetTempPath(), Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A file still held open (a child process, a writer still closing): the next run removes it (RemoveOrphans).
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return root;
    }

    /// <summary>
    /// Removes the folders of test processes that are gone: a test host stopped by its runner does not always get to remove
    /// its own, so each run clears what earlier ones left.
    /// </summary>
    private static void RemoveOrphans()
    {
        foreach (string dir in Directory.EnumerateDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(dir).AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || IsRunning(pid)) continue;
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
