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
        if (args.Length > 0 && args[0] == "e2e") return E2eHarness.Run(args[1..]);
        if (args.Length > 0 && args[0] == "kafka")
        {
            KafkaHarness.Run(args[1..]);
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
