using BenchmarkDotNet.Running;

namespace Traffic.Bench;

/// <summary>Runs the suites: <c>dotnet run -c Release --project bench/Traffic.Bench -- --filter '*'</c>.</summary>
internal static class Program
{
    private static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
