using SharpFuzz;

namespace Traffic.Fuzz;

/// <summary>
/// Coverage-guided fuzzing of everything that reads bytes from outside (docs/fuzzing.md): probe records in each format,
/// JT/T 808 frames, the zones and registry files, network files, OSM extracts and checkpoints. Each target feeds one
/// input to the code under test and lets through only the errors that code documents for bad input; any other exception
/// (an index out of range, a null reference, an overflow), a hang or a crash of the process is a finding.
/// <code>
/// Traffic.Fuzz &lt;target&gt;                 under afl-fuzz (SharpFuzz's in-process loop)
/// Traffic.Fuzz &lt;target&gt; &lt;file|dir&gt;...   each input once, without afl-fuzz: a finding's repro, a corpus's check
/// Traffic.Fuzz --seeds &lt;dir&gt;          each target's starting inputs, in &lt;dir&gt;/&lt;target&gt;/
/// Traffic.Fuzz --list                  the targets
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "--list" or "-h" or "--help")
        {
            Console.WriteLine("usage: Traffic.Fuzz <target> [file|dir ...]; targets:");
            foreach (var t in Targets.All) Console.WriteLine($"  {t.Name,-14} {t.Description}");
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "--seeds" && args.Length == 2)
        {
            Seeds.Write(args[1]);
            return 0;
        }
        Target? target = Targets.All.FirstOrDefault(t => t.Name == args[0]);
        if (target == null)
        {
            Console.Error.WriteLine($"Traffic.Fuzz: no target '{args[0]}' (--list names them)");
            return 2;
        }
        if (args.Length == 1)
        {
            // Under afl-fuzz: SharpFuzz reads each input afl-fuzz writes and reports the coverage of the instrumented
            // assemblies; an exception escaping the action is reported as a crash.
            Fuzzer.Run(stream => target.Run(ReadAll(stream)));
            return 0;
        }
        return Replay(target, args.AsSpan(1));
    }

    /// <summary>Runs every input named (files, or every file of a folder) once; prints each finding and counts them.</summary>
    private static int Replay(Target target, ReadOnlySpan<string> paths)
    {
        var files = new List<string>();
        foreach (string path in paths)
        {
            if (Directory.Exists(path)) files.AddRange(Directory.EnumerateFiles(path).Order(StringComparer.Ordinal));
            else files.Add(path);
        }
        int findings = 0;
        foreach (string file in files)
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                findings++;
                Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        Console.WriteLine($"{target.Name}: {files.Count} inputs, {findings} findings");
        if (target.Summary is { } summary) Console.WriteLine($"{target.Name}: {summary()}");
        return findings == 0 ? 0 : 1;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
