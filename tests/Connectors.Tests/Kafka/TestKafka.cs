using System.Text;
using Confluent.Kafka;
using Traffic.Connectors.Kafka;
using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// An embedded cluster started by a test, with a state directory of its own. Only the topics whose partition count
/// matters are created (each creation is a request to the mock cluster's thread, which now and then serves it only
/// after its one-second poll timeout); any other topic is auto-created with 4 partitions when first used.
/// </summary>
public sealed class TestKafka : IDisposable
{
    private static readonly Lazy<RoadNetwork> s_shenzhen = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    private readonly EmbeddedKafka _kafka;
    private IConsumer<byte[], byte[]>? _watermarks;

    /// <param name="create">Topics of <paramref name="topics"/> to create with their partition counts.</param>
    /// <param name="stateDirectory">A state directory to use instead of a new one (deleted with this cluster all the same).</param>
    public TestKafka(KafkaTopics? topics = null, IReadOnlyDictionary<string, string>? properties = null, IEnumerable<string>? create = null, string? stateDirectory = null)
    {
        _kafka = EmbeddedKafka.Start();
        Topics = topics ?? new KafkaTopics();
        var names = (create ?? []).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, partitions) in Topics.All())
        {
            if (names.Remove(name)) _kafka.CreateTopic(name, partitions);
        }
        if (names.Count > 0) throw new ArgumentException($"not a topic of {Topics.Prefix}: {string.Join(", ", names)}", nameof(create));
        Connection = new KafkaConnection(_kafka.BootstrapServers, properties);
        StateDirectory = stateDirectory ?? TestDirectory.New("conn");
    }

    /// <summary>The Shenzhen Nanshan network of ../shared/data, read once per test run.</summary>
    public static RoadNetwork Shenzhen => s_shenzhen.Value;

    public KafkaTopics Topics { get; }

    public KafkaConnection Connection { get; }

    public string BootstrapServers => _kafka.BootstrapServers;

    public string StateDirectory { get; }

    public void CreateTopic(string name, int partitions) => _kafka.CreateTopic(name, partitions);

    /// <summary>The cluster goes away (its brokers stop answering); the connection stays.</summary>
    public void StopCluster() => _kafka.Dispose();

    /// <summary>Low and high watermark of a partition.</summary>
    public (long Low, long High) Watermarks(string topic, int partition)
    {
        _watermarks ??= new ConsumerBuilder<byte[], byte[]>(Connection.Consumer("traffic-test-watermarks", "traffic-test")).Build();
        var w = _watermarks.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(10));
        return (w.Low.Value, w.High.Value);
    }

    public List<TopicRecord> Read(string topic) => TopicReader.ReadAll(Connection, topic, TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _watermarks?.Dispose();
        _kafka.Dispose();
        if (Directory.Exists(StateDirectory)) Directory.Delete(StateDirectory, recursive: true);
    }

    public static string Text(byte[]? bytes) => bytes == null ? "" : Encoding.UTF8.GetString(bytes);
}
