namespace Traffic.Connectors.Kafka;

/// <summary>
/// The topics of a Traffic deployment (docs/kafka.md). Names share a prefix so that several
/// deployments can live on one cluster.
/// </summary>
public sealed record KafkaTopics
{
    /// <summary>Prefix of every topic name.</summary>
    public string Prefix { get; init; } = "traffic";

    /// <summary>Input: one probe per message (the NDJSON probe object), keyed by vehicle id.</summary>
    public string Probes => $"{Prefix}.probes";

    /// <summary>Repartition topic between the vehicle and the segment stage, keyed (partitioned) by segment.</summary>
    public string Exchange => $"{Prefix}.exchange";

    /// <summary>Alert lifecycle events (the alert JSON of INTERFACES.md), keyed by alert id.</summary>
    public string Alerts => $"{Prefix}.alerts";

    /// <summary>The navigation feed: segment statistics per window, keyed by segment and window.</summary>
    public string Segments => $"{Prefix}.segments";

    /// <summary>
    /// The name after the prefix of the smoothed feed, the sliding view (<see cref="Traffic.Engine.Segments.SegmentOptions.SlidingName"/>:
    /// <c>segments-5m</c> for the default 5-minute span).
    /// </summary>
    public string SegmentViewsName { get; init; } = "segments-5m";

    /// <summary>The smoothed navigation feed: sliding views of the segments, keyed like <see cref="Segments"/>.</summary>
    public string SegmentViews => $"{Prefix}.{SegmentViewsName}";

    /// <summary>The network-wide traffic performance index, one message per window, keyed by the window's start.</summary>
    public string Tpi => $"{Prefix}.tpi";

    /// <summary>
    /// Internal: each exchange partition's parts of the network index with its watermark (<see cref="NetworkIndexParts"/>),
    /// all on partition 0, for the one process that adds them up (<see cref="NetworkIndexStage"/>).
    /// </summary>
    public string TpiParts => $"{Prefix}.tpi-parts";

    /// <summary>Matched probes as Arrow IPC stream messages, a batch per message.</summary>
    public string Matched => $"{Prefix}.matched";

    /// <summary>Rejected input: the original bytes, the reason in headers.</summary>
    public string DeadLetter => $"{Prefix}.dead-letter";

    /// <summary>Probes that arrived behind the watermark.</summary>
    public string Late => $"{Prefix}.late";

    /// <summary>Partitions of the probes topic (the unit of scale-out of the vehicle stage).</summary>
    public int ProbePartitions { get; init; } = 8;

    /// <summary>Partitions of the exchange topic (the unit of scale-out of the segment stage).</summary>
    public int ExchangePartitions { get; init; } = 4;

    /// <summary>Partitions of each output topic.</summary>
    public int OutputPartitions { get; init; } = 4;

    /// <summary>Every topic with its partition count.</summary>
    public IEnumerable<(string Name, int Partitions)> All()
    {
        yield return (Probes, ProbePartitions);
        yield return (Exchange, ExchangePartitions);
        yield return (Alerts, OutputPartitions);
        yield return (Segments, OutputPartitions);
        yield return (SegmentViews, OutputPartitions);
        // One partition: the index is one series, read in window order.
        yield return (Tpi, 1);
        yield return (TpiParts, 1);
        yield return (Matched, OutputPartitions);
        yield return (DeadLetter, OutputPartitions);
        yield return (Late, OutputPartitions);
    }
}
