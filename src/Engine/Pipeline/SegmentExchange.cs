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
/// it at the same points, and nothing but the probes' vehicles and times and their count decides them.
/// </summary>
/// <remarks>
/// One unit whose clock is hours ahead (a terminal writing China's local time as UTC is 8 hours ahead) must not carry
/// the watermark with it: every other vehicle's probes would be late until event time caught up with it. So a probe
/// more than <see cref="JumpMs"/> past the newest time moves it only when the jump is the source's, not one unit's:
/// when a probe of another vehicle also lands past that bound (the whole fleet came back after a gap), or when the unit
/// has sent <see cref="LoneRun"/> such probes with no other vehicle's probe between them (the other vehicles have gone
/// quiet: traces written one after another), or at once while the source has shown only one vehicle. Until then the
/// unit's probes are taken (they are ahead, not late) and the watermark goes on with the others.
/// </remarks>
internal sealed class EventTimeWatermark(long latenessMs, int every)
{
    /// <summary>Event time between moves at most, whatever the count of probes.</summary>
    public const long StepMs = 5_000;

    /// <summary>How far past the newest time a probe may be and still move the watermark by itself.</summary>
    public const long JumpMs = 10 * 60_000;

    /// <summary>Probes in a row of one vehicle past <see cref="JumpMs"/>, none of another vehicle between them, that move it.</summary>
    public const int LoneRun = 64;

    /// <summary>The newest event time taken.</summary>
    public long MaxTimeMs { get; set; } = long.MinValue;

    /// <summary>Probes seen.</summary>
    public long Probes { get; set; }

    /// <summary>The first vehicle seen (-1 before any), until a second is seen; then -2.</summary>
    public int OnlyVehicle { get; set; } = -1;

    /// <summary>A vehicle whose probes lie past the newest time by more than <see cref="JumpMs"/>, not yet taken; -1: none.</summary>
    public int AheadVehicle { get; set; } = -1;

    /// <summary>The earliest time of those probes.</summary>
    public long AheadFromMs { get; set; }

    /// <summary>How many of them have come since another vehicle's probe last did.</summary>
    public int AheadRun { get; set; }

    /// <summary>
    /// Sees a probe's vehicle and time; true when the watermark is due to move on (every <c>every</c> probes, or the
    /// newest time entered another step of event time; never when <c>every</c> is 0: the caller moves it), with its value.
    /// </summary>
    public bool Observe(int vehicle, long timeMs, out long watermarkMs)
    {
        long before = MaxTimeMs;
        Take(vehicle, timeMs);
        watermarkMs = MaxTimeMs - latenessMs;
        Probes++;
        bool stepped = before != long.MinValue && MaxTimeMs / StepMs != before / StepMs;
        return every > 0 && (Probes % every == 0 || stepped);
    }

    private void Take(int vehicle, long timeMs)
    {
        if (OnlyVehicle != vehicle && OnlyVehicle != -2) OnlyVehicle = OnlyVehicle == -1 ? vehicle : -2;
        if (MaxTimeMs == long.MinValue || OnlyVehicle != -2 || timeMs <= MaxTimeMs + JumpMs)
        {
            if (timeMs > MaxTimeMs) MaxTimeMs = timeMs;
            if (AheadVehicle < 0) return;
            if (AheadFromMs <= MaxTimeMs + JumpMs) AheadVehicle = -1;  // the others caught up with it
            else if (vehicle != AheadVehicle) AheadRun = 0;            // another vehicle goes on at the newest time
            return;
        }
        if (AheadVehicle < 0)
        {
            (AheadVehicle, AheadFromMs, AheadRun) = (vehicle, timeMs, 1);
        }
        else if (vehicle == AheadVehicle)
        {
            AheadFromMs = Math.Min(AheadFromMs, timeMs);
            if (++AheadRun >= LoneRun) Jump(AheadFromMs);
        }
        else
        {
            Jump(Math.Min(AheadFromMs, timeMs));  // a second vehicle past the bound: the source moved on
        }
    }

    private void Jump(long toMs)
    {
        MaxTimeMs = Math.Max(MaxTimeMs, toMs);
        AheadVehicle = -1;
    }

    /// <summary>The watermark now: the newest time less the lateness (<see cref="long.MinValue"/> before any probe).</summary>
    public long WatermarkMs => MaxTimeMs == long.MinValue ? long.MinValue : MaxTimeMs - latenessMs;
}
