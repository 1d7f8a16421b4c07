namespace Traffic.Engine.Checkpoints;

/// <summary>
/// A checkpoint that cannot be restored: not a checkpoint at all, another format version or kind, truncated,
/// corrupt (its checksum does not match), or written for another configuration (road network, partition,
/// zones, matcher options). The message says which; nothing is restored from such a checkpoint.
/// </summary>
public sealed class CheckpointException : IOException
{
    public CheckpointException()
    {
    }

    public CheckpointException(string message) : base(message)
    {
    }

    public CheckpointException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>What a checkpoint holds (a byte of its header, docs/checkpoint.md).</summary>
public enum CheckpointKind : byte
{
    /// <summary>The state of one <see cref="Pipeline.VehiclePartition"/>.</summary>
    VehiclePartition = 1,

    /// <summary>The state of one <see cref="Pipeline.SegmentPartition"/>.</summary>
    SegmentPartition = 2,

    /// <summary>The state of a <see cref="Segments.NetworkIndexCombiner"/>: the network index's parts of windows not yet complete.</summary>
    NetworkIndexCombiner = 3,
}
