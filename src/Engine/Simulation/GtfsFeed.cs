using System.Globalization;
using System.IO.Compression;
using nietras.SeparatedValues;

namespace Traffic.Engine.Simulation;

/// <summary>A scheduled stop of a trip: seconds after the service day's midnight (local), distance along the shape.</summary>
public readonly record struct GtfsStopTime(string StopId, int ArrivalS, int DepartureS, double ShapeDist);

/// <summary>
/// A <c>frequencies.txt</c> row: runs of the trip leave its first stop every <paramref name="HeadwayS"/> seconds from
/// <paramref name="StartS"/> until before <paramref name="EndS"/> (seconds after the service day's midnight).
/// </summary>
public readonly record struct GtfsFrequency(int StartS, int EndS, int HeadwayS, bool ExactTimes);

/// <summary>One trip of the feed with its stops and shape.</summary>
public sealed record GtfsTrip(string TripId, string RouteShortName, string ShapeId, GtfsStopTime[] Stops)
{
    public string ServiceId { get; init; } = "";

    /// <summary><c>block_id</c>: the trips of a block on one service date are one vehicle's, back to back; null when none.</summary>
    public string? BlockId { get; init; }

    /// <summary>Its <c>frequencies.txt</c> rows, by start time; empty for a trip that runs once, at its stop times.</summary>
    public GtfsFrequency[] Frequencies { get; init; } = [];

    /// <summary>
    /// The first-stop departures of the trip's runs on a service day, seconds after its midnight, in order: the
    /// stop times' own for a plain trip; for a frequency-based one, every headway of each row, the row's end
    /// excluded (08:00–10:00 every 30 min: 08:00 … 09:30). A run keeps the stop times' offsets from the first departure.
    /// </summary>
    public IEnumerable<int> Departures()
    {
        if (Frequencies.Length == 0)
        {
            yield return Stops[0].DepartureS;
            yield break;
        }
        foreach (var f in Frequencies)
        {
            for (int t = f.StartS; t < f.EndS; t += f.HeadwayS) yield return t;
        }
    }
}

/// <summary>
/// The part of a GTFS feed that drives simulated buses: the trips running on a span of service dates, their
/// stop times, blocks, frequencies and shapes. A small CSV reader of its own: GTFS files are plain RFC 4180 CSV.
/// </summary>
public sealed class GtfsFeed
{
    public required string AgencyName { get; init; }

    /// <summary>The trips whose service runs on at least one of the dates read, by first departure, then id.</summary>
    public required List<GtfsTrip> Trips { get; init; }

    /// <summary>Shape points (lon, lat) and <c>shape_dist_traveled</c> (NaN when absent) by shape id.</summary>
    public required Dictionary<string, (double Lon, double Lat, double Dist)[]> Shapes { get; init; }

    /// <summary>The service dates read, each with the ids of the services running on it (calendar and calendar_dates).</summary>
    public required SortedList<DateOnly, HashSet<string>> Services { get; init; }

    /// <summary>The trips of one service date, in <see cref="Trips"/> order; none for a date not read.</summary>
    public IEnumerable<GtfsTrip> TripsOn(DateOnly date) =>
        Services.TryGetValue(date, out var services) ? Trips.Where(t => services.Contains(t.ServiceId)) : [];

    /// <summary>
    /// The service dates a run from <paramref name="start"/> (its offset is the local time zone) needs: from the day
    /// before — its trips past 24:00:00 run after midnight — to the day the run ends on.
    /// </summary>
    public static (DateOnly First, DateOnly Last) ServiceDates(DateTimeOffset start, double durationS)
    {
        var day = DateOnly.FromDateTime(start.DateTime);
        var end = DateOnly.FromDateTime(start.DateTime.AddSeconds(Math.Max(0, durationS)));
        return (day.AddDays(-1), end);
    }

    /// <summary>Reads the trips a run from <paramref name="start"/> for <paramref name="durationS"/> seconds needs (<see cref="ServiceDates"/>).</summary>
    public static GtfsFeed ReadFor(string zipPath, DateTimeOffset start, double durationS)
    {
        var (first, last) = ServiceDates(start, durationS);
        return Read(zipPath, first, last);
    }

    /// <summary>Reads the trips whose service runs on <paramref name="date"/>.</summary>
    public static GtfsFeed Read(string zipPath, DateOnly date) => Read(zipPath, date, date);

    /// <summary>Reads the trips whose service runs on any date from <paramref name="first"/> to <paramref name="last"/>.</summary>
    public static GtfsFeed Read(string zipPath, DateOnly first, DateOnly last)
    {
        if (!File.Exists(zipPath)) throw new FileNotFoundException($"GTFS feed not found: {zipPath}", zipPath);
        if (last < first) throw new ArgumentException($"GTFS: service dates {first:yyyy-MM-dd}..{last:yyyy-MM-dd} are backwards", nameof(last));
        using var zip = ZipFile.OpenRead(zipPath);
        string agency = "";
        foreach (var row in Rows(zip, "agency.txt", optional: true)) agency = row.Get("agency_name") ?? agency;

        var byDate = new SortedList<DateOnly, HashSet<string>>();
        for (var date = first; date <= last; date = date.AddDays(1)) byDate[date] = new HashSet<string>(StringComparer.Ordinal);
        string[] dayColumns = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
        foreach (var row in Rows(zip, "calendar.txt", optional: true))
        {
            int from = Int(row, "start_date"), to = Int(row, "end_date");
            foreach (var (date, services) in byDate)
            {
                int ymd = Ymd(date);
                if (row.Get(dayColumns[(int)date.DayOfWeek]) == "1" && from <= ymd && ymd <= to) services.Add(row.Get("service_id")!);
            }
        }
        foreach (var row in Rows(zip, "calendar_dates.txt", optional: true))
        {
            int ymd = Int(row, "date");
            foreach (var (date, services) in byDate)
            {
                if (Ymd(date) != ymd) continue;
                if (row.Get("exception_type") == "1") services.Add(row.Get("service_id")!);
                else services.Remove(row.Get("service_id")!);
            }
        }
        var anyDay = new HashSet<string>(byDate.Values.SelectMany(s => s), StringComparer.Ordinal);

        var routeNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "routes.txt", optional: false))
            routeNames[row.Get("route_id")!] = row.Get("route_short_name") ?? row.Get("route_long_name") ?? "";

        var tripInfo = new Dictionary<string, (string Route, string Shape, string Service, string? Block)>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "trips.txt", optional: false))
        {
            string? shape = row.Get("shape_id");
            string service = row.Get("service_id") ?? "";
            if (!anyDay.Contains(service) || string.IsNullOrEmpty(shape)) continue;
            string? block = row.Get("block_id");
            tripInfo[row.Get("trip_id")!] = (routeNames.GetValueOrDefault(row.Get("route_id") ?? "", ""), shape, service, string.IsNullOrEmpty(block) ? null : block);
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

        var frequencies = new Dictionary<string, List<GtfsFrequency>>(StringComparer.Ordinal);
        foreach (var row in Rows(zip, "frequencies.txt", optional: true))
        {
            string trip = row.Get("trip_id")!;
            if (!tripInfo.ContainsKey(trip)) continue;
            int start = Time(row.Get("start_time")), end = Time(row.Get("end_time")), headway = Int(row, "headway_secs");
            if (start < 0 || end < 0) throw new InvalidDataException($"GTFS frequencies.txt: trip {trip} has no start_time or end_time");
            if (headway <= 0) throw new InvalidDataException($"GTFS frequencies.txt: trip {trip} has headway_secs {headway}");
            if (!frequencies.TryGetValue(trip, out var list)) frequencies[trip] = list = [];
            list.Add(new GtfsFrequency(start, end, headway, row.Get("exact_times") == "1"));
        }

        var trips = new List<GtfsTrip>();
        var usedShapes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (trip, list) in stopTimes)
        {
            if (list.Count < 2) continue;
            list.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            var (route, shape, service, block) = tripInfo[trip];
            GtfsFrequency[] freq = frequencies.TryGetValue(trip, out var f) ? [.. f.OrderBy(x => x.StartS)] : [];
            trips.Add(new GtfsTrip(trip, route, shape, [.. list.Select(x => x.Stop)]) { ServiceId = service, BlockId = block, Frequencies = freq });
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
        return new GtfsFeed { AgencyName = agency, Trips = trips, Shapes = shapes, Services = byDate };
    }

    private static int Ymd(DateOnly date) => (date.Year * 10000) + (date.Month * 100) + date.Day;

    /// <summary><c>HH:MM:SS</c> (hours may pass 24) to seconds; -1 when empty.</summary>
    internal static int Time(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return -1;
        var parts = s.Trim().Split(':');
        if (parts.Length != 3) throw new InvalidDataException($"GTFS: bad time '{s}'");
        return (int.Parse(parts[0], CultureInfo.InvariantCulture) * 3600) + (int.Parse(parts[1], CultureInfo.InvariantCulture) * 60)
            + int.Parse(parts[2], CultureInfo.InvariantCulture);
    }

    /// <summary>Seconds to GTFS <c>HH:MM:SS</c> (hours may pass 24).</summary>
    internal static string FormatTime(int s) =>
        string.Create(CultureInfo.InvariantCulture, $"{s / 3600:D2}:{s / 60 % 60:D2}:{s % 60:D2}");

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
