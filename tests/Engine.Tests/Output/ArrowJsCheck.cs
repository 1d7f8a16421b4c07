using System.Diagnostics;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Output;

/// <summary>
/// Runs <c>tests/arrow-js/check-arrow.mjs</c>: the JavaScript apache-arrow reader over Arrow files, an
/// implementation other than the C# one that wrote them. Needs <c>node</c> on PATH and the package installed
/// (<c>npm ci --prefix tests/arrow-js</c>, which .ci/run does).
/// </summary>
internal static class ArrowJsCheck
{
    private static readonly Lazy<string?> s_node = new(() => FindOnPath(OperatingSystem.IsWindows() ? "node.exe" : "node"));

    public static string Folder => Path.Combine(SharedData.RepoRoot(), "tests", "arrow-js");

    /// <summary>Why the check cannot run here, or null when it can.</summary>
    public static string? MissingReason()
    {
        if (s_node.Value is null) return "node is not on PATH: the JavaScript apache-arrow check needs Node.js (v18 or later)";
        if (!File.Exists(Path.Combine(Folder, "node_modules", "apache-arrow", "package.json")))
            return "tests/arrow-js/node_modules is missing: run `npm ci --prefix tests/arrow-js` first";
        return null;
    }

    /// <summary>Runs the script over folders or files; its JSON report on stdout, its complaints on stderr.</summary>
    public static (int Exit, string Out, string Err) Run(params string[] targets)
    {
        var psi = new ProcessStartInfo(s_node.Value ?? throw new InvalidOperationException(MissingReason()))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Folder,
        };
        psi.ArgumentList.Add(Path.Combine(Folder, "check-arrow.mjs"));
        foreach (string t in targets) psi.ArgumentList.Add(t);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("check-arrow.mjs did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that is reported as skipped, with the reason, where the JavaScript check cannot run (xunit 2 has no skip from inside a test).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ArrowJsFactAttribute : FactAttribute
{
    public ArrowJsFactAttribute()
    {
        if (ArrowJsCheck.MissingReason() is string reason) Skip = reason;
    }
}
