using System.CommandLine;
using BenchmarkDotNet.Running;
using Traffic.Bench.EndToEnd;

namespace Traffic.Bench;

/// <summary>
/// Runs the suites: <c>dotnet run -c Release --project bench/Traffic.Bench -- --filter '*'</c>; or an end-to-end
/// harness: in process from a file, <c>... -- e2e --help</c>; through Kafka, <c>... -- kafka [minutes]</c>.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "e2e" or "kafka")
        {
            var root = new RootCommand("End-to-end harnesses (BenchmarkDotNet suites: any other arguments).") { E2eHarness.Command(), KafkaHarness.Command() };
            return root.Parse(args).Invoke();
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
