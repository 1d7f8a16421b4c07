using Traffic.Engine.Probes;
using Traffic.Engine.Zones;

namespace Traffic.Engine.Simulation;

/// <summary>
/// A polygon zone of a zones GeoJSON file (INTERFACES.md) as the simulator uses it: a view of one zone of
/// the engine's <see cref="ZoneSet"/>, which reads and validates the file, so that both read zones alike.
/// </summary>
public sealed class SimZone
{
    private readonly ZoneSet _set;
    private readonly int _index;
    private readonly Zone _zone;

    private SimZone(ZoneSet set, int index)
    {
        _set = set;
        _index = index;
        _zone = set.Zones[index];
    }

    public string Id => _zone.Id;

    /// <summary>The zone kind as written in the file (<c>restricted</c>, <c>hazmat_forbidden</c>, <c>permitted_stop</c>).</summary>
    public string Kind => _zone.Kind switch
    {
        ZoneKind.Restricted => "restricted",
        ZoneKind.HazmatForbidden => "hazmat_forbidden",
        ZoneKind.PermittedStop => "permitted_stop",
        _ => "corridor",
    };

    public double? MaxDwellS => _zone.MaxDwellS;

    /// <summary>Whether the rule applies at a local minute of the day.</summary>
    public bool AppliesAt(int minuteOfDay) => _zone.InForceAtMinute(minuteOfDay);

    public bool Contains(double lon, double lat) => _set.Holds(_index, lon, lat);

    /// <summary>Mean of the outer ring's vertices: a point to drive to (the simulator's zones are convex-ish).</summary>
    public (double Lon, double Lat) Centre() => _set.Centre(_index);

    /// <summary>Whether the zone's rule applies to a simulated vehicle of this class (its hazmat trucks carry dangerous goods).</summary>
    public bool AppliesTo(string vehicleClass) =>
        ProbeRules.TryParseClass(vehicleClass, out VehicleClass c) && _zone.AppliesTo(c, dangerousGoods: c == VehicleClass.Hazmat);

    /// <summary>The area zones (polygons and multipolygons) of a file; corridor lines are left out.</summary>
    public static List<SimZone> Read(string path)
    {
        ZoneSet set = ZoneSet.Load(path);
        var zones = new List<SimZone>();
        for (int i = 0; i < set.Zones.Count; i++)
        {
            if (set.IsArea(i)) zones.Add(new SimZone(set, i));
        }
        return zones;
    }

    /// <summary>The area zones of GeoJSON text (for tests).</summary>
    public static List<SimZone> Parse(string geoJson)
    {
        ZoneSet set = ZoneSet.Parse(geoJson);
        return [.. Enumerable.Range(0, set.Zones.Count).Where(set.IsArea).Select(i => new SimZone(set, i))];
    }
}
