using System.CommandLine;
using Traffic.Connectors.Kafka;

namespace Traffic.Cli.Commands;

/// <summary>
/// <c>traffic broker</c>: hosts the embedded Kafka (librdkafka's mock cluster) for other processes, with
/// Traffic's topics created at the partition counts asked for, and prints its bootstrap address. The
/// cluster lives as long as this process: stop it with Ctrl+C or SIGTERM.
/// </summary>
internal static class BrokerCommand
{
    public static Command Create()
    {
        var brokers = new Option<int>("--brokers") { Description = "Mock brokers.", DefaultValueFactory = _ => 3 };
        var probePartitions = new Option<int>("--probe-partitions") { Description = "Partitions of the probes topic.", DefaultValueFactory = _ => new KafkaTopics().ProbePartitions };
        var exchangePartitions = new Option<int>("--exchange-partitions") { Description = "Partitions of the exchange (repartition) topic.", DefaultValueFactory = _ => new KafkaTopics().ExchangePartitions };
        var prefix = new Option<string>("--topic-prefix") { Description = "Prefix of the topic names.", DefaultValueFactory = _ => "traffic" };
        var file = new Option<string?>("--bootstrap-file") { Description = "Also write the bootstrap address to this file (for scripts)." };
        var command = new Command("broker", "Host the embedded Kafka (librdkafka's mock cluster on loopback) for other processes and print its bootstrap address; runs until stopped.")
        {
            brokers, probePartitions, exchangePartitions, prefix, file,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (parse.GetValue(brokers) < 1) throw new ArgumentException("--brokers must be at least 1");
            if (parse.GetValue(probePartitions) < 1 || parse.GetValue(exchangePartitions) < 1) throw new ArgumentException("partition counts must be at least 1");
            var topics = new KafkaTopics
            {
                Prefix = parse.GetValue(prefix)!,
                ProbePartitions = parse.GetValue(probePartitions),
                ExchangePartitions = parse.GetValue(exchangePartitions),
            };
            using var kafka = EmbeddedKafka.Start(parse.GetValue(brokers));
            foreach (var (name, partitions) in topics.All()) kafka.CreateTopic(name, partitions);
            if (parse.GetValue(file) is { } path) await File.WriteAllTextAsync(path, kafka.BootstrapServers + "\n", cancel).ConfigureAwait(false);
            Console.Out.WriteLine($"bootstrap: {kafka.BootstrapServers}");
            Console.Out.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: the cluster goes with the process.
            }
            return 0;
        });
        return command;
    }
}
