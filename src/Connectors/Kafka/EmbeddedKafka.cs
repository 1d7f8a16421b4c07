using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Traffic.Connectors.Kafka;

/// <summary>
/// The embedded default: librdkafka's built-in mock cluster (the Kafka protocol implemented inside
/// librdkafka, listening on loopback), hosted by this process so that the demo and the tests need no
/// server. Other processes reach it at <see cref="BootstrapServers"/> while this object lives.
/// </summary>
/// <remarks>
/// The mock is created through librdkafka's own C API (<c>rd_kafka_mock_cluster_new</c>) on a bare
/// client handle, in the very library that Confluent.Kafka loaded, so that topics can be created with
/// the partition count we choose (the mock's admin API cannot create topics; auto-created ones always
/// get 4 partitions). What the mock does not do: transactional isolation, and retention beyond about
/// 5 MiB per partition (older records vanish; <see cref="KafkaProbeSource"/> reports such a jump).
/// </remarks>
public sealed partial class EmbeddedKafka : IDisposable
{
    private nint _client;       // rd_kafka_t* that owns the mock cluster
    private nint _cluster;      // rd_kafka_mock_cluster_t*

    private EmbeddedKafka(nint client, nint cluster, string bootstrap)
    {
        _client = client;
        _cluster = cluster;
        BootstrapServers = bootstrap;
    }

    /// <summary>The mock brokers' addresses (<c>127.0.0.1:port,...</c>); the ports are new at every start.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a mock cluster of <paramref name="brokers"/> brokers on loopback.</summary>
    public static EmbeddedKafka Start(int brokers = 3, int initialRebalanceDelayMs = 200)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        Native.EnsureLoaded();
        nint conf = Native.ConfNew();
        var error = new byte[512];
        // The hosting client has no brokers of its own to talk to: keep it from warning about that.
        Native.ConfSet(conf, "log_level", "3", error, (nuint)error.Length);
        // rd_kafka_new takes ownership of conf, also on failure.
        nint client = Native.New(0 /* RD_KAFKA_PRODUCER */, conf, error, (nuint)error.Length);
        if (client == 0)
            throw new InvalidOperationException($"embedded Kafka: librdkafka refused to start a client: {CString(error)}");
        nint cluster = Native.MockClusterNew(client, brokers);
        if (cluster == 0)
        {
            Native.Destroy(client);
            throw new InvalidOperationException("embedded Kafka: librdkafka could not start its mock cluster");
        }
        Native.MockGroupInitialRebalanceDelayMs(cluster, initialRebalanceDelayMs);
        string bootstrap = Marshal.PtrToStringUTF8(Native.MockClusterBootstraps(cluster)) ?? "";
        return new EmbeddedKafka(client, cluster, bootstrap);
    }

    /// <summary>
    /// Creates a topic with the given partition count. A topic that a client asked for before this call
    /// was auto-created with 4 partitions and is left as it is (the call then fails with TopicAlreadyExists,
    /// which is returned, not thrown).
    /// </summary>
    public ErrorCode CreateTopic(string name, int partitions, int replication = 1)
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var code = (ErrorCode)Native.MockTopicCreate(_cluster, name, partitions, replication);
        if (code is not (ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
            throw new KafkaException(code);
        return code;
    }

    public void Dispose()
    {
        if (_cluster != 0)
        {
            Native.MockClusterDestroy(_cluster);
            _cluster = 0;
        }
        if (_client != 0)
        {
            Native.Destroy(_client);
            _client = 0;
        }
    }

    private static string CString(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)0);
        return System.Text.Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }

    /// <summary>
    /// The mock-cluster part of librdkafka's C API, bound to the library that Confluent.Kafka loaded
    /// (it chooses among its bundled builds at run time; two copies in one process would not share a cluster).
    /// </summary>
    private static partial class Native
    {
        private const string Lib = "traffic-librdkafka";
        private static readonly Lock s_gate = new();
        private static nint s_handle;

        public static void EnsureLoaded()
        {
            lock (s_gate)
            {
                if (s_handle != 0) return;
                // Makes Confluent.Kafka load its native library now.
                _ = Library.Version;
                string path = LoadedLibrdkafkaPath()
                    ?? throw new InvalidOperationException("embedded Kafka: librdkafka is not loaded in this process");
                s_handle = NativeLibrary.Load(path);
                NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, (name, _, _) => name == Lib ? s_handle : 0);
            }
        }

        // The path of the librdkafka build mapped into this process, from the kernel's list of mappings.
        private static string? LoadedLibrdkafkaPath()
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.AsSpan(slash).Contains("librdkafka", StringComparison.Ordinal)) return line[slash..].Trim();
            }
            return null;
        }

        [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_new")]
        public static partial nint ConfNew();

        [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int ConfSet(nint conf, string name, string value, [Out] byte[] errstr, nuint errstrSize);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_new")]
        public static partial nint New(int type, nint conf, [Out] byte[] errstr, nuint errstrSize);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_destroy")]
        public static partial void Destroy(nint rk);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_new")]
        public static partial nint MockClusterNew(nint rk, int brokerCount);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_destroy")]
        public static partial void MockClusterDestroy(nint cluster);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
        public static partial nint MockClusterBootstraps(nint cluster);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int MockTopicCreate(nint cluster, string topic, int partitions, int replication);

        [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_group_initial_rebalance_delay_ms")]
        public static partial void MockGroupInitialRebalanceDelayMs(nint cluster, int delayMs);
    }
}
