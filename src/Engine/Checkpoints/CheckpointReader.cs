using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Checkpoints;

/// <summary>
/// Reads a checkpoint's verified payload (see <see cref="CheckpointWriter"/>): vehicles come back as dense ids of
/// the <see cref="VehicleIds"/> given, the names interned into it. Anything that does not hold together is a
/// <see cref="CheckpointException"/>.
/// </summary>
internal sealed class CheckpointReader : IDisposable
{
    private readonly MemoryStream _payload;
    private int[] _vehicles = [];

    private CheckpointReader(byte[] payload)
    {
        _payload = new MemoryStream(payload, writable: false);
        In = new BinaryReader(_payload, Encoding.UTF8);
    }

    public BinaryReader In { get; }

    /// <summary>
    /// Reads and verifies a checkpoint of <paramref name="kind"/> and restores from it with <paramref name="restore"/>;
    /// a payload that ends early, has bytes left over or fails a check is refused as malformed.
    /// </summary>
    public static T Restore<T>(Stream stream, CheckpointKind kind, Func<CheckpointReader, T> restore)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new CheckpointReader(CheckpointFile.Read(stream, kind));
        try
        {
            T result = restore(reader);
            if (reader._payload.Position != reader._payload.Length)
                throw new CheckpointException($"checkpoint malformed: {reader._payload.Length - reader._payload.Position} bytes left over after its state");
            return result;
        }
        // FormatException: a string's 7-bit length that runs on; IOException (EndOfStreamException among them): a payload
        // that ends early, or a negative string length (both found by fuzzing). The payload is in memory: nothing else throws it.
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or IndexOutOfRangeException
            or OverflowException or KeyNotFoundException or FormatException && e is not CheckpointException)
        {
            throw new CheckpointException($"checkpoint malformed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads the vehicle table, interning every name into <paramref name="ids"/>; returns the dense ids in table order,
    /// which the caller may renumber in place (a partition's own numbers): <see cref="Vehicle"/> then returns those.
    /// </summary>
    public Span<int> VehicleTable(VehicleIds ids)
    {
        int n = Count();
        _vehicles = new int[n];
        for (int i = 0; i < n; i++)
        {
            string name = In.ReadString();
            if (name.Length == 0) throw new CheckpointException("checkpoint malformed: an empty vehicle id");
            _vehicles[i] = ids.Intern(name.AsSpan());
        }
        return _vehicles;
    }

    /// <summary>A vehicle written by <see cref="CheckpointWriter.Vehicle"/>, as a dense id of this process.</summary>
    public int Vehicle()
    {
        int index = In.ReadInt32();
        if ((uint)index >= (uint)_vehicles.Length) throw new CheckpointException($"checkpoint malformed: vehicle {index} of a table of {_vehicles.Length}");
        return _vehicles[index];
    }

    public string? String() => In.ReadBoolean() ? In.ReadString() : null;

    /// <summary>A count of items that follow: never negative nor more than the bytes left could hold.</summary>
    public int Count()
    {
        int n = In.ReadInt32();
        if (n < 0 || n > _payload.Length - _payload.Position) throw new CheckpointException($"checkpoint malformed: a count of {n}");
        return n;
    }

    /// <summary>Refuses the checkpoint when a check fails.</summary>
    public static void Check(bool condition, string message)
    {
        if (!condition) throw new CheckpointException(message);
    }

    public void Dispose()
    {
        In.Dispose();
        _payload.Dispose();
    }
}
