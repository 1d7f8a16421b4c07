using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;

namespace Traffic.Engine.Rules;

/// <summary>Options of the zone rules.</summary>
public sealed record ZoneRuleOptions
{
    /// <summary>Inside for this long before an entry counts (a fix jittering over the border is no entry).</summary>
    public double EnterAfterS { get; init; } = 5;

    /// <summary>Outside for this long before an exit counts.</summary>
    public double ExitAfterS { get; init; } = 10;

    /// <summary>A corridor vehicle off its corridor for this long raises <c>hazmat_off_corridor</c>.</summary>
    public double OffCorridorAfterS { get; init; } = 60;

    /// <summary>
    /// A vehicle reporting this speed or less stands: where it is, is the mean of its fixes since it stopped, not its
    /// snapped point (which jumps between the roads round a standing vehicle as its fixes scatter).
    /// </summary>
    public double StandingKmh { get; init; } = 3;

    /// <summary>
    /// A moving vehicle's matched point inside a zone but within this distance of its border, or within its own distance
    /// from the fix if that is more, is no evidence of being inside (it may lie on the wrong one of two roads along the
    /// border). Any position outside is evidence of being out.
    /// </summary>
    public double BorderMarginM { get; init; } = 10;

    /// <summary>
    /// The same for a standing vehicle's mean position after one fix; the margin shrinks with the square root of the
    /// fixes averaged, as the mean's error does (GPS error of fleet units: about 10 m a fix).
    /// </summary>
    public double StandingBorderMarginM { get; init; } = 25;
}

/// <summary>
/// Zone rules per vehicle (INTERFACES.md): <c>zone</c> (inside a restricted zone whose rule applies to the
/// vehicle's class at that hour: opens on entry, closes on exit), <c>zone_dwell</c> (a restricted zone with
/// <c>max_dwell_s</c>: entry allowed, staying longer raises it), <c>hazmat_forbidden</c> (carrying dangerous
/// goods inside a hazmat_forbidden zone) and <c>hazmat_off_corridor</c> (a vehicle assigned a corridor off
/// it for longer than allowed). Entries and exits are debounced. A moving vehicle is where its matched point is; a
/// standing one where its fixes since it stopped lie on average (a vehicle standing beside a zone's border is not
/// taken inside by a snapped point that jumped to a road over the border); a stale fix (a unit without a fix repeating
/// its last position while it drives on) is no evidence. An entry needs a position inside by more than its
/// uncertainty; an exit, any position outside. One instance per shard.
/// </summary>
public sealed class ZoneRule(ZoneSet zones, IVehicleNames ids, VehicleRegistry? registry = null, ZoneRuleOptions? options = null)
{
    private readonly ZoneRuleOptions _options = options ?? new ZoneRuleOptions();
    private readonly int[] _inside = new int[32];
    private readonly int[] _sureInside = new int[32];
    private readonly PerVehicle<Dictionary<int, Presence>> _presence = new(() => []);
    private readonly PerVehicle<Presence> _offCorridor = new(() => new Presence()); // per vehicle with a corridor: time off it
    private readonly PerVehicle<Standing> _standing = new(() => new Standing());   // per vehicle: its fixes since it stopped
    private const long StopGapMs = 120_000;   // a standing vehicle silent longer may have moved: its stop starts afresh
    private const double StopRadiusM = 60;    // a standing vehicle's fix this far from its mean: it has moved
    private Dictionary<(string Id, ZoneKind Kind), int>? _zoneIndex;
    private readonly List<(int Vehicle, string ZoneId, Presence Presence)> _removed = [];   // restored alerts on zones no longer given

    /// <summary>
    /// Feeds a vehicle's decided match: its position is the matched point while it moves, the mean of its fixes since it
    /// stopped while it stands; an outlier or a stale fix is skipped.
    /// </summary>
    public void OnMatched(int vehicle, VehicleClass cls, ushort hazmat, in MatchedProbe m, List<AlertEvent> alerts)
    {
        Standing st = _standing[vehicle];
        bool hasFix = m.ProbeLon != 0 || m.ProbeLat != 0;
        double fixLon = hasFix ? m.ProbeLon : m.Lon, fixLat = hasFix ? m.ProbeLat : m.Lat;
        bool reported = !double.IsNaN(m.ReportedSpeedKmh);
        // A position repeated exactly is no news: a unit without a fix repeats its last one while the vehicle drives on (and
        // may stop somewhere else), a standing unit that pins its position adds nothing to the mean.
        bool stale = hasFix && st.HasLast && fixLon == st.LastLon && fixLat == st.LastLat;
        st.HasLast = hasFix;
        st.LastLon = fixLon;
        st.LastLat = fixLat;
        if (stale || m.Outlier) return;
        bool standing = reported ? m.ReportedSpeedKmh <= _options.StandingKmh : m.Break == ChainBreak.None && m.RouteDistanceM < 1;
        if (!standing)
        {
            st.Count = 0;
            // The matched point is known no better than its distance from the fix: a point snapped 25 m onto a road
            // inside a zone from a fix outside it is no entry.
            double margin = double.IsFinite(m.DistanceM) ? Math.Max(_options.BorderMarginM, m.DistanceM) : _options.BorderMarginM;
            if (m.Edge >= 0) Judge(vehicle, cls, hazmat, m.TimeMs, m.Lon, m.Lat, margin, alerts);
            return;
        }
        // The mean is of one stop: a new chain, a silence, or a fix far from the mean (the vehicle moved while reporting
        // no speed) starts it afresh.
        if (st.Count > 0 && (m.Break != ChainBreak.None || m.TimeMs - st.LastMs > StopGapMs
            || Traffic.Geo.GeoMath.Distance(st.SumLon / st.Count, st.SumLat / st.Count, fixLon, fixLat) > StopRadiusM))
            st.Count = 0;
        if (st.Count == 0)
        {
            st.SumLon = 0;
            st.SumLat = 0;
        }
        st.LastMs = m.TimeMs;
        st.Count++;
        st.SumLon += fixLon;
        st.SumLat += fixLat;
        Judge(vehicle, cls, hazmat, m.TimeMs, st.SumLon / st.Count, st.SumLat / st.Count, _options.StandingBorderMarginM / Math.Sqrt(st.Count), alerts);
    }

    /// <summary>Feeds a vehicle's exact position at a time (the engine feeds matches through <see cref="OnMatched"/>).</summary>
    public void OnPosition(int vehicle, VehicleClass cls, ushort hazmat, long timeMs, double lon, double lat, List<AlertEvent> alerts) =>
        Judge(vehicle, cls, hazmat, timeMs, lon, lat, 0, alerts);

    /// <summary>
    /// Judges a position known to within <paramref name="marginM"/>: inside a zone by more than that is evidence of being
    /// in it, outside by more than that evidence of being out; nearer the border it is no evidence either way.
    /// </summary>
    private void Judge(int vehicle, VehicleClass cls, ushort hazmat, long timeMs, double lon, double lat, double marginM, List<AlertEvent> alerts)
    {
        int n = zones.Containing(lon, lat, _inside);
        var inside = _inside.AsSpan(0, n);
        var presence = _presence[vehicle];

        // Entries and stays: inside by more than the margin.
        int sure = 0;
        foreach (int z in inside)
        {
            if (marginM > 0 && zones.SignedDistanceM(z, lon, lat) < marginM) continue; // too near the border to tell
            _sureInside[sure++] = z;
            if (!presence.TryGetValue(z, out Presence? p)) presence[z] = p = new Presence();
            p.OutsideSinceMs = long.MinValue;
            if (p.InsideSinceMs == long.MinValue) p.InsideSinceMs = timeMs;
            if ((timeMs - p.InsideSinceMs) / 1000.0 < _options.EnterAfterS) continue;
            Zone zone = zones.Zones[z];
            long dwellMs = timeMs - p.InsideSinceMs;
            // A stay is counted while the zone's hours are in force: a truck parked inside from 21:46 is not over a
            // 10-minute limit in force from 22:00 until 22:10 (it was at 22:00, from its entry).
            if (zone.MaxDwellS is double maxDwell && dwellMs / 1000.0 > maxDwell && zone.InForce(timeMs))
                dwellMs = timeMs - zone.InForceSinceMs(p.InsideSinceMs, timeMs);
            string? kind = Violation(zone, cls, hazmat, timeMs, dwellMs);
            if (kind != null && p.OpenId == null)
            {
                // The condition starts at the entry, or when the zone's hours began with the vehicle already inside.
                p.StartMs = zone.InForceSinceMs(p.InsideSinceMs, timeMs);
                p.OpenId = $"{kind}:{ids.Name(vehicle)}:{zone.Id}:{p.StartMs}";
                p.Kind = kind;
                alerts.Add(Event(p, vehicle, cls, hazmat, zone, AlertState.Open, timeMs, lon, lat, null, timeMs - p.StartMs));
            }
            else if (kind == null && p.OpenId != null && !zone.InForce(timeMs))
            {
                // The zone's hours ended with the vehicle still inside: it is allowed there now.
                long end = Math.Max(p.StartMs, zone.LastEndMs(timeMs));
                alerts.Add(Event(p, vehicle, cls, hazmat, zone, AlertState.Close, timeMs, lon, lat, end, end - p.StartMs));
                p.OpenId = null;
            }
        }
        // Exits: any position outside. The doubt goes the vehicle's way: an entry needs a position surely inside, an exit
        // only one outside (a vehicle that leaves and parks just outside the border has left). A position inside but
        // too near the border to be sure lets an exit already seen go on and begins none.
        var sureInside = _sureInside.AsSpan(0, sure);
        foreach (var (z, p) in presence)
        {
            if (sureInside.Contains(z) || p.InsideSinceMs == long.MinValue) continue;
            if (inside.Contains(z) && p.OutsideSinceMs == long.MinValue) continue;
            if (p.OutsideSinceMs == long.MinValue) p.OutsideSinceMs = timeMs;
            if ((timeMs - p.OutsideSinceMs) / 1000.0 < _options.ExitAfterS) continue;
            if (p.OpenId != null)
                alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[z], AlertState.Close, timeMs, lon, lat, p.OutsideSinceMs, p.OutsideSinceMs - p.StartMs));
            p.OpenId = null;
            p.InsideSinceMs = long.MinValue;
            p.OutsideSinceMs = long.MinValue;
        }
        OffCorridor(vehicle, cls, hazmat, timeMs, lon, lat, marginM, alerts);
    }

    private void OffCorridor(int vehicle, VehicleClass cls, ushort hazmat, long timeMs, double lon, double lat, double marginM, List<AlertEvent> alerts)
    {
        string? corridorId = registry?.Get(ids.ProcessId(vehicle))?.Corridor;
        if (corridorId == null) return;
        // An id naming a zone of another kind names no corridor (the run warns of it, as of one the zones lack).
        if (!zones.TryGetCorridor(corridorId, out int corridor)) return;
        Presence p = _offCorridor[vehicle];
        Zone zone = zones.Zones[corridor];
        // Off the corridor only when outside its band by more than the position's uncertainty, and while the corridor's
        // hours are in force (a corridor of 22:00-06:00 binds at night: at noon the truck may drive elsewhere; before,
        // its hours were ignored and a truck off it at noon raised the alert).
        bool inForce = zone.InForce(timeMs);
        bool on = !inForce || (marginM > 0 ? zones.SignedDistanceM(corridor, lon, lat) > -marginM : zones.Holds(corridor, lon, lat));
        if (on)
        {
            if (p.OpenId != null)
            {
                // Back on it, or the hours ended with the truck still off it: the condition ended then.
                long end = inForce ? timeMs : Math.Max(p.StartMs, zone.LastEndMs(timeMs));
                alerts.Add(Event(p, vehicle, cls, hazmat, zone, AlertState.Close, timeMs, lon, lat, end, end - p.OutsideSinceMs));
                p.OpenId = null;
            }
            p.OutsideSinceMs = long.MinValue; // for a corridor: the start of the time off it
            return;
        }
        if (p.OutsideSinceMs == long.MinValue) p.OutsideSinceMs = timeMs;
        if (p.OpenId == null && (timeMs - p.OutsideSinceMs) / 1000.0 >= _options.OffCorridorAfterS)
        {
            p.Kind = "hazmat_off_corridor";
            p.OpenId = $"hazmat_off_corridor:{ids.Name(vehicle)}:{corridorId}:{p.OutsideSinceMs}";
            p.StartMs = p.OutsideSinceMs; // the condition's start
            alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[corridor], AlertState.Open, timeMs, lon, lat, null, timeMs - p.OutsideSinceMs));
        }
    }

    /// <summary>
    /// The partition forgets a vehicle (silent for <see cref="Pipeline.VehiclePartitionOptions.ForgetAfterMs"/>): an alert
    /// still open closes at <paramref name="timeMs"/>, where its last fix lay, <c>end</c> its last report
    /// (<paramref name="lastMs"/>: known inside until then, no later). <see cref="Forget(ReadOnlySpan{int})"/> then drops its state.
    /// </summary>
    internal void Gone(int vehicle, VehicleClass cls, ushort hazmat, long lastMs, long timeMs, List<AlertEvent> alerts)
    {
        Standing? st = _standing.Find(vehicle);
        double lon = st?.LastLon ?? 0, lat = st?.LastLat ?? 0;
        if (_presence.Find(vehicle) is { } presence)
        {
            foreach (var (z, p) in presence)
            {
                if (p.OpenId == null) continue;
                long end = Math.Max(p.StartMs, lastMs);
                alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[z], AlertState.Close, timeMs, lon, lat, end, end - p.StartMs));
                p.OpenId = null;
            }
        }
        if (_offCorridor.Find(vehicle) is { OpenId: not null } off && registry?.Get(ids.ProcessId(vehicle))?.Corridor is { } corridorId
            && zones.TryGetCorridor(corridorId, out int corridor))
        {
            long end = Math.Max(off.StartMs, lastMs);
            alerts.Add(Event(off, vehicle, cls, hazmat, zones.Zones[corridor], AlertState.Close, timeMs, lon, lat, end, end - off.OutsideSinceMs));
            off.OpenId = null;
        }
    }

    /// <summary>Drops the state of vehicles the partition forgets (after <see cref="Gone"/>).</summary>
    internal void Forget(ReadOnlySpan<int> vehicles)
    {
        _presence.Forget(vehicles);
        _offCorridor.Forget(vehicles);
        _standing.Forget(vehicles);
    }

    /// <summary>
    /// Writes every vehicle's presence in zones and time off its corridor, open alerts included (checkpoint).
    /// Zones are written by index, id and kind, so a restore finds them in a zones file reordered or edited since.
    /// </summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_presence.Vehicles.Length);
        foreach (int v in _presence.Vehicles)
        {
            w.Vehicle(v);
            var presence = _presence.Existing(v);
            w.Out.Write(presence.Count);
            // In the dictionary's order, which is the order of entry (nothing is ever removed): a restore keeps it.
            foreach (var (z, p) in presence)
            {
                w.Out.Write(z);
                w.Out.Write(zones.Zones[z].Id);
                w.Out.Write((byte)zones.Zones[z].Kind);
                p.Save(w);
            }
        }
        w.Out.Write(_offCorridor.Vehicles.Length);
        foreach (int v in _offCorridor.Vehicles)
        {
            w.Vehicle(v);
            _offCorridor.Existing(v).Save(w);
        }
        w.Out.Write(_standing.Vehicles.Length);
        foreach (int v in _standing.Vehicles)
        {
            w.Vehicle(v);
            _standing.Existing(v).Save(w.Out);
        }
    }

    /// <summary>
    /// Restores what <see cref="Save"/> wrote into this fresh rule. A zone is found by its id and kind, so the zones file
    /// may have been reordered or edited between the runs: a vehicle's presence in a zone the zones given no longer have
    /// (removed, or now of another kind) is dropped, and an alert it held open is kept for <see cref="CloseRemoved"/>; so
    /// is an open <c>hazmat_off_corridor</c> whose corridor the registry and zones no longer give the vehicle.
    /// </summary>
    internal void Load(CheckpointReader r)
    {
        var index = ZoneIndex();
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            int vehicle = r.Vehicle();
            var presence = _presence[vehicle];
            int zonesIn = r.Count();
            for (int k = 0; k < zonesIn; k++)
            {
                int z = r.In.ReadInt32();
                string id = r.In.ReadString();
                var kind = (ZoneKind)r.In.ReadByte();
                var p = new Presence();
                p.Load(r);
                // The same zones file gives the same index; a reordered or edited one is matched by id and kind.
                if ((uint)z >= (uint)zones.Zones.Count || zones.Zones[z].Id != id || zones.Zones[z].Kind != kind)
                {
                    if (!index.TryGetValue((id, kind), out z))
                    {
                        if (p.OpenId != null) _removed.Add((vehicle, id, p));
                        continue;
                    }
                }
                presence[z] = p;
            }
        }
        n = r.Count();
        for (int i = 0; i < n; i++)
        {
            int vehicle = r.Vehicle();
            Presence off = _offCorridor[vehicle];
            off.Load(r);
            if (off.OpenId == null || (registry?.Get(ids.ProcessId(vehicle))?.Corridor is { } corridor && zones.TryGetCorridor(corridor, out _))) continue;
            // The alert's id names its corridor: "hazmat_off_corridor:<vehicle>:<corridor>:<start>".
            string prefix = $"hazmat_off_corridor:{ids.Name(vehicle)}:";
            string was = off.OpenId.StartsWith(prefix, StringComparison.Ordinal) && off.OpenId.LastIndexOf(':') is int end && end > prefix.Length
                ? off.OpenId[prefix.Length..end] : "";
            _removed.Add((vehicle, was, off.Copy()));
            off.OpenId = null;
            off.OutsideSinceMs = long.MinValue;
        }
        n = r.Count();
        for (int i = 0; i < n; i++) _standing[r.Vehicle()].Load(r.In);
    }

    /// <summary>Alerts restored open on zones no longer given (<see cref="Load"/>), not yet closed.</summary>
    internal int RemovedOpen => _removed.Count;

    /// <summary>
    /// Closes the alerts restored open on zones the zones given no longer have (<see cref="Load"/>): at
    /// <paramref name="timeMs"/> (the partition's newest time when it was restored), where the vehicle's last fix lay,
    /// <c>end</c> its last report (known in the zone until then, no later), with <c>zone_removed</c> in the evidence.
    /// </summary>
    internal void CloseRemoved(Func<int, (VehicleClass Class, ushort Hazmat, long LastMs)> vehicle, long timeMs, List<AlertEvent> alerts)
    {
        foreach (var (v, zoneId, p) in _removed)
        {
            var (cls, hazmat, lastMs) = vehicle(v);
            Standing? st = _standing.Find(v);
            long end = Math.Max(p.StartMs, Math.Min(lastMs, timeMs));
            var close = Event(p, v, cls, hazmat, zoneId, null, AlertState.Close, timeMs, st?.LastLon ?? 0, st?.LastLat ?? 0, end,
                end - (p.Kind == "hazmat_off_corridor" ? p.OutsideSinceMs : p.StartMs));
            alerts.Add(close with { Evidence = new Dictionary<string, double>(close.Evidence) { ["zone_removed"] = 1 } });
        }
        _removed.Clear();
    }

    /// <summary>Zones by id and kind (the first of the parts of one zone).</summary>
    private Dictionary<(string Id, ZoneKind Kind), int> ZoneIndex()
    {
        if (_zoneIndex != null) return _zoneIndex;
        _zoneIndex = [];
        for (int i = 0; i < zones.Zones.Count; i++) _zoneIndex.TryAdd((zones.Zones[i].Id, zones.Zones[i].Kind), i);
        return _zoneIndex;
    }

    /// <summary>The alert kind the vehicle's presence in a zone raises now, or null.</summary>
    private static string? Violation(Zone zone, VehicleClass cls, ushort hazmat, long timeMs, long dwellMs)
    {
        if (!zone.InForce(timeMs)) return null;
        switch (zone.Kind)
        {
            case ZoneKind.HazmatForbidden:
                return hazmat != 0 || cls == VehicleClass.Hazmat ? (zone.AppliesTo(cls, dangerousGoods: true) ? "hazmat_forbidden" : null) : null;
            case ZoneKind.Restricted when zone.AppliesTo(cls, hazmat != 0):
                if (zone.MaxDwellS is double max) return dwellMs / 1000.0 > max ? "zone_dwell" : null;
                return "zone";
            default:
                return null;
        }
    }

    private AlertEvent Event(Presence p, int vehicle, VehicleClass cls, ushort hazmat, Zone zone, AlertState state, long timeMs, double lon, double lat, long? end, long dwellMs) =>
        Event(p, vehicle, cls, hazmat, zone.Id, zone.MaxDwellS, state, timeMs, lon, lat, end, dwellMs);

    private AlertEvent Event(Presence p, int vehicle, VehicleClass cls, ushort hazmat, string zoneId, double? maxDwellS, AlertState state, long timeMs, double lon, double lat, long? end, long dwellMs) => new()
    {
        AlertId = p.OpenId!,
        Kind = p.Kind!,
        State = state,
        TimeMs = timeMs,
        StartMs = p.StartMs,
        EndMs = end,
        VehicleId = ids.Name(vehicle),
        Class = ProbeRules.ClassName(cls),
        Hazmat = ProbeRules.HazmatText(hazmat),
        Zone = zoneId,
        Lon = lon,
        Lat = lat,
        Severity = p.Kind is "hazmat_forbidden" or "hazmat_off_corridor" ? 3 : 2,
        Evidence = maxDwellS is double max && p.Kind == "zone_dwell"
            ? new Dictionary<string, double> { ["dwell_s"] = dwellMs / 1000.0, ["max_dwell_s"] = max }
            : new Dictionary<string, double> { ["duration_s"] = dwellMs / 1000.0 },
    };

    /// <summary>A vehicle's fixes since it stopped, and its last fix (to see a unit repeat it).</summary>
    private sealed class Standing
    {
        public int Count;
        public long LastMs;
        public double SumLon;
        public double SumLat;
        public bool HasLast;
        public double LastLon;
        public double LastLat;

        public void Save(BinaryWriter o)
        {
            o.Write(Count);
            o.Write(LastMs);
            o.Write(SumLon);
            o.Write(SumLat);
            o.Write(HasLast);
            o.Write(LastLon);
            o.Write(LastLat);
        }

        public void Load(BinaryReader i)
        {
            Count = i.ReadInt32();
            CheckpointReader.Check(Count >= 0, "checkpoint malformed: a negative count of standing fixes");
            LastMs = i.ReadInt64();
            SumLon = i.ReadDouble();
            SumLat = i.ReadDouble();
            HasLast = i.ReadBoolean();
            LastLon = i.ReadDouble();
            LastLat = i.ReadDouble();
        }
    }

    /// <summary>A vehicle's presence in one zone.</summary>
    private sealed class Presence
    {
        public long InsideSinceMs = long.MinValue;
        public long OutsideSinceMs = long.MinValue;
        public long StartMs = long.MinValue;   // the open alert's start: the entry, or when the zone's hours began
        public string? OpenId;
        public string? Kind;

        public void Save(CheckpointWriter w)
        {
            w.Out.Write(InsideSinceMs);
            w.Out.Write(OutsideSinceMs);
            w.Out.Write(StartMs);
            w.String(OpenId);
            w.String(Kind);
        }

        public Presence Copy() => (Presence)MemberwiseClone();

        public void Load(CheckpointReader r)
        {
            InsideSinceMs = r.In.ReadInt64();
            OutsideSinceMs = r.In.ReadInt64();
            StartMs = r.In.ReadInt64();
            OpenId = r.String();
            Kind = r.String();
        }
    }
}
