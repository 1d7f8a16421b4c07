namespace Traffic.Geo.Matching;

/// <summary>
/// Parameters of the hidden Markov model (Newson &amp; Krumm 2009) and of online decisions.
/// The defaults are set on principle for 1–30 s sampling of consumer and fleet GPS units, not per trace.
/// </summary>
public sealed record MatcherOptions
{
    /// <summary>
    /// Standard deviation of GPS noise, metres (Gaussian emission): set it per source where the units are known (the engine
    /// does, per vehicle class). The default is for a unit of unknown noise fixing about every second, and errs wide, as does
    /// <see cref="MinMoveM"/> with it (Newson &amp; Krumm's 2σ): on the Kubicka tracks with 10 m of noise added to every fix,
    /// 15 m and 30 m match 99.30 % offline and 99.08 % online against 97.47 % and 96.68 % with 10 m and 20 m (20 m added:
    /// 75.8 % against 61.4 %); the tracks as they are 99.72 % and 99.44 % against 99.74 % and 99.47 % (bench/RESULTS.md).
    /// </summary>
    public double SigmaM { get; init; } = 15;

    /// <summary>Scale of the exponential on |route distance − great-circle distance|, metres.</summary>
    public double BetaM { get; init; } = 2;

    /// <summary>
    /// A probe closer than this to the last probe used is a follower: it takes that probe's match and adds
    /// no evidence to the model (Newson &amp; Krumm drop points within 2σ: GPS error is correlated while a
    /// vehicle stands, and counting it again and again pulls the match onto nearby spurs).
    /// </summary>
    public double MinMoveM { get; init; } = 30;

    /// <summary>
    /// Consecutive probes that no route reaches from the previous one and that are kept as followers (bad
    /// fixes) before the chain breaks with <see cref="ChainBreak.NoRoute"/>.
    /// </summary>
    public int MaxOutliers { get; init; } = 2;

    /// <summary>Beta grows by this many metres per metre between consecutive probes (see <see cref="BetaM"/>).</summary>
    public double BetaPerMetre { get; init; } = 0.05;

    /// <summary>
    /// Beta also grows by this times σ² / max(d, σ), with σ = <see cref="SigmaM"/> and d the great-circle distance between
    /// the probes: how far the two fixes' noise across the road stretches the straight line between them beyond the
    /// distance driven (the line is √(d² + Δp²) with Δp of variance 2σ², on average about σ²/d longer). It matters where
    /// probes are close together for their noise (dense sampling, slow vehicles); 0 turns it off.
    /// </summary>
    public double BetaNoiseFactor { get; init; } = 1;

    /// <summary>
    /// A probe the model uses is placed, for the model, at the mean of its fix and of up to this many followers just
    /// before it (within <see cref="SmoothWindowS"/>, outliers left out): where fixes come faster than the vehicle
    /// moves by the noise, the model probe is otherwise whichever fix the noise first carried past
    /// <see cref="MinMoveM"/>, as often across the road as along it. The probe's own position (what the match reports)
    /// stays its fix. 0 turns it off.
    /// </summary>
    public int SmoothFollowers { get; init; } = 2;

    /// <summary>Followers older than this, seconds, before the probe are not averaged into it (<see cref="SmoothFollowers"/>): the vehicle may have moved off since.</summary>
    public double SmoothWindowS { get; init; } = 10;

    /// <summary>Radius of the candidate search around a probe, metres.</summary>
    public double SearchRadiusM { get; init; } = 50;

    /// <summary>Most candidates kept per probe in the vehicle's state: the most likely ones.</summary>
    public int MaxCandidates { get; init; } = 6;

    /// <summary>
    /// Candidates scored per probe (the nearest within the radius), of which the <see cref="MaxCandidates"/>
    /// most likely are kept: scoring more is cheap (one route search serves them all), keeping more costs
    /// every tracked vehicle memory.
    /// </summary>
    public int SearchCandidates { get; init; } = 10;

    /// <summary>
    /// A time gap longer than this breaks the chain, seconds. Within it, the model goes on across the gap: the route between
    /// the fixes either side (a tunnel, a stretch without signal) is matched as any other step, and a gap the route search
    /// cannot bridge breaks the chain with <see cref="ChainBreak.NoRoute"/>. On the Kubicka tracks with 4 minutes of fixes
    /// taken out of each, an hour matches 99.77 % against 91.81 % with 3 minutes (each gap's whole route lost); with 10 and
    /// 25 minutes taken out, 94.2 % and 75.3 % against 77.2 % and 67.5 % (bench/RESULTS.md). The engine breaks sooner for its
    /// own reasons (its segment travel times): see its vehicle classes' options.
    /// </summary>
    public double MaxGapS { get; init; } = 3600;

    /// <summary>Speed no vehicle exceeds, km/h: bounds the route search between probes.</summary>
    public double MaxSpeedKmh { get; init; } = 180;

    /// <summary>
    /// Backward movement along one edge up to this many metres is GPS noise, not a U-turn or a loop
    /// around the block: a vehicle standing still or crawling does not jump back and forth. The noise of two
    /// fixes reaches further when <see cref="SigmaM"/> is large: a step back up to 2√2 σ (twice the spread of
    /// the difference of two fixes' along-road errors) is noise too, taken as standing still (no route driven),
    /// so that a path along the wrong direction of a two-way road pays at every step.
    /// </summary>
    public double BackwardToleranceM { get; init; } = 10;

    /// <summary>Cost added for turning onto the twin of the current edge (a U-turn), metres of route.</summary>
    public double UTurnPenaltyM { get; init; } = 50;

    /// <summary>
    /// Beam pruning: a candidate whose best path is less likely than the column's best by more than this
    /// (natural log) is dropped. e^-20 is far below anything that could win later; pruning keeps the route
    /// searches per probe few and lets paths agree (and probes be decided) sooner.
    /// </summary>
    public double PruneLogProbability { get; init; } = 20;

    /// <summary>
    /// Online: a probe is decided at the latest when this many probes that carry evidence have arrived after it.
    /// Followers (see <see cref="MinMoveM"/>) do not count: one is decided with the next probe the model uses, or by
    /// <see cref="LagSeconds"/>, or when the vehicle's ring of probes is full.
    /// </summary>
    public int LagProbes { get; init; } = 8;

    /// <summary>Online: a probe is decided at the latest this long after it was taken, seconds.</summary>
    public double LagSeconds { get; init; } = 60;

    /// <summary>Heading, when reported at a speed above <see cref="HeadingMinSpeedKmh"/>: standard deviation of its error, degrees.</summary>
    public double HeadingSigmaDeg { get; init; } = 35;

    /// <summary>Reported heading and speed are used only above this speed (a standing unit's course is noise).</summary>
    public double HeadingMinSpeedKmh { get; init; } = 8;

    /// <summary>
    /// A probe that reports a speed at most this (km/h) and lies within 8 <see cref="SigmaM"/> of the last probe
    /// used is a standing vehicle: a follower, like a probe that moved less than <see cref="MinMoveM"/>, so that
    /// its match stays put instead of creeping along the road or onto a neighbouring edge. Probes without a
    /// reported speed (NaN) are judged by <see cref="MinMoveM"/> alone.
    /// </summary>
    public double StandingSpeedKmh { get; init; } = 1;

    /// <summary>
    /// Compare each route with the distance the reported speed implies (when a probe reports one). Off by
    /// default: on synthetic trips it moved edge accuracy by −0.3 to +0.6 points and lowered route accuracy by
    /// 0.2–0.6 points in every cell measured (docs/matching.md); the heading term, by contrast, helps.
    /// </summary>
    public bool UseReportedSpeed { get; init; }

    /// <summary>
    /// Speed plausibility (the temporal term of ST-Matching, Lou et al. 2009): a vehicle drives an edge at most this many
    /// times its speed limit. A route that even so takes longer than the time between the two probes pays, in the
    /// transition, the Gaussian tail of the metres it could not have driven in that time: excess² / 2s², where s² = 2σ²
    /// (the spread of a route length between two fixes) + (<see cref="PlausibleSpeedSpread"/> × the metres drivable)².
    /// Only limits the network knows count: a <c>maxspeed</c> tag or an OSM road
    /// class's default; an edge with <c>maxspeed=none</c> or of class road or unknown untagged (Kubicka's arcs) limits
    /// nothing, and a network without limits is matched as without the term. 0 or less: off.
    /// </summary>
    public double PlausibleSpeedFactor { get; init; } = 1.5;

    /// <summary>
    /// How uncertain the distance a vehicle can drive at <see cref="PlausibleSpeedFactor"/> times the limits is, as a share
    /// of it: limits are often a class's default and drivers differ. Its square adds to the route length's own spread (σ√2),
    /// so that over long intervals a route a little too long for the limits costs little (and a chain is not broken by one
    /// wrong limit), while over a few seconds the fixes' noise decides.
    /// </summary>
    public double PlausibleSpeedSpread { get; init; } = 0.2;

    /// <summary>Defaults for an offline match: decide nothing before the end of the trace.</summary>
    public MatcherOptions AsOffline() => this with { LagProbes = int.MaxValue, LagSeconds = double.PositiveInfinity };
}
