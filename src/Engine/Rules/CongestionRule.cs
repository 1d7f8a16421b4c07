using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Segments;
using Traffic.Geo.Network;

namespace Traffic.Engine.Rules;

/// <summary>Options of the congestion and incident alerts.</summary>
public sealed record CongestionOptions
{
    /// <summary>Level (GB/T 33171) at or above which a window counts as congested: 4, moderate.</summary>
    public int OpenLevel { get; init; } = 4;

    /// <summary>Consecutive congested windows before the alert opens.</summary>
    public int OpenAfterWindows { get; init; } = 3;

    /// <summary>Level at or below which a window counts as clear (hysteresis: between the two, the alert holds).</summary>
    public int CloseLevel { get; init; } = 2;

    /// <summary>Consecutive clear windows before the alert closes.</summary>
    public int CloseAfterWindows { get; init; } = 2;

    /// <summary><c>incident</c>: speed below this share of the segment's recent level …</summary>
    public double IncidentDropShare { get; init; } = 0.5;

    /// <summary>… where the recent level is the mean speed of up to this many published windows before (at least 3).</summary>
    public int IncidentHistoryWindows { get; init; } = 5;

    /// <summary>An incident needs this many distinct vehicles in the collapsed window (a few slow vehicles are no incident).</summary>
    public int IncidentMinVehicles { get; init; } = 5;
}

/// <summary>
/// Congestion alerts per directed segment from its published windows (in window order): <c>congestion</c>
/// opens when the segment stays moderate or worse for 3 windows, updates when the level rises, closes after
/// 2 windows at basically smooth or better; <c>incident</c> opens when the speed collapses below half of its
/// recent level into a congested window (a possible accident) and closes with the congestion it began.
/// Severity is the GB/T 33171 level. One instance per segment shard.
/// </summary>
public sealed class CongestionRule(RoadNetwork network, CongestionOptions? options = null)
{
    private readonly CongestionOptions _options = options ?? new CongestionOptions();
    private readonly Dictionary<int, SegmentState> _segments = [];

    public void OnWindow(in SegmentStat w, List<AlertEvent> alerts)
    {
        if (!_segments.TryGetValue(w.Edge, out SegmentState? s)) _segments[w.Edge] = s = new SegmentState(_options.IncidentHistoryWindows);
        // A gap in the segment's windows (too few vehicles) breaks a run of congested windows.
        if (s.LastWindowEnd != long.MinValue && w.WindowStartMs != s.LastWindowEnd) s.Congested = 0;
        s.LastWindowEnd = w.WindowEndMs;

        double recent = s.RecentSpeed();
        bool collapse = !double.IsNaN(recent) && w.SpeedKmh < recent * _options.IncidentDropShare && w.Level >= _options.OpenLevel
            && w.Vehicles >= _options.IncidentMinVehicles;
        if (collapse && s.IncidentId == null)
        {
            s.IncidentId = $"incident:{network.WayId(w.Edge)}:{network.Direction(w.Edge)}:{w.Edge}:{w.WindowStartMs}";
            s.IncidentStart = w.WindowStartMs;
            alerts.Add(Event(s.IncidentId, "incident", AlertState.Open, in w, s.IncidentStart, null, recent));
        }

        if (w.Level >= _options.OpenLevel)
        {
            s.Clear = 0;
            if (s.Congested++ == 0) s.RunStart = w.WindowStartMs;
            if (s.OpenId == null && s.Congested >= _options.OpenAfterWindows)
            {
                s.OpenId = $"congestion:{network.WayId(w.Edge)}:{network.Direction(w.Edge)}:{w.Edge}:{s.RunStart}";
                s.Level = w.Level;
                alerts.Add(Event(s.OpenId, "congestion", AlertState.Open, in w, s.RunStart, null, recent));
            }
            else if (s.OpenId != null && w.Level > s.Level)
            {
                s.Level = w.Level;
                alerts.Add(Event(s.OpenId, "congestion", AlertState.Update, in w, s.RunStart, null, recent));
            }
        }
        else
        {
            s.Congested = 0;
            if (w.Level <= _options.CloseLevel && ++s.Clear >= _options.CloseAfterWindows)
            {
                if (s.OpenId != null) alerts.Add(Event(s.OpenId, "congestion", AlertState.Close, in w, s.RunStart, w.WindowEndMs, recent));
                if (s.IncidentId != null) alerts.Add(Event(s.IncidentId, "incident", AlertState.Close, in w, s.IncidentStart, w.WindowEndMs, recent));
                s.OpenId = null;
                s.IncidentId = null;
            }
        }
        s.Remember(w.SpeedKmh);
    }

    /// <summary>Writes every segment's runs, recent speeds and open alerts (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_options.IncidentHistoryWindows);
        w.Out.Write(_segments.Count);
        foreach (var (edge, s) in _segments)
        {
            w.Out.Write(edge);
            s.Save(w);
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this fresh rule.</summary>
    internal void Load(CheckpointReader r)
    {
        int history = r.In.ReadInt32();
        CheckpointReader.Check(history == _options.IncidentHistoryWindows,
            $"checkpoint kept {history} windows of incident history; these options keep {_options.IncidentHistoryWindows}");
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            int edge = r.In.ReadInt32();
            CheckpointReader.Check((uint)edge < (uint)network.EdgeCount, "checkpoint malformed: a congestion segment outside the network");
            var s = new SegmentState(history);
            s.Load(r);
            _segments[edge] = s;
        }
    }

    private AlertEvent Event(string id, string kind, AlertState state, in SegmentStat w, long start, long? end, double recent)
    {
        string road = network.Name(w.Edge);
        var (lon, lat) = network.PointAt(w.Edge, network.LengthM(w.Edge) / 2);
        var evidence = new Dictionary<string, double>
        {
            ["speed_kmh"] = w.SpeedKmh,
            ["free_flow_kmh"] = w.FreeFlowKmh,
            ["vehicles"] = w.Vehicles,
            ["level"] = w.Level,
        };
        if (!double.IsNaN(recent)) evidence["recent_speed_kmh"] = recent;
        return new AlertEvent
        {
            AlertId = id,
            Kind = kind,
            State = state,
            TimeMs = w.WindowEndMs,
            StartMs = start,
            EndMs = end,
            Road = road.Length == 0 ? null : road,
            WayId = network.WayId(w.Edge),
            Direction = network.Direction(w.Edge),
            Lon = lon,
            Lat = lat,
            Severity = w.Level,
            Evidence = evidence,
        };
    }

    private sealed class SegmentState(int history)
    {
        private readonly double[] _speeds = new double[history];
        private int _count;
        private int _next;

        public long LastWindowEnd = long.MinValue;
        public int Congested;
        public int Clear;
        public long RunStart;
        public int Level;
        public string? OpenId;
        public string? IncidentId;
        public long IncidentStart;

        public void Save(CheckpointWriter w)
        {
            BinaryWriter o = w.Out;
            o.Write(_count);
            o.Write(_next);
            foreach (double v in _speeds) o.Write(v);
            o.Write(LastWindowEnd);
            o.Write(Congested);
            o.Write(Clear);
            o.Write(RunStart);
            o.Write(Level);
            w.String(OpenId);
            w.String(IncidentId);
            o.Write(IncidentStart);
        }

        public void Load(CheckpointReader r)
        {
            BinaryReader i = r.In;
            _count = i.ReadInt32();
            _next = i.ReadInt32();
            CheckpointReader.Check(_count >= 0 && _count <= _speeds.Length && _next >= 0 && _next < _speeds.Length, "checkpoint malformed: incident history out of range");
            for (int k = 0; k < _speeds.Length; k++) _speeds[k] = i.ReadDouble();
            LastWindowEnd = i.ReadInt64();
            Congested = i.ReadInt32();
            Clear = i.ReadInt32();
            RunStart = i.ReadInt64();
            Level = i.ReadInt32();
            OpenId = r.String();
            IncidentId = r.String();
            IncidentStart = i.ReadInt64();
        }

        public void Remember(double speed)
        {
            _speeds[_next] = speed;
            _next = (_next + 1) % _speeds.Length;
            if (_count < _speeds.Length) _count++;
        }

        public double RecentSpeed()
        {
            if (_count < 3) return double.NaN;
            double sum = 0;
            for (int i = 0; i < _count; i++) sum += _speeds[i];
            return sum / _count;
        }
    }
}
