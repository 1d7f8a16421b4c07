using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Traffic.Connectors.Jt808;
using Traffic.Engine.Alerts;
using Traffic.Engine.Checkpoints;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;
using Traffic.Geo.Evaluation;
using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Import.Pbf;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Geo.Spatial;

namespace Traffic.Fuzz;

/// <summary>
/// The starting inputs of each target (<c>Traffic.Fuzz --seeds &lt;dir&gt;</c>), written by the project's own writers so
/// that they are valid to begin with: afl-fuzz mutates from them. Small, as afl-fuzz wants them; made, not committed.
/// </summary>
public static class Seeds
{
    // Engine records' classes (their kind byte's low bits).
    private const int Car = (int)VehicleClass.Car, Bus = (int)VehicleClass.Bus, Taxi = (int)VehicleClass.Taxi, Truck = (int)VehicleClass.Truck;

    public static void Write(string dir)
    {
        var ids = new VehicleIds();
        Put(dir, "probes-ndjson", "full", """
            {"vehicle_id":"琼A12345","time":1764028800000,"lon":110.35,"lat":20.02,"speed_kmh":42.5,"heading":90,"class":"hazmat","hazmat":"3","fix":true,"accuracy_m":4.5,"alarm":0,"status":3}
            {"vehicle_id":"粤B1","time":"2025-11-25T00:00:01Z","lon":110.36,"lat":20.03}

            {"vehicle_id":"粤B1","time":"2025-11-25T00:00:02.5+08:00","lon":110.36,"lat":20.03,"fix":false,"speed_kmh":0}
            """u8.ToArray());
        Put(dir, "probes-ndjson", "bad", """
            {"vehicle_id":"a","time":1764028800000,"lon":110.2,"lat":95}
            {"vehicle_id":"a","time":17640288000000000,"lon":1e400,"lat":"x"}
            {"vehicle_id":"\u00e9\ud83d\ude00","time":1764028800000,"lon":-0.0,"lat":0,"heading":360,"class":"bus"}
            not json
            """u8.ToArray());
        Put(dir, "probes-csv", "full", """
            vehicle_id,time,lon,lat,speed_kmh,heading,class,hazmat,fix
            琼A12345,1764028800000,110.35,20.02,42.5,90,hazmat,3,true
            "粤B,77",2025-11-25T00:00:01Z,110.36,20.03,,,,,
            "x""y",1764028801000,110.36,20.03,1,2,taxi,,false
            """u8.ToArray());
        Put(dir, "probes-csv", "short", "time,lat,lon,vehicle_id\r\n1764028800000,20,110,a\r\n\"open,1,2\r\n"u8.ToArray());

        var binary = new List<byte>();
        var record = new byte[128];
        var p = new Probe { Vehicle = ids.Intern("琼A12345"), TimeMs = 1764028800000, Lon = 110.35, Lat = 20.02, SpeedKmh = 42.5f, Heading = 90, Fix = true };
        for (int i = 0; i < 3; i++)
        {
            if (!ProbeBinaryRecord.TryWrite(p with { TimeMs = p.TimeMs + (i * 1000), Fix = i != 2 }, Encoding.UTF8.GetBytes("琼A12345"), record))
                throw new InvalidOperationException("binary record not written");
            binary.AddRange(record);
        }
        Put(dir, "probes-binary", "three", [.. binary]);

        var position = new Jt808Position(0, 3, 22.54, 113.93, 12, 42.5f, 90, 1764028800000);
        byte[] report = Jt808Frame.Build(Jt808Messages.PositionReport, "013912345678", 7, Jt808Messages.PositionBody(position));
        byte[] registration = Jt808Frame.Build(Jt808Messages.Registration, "013912345678", 1,
            [0, 44, 1, 0x2c, 0, 0, 0, 0, 0, .. new byte[20], .. new byte[7], 1, .. Encoding.UTF8.GetBytes("B12345")]);
        byte[] heartbeat = Jt808Frame.Build(Jt808Messages.Heartbeat, "013912345678", 2, [], version2019: true);
        byte[] batchBody = [0, 2, 0, .. Item(Jt808Messages.PositionBody(position)), .. Item(Jt808Messages.PositionBody(position with { Heading = 360 }))];
        byte[] batch = Jt808Frame.Build(Jt808Messages.BatchPositions, "013912345678", 3, batchBody);
        Put(dir, "jt808-stream", "session", [.. registration, .. heartbeat, .. report, 0x7e, 0x7d, 0x03, 0x7e, .. batch]);
        Put(dir, "jt808-stream", "report", report);
        Put(dir, "jt808-gateway", "session", [.. registration, .. heartbeat, .. report, .. batch]);
        // A batch in two sub-packages (header bit 13, then the packet count and index), and a report in the 2019 layout.
        byte[] half1 = batchBody[..40], half2 = batchBody[40..];
        Put(dir, "jt808-gateway", "packets", [.. Packet(Jt808Messages.BatchPositions, 4, 2, 1, half1), .. Packet(Jt808Messages.BatchPositions, 5, 2, 2, half2),
            .. Jt808Frame.Build(Jt808Messages.PositionReport, "01391234567890123456", 6, Jt808Messages.PositionBody(position), version2019: true)]);
        Put(dir, "jt808-message", "report", Content(report));
        Put(dir, "jt808-message", "batch", Content(batch));
        Put(dir, "jt808-message", "registration", Content(registration));
        Put(dir, "jt808-message", "heartbeat2019", Content(heartbeat));

        Put(dir, "zones", "all-kinds", """
            {"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"id":"Z1","name":"港区","kind":"restricted","classes":["truck"],"hours":"22:00-06:00","max_dwell_s":600},
             "geometry":{"type":"Polygon","coordinates":[[[113.9,22.5],[113.91,22.5],[113.91,22.51],[113.9,22.51],[113.9,22.5]]]}},
            {"type":"Feature","properties":{"id":"H1","kind":"hazmat_forbidden"},
             "geometry":{"type":"MultiPolygon","coordinates":[[[[113.92,22.5],[113.93,22.5],[113.93,22.51],[113.92,22.5]]]]}},
            {"type":"Feature","id":7,"properties":{"kind":"corridor","width_m":80},
             "geometry":{"type":"LineString","coordinates":[[113.9,22.5],[113.95,22.55]]}},
            {"type":"Feature","properties":{"id":"S1","kind":"permitted_stop"},
             "geometry":{"type":"Polygon","coordinates":[[[113.94,22.5],[113.95,22.5],[113.95,22.51],[113.94,22.5]]]}}]}
            """u8.ToArray());
        Put(dir, "registry", "ndjson", """
            {"vehicle_id":"琼A12345","class":"hazmat","hazmat":"3","corridor":"7","company":"港运"}
            {"vehicle_id":"粤B1","class":"taxi"}
            """u8.ToArray());
        Put(dir, "registry", "array", """[{"vehicle_id":"a","class":"bus"},{"vehicle_id":"b","class":"truck","hazmat":"2.1"}]"""u8.ToArray());

        byte[] osm = Encoding.UTF8.GetBytes(OsmXml);
        Put(dir, "osm-xml", "small", osm);
        RoadNetwork net = OsmNetworkImporter.Import(OsmXmlReader.Read(new MemoryStream(osm)), new ImportReport());
        var tnet = new MemoryStream();
        NetworkFile.Write(net, tnet);
        Put(dir, "network", "small", tnet.ToArray());
        Put(dir, "osm-pbf", "small", Pbf());

        WriteCheckpoints(dir);
        WriteEngine(dir);
    }

    /// <summary>One sub-package of a 2013 message for terminal 013912345678, framed.</summary>
    private static byte[] Packet(ushort id, ushort serial, ushort total, ushort index, byte[] body)
    {
        var content = new List<byte> { (byte)(id >> 8), (byte)id, (byte)(0x20 | (body.Length >> 8)), (byte)body.Length, 0x01, 0x39, 0x12, 0x34, 0x56, 0x78,
            (byte)(serial >> 8), (byte)serial, (byte)(total >> 8), (byte)total, (byte)(index >> 8), (byte)index };
        content.AddRange(body);
        byte check = 0;
        foreach (byte b in content) check ^= b;
        content.Add(check);
        return Jt808Frame.Wrap([.. content]);
    }

    private static byte[] Item(byte[] body) => [(byte)(body.Length >> 8), (byte)body.Length, .. body];

    /// <summary>A frame's unescaped content less its check code: what the message target takes.</summary>
    private static byte[] Content(byte[] framed)
    {
        var content = new byte[Jt808Frame.MaxFrameBytes];
        int n = Jt808Frame.Unescape(framed.AsSpan(1, framed.Length - 2), content);
        return content[..(n - 1)];
    }

    private static void Put(string dir, string target, string name, byte[] bytes)
    {
        string folder = Path.Combine(dir, target);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }

    private const string OsmXml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <osm version="0.6">
          <node id="1" lat="22.5400" lon="113.9300"/>
          <node id="2" lat="22.5405" lon="113.9310"/>
          <node id="3" lat="22.5410" lon="113.9320"/>
          <node id="4" lat="22.5420" lon="113.9310"/>
          <node id="5" lat="22.5395" lon="113.9325"/>
          <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/><tag k="name" v="深南大道"/><tag k="maxspeed" v="60"/></way>
          <way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
          <way id="12"><nd ref="3"/><nd ref="5"/><tag k="highway" v="primary_link"/><tag k="oneway" v="-1"/><tag k="maxspeed" v="40 mph"/></way>
        </osm>
        """;

    /// <summary>The same five nodes and three ways as an uncompressed PBF (raw blobs, dense nodes).</summary>
    private static byte[] Pbf()
    {
        var o = new MemoryStream();
        void Blob(string type, IMessage message)
        {
            var blob = new Blob { Raw = message.ToByteString(), RawSize = message.CalculateSize() };
            var header = new BlobHeader { Type = type, Datasize = blob.CalculateSize() };
            byte[] h = header.ToByteArray();
            o.Write([(byte)(h.Length >> 24), (byte)(h.Length >> 16), (byte)(h.Length >> 8), (byte)h.Length]);
            o.Write(h);
            blob.WriteTo(o);
        }
        Blob("OSMHeader", new HeaderBlock { RequiredFeatures = { "OsmSchema-V0.6", "DenseNodes" } });
        var strings = new StringTable();
        foreach (string s in new[] { "", "highway", "primary", "name", "深南大道", "oneway", "yes", "residential" })
            strings.S.Add(ByteString.CopyFromUtf8(s));
        var dense = new DenseNodes();
        long[] nodeIds = [1, 2, 3, 4, 5];
        long[] lats = [225400000, 225405000, 225410000, 225420000, 225395000], lons = [1139300000, 1139310000, 1139320000, 1139310000, 1139325000];
        long lastId = 0, lastLat = 0, lastLon = 0;
        for (int i = 0; i < nodeIds.Length; i++)
        {
            dense.Id.Add(nodeIds[i] - lastId);
            dense.Lat.Add((lats[i] / 100) - lastLat);
            dense.Lon.Add((lons[i] / 100) - lastLon);
            (lastId, lastLat, lastLon) = (nodeIds[i], lats[i] / 100, lons[i] / 100);
        }
        var ways = new PrimitiveGroup();
        ways.Ways.Add(new Way { Id = 10, Keys = { 1, 3 }, Vals = { 2, 4 }, Refs = { 1, 1, 1 } });
        ways.Ways.Add(new Way { Id = 11, Keys = { 1, 5 }, Vals = { 7, 6 }, Refs = { 2, 2 } });
        var block = new PrimitiveBlock { Stringtable = strings, Granularity = 100 };
        block.Primitivegroup.Add(new PrimitiveGroup { Dense = dense });
        block.Primitivegroup.Add(ways);
        Blob("OSMData", block);
        return o.ToArray();
    }

    /// <summary>
    /// Records of the engine target (<see cref="EngineTarget"/>): three synthetic trips on Monaco, every 5 s, merged by time;
    /// again with the watermark moved every 20 records and a checkpoint and restore at the 60th; again with the rest of the
    /// trips 40 days later, checkpointed as they resume; and a car driving a one-way street against it.
    /// </summary>
    private static void WriteEngine(string dir)
    {
        var rng = new Random(7);
        var fixes = new List<(long TimeMs, int Vehicle, double Lon, double Lat, int Index)>();
        for (int v = 0; v < 3; v++)
        {
            var (probes, _) = SyntheticTraces.Drive(Targets.Monaco.Network, rng, 1200, 5, 8, EngineTarget.Start + (v * 3000));
            for (int i = 0; i < probes.Length; i++) fixes.Add((probes[i].Probe.TimeMs, v, probes[i].Probe.Lon, probes[i].Probe.Lat, i));
        }
        fixes.Sort((a, b) => a.TimeMs.CompareTo(b.TimeMs));
        byte[] Records(bool moves, bool gap = false)
        {
            var bytes = new byte[fixes.Count * EngineTarget.RecordBytes];
            long clock = EngineTarget.Start;
            for (int k = 0; k < fixes.Count; k++)
            {
                var (t, v, lon, lat, i) = fixes[k];
                int flags = v | EngineTarget.HasFix | (i % 3 == 0 ? EngineTarget.HasSpeed : 0) | (i % 4 == 0 ? EngineTarget.HasHeading : 0);
                if (moves && k % 20 == 19) flags |= EngineTarget.MoveWatermark;
                if (moves && k == 60) flags |= EngineTarget.Checkpoint;
                short step = (short)Math.Clamp((t - clock) / 100, short.MinValue + 1, short.MaxValue);
                clock += step * 100L;
                if (gap && k == 64) (step, flags) = (EngineTarget.LongStep, flags | EngineTarget.Checkpoint);   // 40 days on, then a checkpoint
                EngineTarget.Write(bytes.AsSpan(k * EngineTarget.RecordBytes), flags, v == 0 ? 5 | (5 << 3) : v, step, lon, lat, 30, i * 7);
            }
            return bytes;
        }
        Put(dir, "engine", "trips", Records(moves: false));
        Put(dir, "engine", "trips-moved", Records(moves: true));
        Put(dir, "engine", "trips-40-days-apart", Records(moves: true, gap: true));
        Put(dir, "engine", "wrong-way", AgainstOneWay());
        Put(dir, "engine", "jam", Jam());
        Put(dir, "engine", "incident", s_incident.Value);
    }

    /// <summary>
    /// Engine records of an incident: seven cars shuttling up and down a two-way street of Monaco (the longest of at most
    /// 300 m with a limit, inside the records' box, with no other road near it) at 80 % of its limit for five minutes, a fix
    /// every 4 s, all of them going up it when the five minutes end; then crawling on up at 4 km/h for three minutes; then
    /// shuttling again. The street's windows have a recent level, then collapse with seven vehicles in them: an
    /// <c>incident</c> (and a <c>congestion</c>) alert opens and closes.
    /// </summary>
    private static readonly Lazy<byte[]> s_incident = new(Incident);   // an engine seed, and the checkpoints' records

    private static byte[] Incident()
    {
        RoadNetwork net = Targets.Monaco.Network;
        const double MaxM = 300;
        int street = -1;
        Span<EdgeCandidate> near = stackalloc EdgeCandidate[16];
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.Twin(e) < 0 || !net.HasKnownLimit(e) || net.LengthM(e) > MaxM || (street >= 0 && net.LengthM(e) <= net.LengthM(street))) continue;
            // Ends, quarters and middle inside the records' box, and no other road within 30 m of the quarters and the
            // middle: its fixes are matched to it.
            bool fits = true;
            for (int q = 0; q <= 4 && fits; q++)
            {
                var (lon, lat) = net.PointAt(e, q * net.LengthM(e) / 4);
                fits = EngineTarget.InBox(lon, lat);
                if (q is 0 or 4) continue;
                int n = Targets.Monaco.Within(lon, lat, 30, near);
                for (int i = 0; i < n; i++) fits &= near[i].Edge == e || near[i].Edge == net.Twin(e);
            }
            if (fits) street = e;
        }
        int twin = net.Twin(street);
        double len = net.LengthM(street), fast = 0.8 * net.SpeedLimitKmh(street) / 3.6, slow = 4 / 3.6;
        var fixes = new List<(long TimeMs, int Vehicle, int Class, double Lon, double Lat, byte Kmh)>();
        const double Shuttle = 300, Crawl = 180;
        for (int v = 1; v <= 7; v++)
        {
            // A lap: up the street (0 … len), then down its twin (len … 2 len). Where each vehicle starts puts it at
            // v/9 of the way up when the crawl begins.
            double crawlStart = v * len / 9, crawlEnd = Math.Min(crawlStart + (slow * Crawl), len - 1);
            for (double t = 0; t < (2 * Shuttle) + Crawl; t += 4)
            {
                bool crawling = t >= Shuttle && t < Shuttle + Crawl;
                double lap = t < Shuttle ? crawlStart - (fast * (Shuttle - t))
                    : crawling ? Math.Min(crawlStart + (slow * (t - Shuttle)), len - 1)
                    : crawlEnd + (fast * (t - Shuttle - Crawl));
                lap = ((lap % (2 * len)) + (2 * len)) % (2 * len);
                var (lon, lat) = lap < len ? net.PointAt(street, lap) : net.PointAt(twin, lap - len);
                fixes.Add((EngineTarget.Start + (long)(t * 1000) + (v * 300), v, Car, lon, lat, (byte)Math.Round((crawling ? slow : fast) * 3.6)));
            }
        }
        return Moving(fixes);
    }

    /// <summary>
    /// Engine records of a jam: four vehicles (a truck, a bus, a taxi and a car) crawling one after another along the same
    /// 900 m of Monaco at about 5 km/h for ten minutes, a fix every 5 s, then driving it again at its limits: a
    /// <c>congestion</c> alert opens and closes.
    /// </summary>
    private static byte[] Jam()
    {
        // The trip's exact positions a second apart at 80 % of the limits, each kept 5 s after the one before: a crawl at
        // a fifth of that speed; then every fifth of them 5 s apart: the limits' pace again.
        var (trip, _) = SyntheticTraces.Drive(Targets.Monaco.Network, new Random(11), 900, 1, 0, EngineTarget.Start);
        var fixes = new List<(long TimeMs, int Vehicle, int Class, double Lon, double Lat, byte Kmh)>();
        ReadOnlySpan<int> classes = [Truck, Bus, Taxi, Car];   // vehicles 1–4: as the registry has the first three, and a car
        for (int v = 0; v < classes.Length; v++)
        {
            long t = EngineTarget.Start + (v * 12_000);
            for (int i = 0; i < trip.Length && t < EngineTarget.Start + 600_000; i++, t += 5_000)
            {
                fixes.Add((t, v + 1, classes[v], trip[i].Probe.Lon, trip[i].Probe.Lat, 5));
            }
            for (int i = 0; i < trip.Length; i += 5, t += 5_000) fixes.Add((t + 60_000, v + 1, classes[v], trip[i].Probe.Lon, trip[i].Probe.Lat, 35));
        }
        return Moving(fixes);
    }

    /// <summary>
    /// Engine records of vehicles' fixes, in time order: each with a fix and its speed, no heading, the watermark moved
    /// every ten records.
    /// </summary>
    private static byte[] Moving(List<(long TimeMs, int Vehicle, int Class, double Lon, double Lat, byte Kmh)> fixes)
    {
        fixes.Sort((a, b) => a.TimeMs.CompareTo(b.TimeMs));
        var bytes = new byte[fixes.Count * EngineTarget.RecordBytes];
        long clock = EngineTarget.Start;
        for (int k = 0; k < fixes.Count; k++)
        {
            var (t, v, vehicleClass, lon, lat, kmh) = fixes[k];
            short step = (short)Math.Clamp((t - clock) / 100, 0, short.MaxValue);
            clock += step * 100L;
            int flags = v | EngineTarget.HasFix | EngineTarget.HasSpeed | (k % 10 == 9 ? EngineTarget.MoveWatermark : 0);
            EngineTarget.Write(bytes.AsSpan(k * EngineTarget.RecordBytes), flags, vehicleClass, step, lon, lat, kmh, 0);
        }
        return bytes;
    }

    /// <summary>
    /// Engine records of a car (vehicle 6, in no registry) driving the longest one-way street of Monaco against its
    /// direction at 29 km/h, a fix a second reporting speed and heading, then standing off it: a <c>wrong_way</c> alert opens
    /// and closes.
    /// </summary>
    private static byte[] AgainstOneWay()
    {
        RoadNetwork net = Targets.Monaco.Network;
        int street = -1;
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (net.Twin(e) < 0 && net.IsOneWay(e) && (street < 0 || net.LengthM(e) > net.LengthM(street))) street = e;
        }
        var fixes = new List<(double Lon, double Lat, double Heading, byte Kmh)>();
        double len = net.LengthM(street);
        for (double x = 5; x < len - 5; x += 8)
        {
            var (lon, lat) = net.PointAt(street, len - x);
            fixes.Add((lon, lat, net.BearingAt(street, len - x) + 180, 29));
        }
        var (endLon, endLat) = net.PointAt(street, 0);
        for (int k = 0; k < 40; k++) fixes.Add((endLon + 0.003, endLat, 0, 0));   // off the street, standing: the alert closes
        var bytes = new byte[fixes.Count * EngineTarget.RecordBytes];
        for (int k = 0; k < fixes.Count; k++)
        {
            var (lon, lat, heading, kmh) = fixes[k];
            EngineTarget.Write(bytes.AsSpan(k * EngineTarget.RecordBytes), 6 | EngineTarget.HasSpeed | EngineTarget.HasHeading | EngineTarget.HasFix,
                Car, 10, lon, lat, kmh, heading);
        }
        return bytes;
    }

    /// <summary>Checkpoints of a vehicle and a segment partition on Monaco after a few synthetic trips: their payloads.</summary>
    private static void WriteCheckpoints(string dir)
    {
        RoadNetwork net = NetworkImport.Read(Traffic.Testing.SharedData.Path("osm", "monaco.osm.pbf"), out _);
        var index = new EdgeIndex(net);
        var ids = new VehicleIds();
        var vehicles = new VehiclePartition(0, index, ids, null, null);
        var segments = new SegmentPartition(net, 0, 1);
        var output = new Capture(segments);
        var rng = new Random(5);
        long record = 0;
        for (int v = 0; v < 3; v++)
        {
            var (probes, _) = SyntheticTraces.Drive(net, rng, 1500, 5, 8, 1_764_028_800_000 + (v * 7000));
            int vehicle = ids.Intern($"v{v}");
            foreach (var tp in probes)
            {
                GpsPoint g = tp.Probe;
                var probe = new Probe { Vehicle = vehicle, TimeMs = g.TimeMs, Lon = g.Lon, Lat = g.Lat, SpeedKmh = float.NaN, Heading = float.NaN, Fix = true };
                vehicles.OnProbe(probe, new RecordSource(0, record++), output);
            }
        }
        Put(dir, "checkpoint-vehicle", "monaco", Payload(vehicles.Save, CheckpointKind.VehiclePartition));
        Put(dir, "checkpoint-segment", "monaco", Payload(segments.Save, CheckpointKind.SegmentPartition));
        Put(dir, "checkpoint-vehicle", "empty", Payload(new VehiclePartition(0, index, new VehicleIds(), null, null).Save, CheckpointKind.VehiclePartition));

        // Mid-incident: the engine target's incident records up to 670 s (the crawl began at 300 s and ended at 480 s;
        // decisions and windows come a minute or two behind), through partitions made as these targets restore them (no
        // registry, no zones, default options): a congestion and an incident alert open, windows of seven vehicles in
        // flight, the street's recent levels.
        var crawl = new VehicleIds();
        for (int v = 0; v < 8; v++) crawl.Intern($"v{v}");
        vehicles = new VehiclePartition(0, index, crawl, null, null);
        segments = new SegmentPartition(net, 0, 1);
        output = new Capture(segments);
        byte[] records = s_incident.Value;
        long clock = EngineTarget.Start, newest = EngineTarget.Start;
        for (int at = 0; at + EngineTarget.RecordBytes <= records.Length && clock < EngineTarget.Start + 670_000; at += EngineTarget.RecordBytes)
        {
            Probe probe = EngineTarget.Decode(records.AsSpan(at, EngineTarget.RecordBytes), ref clock);
            vehicles.OnProbe(probe, new RecordSource(0, at), output);
            newest = Math.Max(newest, clock);
            if ((records[at] & EngineTarget.MoveWatermark) != 0) vehicles.AdvanceWatermark(newest - EngineTarget.WatermarkLagMs, output);
        }
        Put(dir, "checkpoint-vehicle", "incident", Payload(vehicles.Save, CheckpointKind.VehiclePartition));
        Put(dir, "checkpoint-segment", "incident", Payload(segments.Save, CheckpointKind.SegmentPartition));
    }

    private static byte[] Payload(Action<Stream> save, CheckpointKind kind)
    {
        var stream = new MemoryStream();
        save(stream);
        stream.Position = 0;
        return CheckpointFile.Read(stream, kind);
    }

    /// <summary>The vehicle partition's output, its traversals and watermarks handed to a segment partition.</summary>
    private sealed class Capture(SegmentPartition segments) : IVehiclePartitionOutput, ISegmentPartitionOutput
    {
        public void Alert(AlertEvent alert)
        {
        }

        public void Matched(int vehicle, Engine.Probes.VehicleClass vehicleClass, in MatchedProbe match)
        {
        }

        public void Traversal(in SegmentTraversal traversal) => segments.OnTraversal(traversal);

        public void Watermark(in SegmentWatermark watermark) => segments.OnWatermark(watermark, this);

        public void Late(in Probe probe, in RecordSource source)
        {
        }

        public void Refused(in Probe probe, in RecordSource source, PushResult reason)
        {
        }

        public void Window(in Engine.Segments.SegmentStat window)
        {
        }

        public void View(in Engine.Segments.SegmentStat view)
        {
        }

        public void Network(in Engine.Segments.NetworkSums sums)
        {
        }
    }
}
