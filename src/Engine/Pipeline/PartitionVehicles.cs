using Traffic.Engine.Probes;

namespace Traffic.Engine.Pipeline;

/// <summary>
/// A vehicle partition's own numbering of the vehicles it holds: 0, 1, 2, … in the order they came, a number freed when
/// the partition forgets its vehicle and given to the next one that comes. Every per-vehicle array of the partition, its
/// stage and its rules is indexed by it, so each is as long as the vehicles the partition holds, not as every vehicle the
/// process has interned: a process runs many partitions (the Kafka engine one per probes partition it is assigned) over one
/// <see cref="VehicleIds"/>, which only grows.
/// </summary>
internal sealed class PartitionVehicles(VehicleIds ids) : IVehicleNames
{
    // Process id → this partition's number: an open-addressing table (linear probing) of the vehicles held, so that it is
    // as long as they are, not as every id the process has interned (with many partitions in one process and vehicle ids
    // that come and go, an array indexed by process id in each would cost them all that). At most three quarters full:
    // a lookup then probes 2.5 entries on average (1.5 at half), all in one or two cache lines of 8-byte entries, and
    // the table costs 11–21 bytes a vehicle, not 16–32 (3,000 vehicles: 11 B, not 22).
    private Entry[] _table = new Entry[64];
    private int _held;
    private readonly PagedArray<int> _process = new(); // this partition's number → process id (-1: free); pages, not doubling
    private readonly Stack<int> _free = [];

    /// <summary>Numbers given out, free ones included: the length every per-vehicle array needs.</summary>
    public int Issued { get; private set; }

    /// <summary>Vehicles held now.</summary>
    public int Held => _held;

    /// <summary>The partition's number of a vehicle (by its process id), or -1 when the partition does not hold it.</summary>
    public int Find(int processId)
    {
        Entry[] table = _table;
        int mask = table.Length - 1;
        for (int i = Home(processId, mask); ; i = (i + 1) & mask)
        {
            ref Entry e = ref table[i];
            if (e.ProcessPlusOne == processId + 1) return e.Vehicle;
            if (e.ProcessPlusOne == 0) return -1;
        }
    }

    /// <summary>Numbers a vehicle the partition does not hold yet: a freed number, else the next one.</summary>
    public int Add(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(processId);
        if (Find(processId) >= 0) throw new InvalidOperationException($"vehicle {ids.Name(processId)} is held already");
        int v = _free.Count > 0 ? _free.Pop() : Issued++;
        _process[v] = processId;
        if (4 * (_held + 1) > 3 * _table.Length) Grow();
        Place(_table, processId, v);
        _held++;
        return v;
    }

    /// <summary>The vehicle is forgotten: its number is free for the next vehicle that comes.</summary>
    public void Release(int vehicle)
    {
        Remove(_process[vehicle]);
        _held--;
        _process[vehicle] = -1;
        _free.Push(vehicle);
    }

    public string Name(int vehicle) => ids.Name(_process[vehicle]);

    public int ProcessId(int vehicle) => _process[vehicle];

    // Fibonacci hashing: process ids are dense and consecutive, which the multiplication spreads over the table.
    private static int Home(int processId, int mask) => (int)((uint)processId * 0x9E3779B9u >> 7) & mask;

    private static void Place(Entry[] table, int processId, int vehicle)
    {
        int mask = table.Length - 1;
        int i = Home(processId, mask);
        while (table[i].ProcessPlusOne != 0) i = (i + 1) & mask;
        table[i] = new Entry { ProcessPlusOne = processId + 1, Vehicle = vehicle };
    }

    private void Grow()
    {
        var table = new Entry[_table.Length * 2];
        foreach (Entry e in _table)
        {
            if (e.ProcessPlusOne != 0) Place(table, e.ProcessPlusOne - 1, e.Vehicle);
        }
        _table = table;
    }

    /// <summary>Takes a process id out of the table.</summary>
    private void Remove(int processId)
    {
        int mask = _table.Length - 1;
        int i = Home(processId, mask);
        while (_table[i].ProcessPlusOne != processId + 1)
        {
            if (_table[i].ProcessPlusOne == 0) throw new InvalidOperationException($"vehicle {ids.Name(processId)} is not held");
            i = (i + 1) & mask;
        }
        LinearProbing.RemoveAt(_table, i, static e => e.ProcessPlusOne == 0, static e => Home(e.ProcessPlusOne - 1, -1));
    }

    private struct Entry
    {
        public int ProcessPlusOne;   // 0: empty
        public int Vehicle;
    }
}
