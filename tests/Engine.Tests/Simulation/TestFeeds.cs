using System.IO.Compression;
using System.Text;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Simulation;

/// <summary>
/// GTFS feeds made for a test: written from a few text files, or the shared Monaco feed rewritten. Always a new
/// zip in the temp folder; the shared data is read, never changed.
/// </summary>
internal static class TestFeeds
{
    public static string Monaco => SharedData.Path("gtfs", "monaco-gtfs.zip");

    /// <summary>A zip of the given files (name → text, UTF-8 without a byte order mark).</summary>
    public static string Write(IReadOnlyDictionary<string, string> files)
    {
        string path = NewPath();
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, text) in files) WriteEntry(zip, name, text);
        return path;
    }

    /// <summary>
    /// A copy of <paramref name="source"/> with some files' text replaced by <paramref name="edits"/> (name → new text
    /// from the old), others copied byte for byte, and <paramref name="added"/> files added (or replacing).
    /// </summary>
    public static string Rewrite(string source, IReadOnlyDictionary<string, Func<string, string>> edits, IReadOnlyDictionary<string, string>? added = null)
    {
        string path = NewPath();
        using var from = ZipFile.OpenRead(source);
        using var to = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var entry in from.Entries)
        {
            if (added?.ContainsKey(entry.FullName) == true) continue;
            if (edits.TryGetValue(entry.FullName, out var edit))
            {
                using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
                WriteEntry(to, entry.FullName, edit(reader.ReadToEnd()));
                continue;
            }
            using var input = entry.Open();
            using var output = to.CreateEntry(entry.FullName).Open();
            input.CopyTo(output);
        }
        foreach (var (name, text) in added ?? new Dictionary<string, string>()) WriteEntry(to, name, text);
        return path;
    }

    /// <summary>
    /// A CSV text with one column added: <paramref name="value"/> of each row's fields (split on commas: for files
    /// without quoted fields) gives the cell. Line ends are kept as they are.
    /// </summary>
    public static string AddColumn(string csv, string column, Func<string[], string> value)
    {
        var sb = new StringBuilder(csv.Length + (csv.Length / 8));
        bool header = true;
        foreach (string raw in csv.Split('\n'))
        {
            if (raw.Length == 0) continue;
            bool cr = raw.EndsWith('\r');
            string line = cr ? raw[..^1] : raw;
            sb.Append(line).Append(',').Append(header ? column : value(line.Split(','))).Append(cr ? "\r\n" : "\n");
            header = false;
        }
        return sb.ToString();
    }

    /// <summary>The rows of a CSV text (header first) whose fields pass <paramref name="keep"/>; the header always stays.</summary>
    public static string KeepRows(string csv, Func<string[], bool> keep)
    {
        var sb = new StringBuilder();
        bool header = true;
        foreach (string raw in csv.Split('\n'))
        {
            if (raw.Length == 0) continue;
            if (header || keep(raw.TrimEnd('\r').Split(','))) sb.Append(raw).Append('\n');
            header = false;
        }
        return sb.ToString();
    }

    private static string NewPath()
    {
        string path = TestDirectory.NewFile("feed", ".zip");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    private static void WriteEntry(ZipArchive zip, string name, string text)
    {
        using var w = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
        w.Write(text);
    }
}
