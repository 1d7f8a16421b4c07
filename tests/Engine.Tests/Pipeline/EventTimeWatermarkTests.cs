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
    public void A_fleet_back_after_a_gap_moves_the_watermark_after_a_short_run_of_its_vehicles()
    {
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 5, Start, 60);
        long back = last + EightHours;
        clock.Observe(3, back, out _);
        Assert.Equal(last, clock.MaxTimeMs);   // one vehicle alone: not yet
        for (int i = 1; i < EventTimeWatermark.FleetRun - 1; i++) clock.Observe(i % 5, back + (i * 100), out _);
        Assert.Equal(last, clock.MaxTimeMs);
        clock.Observe(4, back + 900, out _);
        Assert.Equal(back, clock.MaxTimeMs);    // a run of the fleet: the source moved on, from the earliest of them
        clock.Observe(0, back + 1_000, out _);
        Assert.Equal(back + 1_000, clock.MaxTimeMs);
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

    [Fact]
    public void A_source_whose_first_probe_comes_from_a_unit_hours_ahead_starts_with_the_fleet()
    {
        // The very first probe is the unit's: nothing to hold it apart from yet. Its watermark is not given out while it is
        // the only vehicle (a second one may show that it is ahead), and the fleet's first probe then starts the clock.
        var clock = new EventTimeWatermark(Lateness, 1);
        Assert.False(clock.Observe(2, Start + EightHours, out _));
        Assert.False(clock.Observe(2, Start + EightHours + 1_000, out _));
        Assert.True(clock.Observe(0, Start, out long watermark));
        Assert.Equal(Start - Lateness, watermark);
        for (int r = 1; r <= 200; r++)
        {
            clock.Observe(2, Start + EightHours + ((r + 1) * 1_000L), out _);
            foreach (int v in (int[])[0, 1, 3, 4]) clock.Observe(v, Start + (r * 1_000L), out _);
        }
        Assert.Equal(Start + 200_000, clock.MaxTimeMs);
        Assert.Equal(Start + 200_000 - Lateness, clock.WatermarkMs);
    }

    [Fact]
    public void When_the_second_vehicle_is_the_one_behind_a_run_of_the_others_moves_the_watermark_on()
    {
        var clock = new EventTimeWatermark(Lateness, 1);
        clock.Observe(0, Start + EightHours, out _);
        clock.Observe(1, Start, out _);                          // behind: taken as the start for now
        Assert.Equal(Start, clock.MaxTimeMs);
        long watermark = 0;
        for (int v = 2; v < 2 + EventTimeWatermark.FleetRun; v++)
        {
            Assert.Equal(Start, clock.MaxTimeMs);
            clock.Observe(v, Start + EightHours + (v * 100), out watermark);  // the others, past the bound in a row
        }
        Assert.Equal(Start + EightHours + 200 - Lateness, watermark);  // from the earliest of the run
    }

    [Fact]
    public void Two_units_hours_ahead_with_the_fleet_reporting_between_them_do_not_carry_the_watermark()
    {
        var clock = new EventTimeWatermark(Lateness, 0);
        long last = Fleet(clock, 6, Start, 60);
        for (int r = 1; r <= 200; r++)
        {
            clock.Observe(2, last + EightHours + (r * 1_000), out _);
            for (int v = 0; v < 6; v++)
            {
                if (v is not 2 and not 4) clock.Observe(v, last + (r * 1_000), out _);
            }
            clock.Observe(4, last + EightHours + (r * 1_000) + 300, out _);
            Assert.Equal(last + (r * 1_000), clock.MaxTimeMs);
        }
    }

    [Fact]
    public void A_source_of_one_vehicle_gives_out_its_watermark_after_a_lone_run()
    {
        var clock = new EventTimeWatermark(Lateness, 1);
        for (int i = 0; i < EventTimeWatermark.LoneRun - 1; i++) Assert.False(clock.Observe(5, Start + (i * 1_000L), out _));
        Assert.True(clock.Observe(5, Start + ((EventTimeWatermark.LoneRun - 1) * 1_000L), out long watermark));
        Assert.Equal(Start + ((EventTimeWatermark.LoneRun - 1) * 1_000L) - Lateness, watermark);
    }
}
