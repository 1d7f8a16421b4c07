namespace Traffic.Engine.Probes;

/// <summary>Vehicle classes of the probe format; the numeric value is used in the binary record.</summary>
public enum VehicleClass : byte
{
    /// <summary>Not given by the probe: taken from the vehicle registry, else <see cref="Car"/>.</summary>
    Unspecified = 0,
    Car = 1,
    Bus = 2,
    Taxi = 3,
    Truck = 4,
    Hazmat = 5,
}

/// <summary>
/// One GPS fix, decoded. A plain struct with no references: the vehicle is an interned dense id, the
/// hazardous-cargo class an encoded UN number, and absent optional fields are NaN or flags.
/// </summary>
public struct Probe
{
    /// <summary>Dense id of the vehicle (see <see cref="VehicleIds"/>).</summary>
    public int Vehicle;

    /// <summary>Time of the fix, epoch milliseconds UTC.</summary>
    public long TimeMs;

    public double Lon;
    public double Lat;

    /// <summary>Reported speed, km/h; NaN when absent.</summary>
    public float SpeedKmh;

    /// <summary>Reported course, degrees clockwise from north in [0, 360); NaN when absent.</summary>
    public float Heading;

    /// <summary>Reported horizontal accuracy, metres; NaN when absent.</summary>
    public float AccuracyM;

    /// <summary>JT/T 808 alarm bits (0 when absent, see <see cref="HasAlarm"/>).</summary>
    public uint Alarm;

    /// <summary>JT/T 808 status bits (0 when absent, see <see cref="HasStatus"/>).</summary>
    public uint Status;

    /// <summary>UN dangerous-goods class × 10 + division ("3" → 30, "2.1" → 21); 0 when none is carried.</summary>
    public ushort Hazmat;

    public VehicleClass Class;

    /// <summary>False when the unit reports no valid GNSS fix (<c>"fix": false</c>).</summary>
    public bool Fix;

    public bool HasAlarm;
    public bool HasStatus;

    /// <summary>A probe with every optional field absent.</summary>
    public static Probe Empty => new()
    {
        SpeedKmh = float.NaN,
        Heading = float.NaN,
        AccuracyM = float.NaN,
        Fix = true,
    };

    /// <summary>The UN class as written in the probe format ("3", "2.1"), or null.</summary>
    public readonly string? HazmatText => ProbeRules.HazmatText(Hazmat);
}
