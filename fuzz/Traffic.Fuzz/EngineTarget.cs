using System.Buffers.Binary;
using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Traffic.Engine.Segments;
using Traffic.Engine.Zones;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;

namespace Traffic.Fuzz;

/// <summary>
/// The engine's per-probe path behind the readers: decoded probes of eight vehicles (each 20 bytes of the input) through a
/// vehicle partition on Monaco, with zones of every kind and a registry, its traversals and watermarks through a segment
/// partition, the watermark moved and the partition checkpointed and restored where the input says. A finding is an
/// exception of either partition, a probe that comes out neither matched, late nor refused by the end of the input (but a
/// probe without a fix, which the rules judge and the matcher does not take, counted as such), one that comes out twice,
/// or an alert closed or updated that was not open, or opened twice.
/// </summary>
/// <remarks>
/// A record: [0] vehicle (bits 0–2), has speed (3), has heading (4), fix (5), move the watermark after it (6), checkpoint
/// and restore after it (7); [1] class (bits 0–2, modulo 6), dangerous goods (3–5: an index into <see cref="Hazmat"/>), has
/// an alarm (6), has an accuracy (7); [2–3] the step of the input's clock, in tenths of a second (signed: a negative step
/// is a probe older than the one before; the least, −32768, a step of 40 days forward, beyond the 24.8 days a rule state's
/// times span before their base moves); [4–5] and [6–7] longitude and latitude, millionths of a degree east and north of
/// 7.40° E, 43.72° N (a box around Monaco); [8] speed, km/h; [9–10] heading, degrees (modulo 360); [11] accuracy, metres;
/// [12–15] alarm bits; [16–19] status bits.
/// </remarks>
public static class EngineTarget
{
    public const int RecordBytes = 20;
    public const double West = 7.40, South = 43.72;

    /// <summary>The box's side, degrees: a position is 16 bits of millionths of a degree from its west and south sides.</summary>
    public const double BoxDeg = ushort.MaxValue * 1e-6;
    public const long Start = 1_764_028_800_000;   // 2025-11-25 00:00 UTC

    /// <summary>Where a record's flag moves the watermark to: this far behind the newest probe so far, ms.</summary>
    public const long WatermarkLagMs = 5_000;
    private const long LongStepMs = 40L * 86_400_000;
    private static readonly ushort[] Hazmat = [0, 0, 0, 10, 21, 30, 61, 80];

    private const string ZonesJson = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"R1","kind":"restricted","classes":["truck","hazmat"],"hours":"07:00-19:00"},
           "geometry":{"type":"Polygon","coordinates":[[[7.415,43.728],[7.425,43.728],[7.425,43.736],[7.415,43.736],[7.415,43.728]]]}},
          {"type":"Feature","properties":{"id":"R2","kind":"restricted","max_dwell_s":120},
           "geometry":{"type":"Polygon","coordinates":[[[7.42,43.735],[7.43,43.735],[7.43,43.745],[7.42,43.745],[7.42,43.735]]]}},
          {"type":"Feature","properties":{"id":"H1","kind":"hazmat_forbidden","hours":"22:00-06:00"},
           "geometry":{"type":"MultiPolygon","coordinates":[[[[7.405,43.73],[7.412,43.73],[7.412,43.737],[7.405,43.737],[7.405,43.73]]]]}},
          {"type":"Feature","properties":{"id":"S1","kind":"permitted_stop","classes":["hazmat","truck"]},
           "geometry":{"type":"Polygon","coordinates":[[[7.428,43.738],[7.432,43.738],[7.432,43.742],[7.428,43.742],[7.428,43.738]]]}},
          {"type":"Feature","properties":{"id":"C1","kind":"corridor","width_m":60},
           "geometry":{"type":"LineString","coordinates":[[7.41,43.73],[7.42,43.735],[7.43,43.74],[7.44,43.75]]}}
        ]}
        """;

    private static readonly Lazy<ZoneSet> s_zones = new(() => ZoneSet.Parse(ZonesJson));

    // The network's roads, which a segment partition reads and never changes: made once (most of a run's time otherwise).
    // Monaco's zone given, not looked up from the network's bounds by each partition made (a third of a run otherwise).
    private const string Zone = "Europe/Monaco";
    private static readonly VehiclePartitionOptions s_options = new() { Speeding = new Engine.Rules.SpeedingOptions { TimeZone = Zone } };

    private static readonly Lazy<RoadGroups> s_roads = new(() => new RoadGroups(Targets.Monaco.Network, Targets.Monaco));

    // The vehicles' ids (v0 … v7, process ids 0 … 7) and a registry naming some of them: made once a process. A partition
    // reads the ids and never adds one (a restore interns the same names again), so every run sees the same table.
    private static readonly Lazy<(VehicleIds Ids, VehicleRegistry Registry)> s_vehicles = new(() =>
    {
        var ids = new VehicleIds();
        for (int v = 0; v < 8; v++) ids.Intern($"v{v}");
        string path = Path.Combine(Path.GetTempPath(), $"traffic-fuzz-registry-{Environment.ProcessId}.ndjson");
        File.WriteAllText(path, """
            {"vehicle_id":"v0","class":"hazmat","hazmat":"3","corridor":"C1"}
            {"vehicle_id":"v1","class":"truck"}
            {"vehicle_id":"v2","class":"bus","company":"巴士"}
            {"vehicle_id":"v3","class":"taxi"}
            {"vehicle_id":"v5","class":"hazmat","hazmat":"2.1","corridor":"C1"}

            """);
        try
        {
            return (ids, VehicleRegistry.Load(path, ids));
        }
        finally
        {
            File.Delete(path);
        }
    });

    // Flags of a record's byte 0 (its bits 0–2 are the vehicle).
    public const byte HasSpeed = 8, HasHeading = 16, HasFix = 32, MoveWatermark = 64, Checkpoint = 128;

    /// <summary>The least step, −32768: 40 days forward.</summary>
    public const short LongStep = short.MinValue;

    /// <summary>
    /// Writes one record (the layout above; the seeds' writer): <paramref name="flags"/> with the vehicle in its low bits,
    /// <paramref name="kind"/> (class, dangerous goods' index, alarm and accuracy flags), the clock's step, a position inside
    /// the box, speed and heading; no alarm, accuracy or status bits.
    /// </summary>
    public static void Write(Span<byte> record, int flags, int kind, short step, double lon, double lat, byte kmh, double heading)
    {
        record[..RecordBytes].Clear();
        record[0] = (byte)flags;
        record[1] = (byte)kind;
        BinaryPrimitives.WriteInt16LittleEndian(record[2..], step);
        BinaryPrimitives.WriteUInt16LittleEndian(record[4..], (ushort)Math.Clamp(Math.Round((lon - West) * 1e6), 0, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16LittleEndian(record[6..], (ushort)Math.Clamp(Math.Round((lat - South) * 1e6), 0, ushort.MaxValue));
        record[8] = kmh;
        BinaryPrimitives.WriteUInt16LittleEndian(record[9..], (ushort)(((int)Math.Round(heading) % 360 + 360) % 360));
    }

    /// <summary>Whether a position lies inside the box the records' positions are written in.</summary>
    public static bool InBox(double lon, double lat) => lon > West && lon < West + BoxDeg && lat > South && lat < South + BoxDeg;

    /// <summary>
    /// The probe of one record (the layout above), of vehicle 0–7; <paramref name="clock"/>, the input's clock (from
    /// <see cref="Start"/>), moves by the record's step first. The record's flags to move the watermark and to checkpoint
    /// are the caller's to act on.
    /// </summary>
    public static Probe Decode(ReadOnlySpan<byte> r, ref long clock)
    {
        byte flags = r[0], kind = r[1];
        short step = BinaryPrimitives.ReadInt16LittleEndian(r[2..]);
        clock = Math.Max(ProbeRules.EarliestMs, clock + (step == LongStep ? LongStepMs : step * 100L));
        var p = Probe.Empty;
        p.Vehicle = flags & 7;
        p.TimeMs = clock;
        p.Lon = West + (BinaryPrimitives.ReadUInt16LittleEndian(r[4..]) * 1e-6);
        p.Lat = South + (BinaryPrimitives.ReadUInt16LittleEndian(r[6..]) * 1e-6);
        if ((flags & HasSpeed) != 0) p.SpeedKmh = r[8];
        if ((flags & HasHeading) != 0) p.Heading = BinaryPrimitives.ReadUInt16LittleEndian(r[9..]) % 360;
        p.Fix = (flags & HasFix) != 0;
        p.Class = (VehicleClass)((kind & 7) % 6);
        p.Hazmat = Hazmat[(kind >> 3) & 7];
        if ((kind & 64) != 0) (p.HasAlarm, p.Alarm) = (true, BinaryPrimitives.ReadUInt32LittleEndian(r[12..]));
        if ((kind & 128) != 0) p.AccuracyM = r[11];
        (p.HasStatus, p.Status) = (true, BinaryPrimitives.ReadUInt32LittleEndian(r[16..]));
        return p;
    }

    /// <summary>The alerts the inputs run in this process raised, by kind and state: what a corpus reaches (its replay prints them).</summary>
    public static SortedDictionary<string, int> Reached { get; } = new(StringComparer.Ordinal);

    /// <summary><see cref="Reached"/> in one line.</summary>
    public static string Summary() =>
        "alerts raised: " + (Reached.Count == 0 ? "none" : string.Join(", ", Reached.Select(r => $"{r.Key} {r.Value}")));

    public static void Run(byte[] input)
    {
        EdgeIndex index = Targets.Monaco;
        var (ids, registry) = s_vehicles.Value;
        ZoneSet zones = s_zones.Value;
        var segments = new SegmentPartition(s_roads.Value, 0, 1, new SegmentOptions { TimeZone = Zone });
        var output = new Checked(segments);
        var vehicles = new VehiclePartition(0, index, ids, registry, zones, s_options);
        long clock = Start, newest = Start;
        int probes = 0;
        for (int at = 0; at + RecordBytes <= input.Length; at += RecordBytes)
        {
            ReadOnlySpan<byte> r = input.AsSpan(at, RecordBytes);
            byte flags = r[0];
            Probe p = Decode(r, ref clock);
            vehicles.OnProbe(p, new RecordSource(probes, at), output);
            probes++;
            newest = Math.Max(newest, clock);
            if ((flags & MoveWatermark) != 0) vehicles.AdvanceWatermark(newest - WatermarkLagMs, output);
            if ((flags & Checkpoint) != 0)
            {
                var checkpoint = new MemoryStream();
                vehicles.Save(checkpoint);
                checkpoint.Position = 0;
                vehicles = VehiclePartition.Load(0, index, ids, registry, zones, checkpoint, s_options);
            }
        }
        vehicles.OnEndOfInput(output);
        segments.OnEndOfInput(output);
        // Every probe comes out matched, late or refused, but a probe without a fix in time, which the rules judge and the
        // matcher does not take (counted as such, through checkpoints too).
        var missing = Enumerable.Range(0, probes).Where(k => !output.Records.Contains(k)).ToList();
        var lost = missing.Where(k => (input[k * RecordBytes] & HasFix) != 0).Take(5).ToList();
        if (lost.Count > 0 || missing.Count != vehicles.NoFix)
        {
            throw new FindingException($"{probes} probes in, {output.Accounted} out (matched {output.Matches}, late {output.Lates}, refused "
                + $"{output.Refusals}), {vehicles.NoFix} taken without a fix of {missing.Count} not out; with a fix, none out for record {string.Join(", ", lost)}");
        }
    }

    /// <summary>The partitions' outputs, counted and checked; traversals and watermarks go on to the segment partition.</summary>
    private sealed class Checked(SegmentPartition segments) : IVehiclePartitionOutput, ISegmentPartitionOutput
    {
        private readonly HashSet<string> _open = [];

        /// <summary>The records that came out, matched, late or refused.</summary>
        public HashSet<long> Records { get; } = [];

        public int Matches { get; private set; }

        public int Lates { get; private set; }

        public int Refusals { get; private set; }

        public int Accounted => Matches + Lates + Refusals;

        public void Alert(AlertEvent alert)
        {
            if (string.IsNullOrEmpty(alert.AlertId)) throw new FindingException($"a {alert.Kind} alert without an id");
            bool known = alert.State == AlertState.Open ? _open.Add(alert.AlertId) : alert.State == AlertState.Close ? _open.Remove(alert.AlertId) : _open.Contains(alert.AlertId);
            if (!known) throw new FindingException($"{alert.State} of {alert.AlertId}, which {(alert.State == AlertState.Open ? "was open already" : "was not open")}");
            if (alert.EndMs is long end && end < alert.StartMs) throw new FindingException($"{alert.AlertId} ends before it starts");
            string key = $"{alert.Kind} {alert.State.ToString().ToLowerInvariant()}";
            Reached[key] = Reached.GetValueOrDefault(key) + 1;
        }

        public void Matched(int vehicle, VehicleClass vehicleClass, in MatchedProbe match)
        {
            if (!Records.Add(match.ProbeId)) throw new FindingException($"record {match.ProbeId} came out twice");
            Matches++;
        }

        public void Traversal(in SegmentTraversal traversal) => segments.OnTraversal(traversal);

        public void Watermark(in SegmentWatermark watermark) => segments.OnWatermark(watermark, this);

        public void Late(in Probe probe, in RecordSource source)
        {
            if (!Records.Add(source.Record)) throw new FindingException($"record {source.Record} came out twice");
            Lates++;
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
            if (!Records.Add(source.Record)) throw new FindingException($"record {source.Record} came out twice");
            Refusals++;
        }

        public void Window(in SegmentStat window)
        {
        }

        public void View(in SegmentStat view)
        {
        }

        public void Network(in NetworkSums sums)
        {
        }
    }
}
