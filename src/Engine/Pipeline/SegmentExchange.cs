using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Traffic.Geo.Matching;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// A traversal on its way from a <see cref="VehiclePartition"/> to the <see cref="SegmentPartition"/> that owns its
/// segment (the exchange: a batch queue in one process, a repartition topic keyed by segment across processes).
/// </summary>
/// <param name="Source">The sending vehicle partition.</param>
/// <param name="Sequence">
/// The sender's sequence number, increasing by one with every message it sends (traversals and watermarks), so a
/// receiver drops what it has seen once already: a sender restored from a checkpoint sends the same messages with
/// the same numbers again.
/// </param>
/// <param name="VehicleKey">The vehicle, as <see cref="Pipeline.VehicleKey.Of"/> its id: the same in every process.</param>
/// <param name="Edge">The part of the edge driven, with entry and exit times.</param>
public readonly record struct SegmentTraversal(int Source, long Sequence, int VehicleKey, TraversedEdge Edge);

/// <summary>
/// A watermark on its way from a <see cref="VehiclePartition"/> to every <see cref="SegmentPartition"/>: the sender
/// sends no traversal that ends before <paramref name="WatermarkMs"/> any more (its event-time watermark less the time
/// its matches may trail it); <see cref="long.MaxValue"/> at the end of its input.
/// </summary>
/// <param name="Source">The sending vehicle partition.</param>
/// <param name="Sequence">The sender's sequence number, shared with its traversals (<see cref="SegmentTraversal.Sequence"/>).</param>
/// <param name="WatermarkMs">Epoch milliseconds.</param>
public readonly record struct SegmentWatermark(int Source, long Sequence, long WatermarkMs);

/// <summary>
/// The vehicle key of the segment exchange: a 32-bit hash (XxHash32, seed 0) of the vehicle id's UTF-8 bytes. Dense
/// vehicle ids differ between processes; this key is the same everywhere, so a segment window counts a vehicle once
/// whichever process matched it. Two vehicles with the same key in one segment window count as one (for 1,000
/// vehicles in one window, a chance of about 1 in 10,000).
/// </summary>
public static class VehicleKey
{
    /// <summary>The key of a vehicle id.</summary>
    public static int Of(string vehicleId)
    {
        ArgumentNullException.ThrowIfNull(vehicleId);
        int max = Encoding.UTF8.GetMaxByteCount(vehicleId.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(vehicleId, utf8);
        int key = unchecked((int)XxHash32.HashToUInt32(utf8[..n]));
        if (rented != null) ArrayPool<byte>.Shared.Return(rented);
        return key;
    }
}

/// <summary>
/// An event-time watermark from a stream of probe times: the newest time seen less the allowed lateness, moved on
/// every so many probes and whenever the newest time passes a multiple of <see cref="StepMs"/> (so that a small or
/// sparse input moves it as event time goes on, not only a large one), never by the wall clock: the same input moves
/// it at the same points, and nothing but the newest time and the count decides them.
/// </summary>
internal sealed class EventTimeWatermark(long latenessMs, int every)
{
    /// <summary>Event time between moves at most, whatever the count of probes.</summary>
    public const long StepMs = 5_000;

    /// <summary>The newest event time seen.</summary>
    public long MaxTimeMs { get; set; } = long.MinValue;

    /// <summary>Probes seen.</summary>
    public long Probes { get; set; }

    /// <summary>
    /// Sees a probe's time; true when the watermark is due to move on (every <c>every</c> probes, or the newest time
    /// entered another step of event time; never when <c>every</c> is 0: the caller moves it), with its value.
    /// </summary>
    public bool Observe(long timeMs, out long watermarkMs)
    {
        long before = MaxTimeMs;
        if (timeMs > MaxTimeMs) MaxTimeMs = timeMs;
        watermarkMs = MaxTimeMs - latenessMs;
        Probes++;
        bool stepped = before != long.MinValue && MaxTimeMs / StepMs != before / StepMs;
        return every > 0 && (Probes % every == 0 || stepped);
    }

    /// <summary>The watermark now: the newest time less the lateness (<see cref="long.MinValue"/> before any probe).</summary>
    public long WatermarkMs => MaxTimeMs == long.MinValue ? long.MinValue : MaxTimeMs - latenessMs;
}
