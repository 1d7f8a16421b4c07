using System.Globalization;
using System.IO.Compression;
using nietras.SeparatedValues;

namespace Traffic.Engine.Simulation;

/// <summary>A scheduled stop of a trip: seconds after the service day's midnight (local), distance along the shape.</summary>
public readonly record struct GtfsStopTime(string StopId, int ArrivalS, int DepartureS, double ShapeDist);

/// <summary>One trip of the day with its stops and shape.</summary>
public sealed record GtfsTrip(string TripId, string RouteShortName, string ShapeId, GtfsStopTime[] Stops);

/// <summary>
/// The part of a GTFS feed that drives simulated buses: the trips running on one service date, their
/// stop times and shapes. A small CSV reader of its own: GTFS files are plain RFC 4180 CSV.
/// </summary>
public sealed class GtfsFeed
{
    public required string AgencyName { get; init; }

    public required List<GtfsTrip> Trips { get; init; }

    /// <summary>Shape points (lon, lat) and <c>shape_dist_traveled</c> (NaN when absent) by shape id.</summary>
    public required Dictionary<string, (double Lon, double Lat, double Dist)[]> Shapes { get; init; }

    /// <summary>Reads the trips whose service runs on <paramref name="date"/>.</summary>
    public static GtfsFeed Read(string zipPath, DateOnly date)
    {
        if (!File.Exists(zipPath)) throw new FileNotFoundException($"GTFS feed not found: {zipPath}", zipPath);
        using var zip = ZipFile.OpenRead(zipPath);
        string agency = "";
        foreach (var row in Rows(zip, "agency.txt", optional: true)) agency = row.Get("agency_name") ?? agency;

        var services = new HashSet<string>(StringComparer.Ordinal);
        int day = (int)date.DayOfWeek; // Sunday = 0
        string[] dayColumns = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
        int ymd = (date.Year * 10000) + (date.Month * 100) + date.Day;
        foreach (var row in Rows(zip, "calendar.txt", optional: true))
        {
            if (row.Get(dayColumns[day]) == "1" && Int(row, "start_date") <= ymd && ymd <= Int(row, "end_date"))
                services.Add(row.Get("service_id")!);
        }
        foreach (var row in Rows(zip, "calendar_dates.txt", optional: true))
        {
            if (Int(row, "date") != ymd) continue;
            if (row.Get("exception_type") == "1") services.Add(row.Get("service_id")!);
            else services.Remove(row.Get("service_id")!);
        }

        var routeNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "routes.txt", optional: false))
            routeNames[row.Get("route_id")!] = row.Get("route_short_name") ?? row.Get("route_long_name") ?? "";

        var tripInfo = new Dictionary<string, (string Route, string Shape)>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "trips.txt", optional: false))
        {
            string? shape = row.Get("shape_id");
            if (!services.Contains(row.Get("service_id") ?? "") || string.IsNullOrEmpty(shape)) continue;
            tripInfo[row.Get("trip_id")!] = (routeNames.GetValueOrDefault(row.Get("route_id") ?? "", ""), shape);
        }

        var stopTimes = new Dictionary<string, List<(int Seq, GtfsStopTime Stop)>>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "stop_times.txt", optional: false))
        {
            string trip = row.Get("trip_id")!;
            if (!tripInfo.ContainsKey(trip)) continue;
            int arr = Time(row.Get("arrival_time")), dep = Time(row.Get("departure_time"));
            if (arr < 0) arr = dep;
            if (dep < 0) dep = arr;
            if (arr < 0) continue; // untimed stop: GTFS allows it, the simulator needs times
            double dist = double.TryParse(row.Get("shape_dist_traveled"), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : double.NaN;
            if (!stopTimes.TryGetValue(trip, out var list)) stopTimes[trip] = list = [];
            list.Add((Int(row, "stop_sequence"), new GtfsStopTime(row.Get("stop_id")!, arr, dep, dist)));
        }

        var trips = new List<GtfsTrip>();
        var usedShapes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (trip, list) in stopTimes)
        {
            if (list.Count < 2) continue;
            list.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            var (route, shape) = tripInfo[trip];
            trips.Add(new GtfsTrip(trip, route, shape, [.. list.Select(x => x.Stop)]));
            usedShapes.Add(shape);
        }
        // Dictionary order is not part of any contract: sort so that runs are reproducible.
        trips.Sort((a, b) => a.Stops[0].DepartureS != b.Stops[0].DepartureS
            ? a.Stops[0].DepartureS.CompareTo(b.Stops[0].DepartureS)
            : string.CompareOrdinal(a.TripId, b.TripId));

        var points = new Dictionary<string, List<(int Seq, double Lon, double Lat, double Dist)>>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "shapes.txt", optional: false))
        {
            string id = row.Get("shape_id")!;
            if (!usedShapes.Contains(id)) continue;
            if (!points.TryGetValue(id, out var list)) points[id] = list = [];
            double dist = double.TryParse(row.Get("shape_dist_traveled"), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : double.NaN;
            list.Add((Int(row, "shape_pt_sequence"), Dbl(row, "shape_pt_lon"), Dbl(row, "shape_pt_lat"), dist));
        }
        var shapes = new Dictionary<string, (double, double, double)[]>(StringComparer.Ordinal);
        foreach (var (id, list) in points)
        {
            list.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            shapes[id] = [.. list.Select(p => (p.Lon, p.Lat, p.Dist))];
        }
        trips.RemoveAll(t => !shapes.ContainsKey(t.ShapeId) || shapes[t.ShapeId].Length < 2);
        return new GtfsFeed { AgencyName = agency, Trips = trips, Shapes = shapes };
    }

    /// <summary><c>HH:MM:SS</c> (hours may pass 24) to seconds; -1 when empty.</summary>
    internal static int Time(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return -1;
        var parts = s.Trim().Split(':');
        if (parts.Length != 3) throw new InvalidDataException($"GTFS: bad time '{s}'");
        return (int.Parse(parts[0], CultureInfo.InvariantCulture) * 3600) + (int.Parse(parts[1], CultureInfo.InvariantCulture) * 60)
            + int.Parse(parts[2], CultureInfo.InvariantCulture);
    }

    private static int Int(Row row, string column) =>
        int.TryParse(row.Get(column), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"GTFS {row.File}: bad or missing {column}");

    private static double Dbl(Row row, string column) =>
        double.TryParse(row.Get(column), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new InvalidDataException($"GTFS {row.File}: bad or missing {column}");

    private readonly struct Row(string file, Dictionary<string, int> header, List<string> fields)
    {
        public string File => file;

        public string? Get(string column) => header.TryGetValue(column, out int i) && i < fields.Count ? fields[i] : null;
    }

    private static IEnumerable<Row> Rows(ZipArchive zip, string name, bool optional)
    {
        var entry = zip.GetEntry(name);
        if (entry == null)
        {
            if (optional) yield break;
            throw new InvalidDataException($"GTFS feed has no {name}");
        }
        // GTFS files are RFC 4180 CSV (quoted fields may hold commas, doubled quotes and line breaks): Sep reads them.
        using var stream = entry.Open();
        using var reader = new Sep(',').Reader(o => o with { Unescape = true, DisableColCountCheck = true }).From(stream);
        var header = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < reader.Header.ColNames.Count; i++) header[reader.Header.ColNames[i].Trim().TrimStart('\uFEFF')] = i;
        while (NextRow(reader) is { } fields)
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue;
            yield return new Row(name, header, fields);
        }
    }

    // A ref struct row cannot live across a yield: copy its cells out here.
    private static List<string>? NextRow(SepReader reader)
    {
        if (!reader.MoveNext()) return null;
        SepReader.Row row = reader.Current;
        var fields = new List<string>(row.ColCount);
        for (int i = 0; i < row.ColCount; i++) fields.Add(row[i].Span.ToString());
        return fields;
    }
}
