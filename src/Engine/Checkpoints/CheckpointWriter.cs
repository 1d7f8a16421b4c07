using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Checkpoints;

/// <summary>
/// Builds a checkpoint's payload: little-endian fields through <see cref="Out"/>, and vehicles written as indices
/// into the checkpoint's own table of vehicle-id strings, never as the process's dense ids (another process
/// interns the same vehicles in another order).
/// </summary>
internal sealed class CheckpointWriter : IDisposable
{
    private readonly MemoryStream _buffer = new();
    private readonly Dictionary<int, int> _table = [];

    public CheckpointWriter() => Out = new BinaryWriter(_buffer, Encoding.UTF8, leaveOpen: true);

    public BinaryWriter Out { get; }

    /// <summary>Writes the vehicle table: the ids of <paramref name="vehicles"/> in this order; later <see cref="Vehicle"/> calls refer to it.</summary>
    public void VehicleTable(IVehicleNames ids, ReadOnlySpan<int> vehicles)
    {
        Out.Write(vehicles.Length);
        foreach (int v in vehicles)
        {
            _table.Add(v, _table.Count);
            Out.Write(ids.Name(v));
        }
    }

    /// <summary>A vehicle, as its index in the table.</summary>
    public void Vehicle(int vehicle)
    {
        if (!_table.TryGetValue(vehicle, out int index))
            throw new InvalidOperationException($"vehicle {vehicle} has state but is not in the checkpoint's vehicle table");
        Out.Write(index);
    }

    public void String(string? s)
    {
        Out.Write(s != null);
        if (s != null) Out.Write(s);
    }

    /// <summary>Frames the payload (header, checksum) onto <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream, CheckpointKind kind)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Out.Flush();
        CheckpointFile.Write(stream, kind, _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length));
    }

    public void Dispose()
    {
        Out.Dispose();
        _buffer.Dispose();
    }
}
