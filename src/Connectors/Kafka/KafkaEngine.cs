using Confluent.Kafka;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Connectors.Kafka;

/// <summary>Options of a Kafka engine process.</summary>
public sealed record KafkaEngineOptions
{
    public KafkaTopics Topics { get; init; } = new();

    /// <summary>The consumer group of the vehicle stage; the segment stage's is this plus <c>-segments</c>, the network-index stage's plus <c>-tpi</c>.</summary>
    public string GroupId { get; init; } = "traffic-engine";

    /// <summary>Names this process's clients (client.id) in the brokers' logs.</summary>
    public string ClientId { get; init; } = $"traffic-{Environment.ProcessId}";

    /// <summary>Where checkpoints go: a directory that every engine process of the group can reach.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>A vehicle-stage partition is checkpointed at every multiple of this many input records.</summary>
    public long CheckpointEvery { get; init; } = 8192;

    /// <summary>Matched probes leave in one Arrow batch per this many input records of a partition (divides <see cref="CheckpointEvery"/>).</summary>
    public long MatchedBatchEvery { get; init; } = 2048;

    /// <summary>
    /// On stop, end the whole pipeline: drain (take every probes partition held to its end, also one that a partner's
    /// leaving hands over meanwhile) and send the matched probes still waiting for their batch's end, before leaving
    /// the group. For a run whose input has ended (the demo, the tests); an engine process that hands its partitions
    /// on must not (the next owner's batches would not repeat its own).
    /// </summary>
    public bool FlushOnStop { get; init; }

    /// <summary>How long a stop with <see cref="FlushOnStop"/> waits for its partitions' ends; those not reached by then are not flushed.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A probes partition read to its end that has had no record for this long (wall-clock time) is declared idle: the
    /// segment stage then closes windows on the other partitions' watermarks alone, until it sends again. Without it, one
    /// partition without traffic (more partitions than busy vehicles, a fleet off for the night) would hold back every
    /// segment window, congestion alert and network index. Zero: never (the keyed outputs are then the same on every run,
    /// whatever the timing). A partition back from idle finds windows closed without it; what it sends for them is late
    /// (<see cref="EngineCounters.LateTraversals"/>).
    /// </summary>
    public TimeSpan IdlePartitionAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where a probes partition without a checkpoint starts (<see cref="StartPosition"/>; the beginning by default). Other
    /// than the beginning, the engine's own topics (exchange, network-index parts) start at their ends as the engine
    /// starts, for partitions without a checkpoint: what they hold came from another run (another network, a state
    /// directory removed). Each start is written as a checkpoint of empty state at once, so every process of the group
    /// and every restart starts the partition at the same offset.
    /// </summary>
    public StartPosition StartAt { get; init; }

    /// <summary>How often the segment stage checkpoints.</summary>
    public TimeSpan SegmentCheckpointInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Matching, rules, lateness and watermarks of the vehicle stage: the same as a file replay's.</summary>
    public VehiclePartitionOptions Vehicles { get; init; } = new();

    /// <summary>Windows and minimum sample of the segment stage.</summary>
    public SegmentOptions Segments { get; init; } = new();
}

/// <summary>
/// The streaming engine on Kafka: the vehicle stage (consumer group on the probes topic, one
/// <see cref="VehiclePartition"/> per assigned partition), the segment stage (consumer group on the
/// exchange topic, one <see cref="SegmentPartition"/> per assigned partition) and the network-index stage
/// (consumer group on the parts topic, which one process owns), each on its own thread.
/// Several processes with the same options share the work; any of them may die and another resumes its
/// partitions from their checkpoints (docs/kafka.md: delivery guarantee).
/// </summary>
public sealed class KafkaEngine
{
    private readonly KafkaEngineContext _context;

    public KafkaEngine(KafkaConnection connection, RoadNetwork network, VehicleRegistry? registry, ZoneSet? zones, VehicleIds ids, KafkaEngineOptions options, Action<string>? log = null)
    {
        if (options.CheckpointEvery % options.MatchedBatchEvery != 0)
            throw new ArgumentException("the checkpoint interval must be a multiple of the matched-batch interval");
        _context = new KafkaEngineContext(connection, network, new EdgeIndex(network), registry, zones, ids, options, log ?? (_ => { }));
    }

    public EngineCounters Counters => _context.Counters;

    /// <summary>Runs the stages until cancelled; a stage that fails stops the others and the exception is thrown.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        using var failed = new CancellationTokenSource();   // a stage failed: no drain, the others just stop
        using var vehicleSinks = new KafkaSinks(_context.Connection, _context.Topics, _context.Network, _context.Options.ClientId + "-vehicles");
        using var segmentSinks = new KafkaSinks(_context.Connection, _context.Topics, _context.Network, _context.Options.ClientId + "-segments");
        using var indexSinks = new KafkaSinks(_context.Connection, _context.Topics, _context.Network, _context.Options.ClientId + "-tpi");
        var vehicles = new VehicleStageHost(_context, vehicleSinks);
        var segments = new SegmentStageHost(_context, segmentSinks);
        if (!_context.Options.StartAt.IsEarliest) StartInternalTopicsAtTheirEnds(segments.SourcePartitions);
        var index = new NetworkIndexStage(_context, indexSinks);
        Task Start(Action<CancellationToken> run) => Task.Factory.StartNew(() =>
        {
            try
            {
                run(stop.Token);
            }
            catch
            {
                failed.Cancel();
                stop.Cancel();
                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var tasks = new[] { Start(token => vehicles.Run(token, failed.Token)), Start(segments.Run), Start(index.Run) };
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            vehicles.Dispose();
        }
    }

    /// <summary>
    /// Before any stage runs: each exchange partition and the network-index parts partition without a checkpoint gets one
    /// of empty state at the partition's end now, so that the segment and network-index stages read only what this run's
    /// vehicle stage sends (<see cref="KafkaEngineOptions.StartAt"/>).
    /// </summary>
    private void StartInternalTopicsAtTheirEnds(int sources)
    {
        var c = _context;
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(c.Connection.Consumer(c.Options.GroupId + "-start", c.Options.ClientId + "-start")).Build();
        int exchange = c.Connection.PartitionCount(c.Topics.Exchange);
        for (int p = 0; p < exchange; p++)
        {
            if (c.Checkpoints.TryLoad(c.Topics.Exchange, p, out _, out _)) continue;
            long end = StartPosition.Latest.Resolve(consumer, new TopicPartition(c.Topics.Exchange, p), c.Connection);
            c.Checkpoint<Ignore, Ignore>(null, "segment stage", c.Topics.Exchange, p, end, c.NewSegmentPartition(p, sources).Save);
            c.Log($"segment stage: {c.Topics.Exchange}[{p}] has no checkpoint: starts at its end, offset {end}");
        }
        if (!c.Checkpoints.TryLoad(c.Topics.TpiParts, NetworkIndexStage.PartsPartition, out _, out _))
        {
            long end = StartPosition.Latest.Resolve(consumer, new TopicPartition(c.Topics.TpiParts, NetworkIndexStage.PartsPartition), c.Connection);
            c.Checkpoint<Ignore, Ignore>(null, "network index stage", c.Topics.TpiParts, NetworkIndexStage.PartsPartition, end, new Traffic.Engine.Segments.NetworkIndexCombiner(exchange).Save);
            c.Log($"network index stage: {c.Topics.TpiParts}[{NetworkIndexStage.PartsPartition}] has no checkpoint: starts at its end, offset {end}");
        }
    }
}

/// <summary>What the stages of one engine process share (read-only after construction, but for the counters).</summary>
internal sealed class KafkaEngineContext(KafkaConnection connection, RoadNetwork network, EdgeIndex index, VehicleRegistry? registry,
    ZoneSet? zones, VehicleIds ids, KafkaEngineOptions options, Action<string> log)
{
    public KafkaConnection Connection { get; } = connection;
    public RoadNetwork Network { get; } = network;
    public EdgeIndex Index { get; } = index;

    /// <summary>The network's roads: the exchange sends every segment of a road to one partition, which joins them into congestion runs.</summary>
    public RoadGroups Roads { get; } = new(network, index);
    public VehicleRegistry? Registry { get; } = registry;
    public ZoneSet? Zones { get; } = zones;
    public VehicleIds Ids { get; } = ids;
    public KafkaEngineOptions Options { get; } = options;
    public KafkaTopics Topics => Options.Topics;
    public CheckpointStore Checkpoints { get; } = new(options.StateDirectory);
    public EngineCounters Counters { get; } = new();

    public void Log(string message) => log(message);

    /// <summary>
    /// Writes a partition's checkpoint (its state and the offset after it; the caller has flushed the outputs up to
    /// there), then commits that offset to the group. The commit only shows lag to operators: restarts resume from
    /// the checkpoint, so a failed commit is logged, not thrown.
    /// </summary>
    public void Checkpoint<TKey, TValue>(IConsumer<TKey, TValue>? consumer, string stage, string topic, int partition, long nextOffset, Action<Stream> save)
    {
        using var state = new MemoryStream();
        save(state);
        Checkpoints.Save(topic, partition, nextOffset, state.GetBuffer().AsSpan(0, (int)state.Length));
        Counters.AddCheckpoint();
        try
        {
            consumer?.Commit([new TopicPartitionOffset(topic, partition, nextOffset)]);
        }
        catch (KafkaException e)
        {
            Log($"{stage}: commit of {topic}[{partition}] failed: {e.Error.Reason}");
        }
    }

    public VehiclePartition NewVehiclePartition(int partition) => new(partition, Index, Ids, Registry, Zones, PartitionOptions);

    public VehiclePartition LoadVehiclePartition(int partition, Stream state) =>
        Restoring(Topics.Probes, partition, () => VehiclePartition.Load(partition, Index, Ids, Registry, Zones, state, PartitionOptions));

    /// <summary>The vehicle partitions' options, told the segment stage's window.</summary>
    private VehiclePartitionOptions PartitionOptions => Options.Vehicles with { SegmentWindowMs = Options.Segments.WindowMs };

    public SegmentPartition NewSegmentPartition(int partition, int sources) => new(Roads, partition, sources, Options.Segments);

    public SegmentPartition LoadSegmentPartition(int partition, int sources, Stream state) =>
        Restoring(Topics.Exchange, partition, () => SegmentPartition.Load(Network, partition, sources, state, Options.Segments));

    /// <summary>A checkpoint refused names its file and the way on, not only what is wrong with it.</summary>
    private T Restoring<T>(string topic, int partition, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (CheckpointException e)
        {
            throw new CheckpointException($"{Checkpoints.PathOf(topic, partition)}: {e.Message}. The state in {Checkpoints.DirectoryPath} cannot be resumed with this configuration: run with the configuration it was written with, or start over with a new --state-dir and --start-at latest (or the time to start from; earliest processes every retained record again)", e);
        }
    }
}
