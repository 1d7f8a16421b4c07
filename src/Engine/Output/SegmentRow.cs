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
