using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Zones;

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
}

/// <summary>
/// Zone rules per vehicle (INTERFACES.md): <c>zone</c> (inside a restricted zone whose rule applies to the
/// vehicle's class at that hour: opens on entry, closes on exit), <c>zone_dwell</c> (a restricted zone with
/// <c>max_dwell_s</c>: entry allowed, staying longer raises it), <c>hazmat_forbidden</c> (carrying dangerous
/// goods inside a hazmat_forbidden zone) and <c>hazmat_off_corridor</c> (a vehicle assigned a corridor off
/// it for longer than allowed). Entries and exits are debounced. One instance per shard.
/// </summary>
public sealed class ZoneRule(ZoneSet zones, VehicleIds ids, VehicleRegistry? registry = null, ZoneRuleOptions? options = null)
{
    private readonly ZoneRuleOptions _options = options ?? new ZoneRuleOptions();
    private readonly int[] _inside = new int[32];
    private readonly PerVehicle<Dictionary<int, Presence>> _presence = new(() => []);
    private readonly PerVehicle<Presence> _offCorridor = new(() => new Presence()); // per vehicle with a corridor: time off it
    private Dictionary<string, int>? _zoneIndex;

    /// <summary>Feeds a vehicle's position (the matched point when there is one) at a time.</summary>
    public void OnPosition(int vehicle, VehicleClass cls, ushort hazmat, long timeMs, double lon, double lat, List<AlertEvent> alerts)
    {
        int n = zones.Containing(lon, lat, _inside);
        var inside = _inside.AsSpan(0, n);
        var presence = _presence[vehicle];

        // Entries and stays.
        foreach (int z in inside)
        {
            if (!presence.TryGetValue(z, out Presence? p)) presence[z] = p = new Presence();
            p.OutsideSinceMs = long.MinValue;
            if (p.InsideSinceMs == long.MinValue) p.InsideSinceMs = timeMs;
            if ((timeMs - p.InsideSinceMs) / 1000.0 < _options.EnterAfterS) continue;
            Zone zone = zones.Zones[z];
            string? kind = Violation(zone, cls, hazmat, timeMs, timeMs - p.InsideSinceMs);
            if (kind != null && p.OpenId == null)
            {
                p.OpenId = $"{kind}:{ids.Name(vehicle)}:{zone.Id}:{p.InsideSinceMs}";
                p.Kind = kind;
                alerts.Add(Event(p, vehicle, cls, hazmat, zone, AlertState.Open, timeMs, lon, lat, null, timeMs - p.InsideSinceMs));
            }
        }
        // Exits.
        foreach (var (z, p) in presence)
        {
            if (inside.Contains(z) || p.InsideSinceMs == long.MinValue) continue;
            if (p.OutsideSinceMs == long.MinValue) p.OutsideSinceMs = timeMs;
            if ((timeMs - p.OutsideSinceMs) / 1000.0 < _options.ExitAfterS) continue;
            if (p.OpenId != null)
                alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[z], AlertState.Close, timeMs, lon, lat, p.OutsideSinceMs, p.OutsideSinceMs - p.InsideSinceMs));
            p.OpenId = null;
            p.InsideSinceMs = long.MinValue;
            p.OutsideSinceMs = long.MinValue;
        }
        OffCorridor(vehicle, cls, hazmat, timeMs, lon, lat, alerts);
    }

    private void OffCorridor(int vehicle, VehicleClass cls, ushort hazmat, long timeMs, double lon, double lat, List<AlertEvent> alerts)
    {
        string? corridorId = registry?.Get(vehicle)?.Corridor;
        if (corridorId == null) return;
        if (!ZoneIndex().TryGetValue(corridorId, out int corridor)) return;
        Presence p = _offCorridor[vehicle];
        if (zones.Holds(corridor, lon, lat))
        {
            if (p.OpenId != null)
            {
                alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[corridor], AlertState.Close, timeMs, lon, lat, timeMs, timeMs - p.OutsideSinceMs));
                p.OpenId = null;
            }
            p.InsideSinceMs = long.MinValue; // for a corridor this holds the start of the time off it
            p.OutsideSinceMs = long.MinValue;
            return;
        }
        if (p.OutsideSinceMs == long.MinValue) p.OutsideSinceMs = timeMs;
        if (p.OpenId == null && (timeMs - p.OutsideSinceMs) / 1000.0 >= _options.OffCorridorAfterS)
        {
            p.Kind = "hazmat_off_corridor";
            p.OpenId = $"hazmat_off_corridor:{ids.Name(vehicle)}:{corridorId}:{p.OutsideSinceMs}";
            p.InsideSinceMs = p.OutsideSinceMs; // the condition's start
            alerts.Add(Event(p, vehicle, cls, hazmat, zones.Zones[corridor], AlertState.Open, timeMs, lon, lat, null, timeMs - p.OutsideSinceMs));
        }
    }

    /// <summary>
    /// Writes every vehicle's presence in zones and time off its corridor, open alerts included (checkpoint).
    /// Zones are written by index and id, so a restore finds them even in a reordered zones file.
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
                p.Save(w);
            }
        }
        w.Out.Write(_offCorridor.Vehicles.Length);
        foreach (int v in _offCorridor.Vehicles)
        {
            w.Vehicle(v);
            _offCorridor.Existing(v).Save(w);
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this fresh rule; a zone the zones given lack refuses the checkpoint.</summary>
    internal void Load(CheckpointReader r)
    {
        var index = ZoneIndex();
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            var presence = _presence[r.Vehicle()];
            int zonesIn = r.Count();
            for (int k = 0; k < zonesIn; k++)
            {
                int z = r.In.ReadInt32();
                string id = r.In.ReadString();
                // The same zones file gives the same index; a reordered one is matched by id.
                if ((uint)z >= (uint)zones.Zones.Count || zones.Zones[z].Id != id)
                {
                    if (!index.TryGetValue(id, out z)) throw new CheckpointException($"checkpoint refers to zone '{id}', which the zones given do not have");
                }
                var p = new Presence();
                p.Load(r);
                presence[z] = p;
            }
        }
        n = r.Count();
        for (int i = 0; i < n; i++) _offCorridor[r.Vehicle()].Load(r);
    }

    /// <summary>Zones by id (the first of a repeated id).</summary>
    private Dictionary<string, int> ZoneIndex()
    {
        if (_zoneIndex != null) return _zoneIndex;
        _zoneIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < zones.Zones.Count; i++) _zoneIndex.TryAdd(zones.Zones[i].Id, i);
        return _zoneIndex;
    }

    /// <summary>The alert kind the vehicle's presence in a zone raises now, or null.</summary>
    private static string? Violation(Zone zone, VehicleClass cls, ushort hazmat, long timeMs, long dwellMs)
    {
        if (!zone.InForce(timeMs)) return null;
        switch (zone.Kind)
        {
            case ZoneKind.HazmatForbidden:
                return hazmat != 0 || cls == VehicleClass.Hazmat ? (zone.AppliesTo(cls) ? "hazmat_forbidden" : null) : null;
            case ZoneKind.Restricted when zone.AppliesTo(cls):
                if (zone.MaxDwellS is double max) return dwellMs / 1000.0 > max ? "zone_dwell" : null;
                return "zone";
            default:
                return null;
        }
    }

    private AlertEvent Event(Presence p, int vehicle, VehicleClass cls, ushort hazmat, Zone zone, AlertState state, long timeMs, double lon, double lat, long? end, long dwellMs) => new()
    {
        AlertId = p.OpenId!,
        Kind = p.Kind!,
        State = state,
        TimeMs = timeMs,
        StartMs = p.InsideSinceMs,
        EndMs = end,
        VehicleId = ids.Name(vehicle),
        Class = ProbeRules.ClassName(cls),
        Hazmat = ProbeRules.HazmatText(hazmat),
        Zone = zone.Id,
        Lon = lon,
        Lat = lat,
        Severity = p.Kind is "hazmat_forbidden" or "hazmat_off_corridor" ? 3 : 2,
        Evidence = zone.MaxDwellS is double max && p.Kind == "zone_dwell"
            ? new Dictionary<string, double> { ["dwell_s"] = dwellMs / 1000.0, ["max_dwell_s"] = max }
            : new Dictionary<string, double> { ["duration_s"] = dwellMs / 1000.0 },
    };

    /// <summary>A vehicle's presence in one zone.</summary>
    private sealed class Presence
    {
        public long InsideSinceMs = long.MinValue;
        public long OutsideSinceMs = long.MinValue;
        public string? OpenId;
        public string? Kind;

        public void Save(CheckpointWriter w)
        {
            w.Out.Write(InsideSinceMs);
            w.Out.Write(OutsideSinceMs);
            w.String(OpenId);
            w.String(Kind);
        }

        public void Load(CheckpointReader r)
        {
            InsideSinceMs = r.In.ReadInt64();
            OutsideSinceMs = r.In.ReadInt64();
            OpenId = r.String();
            Kind = r.String();
        }
    }
}
