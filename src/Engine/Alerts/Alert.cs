namespace Traffic.Engine.Alerts;

/// <summary>Lifecycle states of an alert event (INTERFACES.md).</summary>
public enum AlertState : byte
{
    Open = 0,
    Update = 1,
    Close = 2,
}

/// <summary>
/// One lifecycle event of an alert, as written to <c>alerts.ndjson</c>. <see cref="AlertId"/> is stable
/// across the open, updates and close of one alert and derives from the input only (kind, subject and
/// the condition's start), so the same input gives the same ids.
/// </summary>
public sealed record AlertEvent
{
    public required string AlertId { get; init; }
    public required string Kind { get; init; }
    public required AlertState State { get; init; }

    /// <summary>Time of this event, epoch ms.</summary>
    public required long TimeMs { get; init; }

    /// <summary>When the condition began, epoch ms.</summary>
    public required long StartMs { get; init; }

    /// <summary>When it ended (on close), epoch ms.</summary>
    public long? EndMs { get; init; }

    public string? VehicleId { get; init; }
    public string? Class { get; init; }
    public string? Hazmat { get; init; }
    public string? Road { get; init; }
    public long? WayId { get; init; }
    public string? Direction { get; init; }
    public string? Zone { get; init; }
    public double? Lon { get; init; }
    public double? Lat { get; init; }
    public int? Severity { get; init; }

    /// <summary>Measured values and the limits that triggered the alert.</summary>
    public IReadOnlyDictionary<string, double> Evidence { get; init; } = new Dictionary<string, double>();
}
