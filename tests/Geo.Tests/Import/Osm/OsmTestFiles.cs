using Traffic.Testing;
namespace Traffic.Geo.Tests.Import.Osm;

/// <summary>Writes small inline OSM files to a temporary folder that is removed on dispose.</summary>
internal sealed class OsmTestFiles : IDisposable
{
    private readonly string _dir = TestDirectory.New("osm");

    public OsmTestFiles() => Directory.CreateDirectory(_dir);

    public string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    public string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>An OSM XML document around <paramref name="body"/>.</summary>
    public static string Osm(string body) => "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n" + body + "\n</osm>\n";

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
