using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Probes;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Rules;

/// <summary>Options of the per-vehicle condition rules.</summary>
public sealed record VehicleConditionOptions
{
    internal static readonly VehicleConditionOptions Default = new();

    /// <summary>Moving faster than this (reported speed) counts as driving.</summary>
    public double MovingKmh { get; init; } = 5;

    /// <summary>
    /// A unit that reports no speed is judged from its fixes: over each span of at least this long, moved less than
    /// <see cref="PositionStandM"/> is standing, more is driving at the span's mean speed (unknown until the first span).
    /// </summary>
    public double PositionSpanS { get; init; } = 30;

    /// <summary>
    /// … where a unit's scatter stays within this (3 σ of a 10 m unit), or within 4 σ of the unit's own scatter at its
    /// stops once that is known, if wider (see <c>FixTrack.StandRadiusM</c>).
    /// </summary>
    public double PositionStandM { get; init; } = 30;

    /// <summary>
    /// A stop of a unit judged from its fixes holds back the steps matched within it from the segment statistics (see
    /// <see cref="VehicleConditionRules.StoodAt"/>) once it has lasted this long, seconds: a slow drive in a queue stays
    /// within a stop's radius (up to 100 m) for half a minute, a taxi at a rank for many minutes.
    /// </summary>
    public double PositionStoodS { get; init; } = 120;

    /// <summary>
    /// <c>hazmat_no_fix</c>: a fix lost while moving and not back for this long (the vehicle may stop meanwhile: where it
    /// stopped is unknown too). A fix lost for half a minute (a tunnel, an overpass, a street canyon) is ordinary; a
    /// minute is not.
    /// </summary>
    public double NoFixAfterS { get; init; } = 60;

    /// <summary><c>hazmat_long_stop</c>: a dangerous-goods vehicle standing outside a <c>permitted_stop</c> zone this long.</summary>
    public double LongStopAfterS { get; init; } = 20 * 60;

    /// <summary><c>fatigue</c>: driving this long without a rest …</summary>
    public double FatigueDrivingS { get; init; } = 4 * 3600;

    /// <summary>… where a rest is standing (or silent) at least this long …</summary>
    public double FatigueRestS { get; init; } = 20 * 60;

    /// <summary>
    /// … or, when above 0, breaks adding up to this much since the driving began (a rest taken in pieces, as the
    /// EU's split break allows; e.g. 600). 0, the default: China's rule, one rest of <see cref="FatigueRestS"/>.
    /// </summary>
    public double FatigueBreaksS { get; init; }

    /// <summary>With <see cref="FatigueBreaksS"/>: a break is standing at least this long (waiting at a junction or a stop is no break).</summary>
    public double FatigueBreakMinS { get; init; } = 60;

    /// <summary><c>teleport</c>: a jump between consecutive fixes implying more than this speed.</summary>
    public double TeleportKmh { get; init; } = 200;

    /// <summary>… and at least this far (two fixes a second apart and 60 m apart are no teleport).</summary>
    public double TeleportMinM { get; init; } = 500;

    /// <summary>
    /// An open <c>teleport</c> whose fixes go on plausibly from the place jumped to, not from where the vehicle was before
    /// the jump, stays open this long (a unit's bad stretch of two or three fixes is one jump out and back, one alert);
    /// longer, the vehicle is taken to be there and it closes.
    /// </summary>
    public double TeleportAwayS { get; init; } = 60;

    /// <summary>
    /// <c>signal_lost</c>: a vehicle last seen driving that reports again after a silence this long (its return shows the
    /// unit was silent while the vehicle went on).
    /// </summary>
    public double SignalLostAfterS { get; init; } = 180;

    /// <summary>
    /// … and a vehicle last seen driving that is still silent this long by the event-time watermark: raised without its
    /// return. Far longer than <see cref="SignalLostAfterS"/> because until the vehicle reports again its silence cannot be
    /// told from a trace that simply ends (a vehicle leaving the area a feed covers, a trip's last fix): a scenario
    /// file of vehicles driving a road one after another for twenty minutes, with 10 minutes here, raised it for every
    /// vehicle that finished its road ten minutes before the file did.
    /// </summary>
    public double SignalLostUnconfirmedAfterS { get; init; } = 1800;

    /// <summary>
    /// … and a vehicle last seen standing that reports again after such a silence this far away: it drove while its
    /// unit was silent (a parked vehicle's unit may go quiet; a moving one's should not). Raised when it reappears.
    /// </summary>
    public double SignalLostMovedM { get; init; } = 300;
}

/// <summary>
/// Rules on a vehicle's own reports, per probe in its order: <c>hazmat_no_fix</c> (a dangerous-goods vehicle
/// moving while its unit reports no GNSS fix: such a unit repeats its last position while still reporting
/// speed), <c>hazmat_long_stop</c> (standing too long outside a <c>permitted_stop</c> zone) and <c>fatigue</c>
/// (over 4 hours of driving without a 20-minute rest, or optionally breaks adding up to one), <c>teleport</c> (a fix that jumps faster than any
/// vehicle drives: opens at the jump, closes at the jump back or the next plausible fix) and
/// <c>signal_lost</c> (a vehicle last seen driving that has gone silent: raised when it reports again after 3 minutes,
/// or from the event-time watermark after 30 minutes since a silent vehicle sends nothing to react to, then closing
/// when it reports again; a vehicle last seen standing, when it reports again far from where it stood). One instance per shard.
/// </summary>
public sealed class VehicleConditionRules(IVehicleNames ids, ZoneSet? zones, VehicleConditionOptions? options = null)
{
    private readonly VehicleConditionOptions _options = options ?? VehicleConditionOptions.Default;
    private readonly PerVehicleStructs<State> _states = new(() => new State());
    private readonly Debounce _noFixDebounce = new((long)((options ?? VehicleConditionOptions.Default).NoFixAfterS * 1000), 10_000);
    private readonly Debounce _longStopDebounce = new((long)((options ?? VehicleConditionOptions.Default).LongStopAfterS * 1000), 10_000);
    private readonly int[] _found = new int[16];
    // Per vehicle: its last report's time while it may go silent driving (last seen moving, no signal_lost open), else
    // long.MinValue. A watermark tests every vehicle from this dense array, not from its state object.
    private readonly VehicleClock _silentFrom = new();   // a vehicle last seen moving with no signal_lost open: since when
    private readonly SparseVehicleClock _tiredSeen = new();    // the last report of a vehicle with fatigue open
    private readonly List<int> _due = [];   // scratch: the vehicles a watermark finds silent
    // Degrees of longitude plus latitude a step is at least to be a teleport's jump: 0.9 × its metres over the degree's.
    private readonly double _teleportMinDeg = 0.9 * (options ?? VehicleConditionOptions.Default).TeleportMinM / (Traffic.Geo.GeoMath.EarthRadiusM * Math.PI / 180);

    /// <summary>
    /// Whether a vehicle whose unit reports positions only stood at <paramref name="timeMs"/>, its fix there
    /// <paramref name="lon"/>, <paramref name="lat"/>, in a stop whose fixes scatter more than <paramref name="scatterM"/> (see
    /// <c>FixTrack.StoodAt</c>); false for a vehicle not seen.
    /// </summary>
    public bool StoodAt(int vehicle, long timeMs, double lon, double lat, double scatterM)
    {
        ref State s = ref _states.Find(vehicle);
        return !Unsafe.IsNullRef(ref s) && (s.Fixes as FixTrack)?.StoodAt(timeMs, lon, lat, scatterM, _options) == true;
    }

    /// <summary>Asks for a vehicle's state ahead of its probe (<see cref="Traffic.Geo.CacheHint"/>); changes nothing.</summary>
    public void Prefetch(int vehicle) => _states.Prefetch(vehicle);

    public void OnProbe(in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        ref State s = ref _states[p.Vehicle];
        // The last report's time, read before this report's times are kept: a time kept beyond the state's range of its
        // base (CompactTimes: after a silence of 48 days) moves it, holding older times at the bound, and the silence's
        // alerts name this one exactly.
        long lastMs = s.LastMs;
        if (lastMs != long.MinValue && p.TimeMs < lastMs) return; // out of order: the vehicle's reports are judged in time order
        bool dangerous = hazmat != 0 || cls == VehicleClass.Hazmat;
        // Only a unit judged from its fixes (the whole track) and a dangerous-goods vehicle (its conditions and stop) use
        // them: the rest never create them.
        FixTrack? ft = float.IsNaN(p.SpeedKmh) ? s.Fixes as FixTrack ?? (FixTrack)(s.Fixes = new FixTrack(s.Fixes)) : null;
        CargoTrack? f = ft ?? (dangerous ? s.Fixes ??= new CargoTrack() : null);
        // The unit's own speed, else (a unit that reports positions only) one from how far its fixes moved.
        float speed = ft != null ? ft.SpeedFromFixes(in p, _options) : p.SpeedKmh;
        bool moving = !float.IsNaN(speed) && speed > _options.MovingKmh;

        if (dangerous)
        {
            // Lost while moving, and not back: the spell goes on if the vehicle stops (where it stopped is unknown too).
            if (p.Fix) s.NoFixMoving = false;
            else if (moving && !(ft != null && !s.NoFixMoving && ft.StoodSinceSpan(_options))) s.NoFixMoving = true;
            Report(ref f!.NoFix, f.NoFix.Update(!p.Fix && s.NoFixMoving, p.TimeMs, _noFixDebounce), "hazmat_no_fix", in p, cls, hazmat, null, alerts);
            if (ft != null) MovedWithoutFix(ref s, ft, in p, cls, hazmat, alerts);
            else f!.ReportedStop(in p);
            // Where it stands: the mean of its fixes since it stopped (a truck parked by a permitted stop's border has
            // fixes on both sides of it), else its fix.
            bool standing = !float.IsNaN(speed) && speed < 1
                && !(f!.StopFixes > 0 ? InPermittedStop(f.StopSumLon / f.StopFixes, f.StopSumLat / f.StopFixes, p.TimeMs, cls) : InPermittedStop(p.Lon, p.Lat, p.TimeMs, cls));
            // Unknown (a unit without a fix that stood when it lost it may have driven off): the stop neither goes on nor ends.
            if (!float.IsNaN(speed)) Report(ref f.LongStop, f.LongStop.Update(standing, p.TimeMs, _longStopDebounce), "hazmat_long_stop", in p, cls, hazmat, null, alerts);
        }

        // Fatigue: driving time runs from the first report moving after a rest; a rest is a stop (or silence) of 20
        // minutes, or (when the options allow split breaks) breaks adding up to the same since the driving began.
        if (lastMs != long.MinValue && p.TimeMs - lastMs >= _options.FatigueRestS * 1000) SilenceRested(ref s, in p, alerts);
        if (moving)
        {
            if (s.StandingSinceMs != long.MinValue && s.DrivingSinceMs != long.MinValue)
            {
                long spell = lastMs - s.StandingSinceMs;
                if (spell >= _options.FatigueBreakMinS * 1000) s.BreaksMs += spell;
            }
            s.StandingSinceMs = long.MinValue;
            if (s.DrivingSinceMs == long.MinValue)
            {
                s.DrivingSinceMs = p.TimeMs;
                s.BreaksMs = 0;
            }
            s.DrivenUntilMs = p.TimeMs;
        }
        else if (!float.IsNaN(speed))
        {
            if (s.StandingSinceMs == long.MinValue) s.StandingSinceMs = s.StandingSince(in p);
            long spell = p.TimeMs - s.StandingSinceMs;
            bool rested = spell >= _options.FatigueRestS * 1000
                || (_options.FatigueBreaksS > 0 && spell >= _options.FatigueBreakMinS * 1000 && s.BreaksMs + spell >= _options.FatigueBreaksS * 1000);
            if (rested) s.DrivingSinceMs = long.MinValue;
        }
        // Driving time runs to the last report moving: a driver who stopped before 4 hours is resting, not tired.
        bool tired = s.DrivingSinceMs != long.MinValue && s.DrivenUntilMs - s.DrivingSinceMs > _options.FatigueDrivingS * 1000;
        Report(ref s.Fatigue, s.Fatigue.Update(tired, p.TimeMs, default), "fatigue", in p, cls, hazmat,
            s.DrivingSinceMs == long.MinValue ? null : (s.DrivenUntilMs - s.DrivingSinceMs) / 1000.0, alerts);

        Teleport(ref s, lastMs, in p, cls, hazmat, alerts);
        SilentWhileMoving(ref s, lastMs, in p, cls, hazmat, alerts);
        if (s.SignalLost)
        {
            var evidence = new Dictionary<string, double> { ["silent_s"] = (p.TimeMs - lastMs) / 1000.0 };
            if (p.Fix && s.LastFix) evidence["moved_m"] = Traffic.Geo.GeoMath.Distance(s.LastLon, s.LastLat, p.Lon, p.Lat);
            alerts.Add(Simple("signal_lost", SignalLostId(p.Vehicle, lastMs), AlertState.Close, in p, cls, hazmat, lastMs, p.TimeMs, s.LastLon, s.LastLat, evidence));
            s.SignalLost = false;
        }
        s.LastMs = p.TimeMs;
        s.LastLon = p.Lon;
        s.LastLat = p.Lat;
        // signal_lost's "last seen driving": a unit judged from its fixes must also show it in its recent fixes (see
        // FixTrack.RecentKmh), not only in its last span's two ends, which a standing 10 m unit's noise can set 40 m apart.
        double recentKmh = ft != null && p.Fix ? ft.RecentKmh(in p, _options) : double.PositiveInfinity;
        s.LastMoving = moving && recentKmh > _options.MovingKmh;
        s.LastFix = p.Fix;
        s.Class = cls;
        s.Hazmat = hazmat;
        Watch(p.Vehicle, ref s);
    }

    /// <summary>
    /// <c>hazmat_no_fix</c> for a unit that reports no speed and lost its fix while it stood: nothing tells that it moves
    /// until its fix comes back, and a fix back after <see cref="VehicleConditionOptions.NoFixAfterS"/> or more, further
    /// from its last one than its scatter and than 5 km/h over the time between, shows that it drove without a fix. The
    /// alert opens and closes as the fix returns, spanning the loss (a truck that pulled away as its unit lost the fix
    /// and drove 1.1 km in 5 minutes raised nothing).
    /// </summary>
    private void MovedWithoutFix(ref State s, FixTrack f, in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        if (!p.Fix)
        {
            if (f.NoFixSinceMs == long.MinValue && f.FixMs != long.MinValue) f.NoFixSinceMs = p.TimeMs;
            return;
        }
        long since = f.NoFixSinceMs, fixMs = f.FixMs;
        double fixLon = f.FixLon, fixLat = f.FixLat;
        (f.NoFixSinceMs, f.FixMs, f.FixLon, f.FixLat) = (long.MinValue, p.TimeMs, p.Lon, p.Lat);
        if (since == long.MinValue || f.NoFix.IsOpen || p.TimeMs - since < _options.NoFixAfterS * 1000) return;
        double moved = Traffic.Geo.GeoMath.Distance(fixLon, fixLat, p.Lon, p.Lat);
        if (moved < f.StandRadiusM(_options, Math.Sqrt(2)) || moved / ((p.TimeMs - fixMs) / 1000.0) * 3.6 <= _options.MovingKmh) return;
        string id = $"hazmat_no_fix:{ids.Name(p.Vehicle)}:{since}";
        var evidence = new Dictionary<string, double> { ["duration_s"] = (p.TimeMs - since) / 1000.0, ["moved_m"] = moved };
        alerts.Add(Simple("hazmat_no_fix", id, AlertState.Open, in p, cls, hazmat, since, null, fixLon, fixLat, evidence) with { Severity = 3 });
        alerts.Add(Simple("hazmat_no_fix", id, AlertState.Close, in p, cls, hazmat, since, p.TimeMs, p.Lon, p.Lat, evidence) with { Severity = 3 });
    }

    /// <summary>
    /// Copies what <see cref="OnWatermark"/> tests of a vehicle's state (last seen moving, no signal_lost open: since when),
    /// after every change of it: at each probe and each restore, and when signal_lost opens.
    /// </summary>
    private void Watch(int vehicle, ref State s)
    {
        _silentFrom.Set(vehicle, s.LastMoving && !s.SignalLost ? s.LastMs : long.MinValue);
        _tiredSeen.Set(vehicle, s.Fatigue.IsOpen ? s.LastMs : long.MinValue);
    }

    /// <summary>
    /// A silence of <see cref="VehicleConditionOptions.FatigueRestS"/> is a rest: the driving time starts again, and an
    /// open <c>fatigue</c> closes, <c>end</c> the moment the rest had lasted that long, at the vehicle's last position.
    /// <paramref name="p"/> gives the event's time (the vehicle's return, or the watermark that found it silent).
    /// </summary>
    private void SilenceRested(ref State s, in Probe p, List<AlertEvent> alerts)
    {
        s.DrivingSinceMs = long.MinValue;
        s.StandingSinceMs = long.MinValue;
        if (!s.Fatigue.IsOpen) return;
        Probe at = p;
        (at.Lon, at.Lat, at.SpeedKmh) = (s.LastLon, s.LastLat, float.NaN);
        Report(ref s.Fatigue, s.Fatigue.Update(false, s.LastMs + (long)(_options.FatigueRestS * 1000), default), "fatigue", in at, s.Class, s.Hazmat, null, alerts);
    }

    /// <summary>The watermark moved on: vehicles last seen driving and silent since too long raise <c>signal_lost</c>.</summary>
    public void OnWatermark(long watermarkMs, List<AlertEvent> alerts)
    {
        // In the order the vehicles came (not by dense id, which a restore renumbers): the same alerts in the same order.
        long afterMs = (long)(_options.SignalLostUnconfirmedAfterS * 1000);
        _silentFrom.TakeElapsed(_states.Vehicles, watermarkMs, afterMs, _due);
        foreach (int v in _due)
        {
            ref State s = ref _states.Existing(v);
            s.SignalLost = true;
            var p = Probe.Empty;
            p.Vehicle = v;
            alerts.Add(Simple("signal_lost", SignalLostId(v, s.LastMs), AlertState.Open, in p, s.Class, s.Hazmat, s.LastMs, null, s.LastLon, s.LastLat,
                new Dictionary<string, double> { ["silent_s"] = (watermarkMs - s.LastMs) / 1000.0 }, timeMs: watermarkMs));
        }
        _tiredSeen.TakeElapsed(_states.Vehicles, watermarkMs, (long)(_options.FatigueRestS * 1000), _due);
        foreach (int v in _due)
        {
            var p = Probe.Empty;
            (p.Vehicle, p.TimeMs) = (v, watermarkMs);
            SilenceRested(ref _states.Existing(v), in p, alerts);
        }
    }

    /// <summary>
    /// The partition forgets these vehicles (silent for <see cref="Pipeline.VehiclePartitionOptions.ForgetAfterMs"/>, gone
    /// for good as far as it can tell): every alert still open closes at <paramref name="timeMs"/>, where the vehicle was
    /// last — <c>signal_lost</c> its silence up to now (it raised the alert and has not come back), the conditions on its
    /// reports (<c>hazmat_no_fix</c>, <c>hazmat_long_stop</c>, <c>teleport</c>) ending at its last report, <c>fatigue</c>
    /// at the rest its silence has been — and their state is dropped: one that comes back later is a new vehicle.
    /// </summary>
    internal void Forget(ReadOnlySpan<int> vehicles, long timeMs, List<AlertEvent> alerts)
    {
        foreach (int v in vehicles)
        {
            ref State s = ref _states.Find(v);
            if (Unsafe.IsNullRef(ref s) || s.LastMs == long.MinValue) continue;
            var p = Probe.Empty;
            (p.Vehicle, p.TimeMs, p.Lon, p.Lat) = (v, timeMs, s.LastLon, s.LastLat);
            if (s.Fixes is { } f)
            {
                Report(ref f.NoFix, f.NoFix.Gone(s.LastMs), "hazmat_no_fix", in p, s.Class, s.Hazmat, null, alerts);
                Report(ref f.LongStop, f.LongStop.Gone(s.LastMs), "hazmat_long_stop", in p, s.Class, s.Hazmat, null, alerts);
            }
            if (s.Fatigue.IsOpen) SilenceRested(ref s, in p, alerts);
            var silent = new Dictionary<string, double> { ["silent_s"] = (timeMs - s.LastMs) / 1000.0 };
            if (s.OpenJump is { } jumped)
            {
                alerts.Add(Simple("teleport", jumped.Id, AlertState.Close, in p, s.Class, s.Hazmat, jumped.StartMs, s.LastMs, s.LastLon, s.LastLat, silent));
                s.Landed();
            }
            if (s.SignalLost)
            {
                alerts.Add(Simple("signal_lost", SignalLostId(v, s.LastMs), AlertState.Close, in p, s.Class, s.Hazmat, s.LastMs, timeMs, s.LastLon, s.LastLat, silent));
                s.SignalLost = false;
            }
        }
        _states.Forget(vehicles);
        _silentFrom.Forget(vehicles);
        _tiredSeen.Forget(vehicles);
    }

    /// <summary>Writes every vehicle's state, open alerts included (checkpoint).</summary>
    internal void Save(CheckpointWriter w)
    {
        w.Out.Write(_states.Vehicles.Length);
        foreach (int v in _states.Vehicles)
        {
            w.Vehicle(v);
            ref State s = ref _states.Existing(v);
            s.Save(w, s.SignalLost ? SignalLostId(v, s.LastMs) : null);
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this fresh rule set.</summary>
    internal void Load(CheckpointReader r)
    {
        int n = r.Count();
        for (int i = 0; i < n; i++)
        {
            int v = r.Vehicle();
            ref State s = ref _states[v];
            s.Load(r);
            Watch(v, ref s);
        }
    }

    /// <summary>
    /// A vehicle back after a silence of <see cref="VehicleConditionOptions.SignalLostAfterS"/> that the watermark has not
    /// yet raised: last seen driving, or last seen standing and back far away. Its unit was silent while it drove. The
    /// alert opens and closes as it reappears, spanning the silence.
    /// </summary>
    private void SilentWhileMoving(ref State s, long lastMs, in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        if (s.SignalLost || lastMs == long.MinValue) return;
        if (p.TimeMs - lastMs < _options.SignalLostAfterS * 1000) return;
        bool located = p.Fix && s.LastFix;
        double moved = located ? Traffic.Geo.GeoMath.Distance(s.LastLon, s.LastLat, p.Lon, p.Lat) : double.NaN;
        if (!s.LastMoving && !(moved >= _options.SignalLostMovedM)) return;
        string id = $"signal_lost:{ids.Name(p.Vehicle)}:{lastMs}";
        var evidence = new Dictionary<string, double> { ["silent_s"] = (p.TimeMs - lastMs) / 1000.0 };
        if (located) evidence["moved_m"] = moved;
        alerts.Add(Simple("signal_lost", id, AlertState.Open, in p, cls, hazmat, lastMs, null, s.LastLon, s.LastLat, evidence));
        alerts.Add(Simple("signal_lost", id, AlertState.Close, in p, cls, hazmat, lastMs, p.TimeMs, p.Lon, p.Lat, evidence));
    }

    private void Teleport(ref State s, long lastMs, in Probe p, VehicleClass cls, ushort hazmat, List<AlertEvent> alerts)
    {
        if (lastMs == long.MinValue) return;
        // A unit without a fix repeats its last position: the jump when the fix returns is no teleport.
        if (!p.Fix || !s.LastFix) return;
        // No open jump and a step too short for one: no need of the distance (a great circle is no longer than the way
        // along a parallel then a meridian, R × (Δlon + Δlat) in radians, and the bound leaves a tenth to spare).
        if (s.OpenJump == null && Math.Abs(p.Lon - s.LastLon) + Math.Abs(p.Lat - s.LastLat) < _teleportMinDeg) return;
        double metres = Traffic.Geo.GeoMath.Distance(s.LastLon, s.LastLat, p.Lon, p.Lat);
        double seconds = Math.Max(0.001, (p.TimeMs - lastMs) / 1000.0);
        double kmh = metres / seconds * 3.6;
        bool jump = metres >= _options.TeleportMinM && kmh > _options.TeleportKmh;
        if (s.OpenJump is not { } j)
        {
            if (!jump) return;
            var jumped = new Jump($"teleport:{ids.Name(p.Vehicle)}:{p.TimeMs}", p.TimeMs, lastMs, s.LastLon, s.LastLat);
            s.Jumped(jumped);
            alerts.Add(Simple("teleport", jumped.Id, AlertState.Open, in p, cls, hazmat, p.TimeMs, null, p.Lon, p.Lat, Evidence(metres, kmh)));
            return;
        }
        // Fixes plausible from the place jumped to but not from where the vehicle was before the jump: a bad stretch of
        // several fixes (one alert for the jump out and back, not one for each), for a while; longer, the vehicle is there.
        if (!jump && p.TimeMs - j.StartMs < _options.TeleportAwayS * 1000)
        {
            double back = Traffic.Geo.GeoMath.Distance(j.FromLon, j.FromLat, p.Lon, p.Lat);
            double backKmh = back / Math.Max(0.001, (p.TimeMs - j.FromMs) / 1000.0) * 3.6;
            if (back >= _options.TeleportMinM && backKmh > _options.TeleportKmh) return;
        }
        // The jump back, a plausible fix from where the vehicle was, or one from the new place long enough: it is over.
        alerts.Add(Simple("teleport", j.Id, AlertState.Close, in p, cls, hazmat, j.StartMs, p.TimeMs, p.Lon, p.Lat, Evidence(metres, kmh)));
        s.Landed();
    }

    // Built only for an alert: every probe passes through Teleport.
    private static Dictionary<string, double> Evidence(double jumpM, double impliedKmh) => new() { ["jump_m"] = jumpM, ["implied_kmh"] = impliedKmh };

    private AlertEvent Simple(string kind, string id, AlertState state, in Probe p, VehicleClass cls, ushort hazmat, long start, long? end,
        double lon, double lat, Dictionary<string, double> evidence, long? timeMs = null) => new()
    {
        AlertId = id,
        Kind = kind,
        State = state,
        TimeMs = timeMs ?? p.TimeMs,
        StartMs = start,
        EndMs = end,
        VehicleId = ids.Name(p.Vehicle),
        Class = ProbeRules.ClassName(cls),
        Hazmat = ProbeRules.HazmatText(hazmat),
        Lon = lon,
        Lat = lat,
        Severity = 2,
        Evidence = evidence,
    };

    /// <summary>
    /// Whether a dangerous-goods vehicle may stand long here now: inside a <c>permitted_stop</c> whose <c>hours</c> are in
    /// force and whose <c>classes</c> include it (a night parking of 22:00-06:00 permits no stop at noon; before, its hours
    /// and classes were ignored and a truck parked there at noon for an hour raised nothing).
    /// </summary>
    private bool InPermittedStop(double lon, double lat, long timeMs, VehicleClass cls)
    {
        if (zones == null) return false;
        int n = zones.Containing(lon, lat, _found);
        for (int i = 0; i < n; i++)
        {
            Zone z = zones.Zones[_found[i]];
            if (z.Kind == ZoneKind.PermittedStop && z.InForce(timeMs) && z.AppliesTo(cls, dangerousGoods: true)) return true;
        }
        return false;
    }

    private void Report(ref ConditionTracker c, AlertState? transition, string kind, in Probe p, VehicleClass cls, ushort hazmat, double? drivingS, List<AlertEvent> alerts)
    {
        if (transition is not AlertState state) return;
        var evidence = new Dictionary<string, double> { ["duration_s"] = ((state == AlertState.Close ? c.EndMs : p.TimeMs) - c.StartMs) / 1000.0 };
        if (!float.IsNaN(p.SpeedKmh)) evidence["speed_kmh"] = p.SpeedKmh;
        if (drivingS is double d) evidence["driving_s"] = d;
        alerts.Add(new AlertEvent
        {
            AlertId = $"{kind}:{ids.Name(p.Vehicle)}:{c.StartMs}",
            Kind = kind,
            State = state,
            TimeMs = p.TimeMs,
            StartMs = c.StartMs,
            EndMs = state == AlertState.Close ? c.EndMs : null,
            VehicleId = ids.Name(p.Vehicle),
            Class = ProbeRules.ClassName(cls),
            Hazmat = ProbeRules.HazmatText(hazmat),
            Lon = p.Lon,
            Lat = p.Lat,
            Severity = kind == "fatigue" ? 2 : 3,
            Evidence = evidence,
        });
        if (state == AlertState.Close) c.Clear();
    }

    /// <summary>
    /// The id of a vehicle's <c>signal_lost</c>: the vehicle's and its last report's before the silence, which stays its last
    /// until it reports again (and the alert closes). Made when needed, not kept: a string a vehicle cost 8 bytes of every
    /// vehicle's state.
    /// </summary>
    private string SignalLostId(int vehicle, long lastMs) => $"signal_lost:{ids.Name(vehicle)}:{lastMs}";

    /// <summary>
    /// A vehicle's state: a struct held inline in the rule's pages (<see cref="PerVehicleStructs{T}"/>), reached by
    /// reference, never copied; laid out by the runtime, widest fields first: 72 bytes, its times as offsets from a base of
    /// its own (<see cref="CompactTimes"/>), its small fields in the bits of one <see cref="ushort"/> (<see cref="StateBits"/>).
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private struct State
    {
        public State()   // declared, as a struct with field initializers must: they run in it
        {
        }

        [InlineArray(4)]
        private struct Four
        {
            private int _first;
        }

        private int _breaksMs;

        public ConditionTracker Fatigue = new();   // mutable struct: don't make it readonly (no debounce: the driving time is)
        private TimeSlots<Four> _times = new();   // after the tracker, which the runtime then lays out first: their alignment pads nothing

        public long LastMs { readonly get => _times[0]; set => _times.Set(0, value); }

        /// <summary>Since its first report moving after a rest (none: long.MinValue).</summary>
        public long DrivingSinceMs { readonly get => _times[1]; set => _times.Set(1, value); }

        /// <summary>Since it stood (none: long.MinValue).</summary>
        public long StandingSinceMs { readonly get => _times[2]; set => _times.Set(2, value); }

        /// <summary>Its last report moving (none: long.MinValue).</summary>
        public long DrivenUntilMs { readonly get => _times[3]; set => _times.Set(3, value); }

        /// <summary>Breaks taken since the driving began (held at 24.8 days).</summary>
        public long BreaksMs { readonly get => _breaksMs; set => _breaksMs = (int)Math.Clamp(value, 0, int.MaxValue); }

        public double LastLon;
        public double LastLat;
        // The class, the dangerous goods and the four flags below (StateBits): two bytes, where they took seven.
        private ushort _bits = 1 << (StateBits.FreeShift + 1);   // LastFix

        private readonly bool Flag(int i) => StateBits.Get(_bits, StateBits.FreeShift + i, 1) != 0;

        private void SetFlag(int i, bool value) => StateBits.Set(ref _bits, StateBits.FreeShift + i, 1, value ? 1 : 0);

        public bool LastMoving { readonly get => Flag(0); set => SetFlag(0, value); }

        public bool LastFix { readonly get => Flag(1); set => SetFlag(1, value); }

        /// <summary>signal_lost open: its id is the vehicle's and its last report's (SignalLostId).</summary>
        public bool SignalLost { readonly get => Flag(2); set => SetFlag(2, value); }

        /// <summary>Its fix was lost while it moved and is not back.</summary>
        public bool NoFixMoving { readonly get => Flag(3); set => SetFlag(3, value); }

        public VehicleClass Class { readonly get => StateBits.Class(_bits); set => StateBits.SetClass(ref _bits, value); }

        public ushort Hazmat { readonly get => StateBits.Hazmat(_bits); set => StateBits.SetHazmat(ref _bits, value); }

        public CargoTrack? Fixes;                  // a dangerous-goods vehicle's, or a unit judged from its fixes (a FixTrack): created when first needed

        /// <summary>An open teleport, kept in <see cref="Fixes"/> (a vehicle with neither is the most common, and holds no reference for it).</summary>
        public readonly Jump? OpenJump => Fixes?.OpenJump;

        /// <summary>A teleport opens: kept in the vehicle's track, made for it if the vehicle has none.</summary>
        public void Jumped(Jump jump) => (Fixes ??= new CargoTrack()).OpenJump = jump;

        /// <summary>The open teleport closes: a track made only to hold it (nothing else written in it) goes with it.</summary>
        public void Landed()
        {
            if (Fixes == null) return;
            Fixes.OpenJump = null;
            if (Fixes.IsBlank) Fixes = null;
        }

        /// <summary>Since when the vehicle stands: for a unit judged from its fixes, since its stop's first span began.</summary>
        public long StandingSince(in Probe p) => float.IsNaN(p.SpeedKmh) && Fixes is FixTrack { StopFixes: > 0 } f ? Math.Max(f.StopSinceMs, DrivenUntilMs) : p.TimeMs;

        /// <summary>Writes the state (checkpoint), with the id of its open signal_lost if any (<see cref="SignalLostId"/>).</summary>
        public void Save(CheckpointWriter w, string? signalLostId)
        {
            BinaryWriter o = w.Out;
            // A dangerous-goods vehicle's track is written as the whole track it begins (the rest as new), as before the split.
            FixTrack fixes = Fixes as FixTrack ?? (Fixes is { } cargo ? new FixTrack(cargo) : FixTrack.Fresh);
            fixes.NoFix.Save(o);
            fixes.LongStop.Save(o);
            Fatigue.Save(o);
            o.Write(LastMs);
            o.Write(LastLon);
            o.Write(LastLat);
            o.Write(LastMoving);
            o.Write(LastFix);
            o.Write((byte)Class);
            o.Write(Hazmat);
            w.String(OpenJump?.Id);
            o.Write(OpenJump?.StartMs ?? 0);
            o.Write(OpenJump?.FromMs ?? 0);
            o.Write(OpenJump?.FromLon ?? 0);
            o.Write(OpenJump?.FromLat ?? 0);
            w.String(signalLostId);
            o.Write(DrivingSinceMs);
            o.Write(StandingSinceMs);
            o.Write(BreaksMs);
            o.Write(DrivenUntilMs);
            o.Write(NoFixMoving);
            fixes.Save(o);
        }

        public void Load(CheckpointReader r)
        {
            BinaryReader i = r.In;
            var fixes = new FixTrack(null);
            fixes.NoFix.Load(i);
            fixes.LongStop.Load(i);
            Fatigue.Load(i);
            LastMs = i.ReadInt64();
            LastLon = i.ReadDouble();
            LastLat = i.ReadDouble();
            LastMoving = i.ReadBoolean();
            LastFix = i.ReadBoolean();
            (Class, Hazmat) = StateBits.Load(i);
            string? jumpId = r.String();
            (long jumpMs, long fromMs, double fromLon, double fromLat) = (i.ReadInt64(), i.ReadInt64(), i.ReadDouble(), i.ReadDouble());
            Jump? jump = jumpId == null ? null : new Jump(jumpId, jumpMs, fromMs, fromLon, fromLat);   // a closed one's are never read
            SignalLost = r.String() != null;
            DrivingSinceMs = i.ReadInt64();
            StandingSinceMs = i.ReadInt64();
            BreaksMs = i.ReadInt64();
            DrivenUntilMs = i.ReadInt64();
            NoFixMoving = i.ReadBoolean();
            fixes.Load(i);
            Fixes = fixes.IsFresh ? null : fixes.IsCargoOnly ? new CargoTrack(fixes) : fixes;
            if (jump != null) Jumped(jump);
        }
    }

    /// <summary>An open <c>teleport</c>: its id, when it opened, and the last fix before the jump (when and where).</summary>
    private sealed record Jump(string Id, long StartMs, long FromMs, double FromLon, double FromLat);

    /// <summary>
    /// What a dangerous-goods vehicle that reports its speed uses apart from <see cref="State"/>: its two conditions
    /// (<c>hazmat_no_fix</c>, <c>hazmat_long_stop</c>) and its stop (the mean of its fixes since it stopped); and any
    /// vehicle's open teleport, for which one is made while it is open. 112 bytes; most vehicles carry no cargo and never
    /// create it. A unit judged from its fixes holds the whole <see cref="FixTrack"/>,
    /// which begins with these fields; before the split a dangerous-goods vehicle held all of it (400 bytes), the rest
    /// never written.
    /// </summary>
    private class CargoTrack
    {
        /// <summary>A copy of <paramref name="from"/>'s fields (none: a new track's).</summary>
        public CargoTrack(CargoTrack? from = null)
        {
            if (from == null) return;
            (NoFix, LongStop, OpenJump) = (from.NoFix, from.LongStop, from.OpenJump);
            (StopFixes, StopSinceMs, StopSumLon, StopSumLat, StopLastMs) = (from.StopFixes, from.StopSinceMs, from.StopSumLon, from.StopSumLat, from.StopLastMs);
        }

        // Dangerous goods only (hazmat_no_fix, hazmat_long_stop). Mutable structs: don't make these readonly.
        public ConditionTracker NoFix = new();
        public ConditionTracker LongStop = new();

        public int StopFixes;                      // standing: the fixes since it stopped (0: not standing, or unknown) …
        public long StopSinceMs;                   // … since when …
        public double StopSumLon;                  // … and their sums
        public double StopSumLat;
        public long StopLastMs = long.MinValue;    // … and its last fix that stood (a unit without a reported speed)

        // Any vehicle's open teleport (created as it opens, dropped as it closes): here, not in every vehicle's State.
        public Jump? OpenJump;

        /// <summary>
        /// Whether it is a track of its own type only that a checkpoint writes as a new one (nothing but an open teleport
        /// was written in it): the test <see cref="FixTrack.IsFresh"/> makes of a restored track.
        /// </summary>
        public bool IsBlank => GetType() == typeof(CargoTrack) && new FixTrack(this).IsFresh;

        /// <summary>A unit that reports its speed, at its probe <paramref name="p"/>: its stop goes on (a fix under 1 km/h) or ends.</summary>
        public void ReportedStop(in Probe p)
        {
            StopLastMs = long.MinValue;
            if (p.SpeedKmh >= 1) StopFixes = 0;
            else if (p.Fix) (StopSumLon, StopSumLat, StopFixes) = StopFixes == 0 ? (p.Lon, p.Lat, 1) : (StopSumLon + p.Lon, StopSumLat + p.Lat, StopFixes + 1);
        }
    }

    /// <summary>
    /// A vehicle's state that only a unit judged from its fixes (no reported speed) uses, apart from <see cref="State"/>, on
    /// top of a dangerous-goods vehicle's <see cref="CargoTrack"/>: most vehicles report their speed, and never create it
    /// (384 bytes). Created at the first probe that needs it, which is where these fields were first written when they were
    /// the state's own: a vehicle without one reads as one that is new.
    /// </summary>
    private sealed class FixTrack : CargoTrack
    {
        /// <summary>A track never used, whose state a checkpoint writes for a vehicle without one (never changed).</summary>
        public static readonly FixTrack Fresh = new(null);

        private static readonly byte[] s_freshBytes = Bytes(Fresh);

        /// <summary>A track that goes on from <paramref name="cargo"/>'s (a dangerous-goods vehicle's unit that stops reporting its speed), the rest new.</summary>
        public FixTrack(CargoTrack? cargo) : base(cargo)
        {
        }

        public long NoFixSinceMs = long.MinValue;  // a unit that reports no speed: since when its fix is lost …
        public long FixMs = long.MinValue;         // … and its last fix: when and where
        public double FixLon;
        public double FixLat;
        public long SpanMs = long.MinValue;        // a unit without a reported speed: where its current span began …
        public double SpanLon;
        public double SpanLat;
        public float SpanKmh = float.NaN;          // … and the speed of its last span (0: standing)
        public UnitError StopError;                // the unit's error, from its fixes' scatter at its stops
        public double StopM2;                      // … and its fixes' summed squared metres from their mean (Welford)
        public long PastStopSinceMs = long.MinValue;   // the stop before, from its start …
        public long PastStopUntilMs = long.MinValue;   // … to its last fix that stood …
        public double PastStopScatterM;                // … and its fixes' scatter
        public long RecentMs = long.MinValue;          // a unit without a reported speed: its recent fixes' origin …
        public double RecentLon, RecentLat;            // … in time and place, from which their sums run …
        public long RecentFromMs = long.MinValue;      // … and since when the current half of them runs
        public FixSums RecentNow, RecentBefore;        // the fixes since then, and the half before

        /// <summary>
        /// A unit that reports positions only, at its fix <paramref name="p"/>: the speed of a least-squares line through its
        /// fixes of the last one to two <see cref="VehicleConditionOptions.PositionSpanS"/> (this one included), km/h;
        /// +∞ with under 3 fixes or under a span of them (unknown). Two fixes of a standing 10 m unit lie over 42 m apart
        /// (5 km/h over 30 s) once in 80, and a 2-3 minute stop judged span by span then read as driving; a line through
        /// 7-13 fixes 5 s apart has a σ of 0.5-1.4 km/h per axis, so it stands apart from 15 km/h.
        /// </summary>
        public double RecentKmh(in Probe p, VehicleConditionOptions o)
        {
            long spanMs = (long)(o.PositionSpanS * 1000);
            if (RecentMs == long.MinValue || p.TimeMs < RecentFromMs || p.TimeMs - RecentFromMs >= 2 * spanMs)
            {
                // First fix, or after a gap: the sums start again here.
                (RecentMs, RecentLon, RecentLat, RecentFromMs) = (p.TimeMs, p.Lon, p.Lat, p.TimeMs);
                (RecentNow, RecentBefore) = (default, default);
            }
            else if (p.TimeMs - RecentFromMs >= spanMs)
            {
                (RecentBefore, RecentNow, RecentFromMs) = (RecentNow, default, p.TimeMs);
            }
            double kx = Traffic.Geo.GeoMath.MetresPerDegreeLon(RecentLat), ky = Traffic.Geo.GeoMath.MetresPerDegree;
            RecentNow.Add((p.TimeMs - RecentMs) / 1000.0, (p.Lon - RecentLon) * kx, (p.Lat - RecentLat) * ky);
            FixSums all = RecentNow.Plus(RecentBefore);
            return all.N >= 3 && all.SpanS >= o.PositionSpanS ? all.SlopeKmh() : double.PositiveInfinity;
        }

        /// <summary>The scatter σ per axis of the current stop's fixes about their mean, metres; NaN under 5 fixes.</summary>
        public double StopScatterM => StopFixes >= 5 ? Math.Sqrt(StopM2 / (2 * (StopFixes - 1))) : double.NaN;

        /// <summary>
        /// Whether a unit judged from its fixes stood at <paramref name="timeMs"/>, its fix there <paramref name="lon"/>,
        /// <paramref name="lat"/>, in a stop whose fixes scatter more than <paramref name="scatterM"/>: within its stop so far
        /// (from the span it began in to its last fix that stood, and after that while the fix lies within
        /// <see cref="StandRadiusM"/> of the stop's mean: a match can come out before its fix is judged here) or within the
        /// stop before.
        /// </summary>
        public bool StoodAt(long timeMs, double lon, double lat, double scatterM, VehicleConditionOptions o)
        {
            // A stop counts when it has lasted long enough and its fixes scatter that much.
            bool Counts(long sinceMs, long untilMs, double scatter) => scatter > scatterM && untilMs - sinceMs >= o.PositionStoodS * 1000;
            if (StopFixes > 0 && StopLastMs != long.MinValue && timeMs >= StopSinceMs)
            {
                if (!Counts(StopSinceMs, StopLastMs, StopScatterM)) return false;
                if (timeMs <= StopLastMs) return true;
                double fromMean = Traffic.Geo.GeoMath.Distance(StopSumLon / StopFixes, StopSumLat / StopFixes, lon, lat);
                return fromMean < StandRadiusM(o, Math.Sqrt(1 + (1.0 / StopFixes)));
            }
            return timeMs >= PastStopSinceMs && timeMs <= PastStopUntilMs && Counts(PastStopSinceMs, PastStopUntilMs, PastStopScatterM);
        }

        /// <summary>
        /// The speed of a unit that reports none, from its fixes: at the end of each span of
        /// <see cref="VehicleConditionOptions.PositionSpanS"/> or more, 0 if it moved less than
        /// <see cref="StandRadiusM"/>, else the span's mean speed; the last span's in between. Once it stands, its fixes
        /// are judged against its stop's (<see cref="Standing"/>).
        /// </summary>
        public float SpeedFromFixes(in Probe p, VehicleConditionOptions o)
        {
            // Without a fix: a vehicle last seen driving drives on, one last seen standing may have driven off (unknown).
            if (!p.Fix) return SpanKmh > o.MovingKmh ? SpanKmh : float.NaN;
            if (SpanMs == long.MinValue || p.TimeMs < SpanMs)
            {
                (SpanMs, SpanLon, SpanLat) = (p.TimeMs, p.Lon, p.Lat);
                StopFixes = 0;
                return SpanKmh;
            }
            double seconds = (p.TimeMs - SpanMs) / 1000.0;
            if (StopFixes > 0) return Standing(in p, o, seconds);
            if (seconds < o.PositionSpanS) return SpanKmh;
            double moved = Traffic.Geo.GeoMath.Distance(SpanLon, SpanLat, p.Lon, p.Lat);
            SpanKmh = moved < StandRadiusM(o, Math.Sqrt(2)) ? 0 : (float)(moved / seconds * 3.6);
            if (SpanKmh == 0)
            {
                // A stop begins, at the span's start: its place is the mean of its fixes, the span's first and last to
                // begin with.
                (StopSumLon, StopSumLat, StopFixes, StopSinceMs, StopLastMs) = (SpanLon + p.Lon, SpanLat + p.Lat, 2, SpanMs, p.TimeMs);
                StopM2 = moved * moved / 2;
            }
            (SpanMs, SpanLon, SpanLat) = (p.TimeMs, p.Lon, p.Lat);
            return SpanKmh;
        }

        /// <summary>
        /// A standing unit's fix, judged against the mean of its fixes since it stopped, not against one of them: fix
        /// against fix, a 25-minute rest of a 10 m unit reported every 30 s read as driving for a span in about half the
        /// rests, and a fix lies over 42 m from the mean of many once in 5,000. A fix within <see cref="StandRadiusM"/> of the mean joins it; at the end of a span, one beyond
        /// ends the stop, at the speed from the mean to it.
        /// </summary>
        private float Standing(in Probe p, VehicleConditionOptions o, double seconds)
        {
            double lon = StopSumLon / StopFixes, lat = StopSumLat / StopFixes;
            double fromMean = Traffic.Geo.GeoMath.Distance(lon, lat, p.Lon, p.Lat);
            double spread = Math.Sqrt(1 + 1.0 / StopFixes);
            bool stands = fromMean < StandRadiusM(o, spread);
            // A fix about a mean of n others lies σ √(1 + 1/n) off it (Rayleigh); scaled, it is a sample of σ. Sampled
            // too: a fix that ends a stop at a span's end (within the radius's cap), or a unit noisier than the radius
            // it starts from would never show how noisy it is; a vehicle driving off adds one such sample a stop.
            if (stands || (seconds >= o.PositionSpanS && fromMean < MaxStandRadiusM)) StopError.Add(fromMean * (2 / Math.PI) / spread);
            if (stands)
            {
                double kx = Traffic.Geo.GeoMath.MetresPerDegreeLon(lat), ky = Traffic.Geo.GeoMath.MetresPerDegree;
                double dx = (p.Lon - lon) * kx, dy = (p.Lat - lat) * ky;   // from the mean before …
                StopSumLon += p.Lon;
                StopSumLat += p.Lat;
                StopFixes++;
                StopM2 += (dx * (p.Lon - (StopSumLon / StopFixes)) * kx) + (dy * (p.Lat - (StopSumLat / StopFixes)) * ky); // … and after
                StopLastMs = p.TimeMs;
                if (seconds >= o.PositionSpanS) (SpanMs, SpanLon, SpanLat) = (p.TimeMs, p.Lon, p.Lat);
                return SpanKmh;
            }
            if (seconds < o.PositionSpanS) return SpanKmh;
            SpanKmh = (float)(fromMean / seconds * 3.6);
            (PastStopSinceMs, PastStopUntilMs, PastStopScatterM) = (StopSinceMs, StopLastMs, StopScatterM);
            StopFixes = 0;
            (SpanMs, SpanLon, SpanLat) = (p.TimeMs, p.Lon, p.Lat);
            return SpanKmh;
        }

        /// <summary>
        /// A unit that reports positions only, as its fix is lost: whether its fixes since its last span ended, 10 s or
        /// more of them, stood (within <see cref="StandRadiusM"/> of the span's end). Its speed is the last whole span's,
        /// which a truck that stopped 10-30 s before it lost its fix drove through: it was standing, not driving, and
        /// whether it moves without a fix is for its fix's return to show (<c>MovedWithoutFix</c>).
        /// </summary>
        public bool StoodSinceSpan(VehicleConditionOptions o) =>
            SpanMs != long.MinValue && FixMs != long.MinValue && FixMs - SpanMs >= o.PositionSpanS * 1000 / 3
            && Traffic.Geo.GeoMath.Distance(SpanLon, SpanLat, FixLon, FixLat) < StandRadiusM(o, Math.Sqrt(2));

        /// <summary>
        /// How far a fix may lie from a point <paramref name="spread"/> σ uncertain (the mean of a stop's n fixes: √(1 +
        /// 1/n); another fix: √2) and the unit still stand: <see cref="VehicleConditionOptions.PositionStandM"/>, or 4
        /// times that σ of the unit's scatter at its stops once 8 fixes have shown it (a fix lies beyond once in 3,000),
        /// at most 100 m. A 10 m unit's two fixes at a stop 30 s apart lie over 42 m apart (5 km/h) once in 80.
        /// </summary>
        public double StandRadiusM(VehicleConditionOptions o, double spread) =>
            Math.Clamp(4 * StopError.SigmaOr(8, 0) * spread, o.PositionStandM, MaxStandRadiusM);

        private const double MaxStandRadiusM = 100;

        /// <summary>
        /// A unit that reports its speed: its fixes while it reports standing (under 1 km/h) make its stop's place. Such a
        /// stop is no stop judged from fixes (<see cref="StoodAt"/>): its sums are not those.
        /// </summary>
        public void Save(BinaryWriter o)
        {
            o.Write(SpanMs);
            o.Write(SpanLon);
            o.Write(SpanLat);
            o.Write(SpanKmh);
            o.Write(StopFixes);
            o.Write(StopSinceMs);
            o.Write(StopSumLon);
            o.Write(StopSumLat);
            StopError.Save(o);
            o.Write(NoFixSinceMs);
            o.Write(FixMs);
            o.Write(FixLon);
            o.Write(FixLat);
            o.Write(StopLastMs);
            o.Write(StopM2);
            o.Write(PastStopSinceMs);
            o.Write(PastStopUntilMs);
            o.Write(PastStopScatterM);
            o.Write(RecentMs);
            o.Write(RecentLon);
            o.Write(RecentLat);
            o.Write(RecentFromMs);
            RecentNow.Save(o);
            RecentBefore.Save(o);
        }

        /// <summary>Whether the track is as new (its trackers and the rest): a vehicle restored with it needs none.</summary>
        public bool IsFresh => Bytes(this).AsSpan().SequenceEqual(s_freshBytes);

        /// <summary>Whether only the <see cref="CargoTrack"/>'s fields differ from a new track's (a restored dangerous-goods vehicle's).</summary>
        public bool IsCargoOnly => Bytes(this).AsSpan().SequenceEqual(Bytes(new FixTrack(new CargoTrack(this))));

        /// <summary>Reads what <see cref="Save"/> wrote (the trackers are read apart, where the checkpoint has them).</summary>
        public void Load(BinaryReader i)
        {
            SpanMs = i.ReadInt64();
            SpanLon = i.ReadDouble();
            SpanLat = i.ReadDouble();
            SpanKmh = i.ReadSingle();
            StopFixes = i.ReadInt32();
            CheckpointReader.Check(StopFixes >= 0, "checkpoint malformed: a stop's fixes negative");
            StopSinceMs = i.ReadInt64();
            StopSumLon = i.ReadDouble();
            StopSumLat = i.ReadDouble();
            StopError.Load(i);
            NoFixSinceMs = i.ReadInt64();
            FixMs = i.ReadInt64();
            FixLon = i.ReadDouble();
            FixLat = i.ReadDouble();
            StopLastMs = i.ReadInt64();
            StopM2 = i.ReadDouble();
            PastStopSinceMs = i.ReadInt64();
            PastStopUntilMs = i.ReadInt64();
            PastStopScatterM = i.ReadDouble();
            RecentMs = i.ReadInt64();
            RecentLon = i.ReadDouble();
            RecentLat = i.ReadDouble();
            RecentFromMs = i.ReadInt64();
            RecentNow = FixSums.Load(i);
            RecentBefore = FixSums.Load(i);
        }

        private static byte[] Bytes(FixTrack t)
        {
            using var bytes = new MemoryStream();
            using (var w = new BinaryWriter(bytes))
            {
                t.NoFix.Save(w);
                t.LongStop.Save(w);
                t.Save(w);
            }
            return bytes.ToArray();
        }
    }

    /// <summary>Sums of fixes (seconds, and metres east and north of an origin) for a least-squares line through them.</summary>
    private struct FixSums
    {
        public int N;
        public double T, TT, X, Y, TX, TY, MinT, MaxT;

        public void Add(double t, double x, double y)
        {
            if (N == 0 || t < MinT) MinT = t;
            if (N == 0 || t > MaxT) MaxT = t;
            N++;
            T += t;
            TT += t * t;
            X += x;
            Y += y;
            TX += t * x;
            TY += t * y;
        }

        public readonly FixSums Plus(FixSums b) => b.N == 0 ? this : N == 0 ? b : new FixSums
        {
            N = N + b.N, T = T + b.T, TT = TT + b.TT, X = X + b.X, Y = Y + b.Y, TX = TX + b.TX, TY = TY + b.TY,
            MinT = Math.Min(MinT, b.MinT), MaxT = Math.Max(MaxT, b.MaxT),
        };

        /// <summary>Seconds from the first fix to the last.</summary>
        public readonly double SpanS => N == 0 ? 0 : MaxT - MinT;

        /// <summary>The line's speed, km/h (0 for fixes all at one time).</summary>
        public readonly double SlopeKmh()
        {
            double stt = TT - (T * T / N);
            if (!(stt > 0)) return 0;
            double vx = (TX - (T * X / N)) / stt, vy = (TY - (T * Y / N)) / stt;
            return Math.Sqrt((vx * vx) + (vy * vy)) * 3.6;
        }

        public readonly void Save(BinaryWriter o)
        {
            o.Write(N);
            foreach (double d in (ReadOnlySpan<double>)[T, TT, X, Y, TX, TY, MinT, MaxT]) o.Write(d);
        }

        public static FixSums Load(BinaryReader i)
        {
            int n = i.ReadInt32();
            CheckpointReader.Check(n >= 0, "checkpoint malformed: a unit's recent fixes negative");
            return new FixSums
            {
                N = n, T = i.ReadDouble(), TT = i.ReadDouble(), X = i.ReadDouble(), Y = i.ReadDouble(), TX = i.ReadDouble(),
                TY = i.ReadDouble(), MinT = i.ReadDouble(), MaxT = i.ReadDouble(),
            };
        }
    }
}
