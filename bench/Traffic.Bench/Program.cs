using BenchmarkDotNet.Running;
using Traffic.Bench.EndToEnd;

namespace Traffic.Bench;

/// <summary>
/// Runs the suites: <c>dotnet run -c Release --project bench/Traffic.Bench -- --filter '*'</c>; or the end-to-end
/// harness: <c>dotnet run -c Release --project bench/Traffic.Bench -- e2e --help</c>.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "e2e") return E2eHarness.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
