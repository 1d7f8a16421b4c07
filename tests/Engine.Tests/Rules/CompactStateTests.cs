using System.Runtime.CompilerServices;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Rules;

namespace Traffic.Engine.Tests.Rules;

/// <summary>The packed forms of a vehicle's rule state: times as offsets from a base, small fields in bits, the condition tracker.</summary>
public class CompactStateTests
{
    private const long Day = 86_400_000;
    private static readonly long s_t0 = new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Times_read_back_as_set_none_and_zero_included_and_a_new_state_takes_any_time_as_its_base()
    {
        Span<int> times = stackalloc int[3];
        foreach (long t in (long[])[s_t0, 0, long.MinValue, -5 * 365 * Day, 230 * 365 * Day, 1, -1])
        {
            long timeBase = 0;
            CompactTimes.Clear(times);
            Assert.All(times.ToArray(), x => Assert.Equal(long.MinValue, CompactTimes.Get(timeBase, x)));
            CompactTimes.Set(ref timeBase, times, 1, t);
            Assert.Equal(t, CompactTimes.Get(timeBase, times[1]));
            CompactTimes.Set(ref timeBase, times, 2, t == long.MinValue ? s_t0 : t + 20 * Day);
            Assert.Equal(t, CompactTimes.Get(timeBase, times[1]));
            Assert.Equal(long.MinValue, CompactTimes.Get(timeBase, times[0]));
        }
    }

    [Fact]
    public void A_time_beyond_the_range_moves_the_base_keeping_the_others_exact_within_48_days_and_at_the_bound_beyond()
    {
        long timeBase = 0;
        Span<int> times = stackalloc int[4];
        CompactTimes.Clear(times);
        CompactTimes.Set(ref timeBase, times, 3, 0);                 // a field's default: kept as such through every move
        CompactTimes.Set(ref timeBase, times, 0, s_t0);
        CompactTimes.Set(ref timeBase, times, 1, s_t0 + (30 * Day)); // beyond the 24.8 days of the first base
        Assert.Equal(s_t0, CompactTimes.Get(timeBase, times[0]));
        Assert.Equal(s_t0 + (30 * Day), CompactTimes.Get(timeBase, times[1]));
        CompactTimes.Set(ref timeBase, times, 2, s_t0 + (60 * Day));
        Assert.Equal(s_t0 + (30 * Day), CompactTimes.Get(timeBase, times[1]));
        Assert.Equal(s_t0 + (60 * Day), CompactTimes.Get(timeBase, times[2]));
        long held = CompactTimes.Get(timeBase, times[0]);          // 60 days before the newest: held at the bound
        Assert.InRange(s_t0 + (60 * Day) - held, 48 * Day, 49 * Day);
        Assert.Equal(0, CompactTimes.Get(timeBase, times[3]));
        // A time older than the range, set while newer ones are held, is held at the bound too; the others stay.
        CompactTimes.Set(ref timeBase, times, 0, s_t0 - (365 * Day));
        Assert.Equal(held, CompactTimes.Get(timeBase, times[0]));
        Assert.Equal(s_t0 + (30 * Day), CompactTimes.Get(timeBase, times[1]));
        Assert.Equal(s_t0 + (60 * Day), CompactTimes.Get(timeBase, times[2]));
    }

    [InlineArray(3)]
    private struct Three
    {
        private int _first;
    }

    [Fact]
    public void Time_slots_begin_none_and_keep_each_slots_time_across_the_bases_moves()
    {
        var times = new TimeSlots<Three>();
        Assert.Equal((long.MinValue, long.MinValue, long.MinValue), (times[0], times[1], times[2]));
        times.Set(0, s_t0);
        times.Set(1, 0);
        times.Set(2, s_t0 + (40 * Day));
        Assert.Equal((s_t0, 0L, s_t0 + (40 * Day)), (times[0], times[1], times[2]));
        times.Set(0, long.MinValue);
        Assert.Equal((long.MinValue, 0L, s_t0 + (40 * Day)), (times[0], times[1], times[2]));
    }

    [Fact]
    public void Class_dangerous_goods_and_a_rules_fields_share_their_bits_and_a_value_they_cannot_hold_is_refused()
    {
        ushort bits = 0;
        StateBits.Set(ref bits, StateBits.FreeShift, 2, 3);
        StateBits.Set(ref bits, StateBits.FreeShift + 5, 1, 1);
        for (int un = 0; un <= 127; un++)
        {
            foreach (VehicleClass c in Enum.GetValues<VehicleClass>())
            {
                StateBits.SetClass(ref bits, c);
                StateBits.SetHazmat(ref bits, (ushort)un);
                Assert.Equal((c, (ushort)un, 3, 1), (StateBits.Class(bits), StateBits.Hazmat(bits),
                    StateBits.Get(bits, StateBits.FreeShift, 2), StateBits.Get(bits, StateBits.FreeShift + 5, 1)));
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => StateBits.SetHazmat(ref bits, 128));
        Assert.Throws<ArgumentOutOfRangeException>(() => StateBits.Set(ref bits, StateBits.FreeShift, 2, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => StateBits.Set(ref bits, StateBits.FreeShift, 2, -1));
        Assert.Equal((VehicleClass.Hazmat, (ushort)127), (StateBits.Class(bits), StateBits.Hazmat(bits)));
    }

    [Theory]
    [InlineData(6, 30, false)]
    [InlineData(5, 128, false)]
    [InlineData(5, 96, true)]
    [InlineData(0, 0, true)]
    public void A_checkpoints_class_and_dangerous_goods_beyond_the_bits_are_refused_as_malformed(byte cls, ushort hazmat, bool accepted)
    {
        var bytes = new MemoryStream();
        using (var w = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(cls);
            w.Write(hazmat);
        }
        bytes.Position = 0;
        using var r = new BinaryReader(bytes);
        if (accepted) Assert.Equal(((VehicleClass)cls, hazmat), StateBits.Load(r));
        else Assert.Throws<CheckpointException>(() => StateBits.Load(r));
    }

    private static readonly Debounce s_debounce = new(10_000, 30_000);

    private static byte[] Saved(in ConditionTracker c)
    {
        var bytes = new MemoryStream();
        using (var w = new BinaryWriter(bytes)) c.Save(w);
        return bytes.ToArray();
    }

    private static ConditionTracker Loaded(byte[] saved)
    {
        var c = new ConditionTracker();
        using var r = new BinaryReader(new MemoryStream(saved));
        c.Load(r);
        return c;
    }

    [Fact]
    public void A_condition_opens_after_its_debounce_closes_after_its_hysteresis_and_reads_back_its_times_and_checkpoint()
    {
        var c = new ConditionTracker();
        var seen = new List<(AlertState? State, long Start, long End, byte[] Saved)>();
        void Step(bool active, long t, long began)
        {
            var state = c.Update(active, t, began, s_debounce);
            seen.Add((state, c.StartMs, c.EndMs, Saved(c)));
            Assert.Equal(Saved(c), Saved(Loaded(Saved(c))));   // every state goes through a checkpoint unchanged
        }
        Step(true, s_t0, s_t0 - 2_000);          // began 2 s before it was seen
        Step(true, s_t0 + 7_000, s_t0);          // 9 s: not yet
        Step(true, s_t0 + 8_000, s_t0);          // 10 s since it began: opens, from when it began
        Step(false, s_t0 + 20 * Day, 0);         // stops holding 20 days on
        Step(true, s_t0 + (20 * Day) + 5_000, s_t0 + (20 * Day) + 1_000);   // holds again: no close
        Step(false, s_t0 + (20 * Day) + 9_000, 0);
        Step(false, s_t0 + (20 * Day) + 39_000, 0);   // 30 s false: closes, its end when it stopped
        Assert.Equal([null, null, AlertState.Open, null, null, null, AlertState.Close], seen.Select(x => x.State));
        Assert.All(seen.Skip(2), x => Assert.Equal(s_t0 - 2_000, x.Start));
        Assert.Equal(s_t0 + (20 * Day) + 9_000, seen[^1].End);
        Assert.False(c.IsOpen);
        c.Clear();
        Assert.Equal((long.MinValue, long.MinValue), (c.StartMs, c.EndMs));
        // A close not yet cleared, then the condition holding again long enough: a new alert from its own start.
        c = Loaded(seen[^1].Saved);
        Assert.Null(c.Update(true, s_t0 + (30 * Day), s_t0 + (30 * Day), s_debounce));
        Assert.Equal(AlertState.Open, c.Update(true, s_t0 + (30 * Day) + 10_000, s_t0 + (30 * Day), s_debounce));
        Assert.Equal(s_t0 + (30 * Day), c.StartMs);
        Assert.Equal(AlertState.Close, c.Gone(s_t0 + (30 * Day) + 12_000));
        Assert.Equal(s_t0 + (30 * Day) + 12_000, c.EndMs);
    }

    [Fact]
    public void A_checkpoint_holding_a_condition_open_or_ended_without_a_start_is_refused_as_malformed()
    {
        foreach (var (falseSince, open) in ((long, bool)[])[(long.MinValue, true), (s_t0, false)])
        {
            var bytes = new MemoryStream();
            using (var w = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                w.Write(s_t0);
                w.Write(falseSince);
                w.Write(open);
                w.Write(long.MinValue);
            }
            Assert.Throws<CheckpointException>(() => Loaded(bytes.ToArray()));
        }
    }
}
