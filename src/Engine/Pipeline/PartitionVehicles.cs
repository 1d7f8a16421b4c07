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
    private int[] _local = [];            // process id → this partition's number + 1 (0: not held)
    private int[] _process = new int[64]; // this partition's number → process id (-1: free)
    private readonly Stack<int> _free = [];

    /// <summary>Numbers given out, free ones included: the length every per-vehicle array needs.</summary>
    public int Issued { get; private set; }

    /// <summary>The partition's number of a vehicle (by its process id), or -1 when the partition does not hold it.</summary>
    public int Find(int processId) => (uint)processId < (uint)_local.Length ? _local[processId] - 1 : -1;

    /// <summary>Numbers a vehicle the partition does not hold yet: a freed number, else the next one.</summary>
    public int Add(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(processId);
        if (Find(processId) >= 0) throw new InvalidOperationException($"vehicle {ids.Name(processId)} is held already");
        int v = _free.Count > 0 ? _free.Pop() : Issued++;
        if (v >= _process.Length) Array.Resize(ref _process, _process.Length * 2);
        _process[v] = processId;
        if (processId >= _local.Length) Array.Resize(ref _local, Math.Max(processId + 1, Math.Max(256, _local.Length * 2)));
        _local[processId] = v + 1;
        return v;
    }

    /// <summary>The vehicle is forgotten: its number is free for the next vehicle that comes.</summary>
    public void Release(int vehicle)
    {
        _local[_process[vehicle]] = 0;
        _process[vehicle] = -1;
        _free.Push(vehicle);
    }

    public string Name(int vehicle) => ids.Name(_process[vehicle]);

    public int ProcessId(int vehicle) => _process[vehicle];
}
