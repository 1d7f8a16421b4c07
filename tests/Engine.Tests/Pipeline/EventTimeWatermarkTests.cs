using Traffic.Engine.Pipeline;
using Xunit;

namespace Traffic.Engine.Tests.Pipeline;

public sealed class EventTimeWatermarkTests
{
    private const long Start = 1_767_225_600_000; // 2026-01-01
    private const long Lateness = 30_000;
    private const long EightHours = 8 * 3_600_000L;

    /// <summary>Vehicles 0..n-1 report in turn every second from <paramref name="fromMs"/>, <paramref name="rounds"/> times.</summary>
    private static long Fleet(EventTimeWatermark clock, int n, long fromMs, int rounds)
    {
        long t = fromMs;
        for (int r = 0; r < rounds; r++, t += 1_000)
        {
            for (int v = 0; v < n; v++) clock.Observe(v, t, out _);
        }
        return t - 1_000;
    }

    [Fact]
    public void One_unit_hours_ahead_of_a_fleet_does_not_carry_the_watermark_and_the_fleet_moves_it_on()
    {
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 5, Start, 60);
        // Vehicle 2's clock jumps 8 hours; the others go on, interleaved with it, for far more than the lone run.
        for (int r = 1; r <= 200; r++)
        {
            clock.Observe(2, last + EightHours + (r * 1_000), out _);
            for (int v = 0; v < 5; v++)
            {
                if (v != 2) clock.Observe(v, last + (r * 1_000), out _);
            }
        }
        Assert.Equal(last + 200_000, clock.MaxTimeMs);
        Assert.Equal(last + 200_000 - Lateness, clock.WatermarkMs);
    }

    [Fact]
    public void A_fleet_back_after_a_gap_moves_the_watermark_with_its_second_vehicle()
    {
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 5, Start, 60);
        long back = last + EightHours;
        clock.Observe(3, back, out _);
        Assert.Equal(last, clock.MaxTimeMs);   // one vehicle alone: not yet
        clock.Observe(1, back + 400, out _);
        Assert.Equal(back, clock.MaxTimeMs);    // a second: the source moved on, from the earlier of the two
        clock.Observe(0, back + 900, out _);
        Assert.Equal(back + 900, clock.MaxTimeMs);
    }

    [Fact]
    public void A_unit_that_goes_on_alone_moves_it_after_a_run_and_a_source_of_one_vehicle_at_once()
    {
        // Traces written one after another: the others have gone quiet, and the next vehicle's trace starts an hour on.
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 3, Start, 60);
        long next = last + 3_600_000;
        for (int i = 0; i < EventTimeWatermark.LoneRun - 1; i++) clock.Observe(7, next + (i * 1_000), out _);
        Assert.Equal(last, clock.MaxTimeMs);
        clock.Observe(7, next + ((EventTimeWatermark.LoneRun - 1) * 1_000), out _);
        Assert.Equal(next, clock.MaxTimeMs);

        // A source that has shown one vehicle only follows it at once, across any gap.
        var single = new EventTimeWatermark(Lateness, 0);
        single.Observe(4, Start, out _);
        single.Observe(4, Start + EightHours, out long watermark);
        Assert.Equal(Start + EightHours - Lateness, watermark);
    }

    [Fact]
    public void A_unit_a_little_ahead_is_taken_once_the_others_come_within_the_bound()
    {
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 4, Start, 10);
        long ahead = last + EventTimeWatermark.JumpMs + 60_000;
        clock.Observe(0, ahead, out _);
        Assert.Equal(last, clock.MaxTimeMs);
        // The others reach a minute past where it jumped from: its time is within the bound now, and its next report counts.
        long t = Fleet(clock, 4, last + 1_000, 70);
        clock.Observe(0, ahead + 1_000, out _);
        Assert.True(t + EventTimeWatermark.JumpMs >= ahead);
        Assert.Equal(ahead + 1_000, clock.MaxTimeMs);
    }
}
