using BenchmarkDotNet.Running;

namespace Traffic.Bench;

/// <summary>
/// Runs the suites: <c>dotnet run -c Release --project bench/Traffic.Bench -- --filter '*'</c>; or the end-to-end
/// harness through Kafka: <c>... -- kafka [minutes]</c>.
/// </summary>
internal static class Program
{
    private static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "kafka") EndToEnd.KafkaHarness.Run(args[1..]);
        else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
