namespace Traffic.Geo.Matching;

/// <summary>One GPS fix as the matcher sees it.</summary>
public readonly record struct GpsPoint(long TimeMs, double Lon, double Lat)
{
    /// <summary>Speed reported by the unit, km/h; NaN when absent.</summary>
    public float SpeedKmh { get; init; } = float.NaN;

    /// <summary>Course reported by the unit, degrees clockwise from north; NaN when absent.</summary>
    public float Heading { get; init; } = float.NaN;

    /// <summary>The caller's id for this probe (a sequence number or an offset), carried to the match.</summary>
    public long Id { get; init; }
}

/// <summary>Why a chain of matches starts at a probe.</summary>
public enum ChainBreak : byte
{
    /// <summary>The probe continues the chain of the one before.</summary>
    None = 0,
    /// <summary>The first probe of a vehicle or after a flush.</summary>
    Start = 1,
    /// <summary>No road within the search radius: the probe is unmatched.</summary>
    NoCandidates = 2,
    /// <summary>The time since the previous probe exceeded the gap bound.</summary>
    TimeGap = 3,
    /// <summary>No route within the distance bound connects any candidate of the previous probe to any of this one.</summary>
    NoRoute = 4,
}

/// <summary>What <see cref="OnlineMatcher.Push{TSink}"/> did with a probe.</summary>
public enum PushResult : byte
{
    Accepted = 0,
    /// <summary>Same time and position as the previous probe: dropped.</summary>
    Duplicate = 1,
    /// <summary>Older than the previous probe of the vehicle: dropped (the engine reorders before the matcher).</summary>
    OutOfOrder = 2,
    /// <summary>Coordinates not finite or out of range.</summary>
    Invalid = 3,
}

/// <summary>A probe's decided match.</summary>
public readonly struct MatchedProbe
{
    public required long ProbeId { get; init; }
    public required long TimeMs { get; init; }

    /// <summary>The matched edge, or -1 when the probe could not be matched (<see cref="Break"/> says why).</summary>
    public required int Edge { get; init; }
    public required double OffsetM { get; init; }

    /// <summary>The snapped point on the edge.</summary>
    public required double Lon { get; init; }
    public required double Lat { get; init; }

    /// <summary>Distance from the probe to the snapped point, metres.</summary>
    public required double DistanceM { get; init; }

    /// <summary>
    /// The probe's own position (what the unit reported), which the rules weigh against the snapped point: a standing
    /// vehicle's fixes scatter round where it stands while its snapped point may jump to another road. Both 0 when
    /// the producer of the match did not set them (the rules then use the snapped point).
    /// </summary>
    public double ProbeLon { get; init; }

    public double ProbeLat { get; init; }

    /// <summary>Route distance from the previous matched probe of the chain, metres (0 at a chain start).</summary>
    public required double RouteDistanceM { get; init; }

    /// <summary>Route distance over elapsed time, km/h; NaN at a chain start or when no time elapsed.</summary>
    public required double SpeedKmh { get; init; }

    /// <summary>Posterior share of the chosen candidate among this probe's candidates, in [0, 1].</summary>
    public required double Confidence { get; init; }

    public required ChainBreak Break { get; init; }

    /// <summary>Whether the match was decided by the lag bound rather than by all paths agreeing.</summary>
    public required bool Forced { get; init; }

    /// <summary>The speed the unit reported with this fix, km/h; NaN when it reported none.</summary>
    public required double ReportedSpeedKmh { get; init; }

    /// <summary>
    /// No route reached this fix from the one before while the probes around it connect: a bad fix (a
    /// teleport), placed where the vehicle was rather than where it claimed to be.
    /// </summary>
    public bool Outlier { get; init; }
}

/// <summary>
/// One edge driven between two consecutive matched probes, with entry and exit times interpolated
/// along the route: enough for downstream to compute segment travel times and speeds.
/// </summary>
public readonly record struct TraversedEdge(int Edge, double FromOffsetM, double ToOffsetM, long EnterTimeMs, long ExitTimeMs)
{
    /// <summary>Whether the vehicle drove the whole edge (entered at its start, left at its end).</summary>
    public bool Complete(double edgeLengthM) => FromOffsetM <= 1e-6 && ToOffsetM >= edgeLengthM - 1e-6;
}

/// <summary>Receives matches in probe order; a struct implementing it is called without virtual dispatch.</summary>
public interface IMatchSink
{
    /// <summary>
    /// A decided match and the edges driven since the previous matched probe of the chain (empty at a
    /// chain start; the first entry is the previous probe's edge, the last this probe's edge). The span
    /// is valid only during the call.
    /// </summary>
    void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route);
}
