using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;

namespace Traffic.Engine.Rules;

/// <summary>Options of the speeding rule.</summary>
public sealed record SpeedingOptions
{
    /// <summary>Speeding is a speed above the applicable limit × (1 + this).</summary>
    public double Tolerance { get; init; } = 0.1;

    /// <summary>The speed must stay above for this long before an alert opens (debounce).</summary>
    public double MinDurationS { get; init; } = 10;

    /// <summary>The speed must stay at or below for this long before the alert closes (hysteresis).</summary>
    public double CloseAfterS { get; init; } = 10;

    /// <summary>Speed is measured over at least this much time of the vehicle's route (per-probe speeds are noisy).</summary>
    public double SpeedWindowS { get; init; } = 5;

    /// <summary>
    /// A probe whose match is less certain than this says nothing about speeding: the limit of a road the
    /// vehicle may not be on (a service road beside an arterial) is no evidence.
    /// </summary>
    public double MinConfidence { get; init; } = 0.9;

    /// <summary>Passenger vehicles (buses, taxis) at night, 22:00–06:00 local time: the limit × this.</summary>
    public double NightFactor { get; init; } = 0.8;

    /// <summary>Dangerous-goods vehicles: at most this on motorways and trunk roads …</summary>
    public double HazmatMotorwayKmh { get; init; } = 80;

    /// <summary>… and this elsewhere (China's rules for dangerous-goods transport).</summary>
    public double HazmatOtherKmh { get; init; } = 60;
}

/// <summary>
/// Speeding, per vehicle: the speed the unit reports or, without one, the vehicle's speed along its
/// matched route (distance over time across the last few probes, never a single noisy fix) above the limit that applies to it × (1 + tolerance) for
/// at least the debounce time opens an alert; a higher severity updates it; staying within the limit for
/// the hysteresis time closes it. Severity: 1 up to 20 % over the limit, 2 up to 50 %, 3 beyond.
/// One instance per shard (state per vehicle, no locks).
/// </summary>
public sealed class SpeedingRule(RoadNetwork network, VehicleIds ids, SpeedingOptions? options = null)
{
    private const int History = 16;

    private readonly SpeedingOptions _options = options ?? new SpeedingOptions();
    private readonly PerVehicle<VehicleTrack> _tracks = new(() => new VehicleTrack());

    /// <summary>Feeds one decided match of a vehicle; alert events go to <paramref name="alerts"/>.</summary>
    public void OnMatched(int vehicle, VehicleClass cls, ushort hazmat, in MatchedProbe m, List<AlertEvent> alerts)
    {
        VehicleTrack t = _tracks[vehicle];
        if (m.Break != ChainBreak.None) t.Reset();
        if (m.Edge < 0 || m.Outlier) return;
        t.Add(m.TimeMs, m.RouteDistanceM);
        // The unit's own speed (Doppler) is better than positions can give: use it when the probe has one.
        double speed = double.IsNaN(m.ReportedSpeedKmh) ? t.Speed(_options.SpeedWindowS) : m.ReportedSpeedKmh;
        if (double.IsNaN(speed)) return;

        if (m.Confidence < _options.MinConfidence) return; // unsure of the road: neither over nor under its limit
        double limit = Limit(m.Edge, cls, hazmat, m.TimeMs);
        double allowed = limit * (1 + _options.Tolerance);
        if (speed > allowed)
        {
            t.UnderSinceMs = long.MinValue;
            if (t.OverSinceMs == long.MinValue) t.OverSinceMs = m.TimeMs;
            t.MaxSpeed = Math.Max(t.MaxSpeed, speed);
            int severity = Severity(t.MaxSpeed, limit);
            if (t.OpenId == null)
            {
                if ((m.TimeMs - t.OverSinceMs) / 1000.0 < _options.MinDurationS) return;
                t.OpenId = $"speeding:{ids.Name(vehicle)}:{t.OverSinceMs}";
                t.Severity = severity;
                alerts.Add(Event(t, vehicle, cls, hazmat, in m, AlertState.Open, limit, allowed, null));
            }
            else if (severity > t.Severity)
            {
                t.Severity = severity;
                alerts.Add(Event(t, vehicle, cls, hazmat, in m, AlertState.Update, limit, allowed, null));
            }
            return;
        }
        if (t.OpenId == null)
        {
            t.OverSinceMs = long.MinValue;
            t.MaxSpeed = 0;
            return;
        }
        if (t.UnderSinceMs == long.MinValue) t.UnderSinceMs = m.TimeMs;
        if ((m.TimeMs - t.UnderSinceMs) / 1000.0 >= _options.CloseAfterS)
        {
            alerts.Add(Event(t, vehicle, cls, hazmat, in m, AlertState.Close, limit, allowed, t.UnderSinceMs));
            t.OpenId = null;
            t.OverSinceMs = long.MinValue;
            t.UnderSinceMs = long.MinValue;
            t.MaxSpeed = 0;
        }
    }

    /// <summary>Writes every vehicle's state, open alerts included (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_tracks.Vehicles.Length);
        foreach (int v in _tracks.Vehicles)
        {
            w.Vehicle(v);
            _tracks.Existing(v).Save(w);
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this fresh rule.</summary>
    internal void Load(CheckpointReader r)
    {
        int n = r.Count();
        for (int i = 0; i < n; i++) _tracks[r.Vehicle()].Load(r);
    }

    /// <summary>The limit that applies to a vehicle on an edge at a time, km/h.</summary>
    public double Limit(int edge, VehicleClass cls, ushort hazmat, long timeMs)
    {
        double limit = network.SpeedLimitKmh(edge);
        if (hazmat != 0 || cls == VehicleClass.Hazmat)
        {
            RoadClass rc = network.Class(edge);
            bool fast = rc is RoadClass.Motorway or RoadClass.MotorwayLink or RoadClass.Trunk or RoadClass.TrunkLink;
            limit = Math.Min(limit, fast ? _options.HazmatMotorwayKmh : _options.HazmatOtherKmh);
        }
        if (cls is VehicleClass.Bus or VehicleClass.Taxi && IsNight(timeMs)) limit *= _options.NightFactor;
        return limit;
    }

    private static bool IsNight(long timeMs) => LocalTime.InHours(LocalTime.Hour(timeMs), 22, 6);

    private static int Severity(double speed, double limit) => speed <= limit * 1.2 ? 1 : speed <= limit * 1.5 ? 2 : 3;

    private AlertEvent Event(VehicleTrack t, int vehicle, VehicleClass cls, ushort hazmat, in MatchedProbe m, AlertState state, double limit, double allowed, long? end)
    {
        string road = network.Name(m.Edge);
        return new AlertEvent
        {
            AlertId = t.OpenId!,
            Kind = "speeding",
            State = state,
            TimeMs = m.TimeMs,
            StartMs = t.OverSinceMs,
            EndMs = end,
            VehicleId = ids.Name(vehicle),
            Class = ProbeRules.ClassName(cls),
            Hazmat = ProbeRules.HazmatText(hazmat),
            Road = road.Length == 0 ? null : road,
            WayId = network.WayId(m.Edge),
            Direction = network.Direction(m.Edge),
            Lon = m.Lon,
            Lat = m.Lat,
            Severity = t.Severity,
            Evidence = new Dictionary<string, double>
            {
                ["max_speed_kmh"] = t.MaxSpeed,
                ["limit_kmh"] = limit,
                ["allowed_kmh"] = allowed,
                ["duration_s"] = ((end ?? m.TimeMs) - t.OverSinceMs) / 1000.0,
            },
        };
    }

    /// <summary>One vehicle's recent route progress and its speeding condition.</summary>
    private sealed class VehicleTrack
    {
        private readonly long[] _time = new long[History];
        private readonly double[] _distance = new double[History]; // cumulative route distance
        private int _count;
        private int _next;
        private double _total;

        public long OverSinceMs = long.MinValue;
        public long UnderSinceMs = long.MinValue;
        public double MaxSpeed;
        public string? OpenId;
        public int Severity;

        public void Save(CheckpointWriter w)
        {
            BinaryWriter o = w.Out;
            o.Write(_count);
            o.Write(_next);
            o.Write(_total);
            for (int i = 0; i < History; i++)
            {
                o.Write(_time[i]);
                o.Write(_distance[i]);
            }
            o.Write(OverSinceMs);
            o.Write(UnderSinceMs);
            o.Write(MaxSpeed);
            w.String(OpenId);
            o.Write(Severity);
        }

        public void Load(CheckpointReader r)
        {
            BinaryReader i = r.In;
            _count = i.ReadInt32();
            _next = i.ReadInt32();
            CheckpointReader.Check(_count is >= 0 and <= History && _next is >= 0 and < History, "checkpoint malformed: speeding history out of range");
            _total = i.ReadDouble();
            for (int k = 0; k < History; k++)
            {
                _time[k] = i.ReadInt64();
                _distance[k] = i.ReadDouble();
            }
            OverSinceMs = i.ReadInt64();
            UnderSinceMs = i.ReadInt64();
            MaxSpeed = i.ReadDouble();
            OpenId = r.String();
            Severity = i.ReadInt32();
        }

        public void Reset()
        {
            _count = 0;
            _next = 0;
            _total = 0;
        }

        public void Add(long timeMs, double routeDistanceM)
        {
            _total += routeDistanceM;
            _time[_next] = timeMs;
            _distance[_next] = _total;
            _next = (_next + 1) % History;
            if (_count < History) _count++;
        }

        /// <summary>Distance over time from the newest sample back to the first one at least <paramref name="windowS"/> older; NaN when none is.</summary>
        public double Speed(double windowS)
        {
            int newest = (_next - 1 + History) % History;
            for (int k = 1; k < _count; k++)
            {
                int i = (newest - k + History) % History;
                double dt = (_time[newest] - _time[i]) / 1000.0;
                if (dt >= windowS) return (_distance[newest] - _distance[i]) / dt * 3.6;
            }
            return double.NaN;
        }
    }
}
