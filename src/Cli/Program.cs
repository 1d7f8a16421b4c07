using System.CommandLine;
using Traffic.Cli.Commands;

namespace Traffic.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        var root = new RootCommand("Traffic: a real-time traffic streaming engine (GPS probes → map matching → congestion and violation alerts).");
        root.Subcommands.Add(NetworkCommands.Create());
        root.Subcommands.Add(EvalCommands.Create());
        root.Subcommands.Add(SimulateCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(EngineCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(GatewayCommand.Create());
        return CommandRunner.Invoke(root, args);
    }
}
