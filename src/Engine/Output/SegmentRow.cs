using System.Buffers.Text;
using System.Text.Json;
using Traffic.Engine.Alerts;
using Traffic.Engine.Segments;
using Traffic.Geo.Network;

namespace Traffic.Engine.Output;

/// <summary>A segment statistics row as JSON (INTERFACES.md "Segment statistics"): one line of segments.ndjson, one message of the segment feed.</summary>
public static class SegmentRow
{
    /// <summary>Writes the row's fields into an object that the caller has started.</summary>
    public static void WriteFields(Utf8JsonWriter w, RoadNetwork network, in SegmentStat s)
    {
        w.WriteNumber("way_id"u8, network.WayId(s.Edge));
        w.WriteString("direction"u8, network.Direction(s.Edge));
        string road = network.Name(s.Edge);
        if (road.Length > 0) w.WriteString("road"u8, road);
        w.WriteNumber("edge"u8, s.Edge);
        Span<byte> time = stackalloc byte[AlertWriter.Rfc3339Length];
        w.WriteString("window_start"u8, AlertWriter.Rfc3339(s.WindowStartMs, time));
        w.WriteString("window_end"u8, AlertWriter.Rfc3339(s.WindowEndMs, time));
        w.WriteNumber("vehicles"u8, s.Vehicles);
        w.WriteNumber("speed_kmh"u8, Math.Round(s.SpeedKmh, 2));
        w.WriteNumber("free_flow_kmh"u8, Math.Round(s.FreeFlowKmh, 2));
        w.WriteNumber("travel_time_s"u8, Math.Round(s.TravelTimeS, 2));
        w.WriteNumber("level"u8, s.Level);
    }
}

/// <summary>
/// Writes segment rows as whole NDJSON lines, the bytes <see cref="SegmentRow.WriteFields"/> gives, formatted straight
/// into the line buffer: a replay writes hundreds of thousands of rows, and the <see cref="Utf8JsonWriter"/> checked and
/// escaped each of their thirteen fields (a fifth of the segment shards' time). Only a road name can need escaping: each
/// name is escaped once, by a <see cref="Utf8JsonWriter"/> with the lines' options, and kept. Numbers go through
/// <see cref="Utf8Formatter"/>, as in the writer; rows come in window order, so the two times of a row are those of the
/// last row most of the time and are formatted once a window. A row with a number that is not finite goes through
/// <see cref="SegmentRow.WriteFields"/>, which refuses it as before. Not thread-safe: one per output.
/// </summary>
public sealed class SegmentRowFormatter
{
    private const int FixedBytes = 512;   // a row's bytes but for its road name: fields, 3 × 24 digits, 2 times, with room

    private readonly RoadNetwork _network;
    private readonly byte[]?[] _roads;    // per name index: ,"road":"…" as the writer writes it; null until first used
    private readonly byte[] _start = new byte[AlertWriter.Rfc3339Length];  // the last row's window start, formatted
    private readonly byte[] _end = new byte[AlertWriter.Rfc3339Length];    // … and its end
    private long _startMs = long.MinValue;
    private long _endMs = long.MinValue;
    private readonly System.Buffers.ArrayBufferWriter<byte> _escaped = new();  // scratch: a road name's property as the writer writes it
    private Utf8JsonWriter? _escaper;                                          // … and its writer

    public SegmentRowFormatter(RoadNetwork network)
    {
        _network = network;
        _roads = new byte[]?[network.Names.Count];
    }

    /// <summary>Writes the row as one line of <paramref name="lines"/>.</summary>
    public void Write(NdjsonWriter lines, in SegmentStat s)
    {
        double speed = Math.Round(s.SpeedKmh, 2), free = Math.Round(s.FreeFlowKmh, 2), travel = Math.Round(s.TravelTimeS, 2);
        if (!double.IsFinite(speed) || !double.IsFinite(free) || !double.IsFinite(travel))
        {
            SegmentRow.WriteFields(lines.Begin(), _network, in s);
            lines.End();
            return;
        }
        ReadOnlySpan<byte> road = Road(_network.NameIndex(s.Edge));
        Span<byte> line = lines.BeginRaw(FixedBytes + road.Length);
        int n = Put(line, 0, "{\"way_id\":"u8);
        n += Number(_network.WayId(s.Edge), line[n..]);
        n = Put(line, n, (_network.Flags(s.Edge) & EdgeFlags.Backward) == 0 ? ",\"direction\":\"forward\""u8 : ",\"direction\":\"backward\""u8);
        n = Put(line, n, road);
        n = Put(line, n, ",\"edge\":"u8);
        n += Number(s.Edge, line[n..]);
        n = Put(line, n, ",\"window_start\":\""u8);
        n = Put(line, n, Time(s.WindowStartMs, ref _startMs, _start));
        n = Put(line, n, "\",\"window_end\":\""u8);
        n = Put(line, n, Time(s.WindowEndMs, ref _endMs, _end));
        n = Put(line, n, "\",\"vehicles\":"u8);
        n += Number(s.Vehicles, line[n..]);
        n = Put(line, n, ",\"speed_kmh\":"u8);
        n += Hundredths(speed, line[n..]);
        n = Put(line, n, ",\"free_flow_kmh\":"u8);
        n += Hundredths(free, line[n..]);
        n = Put(line, n, ",\"travel_time_s\":"u8);
        n += Hundredths(travel, line[n..]);
        n = Put(line, n, ",\"level\":"u8);
        n += Number(s.Level, line[n..]);
        n = Put(line, n, "}"u8);
        lines.EndRaw(n);
    }

    private static int Put(Span<byte> line, int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(line[at..]);
        return at + bytes.Length;
    }

    private static int Number(long value, Span<byte> into)
    {
        Utf8Formatter.TryFormat(value, into, out int written);
        return written;
    }

    /// <summary>
    /// A value rounded to hundredths as the writer's WriteNumber writes it: the shortest text that reads back as the same
    /// double (<see cref="Utf8Formatter"/>). For a value that is the double nearest k / 100, between 0 and 10¹², that text
    /// is k / 100's own digits without trailing zeros: any other decimal with as few digits lies 0.01 or more away, where
    /// the doubles there are less than 10⁻³ apart; written here from k with integer arithmetic, a third of the
    /// formatter's time. Other values (negative zero among them) go to the formatter.
    /// </summary>
    internal static int Hundredths(double value, Span<byte> into)
    {
        if (value >= 0 && value < 1e12 && !double.IsNegative(value))
        {
            long k = (long)Math.Round(value * 100);
            if (k / 100.0 == value)
            {
                long whole = Math.DivRem(k, 100, out long cents);
                Utf8Formatter.TryFormat(whole, into, out int n);
                if (cents == 0) return n;
                into[n++] = (byte)'.';
                into[n++] = (byte)('0' + (cents / 10));
                if (cents % 10 != 0) into[n++] = (byte)('0' + (cents % 10));
                return n;
            }
        }
        Utf8Formatter.TryFormat(value, into, out int written);
        return written;
    }

    private static ReadOnlySpan<byte> Time(long ms, ref long lastMs, byte[] last)
    {
        if (ms != lastMs)
        {
            AlertWriter.Rfc3339(ms, last);
            lastMs = ms;
        }
        return last;
    }

    /// <summary>The road's property with its leading comma, escaped as the lines' writer escapes it; empty for a road without a name.</summary>
    private ReadOnlySpan<byte> Road(int name)
    {
        byte[]? bytes = _roads[name];
        if (bytes is null) _roads[name] = bytes = EncodeRoad(_network.Names[name]);
        return bytes;
    }

    private byte[] EncodeRoad(string road)
    {
        if (road.Length == 0) return [];
        // One writer for every name, reset after each: a name costs its own bytes only.
        _escaped.ResetWrittenCount();
        _escaper ??= new Utf8JsonWriter(_escaped, NdjsonWriter.Options);
        _escaper.Reset();
        _escaper.WriteStartObject();
        _escaper.WriteString("road"u8, road);
        _escaper.WriteEndObject();
        _escaper.Flush();
        // {"road":"…"} → ,"road":"…"
        byte[] bytes = _escaped.WrittenSpan[..^1].ToArray();
        bytes[0] = (byte)',';
        return bytes;
    }
}
