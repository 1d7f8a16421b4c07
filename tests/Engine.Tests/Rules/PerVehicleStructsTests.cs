using System.Runtime.CompilerServices;
using Traffic.Engine.Rules;
using Xunit;

namespace Traffic.Engine.Tests.Rules;

public sealed class PerVehicleStructsTests
{
    private struct Counter
    {
        public Counter()
        {
        }

        public long Since = long.MinValue;
        public int Count;
        public string? Name;
    }

    [Fact]
    public void State_is_created_on_first_use_changed_in_place_and_walked_in_the_order_it_came()
    {
        var states = new PerVehicleStructs<Counter>(() => new Counter());
        Assert.True(Unsafe.IsNullRef(ref states.Find(5)));
        ref Counter five = ref states[5];
        Assert.Equal(long.MinValue, five.Since);   // made by the factory, not default
        five.Count = 3;
        states[700].Count = 1;   // a page far from the first
        states[5].Count++;
        states[0].Name = "zero";
        Assert.Equal(4, states.Existing(5).Count);
        Assert.Equal(1, states.Find(700).Count);
        Assert.Equal([5, 700, 0], states.Vehicles.ToArray());
        Assert.True(Unsafe.IsNullRef(ref states.Find(6)));
        Assert.True(Unsafe.IsNullRef(ref states.Find(64 * 1000)));
    }

    [Fact]
    public void A_forgotten_vehicle_loses_its_state_and_comes_back_new_at_the_end_of_the_order()
    {
        var states = new PerVehicleStructs<Counter>(() => new Counter());
        for (int v = 0; v < 130; v++) states[v].Count = v + 1;
        states.Forget([3, 64, 129, 500]);   // 500 never had state
        Assert.True(Unsafe.IsNullRef(ref states.Find(64)));
        Assert.Equal(127, states.Vehicles.Length);
        Assert.DoesNotContain(64, states.Vehicles.ToArray());
        Assert.Equal(66, states.Find(65).Count);
        ref Counter back = ref states[64];
        Assert.Equal(0, back.Count);
        Assert.Equal(long.MinValue, back.Since);
        Assert.Equal(64, states.Vehicles[^1]);
    }

    [Fact]
    public void A_paged_array_keeps_its_elements_where_they_are_as_it_grows()
    {
        var items = new PagedArray<long>();
        ref long first = ref items[1];
        first = 42;
        for (int i = 2; i < 5_000; i++) items[i] = i;   // the page table grows; no element moves
        Assert.Equal(42, first);
        Assert.Equal(4_999, items[4_999]);
        Assert.Equal(0, items[10_000]);
        Assert.Throws<ArgumentOutOfRangeException>(() => items[-1]);

        // Read without making a page: the default where none is, also for references and out of range.
        Assert.Equal(4_999, items.GetOrDefault(4_999));
        Assert.Equal(0, items.GetOrDefault(1_000_000));
        Assert.Equal(0, items.GetOrDefault(-1));
        var names = new PagedArray<string?>();
        names[70] = "seventy";
        Assert.Equal("seventy", names.GetOrDefault(70));
        Assert.Null(names.GetOrDefault(3));
        Assert.Null(names.GetOrDefault(64 * 100));
    }

    [Fact]
    public void A_vehicle_clock_takes_the_elapsed_times_in_the_order_given_and_counts_what_it_holds()
    {
        var clock = new VehicleClock();
        var taken = new List<int>();
        clock.TakeElapsed([0, 1, 2], 1_000, 10, taken);
        Assert.Empty(taken);   // a page never made: no time

        clock.Set(3, 0);         // a time of 0 ms is a time, not none
        clock.Set(700, 500);
        clock.Set(5, 995);
        Assert.Equal(3, clock.Count);
        clock.TakeElapsed([700, 5, 3, 9], 1_000, 10, taken);
        Assert.Equal([700, 3], taken);   // 5 is 5 ms old, under 10; 9 has none
        Assert.Equal(1, clock.Count);

        clock.Set(5, long.MinValue);   // none
        Assert.Equal(0, clock.Count);
        clock.Set(8, -5_000);
        clock.Forget([8, 64 * 50]);    // a vehicle far beyond any page is skipped
        Assert.Equal(0, clock.Count);
        clock.TakeElapsed([8], 1_000, 10, taken);
        Assert.Empty(taken);
    }
}
