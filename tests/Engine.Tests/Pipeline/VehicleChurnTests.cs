using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Tests.Simulation;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// A partition that runs for days: vehicles come and go (units replaced, plates changed, a truck that visits once), and
/// what it holds must follow the vehicles active now, not every vehicle it has ever seen.
/// </summary>
public class VehicleChurnTests
{
    private static readonly Lazy<EdgeIndex> s_index = new(() => new EdgeIndex(SimRun.Shenzhen));

    // 2026-03-02 09:00 local (UTC+8).
    private static readonly long s_start = new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private sealed class Log : IVehiclePartitionOutput
    {
        public List<AlertEvent> Alerts { get; } = [];
        public void Alert(AlertEvent alert) => Alerts.Add(alert);
        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) { }
        public void Traversal(in SegmentTraversal traversal) { }
        public void Watermark(in SegmentWatermark watermark) { }
        public void Late(in Probe probe, in RecordSource source) { }
        public void Refused(in Probe probe, in RecordSource source, PushResult reason) { }
    }

    /// <summary>The longest edge with a limit of 40 km/h or more: a road to drive along for minutes.</summary>
    private static int Road(RoadNetwork net) =>
        Enumerable.Range(0, net.EdgeCount).Where(e => net.SpeedLimitKmh(e) >= 40).MaxBy(net.LengthM);

    private static long s_record;

    /// <summary>One probe of a vehicle driving the road at 30 km/h, <paramref name="t"/> seconds after it started at 5 m in.</summary>
    private static void Drive(VehiclePartition p, VehicleIds ids, string id, long startMs, double t, IVehiclePartitionOutput log, VehicleClass cls = VehicleClass.Taxi)
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        double along = 5 + (30 / 3.6 * t) % (net.LengthM(edge) - 10);
        var (lon, lat) = net.PointAt(edge, along);
        var probe = Probe.Empty;
        probe.Vehicle = ids.Intern(id.AsSpan());
        probe.TimeMs = startMs + (long)(t * 1000);
        (probe.Lon, probe.Lat, probe.SpeedKmh, probe.Class) = (lon, lat, 30, cls);
        p.OnProbe(in probe, new RecordSource(++s_record, 0), log);
    }

    private static long CheckpointBytes(VehiclePartition p)
    {
        var s = new MemoryStream();
        p.Save(s);
        return s.Length;
    }

    [Fact]
    public void Vehicles_gone_for_good_are_forgotten_and_their_open_alerts_close()
    {
        var ids = new VehicleIds();
        var log = new Log();
        var p = new VehiclePartition(0, s_index.Value, ids, null, null);
        var aloneIds = new VehicleIds();
        var alone = new VehiclePartition(0, s_index.Value, aloneIds, null, null);
        // 200 taxis of a shift, each driving 5 minutes and then gone while driving (a unit replaced, a plate changed): each
        // raises signal_lost 30 minutes on. One taxi drives on for a day. In time order, as a stream brings them.
        var probes = new List<(string Id, long Start, double T)>();
        for (int v = 0; v < 200; v++)
        {
            for (double t = 0; t <= 300; t += 15) probes.Add(($"粤B-GONE{v:000}", s_start + (v * 1000), t));
        }
        for (double t = 0; t <= 24 * 3600; t += 30) probes.Add(("粤B-STAYS", s_start, t));
        foreach (var (id, start, t) in probes.OrderBy(x => x.Start + (long)(x.T * 1000)))
        {
            Drive(p, ids, id, start, t, log);
            if (id == "粤B-STAYS") Drive(alone, aloneIds, id, start, t, new Log());
        }

        var opened = log.Alerts.Where(a => a.Kind == "signal_lost" && a.State == AlertState.Open).Select(a => a.AlertId).ToHashSet();
        var closed = log.Alerts.Where(a => a.Kind == "signal_lost" && a.State == AlertState.Close).Select(a => a.AlertId).ToHashSet();
        Assert.Equal(200, opened.Count);
        Assert.Equal(opened, closed);   // none left open for ever
        Assert.Equal(1, p.Vehicles);    // the taxi still driving; the rest forgotten
        // What a checkpoint holds is the vehicles active now: as much as that of a partition that only ever saw the one.
        Assert.InRange(CheckpointBytes(p), 0, CheckpointBytes(alone) + 512);
    }

    [Fact]
    public void A_vehicle_that_vanishes_inside_a_restricted_zone_has_its_alert_closed_when_it_is_forgotten()
    {
        var net = SimRun.Shenzhen;
        int edge = Road(net);
        var (lon0, lat0) = net.PointAt(edge, 0);
        var (lon1, lat1) = net.PointAt(edge, net.LengthM(edge));
        string box = FormattableString.Invariant(
            $"[[{Math.Min(lon0, lon1) - 0.01},{Math.Min(lat0, lat1) - 0.01}],[{Math.Max(lon0, lon1) + 0.01},{Math.Min(lat0, lat1) - 0.01}],[{Math.Max(lon0, lon1) + 0.01},{Math.Max(lat0, lat1) + 0.01}],[{Math.Min(lon0, lon1) - 0.01},{Math.Max(lat0, lat1) + 0.01}],[{Math.Min(lon0, lon1) - 0.01},{Math.Min(lat0, lat1) - 0.01}]]");
        var zones = ZoneSet.Parse("""{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"Z9","kind":"restricted","classes":["taxi"]},"geometry":{"type":"Polygon","coordinates":["""
            + box + "]}}]}");
        var ids = new VehicleIds();
        var log = new Log();
        var p = new VehiclePartition(0, s_index.Value, ids, null, zones);
        // A taxi drives 5 minutes inside the zone and is never heard of again; a bus (not restricted) drives on for 8 hours.
        for (double t = 0; t <= 300; t += 5) Drive(p, ids, "粤B-LOST1", s_start, t, log);
        for (double t = 0; t <= 8 * 3600; t += 30) Drive(p, ids, "粤B-BUS01", s_start, t, log, VehicleClass.Bus);

        var zone = log.Alerts.Where(a => a.Kind == "zone").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], zone.Select(a => a.State));
        long last = s_start + 300_000;
        Assert.Equal(last, zone[1].EndMs);   // inside until its last report, no later
        Assert.InRange(zone[1].TimeMs, last + (6 * 3600_000), last + (6 * 3600_000) + 120_000);
        Assert.Equal(1, p.Vehicles);
        Assert.Equal(1, p.Forgotten);
    }

    [Fact]
    public void A_partition_restored_from_a_checkpoint_forgets_the_same_vehicles_with_the_same_alerts()
    {
        // Taxis of two shifts, each gone while driving; one taxi drives on. A checkpoint taken after the first shift has gone
        // silent (signal_lost open, not yet forgotten), restored with a differently ordered id table, goes on as the
        // uninterrupted partition does: the same vehicles forgotten at the same watermark, the same alerts closed.
        IEnumerable<(string Id, long Start, double T)> Probes()
        {
            for (int v = 0; v < 30; v++)
            {
                for (double t = 0; t <= 300; t += 15) yield return ($"粤B-SHIFT1-{v:00}", s_start + (v * 1000), t);
            }
            for (double t = 0; t <= 12 * 3600; t += 30)
            {
                yield return ("粤B-STAYS", s_start, t);
                if (t is >= 3 * 3600 and <= (3 * 3600) + 300) yield return ("粤B-SHIFT2", s_start, t);
            }
        }
        var all = Probes().OrderBy(p => p.Start + (long)(p.T * 1000)).ToList();
        int cut = all.FindIndex(p => p.Start + (long)(p.T * 1000) >= s_start + (2 * 3600_000));

        var ids = new VehicleIds();
        var whole = new Log();
        var p = new VehiclePartition(0, s_index.Value, ids, null, null);
        var tail = new Log();
        byte[]? checkpoint = null;
        for (int i = 0; i < all.Count; i++)
        {
            if (i == cut)
            {
                var s = new MemoryStream();
                p.Save(s);
                checkpoint = s.ToArray();
            }
            Drive(p, ids, all[i].Id, all[i].Start, all[i].T, i >= cut ? tail : whole);
        }

        var otherIds = new VehicleIds();
        otherIds.Intern("粤B-SOMEONE-ELSE".AsSpan());
        var restored = VehiclePartition.Load(0, s_index.Value, otherIds, null, null, new MemoryStream(checkpoint!));
        var again = new Log();
        for (int i = cut; i < all.Count; i++) Drive(restored, otherIds, all[i].Id, all[i].Start, all[i].T, again);

        Assert.Contains(tail.Alerts, a => a.Kind == "signal_lost" && a.State == AlertState.Close);
        Assert.Equal(tail.Alerts.Select(Line), again.Alerts.Select(Line));
        Assert.Equal(p.Vehicles, restored.Vehicles);
        Assert.Equal(p.Forgotten, restored.Forgotten);
        Assert.Equal(31, p.Forgotten);   // both shifts; the taxi driving on is held
    }

    private static string Line(AlertEvent a) => $"{a.AlertId} {a.State} {a.TimeMs} {a.EndMs} {a.Lon:F6} {a.Lat:F6}";

    private sealed class Matches : IVehiclePartitionOutput
    {
        public List<int> Vehicles { get; } = [];
        public List<AlertEvent> Alerts { get; } = [];
        public void Alert(AlertEvent alert) => Alerts.Add(alert);
        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match) => Vehicles.Add(vehicle);
        public void Traversal(in SegmentTraversal traversal) { }
        public void Watermark(in SegmentWatermark watermark) { }
        public void Late(in Probe probe, in RecordSource source) { }
        public void Refused(in Probe probe, in RecordSource source, PushResult reason) { }
    }

    [Fact]
    public void A_partition_numbers_its_own_vehicles_and_gives_a_forgotten_ones_number_to_the_next()
    {
        // One partition of a process whose vehicle table holds 20,000 other vehicles (the other partitions', the registry's):
        // its per-vehicle arrays are as long as the vehicles it holds, not as the process's table.
        var ids = new VehicleIds();
        for (int i = 0; i < 20_000; i++) ids.Intern($"粤B-OTHER{i:00000}".AsSpan());
        var p = new VehiclePartition(0, s_index.Value, ids, null, null);
        var log = new Matches();
        for (double t = 0; t <= 300; t += 10)
        {
            for (int v = 0; v < 40; v++) Drive(p, ids, $"粤B-DAY{v:00}", s_start, t, new Log());
        }
        Assert.Equal(40, p.Vehicles);
        Assert.Equal(40, p.VehicleNumbers);

        // Seven hours on, another 30 vehicles: the 40 are forgotten (6 h), and the newcomers take their numbers. What goes
        // out still names each vehicle by the process's id: its matched probes and its alerts.
        long later = s_start + (7 * 3600_000L);
        for (double t = 0; t <= 600; t += 10)
        {
            for (int v = 0; v < 30; v++) Drive(p, ids, $"粤B-EVE{v:00}", later, t, log);
        }
        Assert.Equal(40, p.Forgotten);
        Assert.Equal(30, p.Vehicles);
        // The watermark jumps 7 hours only once 8 probes of more than one vehicle have come that far ahead (a unit whose
        // clock runs ahead does not carry it): those first newcomers are numbered before the 40 are forgotten.
        Assert.InRange(p.VehicleNumbers, 40, 48);
        Assert.NotEmpty(log.Vehicles);
        Assert.All(log.Vehicles, v => Assert.StartsWith("粤B-EVE", ids.Name(v), StringComparison.Ordinal));
        Assert.Equal(30, log.Vehicles.Distinct().Count());
    }
}
