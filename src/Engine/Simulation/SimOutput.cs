using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Traffic.Engine.Simulation;

/// <summary>An injected event as the truth file records it (times: ms after the simulation start; -1 while unknown).</summary>
internal sealed class TruthEvent
{
    public required string Kind { get; init; }
    public string? VehicleId { get; init; }
    public string? Road { get; init; }
    public long[]? WayIds { get; init; }
    public string? Zone { get; init; }
    public SimZone? ZoneRef { get; set; }       // the zone of a zone event: its hours decide the expected alert
    public int Edge { get; set; } = -1;
    public long StartMs { get; set; } = -1;
    public long EndMs { get; set; } = -1;
    public string? ExpectedAlert { get; set; }
    public Dictionary<string, double> Values { get; } = [];
}

/// <summary>The true state of a vehicle at a fix: what the truth file says about the probe made from it.</summary>
internal readonly record struct ProbeTruth(int Edge, long WayId, string Direction, bool AgainstOneWay, double OffsetM,
    double SpeedKmh, double LimitKmh, double Lon, double Lat, string State);

/// <summary>
/// Writes the probes NDJSON and the truth NDJSON, streaming, and injects the transport faults on the
/// way out (drops, duplicates, reordering, malformed lines), recording each in the truth.
/// </summary>
internal sealed class SimOutput : IDisposable
{
    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        // Plates are Chinese: write them as UTF-8, not as \u escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private readonly Stream _probes;
    private readonly Stream _truth;
    private readonly long _startMs;
    private readonly FaultRates _faults;
    private readonly Random _faultRng;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _json;
    private long _line;                        // lines written to the probes file
    private int _malformedVariant;

    public SimOutput(Stream probes, Stream truth, long startMs, FaultRates faults, int seed)
    {
        _probes = probes;
        _truth = truth;
        _startMs = startMs;
        _faults = faults;
        // A generator of its own: fault decisions never shift the vehicles' random streams.
        _faultRng = new Random(unchecked((seed * 31) + 0x5eed));
        _json = new Utf8JsonWriter(_buffer, s_writerOptions);
    }

    public long ProbeLines => _line;

    public long ProbesGenerated { get; private set; }

    /// <summary>One fix of a vehicle: its probe as reported and its truth.</summary>
    public void Probe(SimVehicle v, long timeMs, double lon, double lat, double speedKmh, double heading, bool fix, in ProbeTruth truth)
    {
        ProbesGenerated++;
        long absMs = _startMs + timeMs;
        if (_faults.Any)
        {
            double r = _faultRng.NextDouble();
            if (r < _faults.Drop)
            {
                WriteTruthProbe(v, absMs, -1, truth, fault: "dropped");
                return;
            }
            r -= _faults.Drop;
            if (r < _faults.Malformed)
            {
                string variant = WriteMalformed(v, absMs, lon, lat, speedKmh, heading, fix);
                WriteTruthProbe(v, absMs, _line, truth, fault: "malformed", variant);
                return;
            }
            r -= _faults.Malformed;
            if (r < _faults.OutOfOrder && v.HeldLine == null)
            {
                v.HeldLine = FormatProbe(v, absMs, lon, lat, speedKmh, heading, fix);
                v.HeldTruth = FormatTruthProbe(v, absMs, -2, truth, "out_of_order", null);
                v.HeldTimeMs = absMs;
                return;
            }
            r -= _faults.OutOfOrder;
            bool duplicate = r < _faults.Duplicate;
            WriteProbeLine(v, absMs, lon, lat, speedKmh, heading, fix, copies: duplicate ? 2 : 1);
            WriteTruthProbe(v, absMs, _line - (duplicate ? 1 : 0), truth, duplicate ? "duplicated" : null);
            // Behind a readable later probe of the vehicle, so that it really is out of order.
            ReleaseHeld(v);
            return;
        }
        WriteProbeLine(v, absMs, lon, lat, speedKmh, heading, fix, copies: 1);
        WriteTruthProbe(v, absMs, _line, truth, null);
    }

    /// <summary>Writes a held-back probe now, behind a later one of the same vehicle.</summary>
    public void ReleaseHeld(SimVehicle v)
    {
        if (v.HeldLine == null) return;
        WriteLine(v.HeldLine);
        // The truth was formatted when the probe was made; its line number is known only now.
        string truth = System.Text.Encoding.UTF8.GetString(v.HeldTruth!).Replace("\"line\":-2", "\"line\":" + _line.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        _truth.Write(System.Text.Encoding.UTF8.GetBytes(truth));
        v.HeldLine = null;
        v.HeldTruth = null;
    }

    /// <summary>A bus's arrival and departure at a stop against its timetable.</summary>
    public void Stop(SimVehicle v, in PlanStop stop, double arrivedS, double departedS)
    {
        var w = Begin();
        w.WriteString("type", "stop");
        w.WriteString("vehicle_id", v.Id);
        w.WriteString("trip_id", v.Trip?.TripId);
        if (v.Runs.Length > 0)
        {
            // GTFS-Realtime's trip descriptor: a trip's runs differ by service date (overnight) and start time (frequencies).
            var run = v.Runs[v.Run];
            w.WriteString("start_date", run.ServiceDate.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("start_time", GtfsFeed.FormatTime(run.StartS));
        }
        w.WriteString("stop_id", stop.StopId);
        w.WriteNumber("seq", stop.Seq);
        if (!double.IsNaN(stop.ArriveS)) w.WriteNumber("scheduled_arrival", Ms(stop.ArriveS));
        if (!double.IsNaN(stop.DepartS)) w.WriteNumber("scheduled_departure", Ms(stop.DepartS));
        w.WriteNumber("arrival", Ms(arrivedS));
        w.WriteNumber("departure", Ms(departedS));
        w.WriteNumber("distance_m", Math.Round(stop.At, 1));
        End(_truth);
    }

    public void Event(TruthEvent e)
    {
        var w = Begin();
        w.WriteString("type", "event");
        w.WriteString("kind", e.Kind);
        if (e.VehicleId != null) w.WriteString("vehicle_id", e.VehicleId);
        if (e.Road != null) w.WriteString("road", e.Road);
        if (e.WayIds != null)
        {
            w.WriteStartArray("way_ids");
            foreach (long id in e.WayIds) w.WriteNumberValue(id);
            w.WriteEndArray();
        }
        if (e.Zone != null) w.WriteString("zone", e.Zone);
        if (e.Edge >= 0) w.WriteNumber("edge", e.Edge);
        if (e.StartMs >= 0) w.WriteNumber("start", _startMs + e.StartMs);
        else w.WriteNull("start");
        if (e.EndMs >= 0) w.WriteNumber("end", _startMs + e.EndMs);
        else w.WriteNull("end");
        if (e.ExpectedAlert != null) w.WriteString("expected_alert", e.ExpectedAlert);
        else w.WriteNull("expected_alert");
        foreach (var (k, val) in e.Values) w.WriteNumber(k, Math.Round(val, 3));
        End(_truth);
    }

    public void Dispose() => _json.Dispose();

    private long Ms(double simS) => _startMs + (long)Math.Round(simS * 1000);

    private Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
        return _json;
    }

    private void End(Stream to)
    {
        _json.WriteEndObject();
        _json.Flush();
        to.Write(_buffer.WrittenSpan);
        to.WriteByte((byte)'\n');
    }

    private byte[] EndToArray()
    {
        _json.WriteEndObject();
        _json.Flush();
        var bytes = new byte[_buffer.WrittenCount + 1];
        _buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private void WriteLine(byte[] line)
    {
        _probes.Write(line);
        _line++;
    }

    // Fields in the order of INTERFACES.md; numbers rounded to what a unit reports, so runs compare byte for byte.
    private byte[] FormatProbe(SimVehicle v, long absMs, double lon, double lat, double speedKmh, double heading, bool fix)
    {
        ProbeFields(v, absMs, lon, lat, speedKmh, heading, fix);
        return EndToArray();
    }

    // The common path: format in the reused buffer and write, no array per line.
    private void WriteProbeLine(SimVehicle v, long absMs, double lon, double lat, double speedKmh, double heading, bool fix, int copies)
    {
        ProbeFields(v, absMs, lon, lat, speedKmh, heading, fix);
        _json.WriteEndObject();
        _json.Flush();
        for (int i = 0; i < copies; i++)
        {
            _probes.Write(_buffer.WrittenSpan);
            _probes.WriteByte((byte)'\n');
            _line++;
        }
    }

    private void ProbeFields(SimVehicle v, long absMs, double lon, double lat, double speedKmh, double heading, bool fix)
    {
        var w = Begin();
        w.WriteString("vehicle_id", v.Id);
        w.WriteNumber("time", absMs);
        w.WriteNumber("lon", Math.Round(lon, 7));
        w.WriteNumber("lat", Math.Round(lat, 7));
        w.WriteNumber("speed_kmh", Math.Round(speedKmh, 1));
        w.WriteNumber("heading", Math.Round(heading, 1) % 360);
        w.WriteString("class", v.ClassName);
        if (v.Hazmat != null) w.WriteString("hazmat", v.Hazmat);
        w.WriteBoolean("fix", fix);
    }

    // Malformed as a broken unit or link really produces it: each variant fails INTERFACES.md's probe
    // rules in a different way (not JSON, a required field missing, a coordinate out of range, a mistyped time).
    private string WriteMalformed(SimVehicle v, long absMs, double lon, double lat, double speedKmh, double heading, bool fix)
    {
        int variant = _malformedVariant++ % 4;
        byte[] line;
        string name;
        switch (variant)
        {
            case 0:
                byte[] whole = FormatProbe(v, absMs, lon, lat, speedKmh, heading, fix);
                // Cut inside the object: the line ends without its closing brace.
                line = [.. whole.AsSpan(0, whole.Length / 2), (byte)'\n'];
                name = "broken_json";
                break;
            case 1:
            {
                var w = Begin();
                w.WriteString("vehicle_id", v.Id);
                w.WriteNumber("time", absMs);
                w.WriteNumber("lon", Math.Round(lon, 7));
                w.WriteNumber("speed_kmh", Math.Round(speedKmh, 1));
                w.WriteString("class", v.ClassName);
                line = EndToArray();
                name = "missing_lat";
                break;
            }
            case 2:
            {
                var w = Begin();
                w.WriteString("vehicle_id", v.Id);
                w.WriteNumber("time", absMs);
                w.WriteNumber("lon", Math.Round(lon + 200, 7));
                w.WriteNumber("lat", Math.Round(lat + 100, 7));
                w.WriteString("class", v.ClassName);
                line = EndToArray();
                name = "out_of_range";
                break;
            }
            default:
            {
                var w = Begin();
                w.WriteString("vehicle_id", v.Id);
                w.WriteString("time", "not-a-time");
                w.WriteNumber("lon", Math.Round(lon, 7));
                w.WriteNumber("lat", Math.Round(lat, 7));
                w.WriteString("class", v.ClassName);
                line = EndToArray();
                name = "bad_time";
                break;
            }
        }
        WriteLine(line);
        return name;
    }

    private void WriteTruthProbe(SimVehicle v, long absMs, long line, in ProbeTruth t, string? fault, string? variant = null)
    {
        TruthFields(v, absMs, line, t, fault, variant);
        End(_truth);
    }

    private byte[] FormatTruthProbe(SimVehicle v, long absMs, long line, in ProbeTruth t, string? fault, string? variant)
    {
        TruthFields(v, absMs, line, t, fault, variant);
        return EndToArray();
    }

    private void TruthFields(SimVehicle v, long absMs, long line, in ProbeTruth t, string? fault, string? variant)
    {
        var w = Begin();
        w.WriteString("type", "probe");
        if (line == -1) w.WriteNull("line");
        else w.WriteNumber("line", line);
        w.WriteString("vehicle_id", v.Id);
        w.WriteNumber("time", absMs);
        w.WriteNumber("edge", t.Edge);
        w.WriteNumber("way_id", t.WayId);
        w.WriteString("direction", t.Direction);
        if (t.AgainstOneWay) w.WriteBoolean("against_oneway", true);
        w.WriteNumber("offset_m", Math.Round(t.OffsetM, 2));
        w.WriteNumber("speed_kmh", Math.Round(t.SpeedKmh, 2));
        w.WriteNumber("limit_kmh", t.LimitKmh);
        w.WriteNumber("lon", Math.Round(t.Lon, 7));
        w.WriteNumber("lat", Math.Round(t.Lat, 7));
        w.WriteString("state", t.State);
        if (fault != null) w.WriteString("fault", fault);
        if (variant != null) w.WriteString("variant", variant);
    }
}
