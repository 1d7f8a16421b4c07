using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// Where Traffic's Kafka clients connect and with what settings: the bootstrap servers plus any
/// librdkafka properties passed through unchanged (security.protocol, sasl.*, ssl.* for real clusters).
/// Builds the producer, consumer and admin configurations every Traffic client uses.
/// </summary>
public sealed class KafkaConnection
{
    private readonly IReadOnlyDictionary<string, string> _properties;

    /// <param name="bootstrapServers">The brokers, <c>host:port,...</c>.</param>
    /// <param name="properties">librdkafka properties for every client, e.g. <c>security.protocol=SASL_SSL</c>.</param>
    public KafkaConnection(string bootstrapServers, IReadOnlyDictionary<string, string>? properties = null)
    {
        if (string.IsNullOrWhiteSpace(bootstrapServers)) throw new ArgumentException("the Kafka bootstrap servers are empty", nameof(bootstrapServers));
        BootstrapServers = bootstrapServers;
        _properties = properties ?? new Dictionary<string, string>();
    }

    public string BootstrapServers { get; }

    /// <summary>Parses <c>key=value</c> pairs given on the command line (<c>-X sasl.username=...</c>).</summary>
    public static Dictionary<string, string> ParseProperties(IEnumerable<string> pairs)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"-X: expected key=value, got '{pair}'");
            result[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }
        return result;
    }

    /// <summary>
    /// A producer that keeps each partition's records in the order they were produced, also across retries
    /// (idempotence), so that a replayed stretch of output repeats the original byte for byte and in order.
    /// </summary>
    public ProducerConfig Producer(string clientId) => Overlay(new ProducerConfig(Base(clientId))
    {
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        BatchNumMessages = 10_000,
        CompressionType = CompressionType.None,
    });

    /// <summary>
    /// A consumer of a Traffic consumer group. Offsets are not committed automatically: the engine seeks to the
    /// offsets of its checkpoints and commits only what a checkpoint covers. A short session timeout lets the
    /// group move a dead member's partitions within seconds. A fetch waits at most 100 ms for data: partitions that
    /// the engine resumes after back-pressure wait for the fetch in flight, which at librdkafka's 500 ms default
    /// stalled the input half a second per pause.
    /// </summary>
    public ConsumerConfig Consumer(string groupId, string clientId) => Overlay(new ConsumerConfig(Base(clientId))
    {
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 500,
        MaxPollIntervalMs = 60_000,
        EnablePartitionEof = true,
        FetchWaitMaxMs = 100,
        FetchMaxBytes = 4 << 20,
        MaxPartitionFetchBytes = 1 << 20,
    });

    public AdminClientConfig Admin() => Overlay(new AdminClientConfig(Base("traffic-admin")));

    /// <summary>
    /// Makes sure every topic exists: the ones missing are created with the admin API and the partition counts
    /// asked for (real clusters). Topics on the embedded cluster are created by its host (<see cref="EmbeddedKafka"/>),
    /// whose admin API cannot create topics.
    /// </summary>
    public async Task EnsureTopicsAsync(IEnumerable<(string Name, int Partitions)> topics, short replication = 1, TimeSpan? timeout = null)
    {
        using var admin = new AdminClientBuilder(Admin()).Build();
        // Metadata of all topics: asking for named ones would auto-create them on clusters that do so.
        var existing = admin.GetMetadata(timeout ?? TimeSpan.FromSeconds(10)).Topics
            .Where(t => t.Error.Code == ErrorCode.NoError).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
        var missing = topics.Where(t => !existing.Contains(t.Name))
            .Select(t => new Confluent.Kafka.Admin.TopicSpecification { Name = t.Name, NumPartitions = t.Partitions, ReplicationFactor = replication })
            .ToList();
        if (missing.Count == 0) return;
        try
        {
            await admin.CreateTopicsAsync(missing, new Confluent.Kafka.Admin.CreateTopicsOptions { RequestTimeout = timeout ?? TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
        }
        catch (Confluent.Kafka.Admin.CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another engine process created them first.
        }
        catch (KafkaException e)
        {
            // The embedded cluster's admin API cannot create topics: said alone ("Failed while waiting for controller"), the
            // reason did not tell a user that the topics were missing, nor how to get them.
            throw new KafkaException(new Error(e.Error.Code, $"topics {string.Join(", ", missing.Select(t => t.Name))} do not exist and could not be created ({e.Error.Reason}): create them, or on the embedded cluster start 'traffic broker' with the same --topic-prefix"), e);
        }
    }

    /// <summary>The partition count of a topic (0 when it does not exist), from the metadata of all topics.</summary>
    public int PartitionCount(string topic, TimeSpan? timeout = null)
    {
        using var admin = new AdminClientBuilder(Admin()).Build();
        var meta = admin.GetMetadata(timeout ?? TimeSpan.FromSeconds(10)).Topics.FirstOrDefault(t => t.Topic == topic);
        return meta is { Error.Code: ErrorCode.NoError } ? meta.Partitions.Count : 0;
    }

    private Dictionary<string, string> Base(string clientId) => new(StringComparer.Ordinal)
    {
        ["bootstrap.servers"] = BootstrapServers,
        ["client.id"] = clientId,
    };

    // The properties given (-X) win over Traffic's defaults: they pass through unchanged.
    private T Overlay<T>(T config) where T : ClientConfig
    {
        foreach (var (key, value) in _properties) config.Set(key, value);
        return config;
    }
}
