using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>A partition's numbering of its vehicles: found, added and released as a dictionary would, and as large as what it holds.</summary>
public class PartitionVehiclesTests
{
    [Fact]
    public void Vehicles_coming_and_going_are_numbered_and_found_as_a_dictionary_says()
    {
        var ids = new VehicleIds();
        for (int i = 0; i < 5000; i++) ids.Intern($"粤B{i:D5}".AsSpan());
        var vehicles = new PartitionVehicles(ids);
        var oracle = new Dictionary<int, int>();
        var random = new Random(7);
        for (int step = 0; step < 200_000; step++)
        {
            int processId = random.Next(5000);
            if (oracle.TryGetValue(processId, out int held))
            {
                Assert.Equal(held, vehicles.Find(processId));
                // Half the vehicles held go again at once, so that the table sees long runs of removals between additions.
                if (random.Next(2) == 0)
                {
                    vehicles.Release(held);
                    oracle.Remove(processId);
                    Assert.Equal(-1, vehicles.Find(processId));
                }
            }
            else
            {
                Assert.Equal(-1, vehicles.Find(processId));
                int v = vehicles.Add(processId);
                Assert.DoesNotContain(v, oracle.Values);
                oracle[processId] = v;
                Assert.Equal(processId, vehicles.ProcessId(v));
                Assert.Equal(ids.Name(processId), vehicles.Name(v));
            }
            if (step % 10_000 == 0)
            {
                foreach (var (p, v) in oracle) Assert.Equal(v, vehicles.Find(p));
            }
        }
        Assert.Equal(oracle.Count, vehicles.Held);
        Assert.True(vehicles.Issued <= 5000);
        Assert.Throws<InvalidOperationException>(() => vehicles.Add(oracle.Keys.First()));
    }

    [Fact]
    public void A_partition_holding_a_few_vehicles_of_a_process_that_interned_millions_holds_a_table_as_small_as_they_are()
    {
        var vehicles = new PartitionVehicles(new VehicleIds());
        long before = GC.GetAllocatedBytesForCurrentThread();
        // Process ids as a process that has seen many vehicles come and go hands them out: large and far apart.
        for (int i = 0; i < 100; i++) vehicles.Add(3_000_000 + 25_000 * i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 8 * 1024, $"{allocated} B for 100 vehicles");
        for (int i = 0; i < 100; i++) Assert.Equal(i, vehicles.Find(3_000_000 + 25_000 * i));
        Assert.Equal(-1, vehicles.Find(3_000_001));
    }
}
