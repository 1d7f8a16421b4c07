namespace Traffic.Engine.Probes;

/// <summary>
/// The vehicles a rule knows by number: their ids as written, and their numbers in the process's <see cref="VehicleIds"/>
/// (which the vehicle registry is keyed by). The process's table itself, or a partition's own numbering
/// (<see cref="Pipeline.PartitionVehicles"/>), dense over the vehicles it holds.
/// </summary>
public interface IVehicleNames
{
    /// <summary>The id as it was written.</summary>
    string Name(int vehicle);

    /// <summary>The vehicle's dense id in the process's <see cref="VehicleIds"/>.</summary>
    int ProcessId(int vehicle);
}
