using Traffic.Engine.Probes;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Evaluation;

/// <summary>
/// Scores a run of the engine against the simulator's ground truth (<c>traffic score</c>; rules in
/// docs/scoring.md): per alert kind, which injected events were found (true positives), missed (false
/// negatives) and which alerts were raised without cause (false positives); and how many matched probes lie
/// on their true edge.
/// </summary>
/// <remarks>
/// An expected event is found by an alert of its expected kind for the same subject — the vehicle, or for
/// congestion and incident any way of the event's road (by way id or road name) — whose span overlaps the
/// event's span extended by the tolerance on both sides; for zone kinds the zone ids must agree too. Alerts are
/// taken in order of start: the first alert of an event makes it a true positive, later ones are
/// <see cref="KindScore.Extra"/>. An alert that finds no event is a false positive unless the truth confirms
/// its condition (<see cref="KindScore.Unplanned"/>: the vehicle truly was in that zone, truly above the limit,
/// …), which <see cref="ScoreOptions.Strict"/> turns off.
/// </remarks>
public static class Scorer
{
    /// <summary>A congestion or incident alert is confirmed when the true mean speed on its way is at most this share of the limit.</summary>
    public const double CongestedShareOfLimit = 0.5;

    /// <summary>The kinds of INTERFACES.md, in its order: the report's order.</summary>
    public static IReadOnlyList<string> KnownKinds => s_kinds;

    private static readonly string[] s_kinds =
    [
        "congestion", "incident", "speeding", "wrong_way", "zone", "zone_dwell", "hazmat_forbidden", "hazmat_off_corridor",
        "hazmat_long_stop", "hazmat_no_fix", "fatigue", "teleport", "signal_lost",
    ];

    /// <summary>
    /// Scores the run in <paramref name="runDir"/> (the <c>--out</c> folder of <c>traffic replay</c>: its
    /// <c>alerts.ndjson</c> and <c>matched/*.arrow</c>) against <paramref name="truthPath"/> (<c>truth.ndjson</c> or
    /// the simulation's folder; the <c>zones.geojson</c> beside it, when there is one, confirms zone alerts).
    /// </summary>
    /// <exception cref="FileNotFoundException">A missing truth or alerts file.</exception>
    /// <exception cref="DirectoryNotFoundException">A missing run folder or <c>matched/</c> folder.</exception>
    /// <exception cref="InvalidDataException">A truth, alert or Arrow file that cannot be read.</exception>
    public static ScoreReport Score(string truthPath, string runDir, ScoreOptions? options = null, string? zonesPath = null)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run folder not found: {runDir}");
        var truth = GroundTruth.Load(truthPath, zonesPath);
        var alerts = RunOutput.ReadAlerts(runDir);
        return Score(truth, alerts, RunOutput.ReadMatched(runDir), options);
    }

    /// <summary>Scores alerts and matched probes against the truth.</summary>
    public static ScoreReport Score(GroundTruth truth, IReadOnlyList<RaisedAlert> alerts, IEnumerable<MatchedRow> matched, ScoreOptions? options = null)
    {
        options ??= new ScoreOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.ToleranceS);
        long tolMs = (long)Math.Round(options.ToleranceS * 1000);
        var expected = truth.Events.Where(e => e.IsExpected).ToList();
        var tallies = new Dictionary<string, Tally>(StringComparer.Ordinal);
        Tally Of(string kind) => tallies.TryGetValue(kind, out var t) ? t : tallies[kind] = new Tally();
        foreach (var e in expected) Of(e.ExpectedAlert!).Expected++;

        var found = new bool[expected.Count];
        var confirm = new Confirmation(truth, tolMs);
        foreach (var a in alerts.OrderBy(a => a.StartMs).ThenBy(a => a.AlertId, StringComparer.Ordinal))
        {
            var t = Of(a.Kind);
            t.Raised++;
            bool any = false, first = false;
            for (int i = 0; i < expected.Count; i++)
            {
                if (expected[i].ExpectedAlert != a.Kind || !Matches(expected[i], a, tolMs)) continue;
                any = true;
                if (!found[i]) first = found[i] = true;
            }
            if (first) continue;
            if (any) t.Extra++;
            else if (!options.Strict && confirm.Confirms(a)) t.Unplanned++;
            else t.FalseAlerts.Add(a.AlertId);
        }
        for (int i = 0; i < expected.Count; i++)
        {
            var t = Of(expected[i].ExpectedAlert!);
            if (found[i]) t.TruePositives++;
            else t.Missed.Add(expected[i]);
        }

        var kinds = tallies.OrderBy(kv => Array.IndexOf(s_kinds, kv.Key) is int k and >= 0 ? k : int.MaxValue).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new KindScore
            {
                Kind = kv.Key,
                Expected = kv.Value.Expected,
                Raised = kv.Value.Raised,
                TruePositives = kv.Value.TruePositives,
                FalsePositives = kv.Value.FalseAlerts.Count,
                FalseNegatives = kv.Value.Missed.Count,
                Extra = kv.Value.Extra,
                Unplanned = kv.Value.Unplanned,
                FalseAlerts = kv.Value.FalseAlerts,
                Missed = kv.Value.Missed,
            }).ToList();
        return new ScoreReport
        {
            Options = options,
            Kinds = kinds,
            Matching = ScoreMatching(truth, matched),
            EventsNotScored = truth.Events.Count - expected.Count,
        };
    }

    /// <summary>Whether alert <paramref name="a"/> matches expected event <paramref name="e"/> (same kind assumed).</summary>
    internal static bool Matches(InjectedEvent e, RaisedAlert a, long tolMs)
    {
        long start = e.StartMs!.Value, end = e.EndMs ?? start;
        if (a.StartMs > end + tolMs || (a.EndMs ?? long.MaxValue) < start - tolMs) return false;
        if (e.Zone != null && a.Zone != null && e.Zone != a.Zone) return false;
        if (e.VehicleId != null) return e.VehicleId == a.VehicleId;
        // A road event: any segment of the road, found by its OSM way or, failing that, its name.
        return (a.WayId is long way && e.WayIds.Contains(way)) || (e.Road != null && e.Road == a.Road);
    }

    private static MatchingScore ScoreMatching(GroundTruth truth, IEnumerable<MatchedRow> matched)
    {
        long compared = 0, onEdge = 0, unmatched = 0, sameEdge = 0, sameWay = 0, moving = 0, sameEdgeMoving = 0, notInTruth = 0;
        var seen = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        foreach (var row in matched)
        {
            var track = truth.Track(row.VehicleId);
            int i = IndexOf(track, row.TimeMs);
            if (i < 0)
            {
                notInTruth++;
                continue;
            }
            if (!seen.TryGetValue(row.VehicleId, out var done)) seen[row.VehicleId] = done = new bool[track.Length];
            if (done[i]) continue; // one comparison per probe, should a run write a fix twice
            done[i] = true;
            compared++;
            if (row.Edge < 0)
            {
                unmatched++;
                continue;
            }
            onEdge++;
            bool same = row.Edge == track[i].Edge;
            if (same) sameEdge++;
            if (row.WayId == track[i].WayId) sameWay++;
            if (!track[i].Stopped)
            {
                moving++;
                if (same) sameEdgeMoving++;
            }
        }
        return new MatchingScore
        {
            ProbesSent = truth.ProbesSent,
            ProbesCompared = compared,
            Matched = onEdge,
            Unmatched = unmatched,
            SameEdge = sameEdge,
            SameWay = sameWay,
            MatchedMoving = moving,
            SameEdgeMoving = sameEdgeMoving,
            NotInTruth = notInTruth,
        };
    }

    /// <summary>Index of the probe at exactly <paramref name="timeMs"/> in a time-ordered track, or -1.</summary>
    internal static int IndexOf(ReadOnlySpan<TruthProbe> track, long timeMs)
    {
        int lo = 0, hi = track.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            long t = track[mid].TimeMs;
            if (t == timeMs) return mid;
            if (t < timeMs) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>First index of a time-ordered track at or after <paramref name="timeMs"/>.</summary>
    internal static int LowerBound(ReadOnlySpan<TruthProbe> track, long timeMs)
    {
        int lo = 0, hi = track.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (track[mid].TimeMs < timeMs) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private sealed class Tally
    {
        public int Expected;
        public int Raised;
        public int TruePositives;
        public int Extra;
        public int Unplanned;
        public readonly List<string> FalseAlerts = [];
        public readonly List<InjectedEvent> Missed = [];
    }

    /// <summary>
    /// Whether the truth confirms the condition an unplanned alert claims. A moment's condition (inside a zone,
    /// above the limit, against a one-way road, off the corridor) is looked for in the alert's span extended by
    /// the tolerance; a lasting one (standing, a congested way) must hold over the span itself.
    /// </summary>
    private sealed class Confirmation(GroundTruth truth, long tolMs)
    {
        private Dictionary<(long Way, bool Backward), List<TruthProbe>>? _byWay;

        public bool Confirms(RaisedAlert a)
        {
            long from = a.StartMs - tolMs, to = a.EndMs is long e ? e + tolMs : long.MaxValue;
            return a.Kind switch
            {
                "zone" or "hazmat_forbidden" => Zone(a) is int z && Any(a, from, to, p => InZoneInForce(z, a, p)),
                "zone_dwell" => Zone(a) is int z && Dwelt(z, a, from, to),
                "hazmat_off_corridor" => Zone(a) is int z && Any(a, from, to, p => !truth.Zones!.Holds(z, p.Lon, p.Lat)),
                "speeding" => Any(a, from, to, p => p.LimitKmh > 0 && p.SpeedKmh > p.LimitKmh),
                "wrong_way" => Any(a, from, to, p => p.AgainstOneWay),
                "hazmat_long_stop" => StoodThroughout(a),
                "congestion" or "incident" => Congested(a),
                _ => false, // teleport, signal_lost, hazmat_no_fix, fatigue: the truth has no record to confirm them by
            };
        }

        private int? Zone(RaisedAlert a)
        {
            if (truth.Zones is not { } zones || a.Zone == null) return null;
            for (int z = 0; z < zones.Zones.Count; z++)
            {
                if (zones.Zones[z].Id != a.Zone) continue;
                bool kindFits = zones.Zones[z].Kind switch
                {
                    ZoneKind.Restricted => a.Kind is "zone" or "zone_dwell",
                    ZoneKind.HazmatForbidden => a.Kind == "hazmat_forbidden",
                    ZoneKind.Corridor => a.Kind == "hazmat_off_corridor",
                    _ => false,
                };
                return kindFits ? z : null;
            }
            return null;
        }

        private bool InZoneInForce(int z, RaisedAlert a, in TruthProbe p)
        {
            var zone = truth.Zones!.Zones[z];
            if (!zone.InForce(p.TimeMs) || !truth.Zones.Holds(z, p.Lon, p.Lat)) return false;
            return zone.Kind != ZoneKind.Restricted || a.Class == null || !ProbeRules.TryParseClass(a.Class, out VehicleClass c) || zone.AppliesTo(c, a.Hazmat != null);
        }

        // Inside without a break for the zone's allowed stay (less the tolerance), within the window.
        private bool Dwelt(int z, RaisedAlert a, long from, long to)
        {
            if (a.VehicleId == null || truth.Zones!.Zones[z].MaxDwellS is not double maxDwell) return false;
            var track = truth.Track(a.VehicleId);
            long need = (long)(maxDwell * 1000) - tolMs, entered = -1;
            for (int i = LowerBound(track, from); i < track.Length && track[i].TimeMs <= to; i++)
            {
                if (!InZoneInForce(z, a, track[i]))
                {
                    entered = -1;
                    continue;
                }
                if (entered < 0) entered = track[i].TimeMs;
                if (track[i].TimeMs - entered >= need) return true;
            }
            return false;
        }

        private bool Any(RaisedAlert a, long from, long to, Func<TruthProbe, bool> holds)
        {
            if (a.VehicleId == null) return false;
            var track = truth.Track(a.VehicleId);
            for (int i = LowerBound(track, from); i < track.Length && track[i].TimeMs <= to; i++)
            {
                if (holds(track[i])) return true;
            }
            return false;
        }

        // Standing at every true state within the span (its ends eased by the tolerance), and at least one.
        private bool StoodThroughout(RaisedAlert a)
        {
            if (a.VehicleId == null) return false;
            var track = truth.Track(a.VehicleId);
            long end = a.EndMs ?? (track.Length > 0 ? track[^1].TimeMs : a.StartMs);
            long from = a.StartMs + tolMs, to = end - tolMs;
            if (to < from) (from, to) = (a.StartMs, end);
            int n = 0;
            for (int i = LowerBound(track, from); i < track.Length && track[i].TimeMs <= to; i++, n++)
            {
                if (!track[i].Stopped) return false;
            }
            return n > 0;
        }

        // The vehicles truly on that way and direction during the span drove at most half the limit on average.
        private bool Congested(RaisedAlert a)
        {
            if (a.WayId is not long way) return false;
            _byWay ??= IndexByWay();
            bool backward = a.Direction == "backward";
            if (!_byWay.TryGetValue((way, backward), out var probes)) return false;
            long to = a.EndMs ?? long.MaxValue;
            double speed = 0, limit = 0;
            int n = 0;
            foreach (var p in probes)
            {
                if (p.TimeMs < a.StartMs || p.TimeMs > to) continue;
                speed += p.SpeedKmh;
                limit += p.LimitKmh;
                n++;
            }
            return n > 0 && speed <= CongestedShareOfLimit * limit;
        }

        private Dictionary<(long, bool), List<TruthProbe>> IndexByWay()
        {
            var index = new Dictionary<(long, bool), List<TruthProbe>>();
            foreach (string v in truth.Vehicles)
            {
                foreach (var p in truth.Track(v))
                {
                    if (!index.TryGetValue((p.WayId, p.Backward), out var list)) index[(p.WayId, p.Backward)] = list = [];
                    list.Add(p);
                }
            }
            return index;
        }
    }
}
