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
/// Word from a <see cref="VehiclePartition"/> to every <see cref="SegmentPartition"/> that its input has gone idle: it
/// has read its input partition to the end and nothing more has come for a while (wall-clock time; Kafka: the engine's
/// <c>IdlePartitionAfter</c>). Until it sends again, the receivers leave it out of their least watermark, so that a
/// partition without traffic does not hold back every segment's windows. It takes no sequence number of its own: it
/// carries the number of the sender's last message, and a receiver that has taken a newer one ignores it.
/// </summary>
/// <param name="Source">The sending vehicle partition.</param>
/// <param name="Sequence">The sequence number of the sender's last message before it went idle (0: none).</param>
public readonly record struct SegmentIdle(int Source, long Sequence);

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
/// when <see cref="FleetRun"/> such probes come in a row, of more than one vehicle, with no probe at the newest time
/// between them (the whole fleet came back after a gap; two units with wrong clocks have their fleet's probes between
/// theirs), or <see cref="LoneRun"/> of one vehicle (the other vehicles have gone quiet: traces written one after
/// another), or at once while the source has shown only one vehicle. Until then the unit's probes are taken (they are
/// ahead, not late) and the watermark goes on with the others. A source's first vehicle has nothing to be held apart
/// from, so the watermark is not given out while it is the only one (up to a lone run): a second vehicle more than
/// <see cref="JumpMs"/> behind the first's newest probe starts the clock, and the first is the unit ahead.
/// </remarks>
internal sealed class EventTimeWatermark(long latenessMs, int every)
{
    /// <summary>Event time between moves at most, whatever the count of probes.</summary>
    public const long StepMs = 5_000;

    /// <summary>How far past the newest time a probe may be and still move the watermark by itself.</summary>
    public const long JumpMs = 10 * 60_000;

    /// <summary>Probes in a row of one vehicle past <see cref="JumpMs"/>, none of another vehicle between them, that move it.</summary>
    public const int LoneRun = 64;

    /// <summary>
    /// Probes in a row past <see cref="JumpMs"/>, of more than one vehicle, that move it: a fleet back after a gap gives
    /// them at once; two units with wrong clocks among a fleet of n, about (2/n)^7 of the time.
    /// </summary>
    public const int FleetRun = 8;

    /// <summary>The newest event time taken.</summary>
    public long MaxTimeMs { get; set; } = long.MinValue;

    /// <summary>Probes seen.</summary>
    public long Probes { get; set; }

    /// <summary>The first vehicle seen (-1 before any), until a second is seen; then -2.</summary>
    public int OnlyVehicle { get; set; } = -1;

    /// <summary>
    /// The vehicle whose probe began the current run past the newest time by more than <see cref="JumpMs"/> (or, the run
    /// broken, the last to begin one), not yet taken; -1: none.
    /// </summary>
    public int AheadVehicle { get; set; } = -1;

    /// <summary>The earliest time of the run's probes.</summary>
    public long AheadFromMs { get; set; }

    /// <summary>The probes of the run: past the bound, with no probe of another vehicle at the newest time since.</summary>
    public int AheadRun { get; set; }

    /// <summary>How many of the run's probes are of other vehicles than <see cref="AheadVehicle"/>.</summary>
    public int AheadOthers { get; set; }

    /// <summary>
    /// Sees a probe's vehicle and time; true when the watermark is due to move on (every <c>every</c> probes, or the
    /// newest time entered another step of event time, or the hold on a source's first vehicle ended; never when
    /// <c>every</c> is 0: the caller moves it), with its value.
    /// </summary>
    public bool Observe(int vehicle, long timeMs, out long watermarkMs)
    {
        long before = MaxTimeMs;
        bool held = Holding;
        Take(vehicle, timeMs);
        watermarkMs = MaxTimeMs - latenessMs;
        Probes++;
        bool stepped = before != long.MinValue && MaxTimeMs / StepMs != before / StepMs;
        return every > 0 && !Holding && (Probes % every == 0 || stepped || held);
    }

    /// <summary>
    /// The source has shown one vehicle only, and fewer than <see cref="LoneRun"/> probes: its watermark is not given
    /// out yet, since the next vehicle may show that the first was a unit hours ahead (the first probe of a source has
    /// nothing to be held apart from). A source of one vehicle gives it out after the run.
    /// </summary>
    private bool Holding => OnlyVehicle >= 0 && Probes < LoneRun;

    private void Take(int vehicle, long timeMs)
    {
        if (OnlyVehicle == -1 || OnlyVehicle == vehicle)
        {
            OnlyVehicle = vehicle;  // one vehicle so far: it moves the newest time at once
            if (timeMs > MaxTimeMs) MaxTimeMs = timeMs;
            return;
        }
        if (OnlyVehicle >= 0)
        {
            (int first, bool held) = (OnlyVehicle, Holding);
            OnlyVehicle = -2;
            if (held && timeMs < MaxTimeMs - JumpMs)
            {
                // The source's first vehicle reached hours past the second, and no watermark has been given out yet: the
                // first is taken as a unit ahead from its newest time, and the clock starts from the second (a run of
                // others past the bound moves it on, should the second be the one whose clock is wrong).
                (AheadVehicle, AheadFromMs, AheadRun, AheadOthers, MaxTimeMs) = (first, MaxTimeMs, 0, 0, timeMs);
                return;
            }
        }
        if (timeMs <= MaxTimeMs + JumpMs)
        {
            if (timeMs > MaxTimeMs) MaxTimeMs = timeMs;
            if (AheadVehicle < 0) return;
            if (AheadFromMs <= MaxTimeMs + JumpMs) AheadVehicle = -1;                  // the others caught up with it
            else if (vehicle != AheadVehicle) (AheadRun, AheadOthers) = (0, 0);      // another vehicle goes on at the newest time
            return;
        }
        if (AheadVehicle < 0 || (AheadRun == 0 && vehicle != AheadVehicle))
        {
            // A run begins (another unit's, after the fleet's probes at the newest time: held apart in the last one's place).
            (AheadVehicle, AheadFromMs, AheadRun, AheadOthers) = (vehicle, timeMs, 1, 0);
            return;
        }
        AheadFromMs = Math.Min(AheadFromMs, timeMs);
        AheadRun++;
        if (vehicle != AheadVehicle) AheadOthers++;
        if (AheadRun >= LoneRun || (AheadOthers > 0 && AheadRun >= FleetRun)) Jump(AheadFromMs);  // the source moved on
    }

    private void Jump(long toMs)
    {
        MaxTimeMs = Math.Max(MaxTimeMs, toMs);
        AheadVehicle = -1;
    }

    /// <summary>The watermark now: the newest time less the lateness (<see cref="long.MinValue"/> before any probe).</summary>
    public long WatermarkMs => MaxTimeMs == long.MinValue ? long.MinValue : MaxTimeMs - latenessMs;
}
