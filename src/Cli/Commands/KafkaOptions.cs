using System.CommandLine;
using Traffic.Connectors.Kafka;

namespace Traffic.Cli.Commands;

/// <summary>The Kafka options that several commands share: where the brokers are and what to pass through.</summary>
internal sealed class KafkaOptions
{
    public Option<string?> Bootstrap { get; } = new("--bootstrap-servers", "-b")
    {
        Description = "Kafka brokers (host:port,...). Default: the TRAFFIC_BOOTSTRAP_SERVERS environment variable.",
    };

    public Option<string[]> Properties { get; } = new("-X")
    {
        Description = "A librdkafka property for every client, key=value (repeatable): security.protocol, sasl.mechanism, sasl.username, ssl.ca.location, ...",
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    public Option<string> Prefix { get; } = new("--topic-prefix")
    {
        Description = "Prefix of the topic names (traffic.probes, traffic.alerts, ...).",
        DefaultValueFactory = _ => "traffic",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Bootstrap);
        command.Options.Add(Properties);
        command.Options.Add(Prefix);
    }

    /// <summary>The brokers given, or null when none are (the caller then hosts the embedded cluster or refuses).</summary>
    public string? BootstrapOf(ParseResult parse) =>
        parse.GetValue(Bootstrap) is { Length: > 0 } b ? b
        : Environment.GetEnvironmentVariable("TRAFFIC_BOOTSTRAP_SERVERS") is { Length: > 0 } e ? e : null;

    public KafkaConnection Connect(ParseResult parse, string bootstrap) =>
        new(bootstrap, KafkaConnection.ParseProperties(parse.GetValue(Properties) ?? []));
}
