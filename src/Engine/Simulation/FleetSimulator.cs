using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Traffic.Engine.Rules;
using Traffic.Geo;
using Traffic.Geo.Network;
using Traffic.Geo.Routing;
using Traffic.Geo.Spatial;

namespace Traffic.Engine.Simulation;

/// <summary>What to simulate.</summary>
public sealed class SimulationOptions
{
    /// <summary>Fleet size when the scenario gives no <c>fleet</c>: 70 % taxis, 20 % buses, 10 % hazmat.</summary>
    public int Vehicles { get; set; } = 100;

    public double DurationS { get; set; } = 3600;

    /// <summary>Start of the run; its offset is the local time zone (time-of-day speeds, GTFS timetable).</summary>
    public DateTimeOffset Start { get; set; } = new(2026, 1, 5, 8, 0, 0, TimeSpan.FromHours(8));

    public int Seed { get; set; } = 1;

    public GtfsFeed? Gtfs { get; set; }

    public Scenario Scenario { get; set; } = new();
}

/// <summary>Counts of a finished run.</summary>
public readonly record struct SimulationSummary(int Vehicles, long ProbesGenerated, long ProbeLines, int Events);

/// <summary>
/// A deterministic fleet simulator over a <see cref="RoadNetwork"/>: taxis on random trips with idle
/// periods, buses (on GTFS trips along their shapes, or on made-up routes), hazardous-cargo trucks
/// between a port and their destinations. Vehicles move in one-second steps (speed by road class
/// and time of day, acceleration and braking limits, slowing for turns and stops); their GPS units
/// report at a per-class interval with Gaussian noise. Probes leave in time order across vehicles
/// (a priority queue of next fix times) and are streamed, never held; the truth is streamed beside
/// them. The same seed gives the same bytes.
/// </summary>
public sealed class FleetSimulator
{
    // Motion limits, m/s and m/s².
    private const double Accel = 1.5;
    private const double Brake = 2.0;
    private const double MaxDecel = 4.0;
    private const double TurnSpeedMs = 20 / 3.6;
    private static readonly double NightLimitShare = new SpeedingOptions().NightFactor;   // buses and taxis at night
    private const double TurnAngleDeg = 40;
    private const double MinCruiseMs = 8 / 3.6;

    private readonly RoadNetwork _net;
    private readonly EdgeIndex _index;
    private readonly SimulationOptions _options;
    private readonly Scenario _scenario;
    private readonly BoundedDijkstra _router;
    private readonly int[] _inFirst;          // CSR in-adjacency: edges into node n are _inEdges[_inFirst[n].._inFirst[n+1])
    private readonly int[] _inEdges;
    private readonly int[] _mainEdges;        // edges of the largest strongly connected part: trips start and end there
    private readonly bool[] _isMain;
    private readonly List<SimVehicle> _vehicles = [];
    private readonly List<TruthEvent> _events = [];
    private readonly List<(HashSet<int> Edges, double Start, double End, double Factor)> _congestion = [];
    private readonly bool[] _congestible;
    private readonly List<SimZone> _zones;
    private readonly ZoneDetours? _detours;    // with zones: the edges inside each, and routes that keep out of them
    private readonly double _localMidnightS;  // sim seconds of the local midnight before the start
    private readonly int[] _path = new int[1 << 16];
    private readonly Dictionary<ulong, bool[]> _freeOf = [];   // per set of zones kept out of: Free's edges
    private readonly bool _corridors;         // hazmat trucks get approved corridors
    private bool _ran;                        // the vehicles have been driven: a second run would continue, not repeat

    /// <summary>Width of a generated corridor band, metres (the INTERFACES.md default).</summary>
    public const double CorridorWidthM = 100;

    public FleetSimulator(RoadNetwork network, SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        if (network.EdgeCount == 0) throw new InvalidDataException("the network has no edges");
        if (!(options.DurationS > 0)) throw new ArgumentException("the duration must be positive", nameof(options));
        _net = network;
        _options = options;
        _scenario = options.Scenario;
        _index = new EdgeIndex(network);
        _router = new BoundedDijkstra(network);
        (_inFirst, _inEdges) = InAdjacency(network);
        (_mainEdges, _isMain) = MainComponent(network, _inFirst, _inEdges);
        _congestible = new bool[network.EdgeCount];
        _zones = _scenario.Zones != null ? SimZone.Read(Path.Combine(_scenario.BaseDirectory, _scenario.Zones)) : [];
        _detours = _zones.Count > 0 ? new ZoneDetours(network, _zones) : null;
        var local = options.Start.DateTime;
        _localMidnightS = -local.TimeOfDay.TotalSeconds;
        _corridors = _scenario.Corridors || _scenario.Events.Any(e => e.Kind == "hazmat_off_corridor");
        CreateFleet();
        BindEvents();
    }

    /// <summary>
    /// Runs the simulation: probes to <paramref name="probesPath"/>, and beside it <c>truth.ndjson</c>,
    /// <c>vehicles.ndjson</c> and (when the scenario has zones or corridors) <c>zones.geojson</c>.
    /// A simulator runs once: the vehicles' state is the run's.
    /// </summary>
    /// <param name="probesTo">Where the probes go instead of <paramref name="probesPath"/> (e.g. a Kafka topic); the other files still go beside the path.</param>
    public SimulationSummary Run(string probesPath, IProgress<double>? progress = null, Stream? probesTo = null)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(probesPath)) ?? ".";
        Directory.CreateDirectory(dir);
        WriteRegistry(Path.Combine(dir, "vehicles.ndjson"));
        if (_corridors) WriteZones(Path.Combine(dir, "zones.geojson"));
        else if (_scenario.Zones != null) File.Copy(Path.Combine(_scenario.BaseDirectory, _scenario.Zones), Path.Combine(dir, "zones.geojson"), overwrite: true);
        using var file = probesTo == null ? new FileStream(probesPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20) : null;
        Stream probes = file ?? probesTo!;
        using var truth = new FileStream(Path.Combine(dir, "truth.ndjson"), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20);
        return Run(probes, truth, progress);
    }

    /// <summary>Runs the simulation into two streams (probes, truth).</summary>
    public SimulationSummary Run(Stream probes, Stream truth, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(probes);
        ArgumentNullException.ThrowIfNull(truth);
        if (_ran) throw new InvalidOperationException("a FleetSimulator runs once; make a new one for another run");
        _ran = true;
        long startMs = _options.Start.ToUnixTimeMilliseconds();
        long endMs = (long)(_options.DurationS * 1000);
        using var output = new SimOutput(probes, truth, startMs, _scenario.Faults, _options.Seed);
        // Ties broken by vehicle index: the order of equal times is part of the bytes.
        var queue = new PriorityQueue<SimVehicle, (long, int)>(_vehicles.Count);
        foreach (var v in _vehicles)
        {
            if (v.State != SimState.Off) queue.Enqueue(v, (v.NextFixMs, v.Index));
        }
        long reported = 0;
        while (queue.TryDequeue(out var v, out var key))
        {
            long t = key.Item1;
            if (t >= endMs) break;
            Advance(v, t / 1000.0, output);
            if (v.State == SimState.Off) continue;
            Fix(v, t, output);
            v.NextFixMs = t + v.IntervalMs;
            queue.Enqueue(v, (v.NextFixMs, v.Index));
            if (progress != null && t - reported >= 60_000)
            {
                reported = t;
                progress.Report(t / (double)endMs);
            }
        }
        foreach (var v in _vehicles) output.ReleaseHeld(v);
        foreach (var e in _events)
        {
            // Conditions still open at the end of the run end with it.
            if (e.StartMs >= 0 && (e.EndMs < 0 || e.EndMs > endMs)) e.EndMs = endMs;
            // A zone rule with hours expects an alert only for a visit that begins within them.
            if (e.ZoneRef != null && e.StartMs >= 0 && !e.ZoneRef.AppliesAt(LocalMinute(e.StartMs / 1000.0))) e.ExpectedAlert = null;
            output.Event(e);
        }
        probes.Flush();
        truth.Flush();
        return new SimulationSummary(_vehicles.Count, output.ProbesGenerated, output.ProbeLines, _events.Count);
    }

    // ---- Fleet ----

    private void CreateFleet()
    {
        int taxis, buses, hazmat;
        if (_scenario.Fleet is { } f)
        {
            (taxis, buses, hazmat) = (f.Taxis, f.Buses, f.Hazmat);
        }
        else
        {
            int n = Math.Max(0, _options.Vehicles);
            buses = _options.Gtfs != null ? 0 : n / 5;
            hazmat = n / 10;
            taxis = n - buses - hazmat;
        }
        int seed = _options.Seed;
        // Not HashCode.Combine: it is salted per process, and the bytes must not depend on the process.
        Random NewRng(int i) => new(StreamSeed(seed, i));
        var port = PortEdge();
        for (int i = 0; i < taxis; i++)
        {
            var v = Add(VehicleKind.Taxi, string.Create(CultureInfo.InvariantCulture, $"琼AT{i + 1:D5}"), NewRng(_vehicles.Count));
            v.Company = "海口出租汽车";
            v.KeepOut = KeepOut(v);
            PlaceRandom(v);
            StartNextTrip(v, 0);
        }
        for (int i = 0; i < buses; i++)
        {
            var v = Add(VehicleKind.Bus, string.Create(CultureInfo.InvariantCulture, $"琼AB{i + 1:D5}"), NewRng(_vehicles.Count));
            v.Company = "海口公交集团";
            v.KeepOut = KeepOut(v);
            PlaceRandom(v);
            v.HomeEdge = v.Edge;
            v.AwayEdge = PickDestination(v, 1500, 5000, v.KeepOut);
            v.Outbound = true;
            StartNextTrip(v, 0);
        }
        if (_options.Gtfs is { } gtfs) AddGtfsBuses(gtfs, NewRng);
        for (int i = 0; i < hazmat; i++)
        {
            var v = Add(VehicleKind.Hazmat, string.Create(CultureInfo.InvariantCulture, $"琼AH{i + 1:D5}"), NewRng(_vehicles.Count));
            v.Company = "洋浦港危险货物运输";
            v.Hazmat = (i % 4) switch { 0 => "3", 1 => "2.1", 2 => "8", _ => "3" };
            v.HomeEdge = port;
            v.KeepOut = KeepOut(v);
            SetPlan(v, [port], v.Rng.NextDouble() * _net.LengthM(port));
            // Unloading takes longer than a zone's dwell limit allows: not inside one.
            v.AwayEdge = PickDestination(v, 2000, 8000, v.KeepOut, notIn: DwellLimited(v));
            v.Outbound = true;
            if (_corridors) BuildCorridor(v);
            StartNextTrip(v, 0);
        }
    }

    // The approved corridor of a hazmat truck: the line of its route out and back, as the trips will drive it.
    private void BuildCorridor(SimVehicle v)
    {
        var lons = new List<double>();
        var lats = new List<double>();
        var legs = new[] { (new EdgePosition(v.Edge, v.D), v.AwayEdge), (new EdgePosition(v.AwayEdge, _net.LengthM(v.AwayEdge) * 0.5), v.HomeEdge) };
        foreach (var (from, to) in legs)
        {
            // The route the trips will drive: round the zones the truck keeps out of, as they go.
            int n = PlanPath(from, to, _net.LengthM(to) * 0.5, 1e7, v.KeepOut);
            if (n < 1) return;
            for (int k = 0; k < n; k++)
            {
                var el = _net.ShapeLons(_path[k]);
                var ea = _net.ShapeLats(_path[k]);
                for (int i = lons.Count > 0 ? 1 : 0; i < el.Length; i++)
                {
                    lons.Add(el[i]);
                    lats.Add(ea[i]);
                }
            }
        }
        v.CorridorId = "corridor-" + v.Id;
        v.CorridorLon = [.. lons];
        v.CorridorLat = [.. lats];
    }

    /// <summary>Distance from a point to a vehicle's corridor line, metres.</summary>
    internal static double CorridorDistance(SimVehicle v, double lon, double lat)
    {
        double kx = GeoMath.MetresPerDegreeLon(lat), best = double.MaxValue;
        for (int i = 0; i + 1 < v.CorridorLon.Length; i++)
            best = Math.Min(best, GeoMath.ProjectOnSegment(lon, lat, v.CorridorLon[i], v.CorridorLat[i], v.CorridorLon[i + 1], v.CorridorLat[i + 1], kx, out _));
        return best;
    }

    private SimVehicle Add(VehicleKind kind, string id, Random rng)
    {
        var v = new SimVehicle(_vehicles.Count, id, kind, rng);
        string cls = v.ClassName;
        var gps = _scenario.Gps.GetValueOrDefault(cls);
        v.SigmaM = gps?.SigmaM ?? kind switch { VehicleKind.Bus => 5, VehicleKind.Hazmat => 8, _ => 10 };
        double interval = gps?.IntervalS ?? kind switch { VehicleKind.Taxi => 15, _ => 10 };
        v.IntervalMs = Math.Max(1, (long)Math.Round(interval * 1000));
        // Units are not synchronised: each reports at its own phase.
        v.NextFixMs = (long)(rng.NextDouble() * v.IntervalMs);
        _vehicles.Add(v);
        return v;
    }

    private void PlaceRandom(SimVehicle v)
    {
        int e = _mainEdges[v.Rng.Next(_mainEdges.Length)];
        // Not inside a zone the vehicle keeps out of (a few draws: a network all inside such zones keeps the last).
        for (int attempt = 0; attempt < 20 && !Free(e, v.KeepOut); attempt++) e = _mainEdges[v.Rng.Next(_mainEdges.Length)];
        SetPlan(v, [e], v.Rng.NextDouble() * _net.LengthM(e));
    }

    // ---- Zones: drivers keep the rules ----

    /// <summary>
    /// The zones a vehicle keeps out of (bits by index in <see cref="_zones"/>): the restricted zones without a dwell limit
    /// that apply to its class, and for a dangerous-goods truck the zones closed to dangerous goods. At every hour: a driver
    /// avoids a zone closed at some hours all day, and a tanker's approved corridor is one route whatever the time.
    /// </summary>
    private ulong KeepOut(SimVehicle v) => ZonesWhere(z => z.AppliesTo(v.ClassName)
        && ((z.Kind == "restricted" && z.MaxDwellS == null) || (z.Kind == "hazmat_forbidden" && v.Kind == VehicleKind.Hazmat)));

    /// <summary>The restricted zones with a dwell limit that apply to a vehicle's class: it passes through, it does not wait there.</summary>
    private ulong DwellLimited(SimVehicle v) => ZonesWhere(z => z.Kind == "restricted" && z.MaxDwellS != null && z.AppliesTo(v.ClassName));

    private ulong ZonesWhere(Func<SimZone, bool> rule)
    {
        ulong mask = 0;
        for (int z = 0; z < Math.Min(_zones.Count, 64); z++)
        {
            if (rule(_zones[z])) mask |= 1UL << z;
        }
        return mask;
    }

    private bool Inside(int edge, ulong zones) => zones != 0 && (_detours!.ZonesOf(edge) & zones) != 0;

    /// <summary>
    /// Whether a vehicle keeping out of <paramref name="zones"/> can drive to <paramref name="edge"/> and on from it
    /// without entering one: the edge lies outside them, in the largest strongly connected part of the main edges outside
    /// them. A place reached only through a zone (a street whose one way out runs into it) is no destination for it.
    /// </summary>
    private bool Free(int edge, ulong zones)
    {
        if (zones == 0) return true;
        if (!_freeOf.TryGetValue(zones, out bool[]? free))
        {
            bool Open(int e) => _isMain[e] && !Inside(e, zones);
            free = MainComponent(_net, _inFirst, _inEdges, Open).IsMain;
            _freeOf[zones] = free;
        }
        return free[edge];
    }

    /// <summary>Whether the vehicle stands inside a zone whose dwell limit applies to it now: a driver does not wait there.</summary>
    private bool InDwellLimitedZone(SimVehicle v, double t)
    {
        if (_zones.Count == 0) return false;
        var (lon, lat) = Position(v);
        int minute = LocalMinute(t);
        foreach (var z in _zones)
        {
            if (z.Kind == "restricted" && z.MaxDwellS != null && z.AppliesTo(v.ClassName) && z.AppliesAt(minute) && z.Contains(lon, lat)) return true;
        }
        return false;
    }

    /// <summary>
    /// The main edge nearest a point whose middle lies in a permitted-stop zone for dangerous goods; null when the zones
    /// have none. The trucks' base (where they load and rest) is there, where they may stand long.
    /// </summary>
    private int? PermittedStopEdge(double lon, double lat)
    {
        var stops = _zones.Where(z => z.Kind == "permitted_stop" && z.AppliesTo("hazmat")).ToList();
        int? best = null;
        double bestM = double.MaxValue;
        foreach (int e in stops.Count == 0 ? [] : _mainEdges)
        {
            var (ml, ma) = _net.PointAt(e, _net.LengthM(e) * 0.5);
            double d = GeoMath.FastDistance(lon, lat, ml, ma);
            if (d < bestM && stops.Any(z => z.Contains(ml, ma))) (best, bestM) = (e, d);
        }
        return best;
    }

    // The port: the scenario's point, else the southernmost node of the network (ports face the sea); the trucks' base is the
    // permitted stop nearest it where the zones have one.
    private int PortEdge()
    {
        double lon, lat;
        if (_scenario.Port is [double x, double y])
        {
            (lon, lat) = (x, y);
        }
        else
        {
            int best = _net.From(_mainEdges[0]);
            foreach (int e in _mainEdges)
            {
                if (_net.Lat(_net.From(e)) < _net.Lat(best)) best = _net.From(e);
            }
            (lon, lat) = (_net.Lon(best), _net.Lat(best));
        }
        return PermittedStopEdge(lon, lat) ?? NearestMainEdge(lon, lat, 2000) ?? _mainEdges[0];
    }

    private int? NearestMainEdge(double lon, double lat, double radiusM)
    {
        Span<EdgeCandidate> c = stackalloc EdgeCandidate[16];
        int n = _index.Nearest(lon, lat, radiusM, c);
        for (int i = 0; i < n; i++)
        {
            if (_isMain[c[i].Edge]) return c[i].Edge;
        }
        return null;
    }

    // ---- GTFS buses ----

    /// <summary>Farthest a bus moves from a run's end to the next run's first stop without driving there, metres.</summary>
    private const double SameStopM = 25;

    /// <summary>
    /// One bus per duty: the runs of a block on its service date back to back, or a trip's run on its own.
    /// Runs come from the service dates the window touches — the day before the start too, whose trips past
    /// 24:00:00 run after midnight — and from each headway of a frequency-based trip.
    /// </summary>
    private void AddGtfsBuses(GtfsFeed gtfs, Func<int, Random> newRng)
    {
        var (first, last) = GtfsFeed.ServiceDates(_options.Start, _options.DurationS);
        for (var date = first; date <= last; date = date.AddDays(1))
        {
            if (!gtfs.Services.ContainsKey(date))
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"the GTFS feed was read for other service dates than {first:yyyy-MM-dd}..{last:yyyy-MM-dd}, which this run needs (GtfsFeed.ReadFor)"));
        }
        var startDay = DateOnly.FromDateTime(_options.Start.DateTime);
        var duties = new List<List<GtfsRun>>();
        var blocks = new Dictionary<(DateOnly, string), List<GtfsRun>>();
        for (var date = first; date <= last; date = date.AddDays(1))
        {
            // The fixed offset of --start is the local time zone: no daylight-saving change inside a run.
            double midnight = _localMidnightS + ((date.DayNumber - startDay.DayNumber) * 86400.0);
            foreach (var trip in gtfs.TripsOn(date))
            {
                foreach (int departure in trip.Departures())
                {
                    var run = new GtfsRun(trip, date, departure, midnight + departure - trip.Stops[0].DepartureS);
                    if (trip.BlockId is not { } block) duties.Add([run]);
                    else if (blocks.TryGetValue((date, block), out var list)) list.Add(run);
                    else blocks[(date, block)] = [run];
                }
            }
        }
        foreach (var runs in blocks.Values)
        {
            // A block's runs one after the other; a run that leaves before the previous one is back (an
            // inconsistent block, or a frequency trip in a block) goes to another bus of the block.
            runs.Sort((a, b) => a.DepartS != b.DepartS ? a.DepartS.CompareTo(b.DepartS) : string.CompareOrdinal(a.Trip.TripId, b.Trip.TripId));
            int firstDuty = duties.Count;
            foreach (var run in runs)
            {
                int k = firstDuty;
                while (k < duties.Count && duties[k][^1].EndS > run.DepartS) k++;
                if (k == duties.Count) duties.Add([run]);
                else duties[k].Add(run);
            }
        }

        // Keep what the window sees: from the run under way (or next) at the start to the last run leaving before the end.
        var routes = new Dictionary<string, ShapeRoute?>(StringComparer.Ordinal);
        var buses = new List<(GtfsRun[] Runs, double PreviousEnd)>();
        foreach (var duty in duties)
        {
            int from = 0;
            while (from < duty.Count && duty[from].EndS <= 0) from++;
            double previousEnd = from > 0 ? duty[from - 1].EndS : double.NaN;
            var kept = new List<GtfsRun>();
            for (int k = from; k < duty.Count && duty[k].DepartS - 60 < _options.DurationS; k++)
            {
                var run = duty[k];
                if (!routes.TryGetValue(run.Trip.ShapeId, out var route))
                    routes[run.Trip.ShapeId] = route = ShapeRoute.Build(_net, _index, _router, gtfs.Shapes[run.Trip.ShapeId]);
                if (route != null) kept.Add(run with { Route = route });
            }
            if (kept.Count > 0) buses.Add(([.. kept], previousEnd));
        }
        // Ids in the order of the first run each bus drives in the window: dictionary order never reaches the output.
        buses.Sort((a, b) =>
        {
            var (x, y) = (a.Runs[0], b.Runs[0]);
            if (x.DepartS != y.DepartS) return x.DepartS.CompareTo(y.DepartS);
            int c = string.CompareOrdinal(x.Trip.TripId, y.Trip.TripId);
            return c != 0 ? c : x.ServiceDate.CompareTo(y.ServiceDate);
        });

        int n = 0;
        foreach (var (runs, previousEnd) in buses)
        {
            var v = Add(VehicleKind.Bus, string.Create(CultureInfo.InvariantCulture, $"琼AG{++n:D5}"), newRng(_vehicles.Count));
            v.Company = gtfs.AgencyName;
            v.Runs = runs;
            BeginRun(v, 0, 0);
            var stops = v.Stops;
            // Where the bus is at the start: at the first stop (a layover if it has run before), or between two by the timetable.
            int next = 0;
            while (next < stops.Count && stops[next].DepartS <= 0) next++;
            if (next == 0)
            {
                if (double.IsNaN(previousEnd))
                {
                    // The unit comes on a minute before departure.
                    v.NextFixMs += Math.Max(0, (long)((runs[0].DepartS - 60) * 1000));
                    v.Now = Math.Max(0, v.NextFixMs / 1000.0 - 1);
                }
                else
                {
                    v.ArrivedS = previousEnd;
                }
            }
            else
            {
                var a = stops[next - 1];
                var b = stops[Math.Min(next, stops.Count - 1)];
                double share = b.ArriveS > a.DepartS ? Math.Clamp(-a.DepartS / (b.ArriveS - a.DepartS), 0, 1) : 1;
                v.D = a.At + (share * (b.At - a.At));
                v.NextStop = next;
                v.State = SimState.Driving;
                v.SpeedMs = b.ArriveS > a.DepartS ? (b.At - a.At) / (b.ArriveS - a.DepartS) : 0;
                v.I = 0;
                while (v.I + 1 < v.Elems.Length && v.D >= v.Start[v.I + 1]) v.I++;
                v.TurnAhead = Turns(v, v.I);
            }
        }
    }

    /// <summary>Puts a bus on run <paramref name="k"/>: its shape as the plan, the bus at the first stop until the scheduled departure.</summary>
    private void BeginRun(SimVehicle v, int k, double t)
    {
        var run = v.Runs[k];
        v.Run = k;
        v.Trip = run.Trip;
        v.Deadhead = false;
        v.Elems = run.Route!.Elems;
        v.Start = run.Route.Start;
        var stops = RunStops(run);
        v.Stops = stops;
        v.D = stops[0].At;
        v.I = 0;
        while (v.I + 1 < v.Elems.Length && v.D >= v.Start[v.I + 1]) v.I++;
        v.TurnAhead = Turns(v, v.I);
        v.SpeedMs = 0;
        v.State = SimState.Dwelling;
        v.NextStop = 1;
        v.ArrivedS = k == 0 ? stops[0].ArriveS : t;
        v.Until = k == 0 ? stops[0].DepartS : t + StopDwell(v, stops[0], t);
    }

    /// <summary>A run's stops on its route: placed by <c>shape_dist_traveled</c>, timed by the run's timetable.</summary>
    private List<PlanStop> RunStops(in GtfsRun run)
    {
        var route = run.Route!;
        var trip = run.Trip;
        double shapeTotal = route.ShapeLengthM;
        double feedTotal = _options.Gtfs!.Shapes[trip.ShapeId][^1].Dist;
        var stops = new List<PlanStop>(trip.Stops.Length);
        for (int i = 0; i < trip.Stops.Length; i++)
        {
            var s = trip.Stops[i];
            // shape_dist_traveled is in the feed's own unit: scale it to the shape's length in metres.
            double along = !double.IsNaN(s.ShapeDist) && feedTotal > 0 ? s.ShapeDist / feedTotal * shapeTotal : shapeTotal * i / (trip.Stops.Length - 1);
            double at = Math.Max(route.RouteAt(along), stops.Count > 0 ? stops[^1].At : route.Start[0]);
            at = Math.Min(at, route.Start[^1]);
            stops.Add(new PlanStop(at, 15, run.OffsetS + s.ArrivalS, run.OffsetS + s.DepartureS, s.StopId, i + 1));
        }
        return stops;
    }

    /// <summary>
    /// A bus at the end of a run's shape: off duty after its last run; else it drives empty to the next run's first
    /// stop and lays over there until the departure. With no road there the unit goes off until a minute before it.
    /// </summary>
    private void NextRun(SimVehicle v, double t)
    {
        if (v.Deadhead)
        {
            BeginRun(v, v.Run + 1, t);
            return;
        }
        if (v.Run + 1 >= v.Runs.Length)
        {
            v.State = SimState.Off;
            return;
        }
        var next = v.Runs[v.Run + 1];
        var route = next.Route!;
        double firstStop = RunStops(next)[0].At;
        int k = 0;
        while (k + 1 < route.Elems.Length && firstStop >= route.Start[k + 1]) k++;
        int edge = route.Elems[k];
        double offset = Math.Clamp(firstStop - route.Start[k], 0, _net.LengthM(edge));
        var (lon, lat) = Position(v);
        var (sl, sa) = _net.PointAt(edge, offset);
        if (GeoMath.Distance(lon, lat, sl, sa) <= SameStopM)
        {
            BeginRun(v, v.Run + 1, t);
            return;
        }
        if (RouteTo(v, edge, offset))
        {
            v.Deadhead = true;
            v.State = SimState.Driving;
            return;
        }
        BeginRun(v, v.Run + 1, t);
        v.SilentUntil = Math.Max(t, next.DepartS - 60);
    }

    // ---- Scenario events ----

    private void BindEvents()
    {
        var taken = new HashSet<SimVehicle>();
        foreach (var spec in _scenario.Events)
        {
            long startMs = (long)(spec.Start * 1000);
            long endMs = (long)((spec.End ?? _options.DurationS) * 1000);
            if (spec.Kind == "congestion")
            {
                var edges = new HashSet<int>();
                for (int e = 0; e < _net.EdgeCount; e++)
                {
                    if (_net.Name(e) == spec.Road) edges.Add(e);
                }
                if (edges.Count == 0) throw new InvalidDataException($"scenario: no road named '{spec.Road}' in the network");
                foreach (int e in edges) _congestible[e] = true;
                double factor = spec.Factor ?? 0.2;
                _congestion.Add((edges, spec.Start, spec.End ?? _options.DurationS, factor));
                var te = new TruthEvent { Kind = "congestion", Road = spec.Road, WayIds = [.. edges.Select(_net.WayId).Distinct().Order()], StartMs = startMs, EndMs = endMs, ExpectedAlert = "congestion" };
                te.Values["speed_factor"] = factor;
                _events.Add(te);
                continue;
            }
            int count = spec.Kind == "speeding" ? Math.Max(1, spec.Count) : 1;
            for (int k = 0; k < count; k++)
            {
                var v = PickVehicle(spec, taken);
                taken.Add(v);
                string kind = spec.Kind;
                var truth = new TruthEvent { Kind = kind, VehicleId = v.Id, Zone = spec.Kind == "hazmat_off_corridor" ? v.CorridorId : spec.Zone };
                var ve = new VehicleEvent(spec, truth);
                switch (kind)
                {
                    case "speeding":
                        truth.StartMs = startMs;
                        truth.EndMs = endMs;
                        truth.ExpectedAlert = "speeding";
                        truth.Values["speed_factor"] = spec.Factor ?? 1.4;
                        break;
                    case "fatigue":
                        v.NoIdle = true;
                        truth.StartMs = 0;
                        truth.EndMs = (long)(_options.DurationS * 1000);
                        // The rule fires after four hours of continuous driving: expected only when the run is that long.
                        truth.ExpectedAlert = _options.DurationS > 4 * 3600 ? "fatigue" : null;
                        break;
                    case "signal_lost":
                        truth.StartMs = startMs;
                        truth.EndMs = startMs + (long)(spec.DurationS * 1000);
                        truth.ExpectedAlert = "signal_lost";
                        break;
                    case "hazmat_no_fix":
                        // The span is set when it begins: the first moment after `start` that the truck is driving.
                        truth.ExpectedAlert = v.Hazmat != null ? "hazmat_no_fix" : null;
                        truth.Values["duration_s"] = spec.DurationS;
                        break;
                    case "teleport":
                        truth.ExpectedAlert = "teleport";
                        truth.Values["distance_m"] = spec.DistanceM;
                        break;
                    case "hazmat_long_stop" or "long_stop":
                        truth.ExpectedAlert = v.Hazmat != null ? "hazmat_long_stop" : null;
                        truth.Values["duration_s"] = spec.DurationS;
                        break;
                    case "wrong_way":
                        truth.ExpectedAlert = "wrong_way";
                        break;
                    case "hazmat_off_corridor":
                        if (v.CorridorId == null) throw new InvalidDataException($"scenario: {v.Id} has no corridor (no route between its port and destination)");
                        truth.ExpectedAlert = v.Hazmat != null ? "hazmat_off_corridor" : null;
                        break;
                    default: // zone, zone_dwell, hazmat_forbidden
                        var zone = _zones.FirstOrDefault(z => z.Id == spec.Zone)
                            ?? throw new InvalidDataException($"scenario: no zone '{spec.Zone}' in the zones file");
                        ve.Zone = zone;
                        truth.ZoneRef = zone;
                        truth.ExpectedAlert = zone.Kind switch
                        {
                            "hazmat_forbidden" when v.Hazmat != null => "hazmat_forbidden",
                            "restricted" when zone.AppliesTo(v.ClassName) && zone.MaxDwellS is double max => spec.DurationS > max ? "zone_dwell" : null,
                            "restricted" when zone.AppliesTo(v.ClassName) => "zone",
                            _ => null,
                        };
                        truth.Values["dwell_s"] = spec.DurationS;
                        break;
                }
                v.Events.Add(ve);
                _events.Add(truth);
            }
        }
    }

    private SimVehicle PickVehicle(ScenarioEvent spec, HashSet<SimVehicle> taken)
    {
        if (spec.Vehicle != null)
            return _vehicles.FirstOrDefault(v => v.Id == spec.Vehicle) ?? throw new InvalidDataException($"scenario: no vehicle '{spec.Vehicle}'");
        string cls = spec.Class ?? (spec.Kind.StartsWith("hazmat", StringComparison.Ordinal) ? "hazmat" : "taxi");
        // GTFS buses run one trip on a timetable: scenario events go to the free-running vehicles.
        return _vehicles.FirstOrDefault(v => v.ClassName == cls && v.Trip == null && !taken.Contains(v))
            ?? throw new InvalidDataException($"scenario: event '{spec.Kind}' needs one more {cls} vehicle than the fleet has");
    }

    private VehicleEvent? Pending(SimVehicle v, double t, string kind)
    {
        foreach (var e in v.Events)
        {
            if (!e.Done && e.Spec.Start <= t && e.Spec.Kind == kind) return e;
        }
        return null;
    }

    private VehicleEvent? Active(SimVehicle v, double t, string kind)
    {
        foreach (var e in v.Events)
        {
            if (e.Spec.Kind == kind && e.Spec.Start <= t && t < (kind == "speeding" ? e.Spec.End ?? double.MaxValue : e.Spec.Start + e.Spec.DurationS)) return e;
        }
        return null;
    }

    // ---- Motion ----

    private void Advance(SimVehicle v, double to, SimOutput output)
    {
        while (v.Now < to - 1e-9 && v.State != SimState.Off)
        {
            double dt = Math.Min(1.0, to - v.Now);
            Step(v, v.Now, dt, output);
            v.Now += dt;
        }
    }

    private void Step(SimVehicle v, double t, double dt, SimOutput output)
    {
        if (v.Events.Count > 0) StepEvents(v, t, dt);
        switch (v.State)
        {
            case SimState.Idle:
                v.SpeedMs = 0;
                if (t >= v.Until) StartNextTrip(v, t);
                return;
            case SimState.Dwelling:
                v.SpeedMs = 0;
                if (t >= v.Until)
                {
                    if (v.NextStop > 0 && v.NextStop <= v.Stops.Count && v.Trip != null && v.PullOver == null)
                    {
                        var s = v.Stops[v.NextStop - 1];
                        output.Stop(v, s, v.ArrivedS, t);
                    }
                    v.State = v.D >= v.PlanEnd - 1e-6 ? SimState.Idle : SimState.Driving;
                    v.Until = t;
                    // A timetabled bus whose last stop is the end of its shape: the trip is over here.
                    if (v.State == SimState.Idle && v.Trip != null) EndOfPlan(v, t);
                }
                return;
            case SimState.Off:
                return;
        }

        int edge = v.Edge;
        double target = TargetSpeed(v, edge, t);
        double stopAt = v.NextStop < v.Stops.Count ? v.Stops[v.NextStop].At : v.PlanEnd;
        double toStop = Math.Max(0, stopAt - v.D);
        target = Math.Min(target, Math.Sqrt(2 * Brake * toStop));
        if (v.I + 1 < v.Elems.Length)
        {
            // Brake in time for what comes next: a turn, or a slower road.
            int next = v.Elems[v.I + 1] >= 0 ? v.Elems[v.I + 1] : ~v.Elems[v.I + 1];
            double ahead = TargetSpeed(v, next, t);
            if (v.TurnAhead) ahead = Math.Min(ahead, TurnSpeedMs);
            target = Math.Min(target, Math.Sqrt((ahead * ahead) + (2 * Brake * (v.Start[v.I + 1] - v.D))));
        }
        if (v.Trip != null && v.NextStop < v.Stops.Count)
        {
            // Keep to the timetable: no faster than needed to arrive on time (late buses drive at road speed).
            double left = v.Stops[v.NextStop].ArriveS - t;
            if (left > 1) target = Math.Min(target, Math.Max(toStop / left * 1.05, 2.0));
        }
        if (v.PullOver != null) target = 0;
        else if (toStop > 0) target = Math.Max(target, Math.Min(1.0, toStop));
        v.SpeedMs = target > v.SpeedMs ? Math.Min(target, v.SpeedMs + (Accel * dt)) : Math.Max(target, v.SpeedMs - (MaxDecel * dt));

        if (v.PullOver is { } pull && v.SpeedMs <= 0)
        {
            v.PullOver = null;
            v.State = SimState.Dwelling;
            v.Until = t + pull.Spec.DurationS;
            pull.Truth.StartMs = (long)(t * 1000);
            pull.Truth.EndMs = (long)(v.Until * 1000);
            pull.Truth.Edge = edge;
            return;
        }

        double move = v.SpeedMs * dt;
        bool arrived = v.D + move >= stopAt - 1e-6;
        v.D = arrived ? stopAt : v.D + move;
        while (v.I + 1 < v.Elems.Length && v.D >= v.Start[v.I + 1]) EnterNext(v, t);
        if (v.ZoneWatch is { } zw) WatchZone(v, zw, t + dt);
        if (v.CorridorWatch is { } cw) WatchCorridor(v, cw, t + dt);
        if (!arrived) return;

        v.SpeedMs = 0;
        if (v.NextStop < v.Stops.Count)
        {
            var s = v.Stops[v.NextStop++];
            v.ArrivedS = t;
            v.State = SimState.Dwelling;
            v.Until = t + StopDwell(v, s, t);
            return;
        }
        EndOfPlan(v, t);
    }

    // Dwell at a stop: its own time, and for a timetabled bus until the scheduled departure.
    private static double StopDwell(SimVehicle v, in PlanStop s, double t) =>
        double.IsNaN(s.DepartS) ? s.DwellS : Math.Max(Math.Min(s.DwellS, 20), s.DepartS - t);

    private void EnterNext(SimVehicle v, double t)
    {
        if (v.WrongWay is { } ww && v.Elems[v.I] < 0) ww.Truth.EndMs = (long)(t * 1000);
        v.I++;
        v.TurnAhead = Turns(v, v.I);
        if (v.WrongWay is { } w && v.Elems[v.I] < 0 && w.Truth.StartMs < 0)
        {
            w.Truth.StartMs = (long)(t * 1000);
            w.Truth.Edge = ~v.Elems[v.I];
        }
    }

    private void WatchZone(SimVehicle v, VehicleEvent e, double t)
    {
        var (lon, lat) = Position(v);
        bool inside = e.Zone!.Contains(lon, lat);
        // The span is the visit that holds the stay: an approach that clips the zone and leaves again does not start it.
        if (inside && !e.WasInside && !e.Done) e.Truth.StartMs = (long)(t * 1000);
        e.WasInside = inside;
        if (inside && e.Truth.StartMs < 0) e.Truth.StartMs = (long)(t * 1000);
        else if (!inside && e.Truth.StartMs >= 0 && v.State == SimState.Driving && e.Done)
        {
            e.Truth.EndMs = (long)(t * 1000);
            v.ZoneWatch = null;
        }
    }

    private void WatchCorridor(SimVehicle v, VehicleEvent e, double t)
    {
        var (lon, lat) = Position(v);
        bool outside = CorridorDistance(v, lon, lat) > CorridorWidthM / 2;
        if (outside && e.Truth.StartMs < 0) e.Truth.StartMs = (long)(t * 1000);
        else if (!outside && e.Truth.StartMs >= 0 && v.Detour == null)
        {
            e.Truth.EndMs = (long)(t * 1000);
            v.CorridorWatch = null;
        }
    }

    private void StepEvents(SimVehicle v, double t, double dt)
    {
        foreach (var e in v.Events)
        {
            if (e.Done || e.Spec.Start > t) continue;
            if (e.Spec.Kind is "hazmat_long_stop" or "long_stop" && v.State == SimState.Driving && v.Trip == null)
            {
                e.Done = true;
                v.PullOver = e;
            }
            else if (e.Spec.Kind == "hazmat_no_fix" && v.State == SimState.Driving && v.SpeedMs > 3)
            {
                // Moving while the unit reports no fix: start it while the truck drives, from the end of this step
                // (a fix at the step's start has been sent already).
                e.Done = true;
                e.Truth.StartMs = (long)Math.Ceiling((t + dt) * 1000);
                e.Truth.EndMs = e.Truth.StartMs + (long)(e.Spec.DurationS * 1000);
            }
        }
    }

    // The speed a driver aims at on an edge now: the limit, the class's habit, the hour, congestion, the driver.
    private double TargetSpeed(SimVehicle v, int edge, double t)
    {
        double limit = _net.SpeedLimitKmh(edge) / 3.6;
        if (Active(v, t, "speeding") is { } sp) return limit * (sp.Spec.Factor ?? 1.4);
        // Passenger vehicles keep to the night limit at night, as the engine's speeding rule holds them to: drivers a
        // little faster at night made 300 taxis from 02:30 raise 1,248 speeding alerts in half an hour.
        bool night = v.Kind is VehicleKind.Bus or VehicleKind.Taxi && SpeedingRule.IsNightHour(LocalMinute(t) / 60);
        if (night) limit *= NightLimitShare;
        // A bus behind its timetable makes up what the road allows: up to the limit.
        if (v.Trip != null && v.NextStop < v.Stops.Count && v.Stops[v.NextStop].ArriveS < t) return limit;
        double classShare = v.Kind switch { VehicleKind.Bus => 0.75, VehicleKind.Hazmat => 0.75, _ => 0.9 };
        double s = limit * classShare * HourFactor(t) * v.DriverFactor;
        if (night) s = Math.Min(s, 0.9 * limit); // with the margin of the day's habits: a unit's speed errs by 1 km/h
        if (v.Kind == VehicleKind.Hazmat) s = Math.Min(s, 60 / 3.6); // dangerous goods: 60 km/h at most
        if (_congestible[edge])
        {
            foreach (var (edges, start, end, factor) in _congestion)
            {
                if (t >= start && t < end && edges.Contains(edge)) s = Math.Min(s, limit * factor);
            }
        }
        return Math.Max(s, MinCruiseMs);
    }

    private int LocalMinute(double t) => (int)(((((t - _localMidnightS) / 60) % 1440) + 1440) % 1440);

    // Rush hours are slower, nights faster: a simple factor of the local hour.
    private double HourFactor(double t)
    {
        double hour = ((t - _localMidnightS) / 3600) % 24;
        return hour switch
        {
            >= 7 and < 9.5 => 0.65,
            >= 17 and < 19.5 => 0.65,
            >= 22 or < 6 => 1.05,
            _ => 0.85,
        };
    }

    private bool Turns(SimVehicle v, int i)
    {
        if (i + 1 >= v.Elems.Length) return false;
        double a = HeadingOf(v.Elems[i], 1e9), b = HeadingOf(v.Elems[i + 1], 0);
        return GeoMath.BearingDifference(a, b) > TurnAngleDeg;
    }

    // Heading of a plan element at a distance along it (driving direction), degrees.
    private double HeadingOf(int elem, double along)
    {
        int e = elem >= 0 ? elem : ~elem;
        double len = _net.LengthM(e);
        along = Math.Clamp(along, 0, len);
        return elem >= 0 ? _net.BearingAt(e, along) : (_net.BearingAt(e, len - along) + 180) % 360;
    }

    private (double Lon, double Lat) Position(SimVehicle v)
    {
        int elem = v.Elems[v.I];
        int e = elem >= 0 ? elem : ~elem;
        double along = Math.Clamp(v.D - v.Start[v.I], 0, _net.LengthM(e));
        return _net.PointAt(e, elem >= 0 ? along : _net.LengthM(e) - along);
    }

    // ---- Plans ----

    private void SetPlan(SimVehicle v, int[] elems, double d)
    {
        v.Elems = elems;
        v.Start = new double[elems.Length + 1];
        for (int k = 0; k < elems.Length; k++) v.Start[k + 1] = v.Start[k] + _net.LengthM(elems[k] >= 0 ? elems[k] : ~elems[k]);
        v.D = Math.Min(d, v.Start[^1]);
        v.I = 0;
        while (v.I + 1 < elems.Length && v.D >= v.Start[v.I + 1]) v.I++;
        v.Stops = [];
        v.NextStop = 0;
        v.TurnAhead = Turns(v, v.I);
    }

    private void EndOfPlan(SimVehicle v, double t)
    {
        if (v.WrongWay is { } ww)
        {
            if (ww.Truth.EndMs < 0 || v.Elems[v.I] < 0) ww.Truth.EndMs = (long)(t * 1000);
            v.WrongWay = null;
        }
        if (v.ZoneWatch is { } zw && !zw.Done)
        {
            // Arrived in the zone: stay the event's time, then drive on (the watch records the exit).
            zw.Done = true;
            v.State = SimState.Idle;
            v.Until = t + zw.Spec.DurationS;
            return;
        }
        v.State = SimState.Idle;
        v.Until = t;
        if (v.Detour != null)
        {
            // Off the corridor and back to business: the interrupted trip goes on at once.
            v.Detour = null;
            return;
        }
        switch (v.Kind)
        {
            case VehicleKind.Taxi:
                // Between fares: sometimes straight on to the next, sometimes a wait at a rank (never where waiting is limited).
                if (!v.NoIdle && v.Rng.NextDouble() < 0.4 && !InDwellLimitedZone(v, t)) v.Until = t + 60 + (v.Rng.NextDouble() * 420);
                break;
            case VehicleKind.Bus when v.Trip != null:
                NextRun(v, t);
                break;
            case VehicleKind.Bus:
                // The layover at the terminal: not where waiting is limited.
                v.Until = t + (v.NoIdle || InDwellLimitedZone(v, t) ? 0 : 60 + (v.Rng.NextDouble() * 60));
                break;
            case VehicleKind.Hazmat:
                // Loading at the port, unloading at the destination: there within the long-stop rule's 20 minutes, since a
                // destination is not a permitted stop.
                v.Until = t + (v.NoIdle ? 0 : v.Outbound ? 900 : 600 + (v.Rng.NextDouble() * 480));
                break;
        }
        if (v.State == SimState.Idle && !v.NoIdle && MayRestHere(v, t)) DriverBreak(v, t);
    }

    /// <summary>
    /// Where a driver takes a break: not in a zone whose dwell limit applies to the vehicle; a dangerous-goods truck only at
    /// its home base (the port, in a permitted-stop zone where the zones have one), where it loads, since it may not stand
    /// long anywhere else. It comes home within a round trip, so its shift before a break is an hour shorter
    /// (<see cref="DriverBreak"/>) and it still rests well within the fatigue rule's 4 hours.
    /// </summary>
    private bool MayRestHere(SimVehicle v, double t) =>
        (v.Kind != VehicleKind.Hazmat || (v.Outbound && v.Edge == v.HomeEdge)) && !InDwellLimitedZone(v, t);

    /// <summary>Minimum rest that resets the driving time (the fatigue rule's 20 minutes).</summary>
    private const double RestS = 1200;

    /// <summary>
    /// Drivers take a meal or rest break of 25 to 40 minutes after 2.5 to 3.5 hours at the wheel, as working-time
    /// rules and real shifts have them; only the fatigue scenario's driver never does. The shift and break lengths
    /// derive from the vehicle's index, not its random stream, so that nothing before a driver's first break changes.
    /// </summary>
    private static void DriverBreak(SimVehicle v, double t)
    {
        if (v.Until - t >= RestS)
        {
            v.RestedAt = v.Until;
            return;
        }
        double shiftS = 9000 + (v.Index * 7919 % 3600) - (v.Kind == VehicleKind.Hazmat ? 3600 : 0);
        if (t - v.RestedAt < shiftS) return;
        v.Until = t + 1500 + (v.Index * 104_729 % 900);
        v.RestedAt = v.Until;
    }

    private void StartNextTrip(SimVehicle v, double t)
    {
        v.DriverFactor = Math.Clamp(1 + (Gaussian(v.Rng) * 0.07), 0.85, 1.15);
        v.State = SimState.Driving;
        if (Pending(v, t, "wrong_way") is { } ww && PlanWrongWay(v, ww)) return;
        if (Pending(v, t, "hazmat_off_corridor") is { } oc && PlanDetour(v, oc)) return;
        foreach (string k in (ReadOnlySpan<string>)["zone", "zone_dwell", "hazmat_forbidden"])
        {
            if (Pending(v, t, k) is { } z && PlanZone(v, z)) return;
        }
        bool ok;
        switch (v.Kind)
        {
            case VehicleKind.Bus:
            {
                int dest = v.Outbound ? v.AwayEdge : v.HomeEdge;
                ok = dest >= 0 && RouteTo(v, dest, _net.LengthM(dest) * 0.5, avoid: v.KeepOut);
                if (ok)
                {
                    v.Outbound = !v.Outbound;
                    // Made-up stops every 350–500 m, 15–30 s each.
                    for (double at = v.D + 350 + (v.Rng.NextDouble() * 150); at < v.PlanEnd - 100; at += 350 + (v.Rng.NextDouble() * 150))
                        v.Stops.Add(new PlanStop(at, 15 + (v.Rng.NextDouble() * 15), double.NaN, double.NaN, null, v.Stops.Count + 1));
                }
                break;
            }
            case VehicleKind.Hazmat:
            {
                int dest = v.Outbound ? v.AwayEdge : v.HomeEdge;
                ok = RouteTo(v, dest, _net.LengthM(dest) * 0.5, avoid: v.KeepOut);
                if (ok) v.Outbound = !v.Outbound;
                break;
            }
            default:
                int d = PickDestination(v, 800, 5000, v.KeepOut);
                ok = RouteTo(v, d, v.Rng.NextDouble() * _net.LengthM(d), avoid: v.KeepOut);
                break;
        }
        if (!ok)
        {
            // Nowhere to go from here now: wait and try again.
            v.State = SimState.Idle;
            v.Until = t + 60;
        }
    }

    /// <summary>
    /// A main edge <paramref name="minM"/> to <paramref name="maxM"/> away that a vehicle keeping out of the zones
    /// <paramref name="keepOut"/> can reach and leave (<see cref="Free"/>), and not inside the zones <paramref name="notIn"/>.
    /// </summary>
    private int PickDestination(SimVehicle v, double minM, double maxM, ulong keepOut = 0, ulong notIn = 0)
    {
        var (lon, lat) = Position(v);
        int best = _mainEdges[v.Rng.Next(_mainEdges.Length)];
        for (int attempt = 0; attempt < 30; attempt++)
        {
            int e = _mainEdges[v.Rng.Next(_mainEdges.Length)];
            if (!Free(e, keepOut) || Inside(e, notIn)) continue;
            double d = GeoMath.FastDistance(lon, lat, _net.Lon(_net.From(e)), _net.Lat(_net.From(e)));
            if (d >= minM && d <= maxM) return e;
            if (attempt == 0 || d > minM) best = e; // small networks: settle for something far enough
        }
        return best;
    }

    // The edge the vehicle stands on as a routing source: where a backwards plan ended, an edge into that node.
    private EdgePosition Here(SimVehicle v)
    {
        int elem = v.Elems[v.I];
        if (elem >= 0) return new EdgePosition(elem, Math.Clamp(v.D - v.Start[v.I], 0, _net.LengthM(elem)));
        int node = _net.From(~elem);
        for (int k = _inFirst[node]; k < _inFirst[node + 1]; k++)
        {
            int e = _inEdges[k];
            if (e != ~elem && _isMain[e]) return new EdgePosition(e, _net.LengthM(e));
        }
        return new EdgePosition(_inFirst[node] < _inFirst[node + 1] ? _inEdges[_inFirst[node]] : ~elem, 0);
    }

    /// <summary>Plans the drive to <paramref name="destOffset"/> along <paramref name="dest"/>, round the zones <paramref name="avoid"/>.</summary>
    private bool RouteTo(SimVehicle v, int dest, double destOffset, int appendElem = int.MinValue, ulong avoid = 0)
    {
        var here = Here(v);
        var (lon, lat) = _net.PointAt(here.Edge, here.OffsetM);
        var (dl, dla) = _net.PointAt(dest, destOffset);
        double gc = GeoMath.FastDistance(lon, lat, dl, dla);
        int n = PlanPath(here, dest, destOffset, (4 * gc) + 3000, avoid);
        if (n < 1) return false;
        int total = n + (appendElem != int.MinValue ? 1 : 0);
        var elems = new int[total];
        _path.AsSpan(0, n).CopyTo(elems);
        if (appendElem != int.MinValue) elems[^1] = appendElem;
        // A route to a point behind on the same edge ends where it started: the plan is the path itself.
        SetPlan(v, elems, here.OffsetM);
        // The plan ends at the destination offset, not at the end of its last edge.
        if (appendElem == int.MinValue) v.Start[^1] = v.Start[^2] + destOffset;
        return v.PlanEnd > v.D;
    }

    /// <summary>
    /// The shortest path into <see cref="_path"/> (its edge count; 0: none within <paramref name="boundM"/>), and where it
    /// would enter a zone of <paramref name="avoid"/>, the way round instead.
    /// </summary>
    private int PlanPath(EdgePosition from, int dest, double destOffset, double boundM, ulong avoid)
    {
        Span<EdgePosition> target = [new EdgePosition(dest, destOffset)];
        Span<double> dist = stackalloc double[1];
        _router.Run(from, target, boundM, dist);
        int n = _router.PathLength(0);
        if (n < 1 || n > _path.Length - 1) return 0;
        _router.PathTo(0, _path);
        if (avoid != 0 && _detours!.Enters(_path.AsSpan(0, n), avoid)) n = _detours.Route(from, dest, destOffset, avoid, _path.AsSpan(0, _path.Length - 1));
        return n;
    }

    /// <summary>
    /// Plans a wrong-way drive: to the far end of a stretch of one-way road nearby and along it backwards. The stretch is
    /// one edge or several consecutive edges of one road, long enough for the vehicle's unit to send at least
    /// <see cref="WrongWayFixes"/> fixes from it at the road's speed, and with no road alongside (within 40 m) that runs the way the
    /// vehicle drives (the other carriageway of a dual carriageway, a parallel one-way street): within GPS error of
    /// such a road a fix cannot tell driving against the one-way from driving the other road legally, so no engine could
    /// judge the drive. Falls back to the nearest one-way edge of 200 m when the network has no such stretch, and then the
    /// truth expects no alert.
    /// </summary>
    private bool PlanWrongWay(SimVehicle v, VehicleEvent ev)
    {
        var (lon, lat) = Position(v);
        int[]? best = null;
        double bestD = double.MaxValue;
        bool bestObservable = false;
        var stretch = new List<int>();
        for (int e = 0; e < _net.EdgeCount; e++)
        {
            if (!IsWrongWayCandidate(e) || !HasOtherIn(_net.To(e), e)) continue;
            double d = GeoMath.FastDistance(lon, lat, _net.Lon(_net.To(e)), _net.Lat(_net.To(e)));
            if (d <= 300 || (bestObservable && d >= bestD)) continue;
            // The stretch driven backwards from the end of e: e, then the road's one-way edges before it.
            double need = WrongWayFixes * (v.IntervalMs / 1000.0) * (_net.SpeedLimitKmh(e) / 3.6) + 30;
            stretch.Clear();
            stretch.Add(e);
            double length = _net.LengthM(e);
            while (length < need && Before(stretch[^1]) is int p && !stretch.Contains(p))
            {
                stretch.Add(p);
                length += _net.LengthM(p);
            }
            bool observable = length >= need && !AnythingAlongside(stretch);
            // Failing an observable stretch anywhere, the nearest one-way edge of 200 m (the drive as it used to be).
            if (!observable && (bestObservable || _net.LengthM(e) < 200 || d >= bestD)) continue;
            best = observable ? [.. stretch] : [e];
            bestD = d;
            bestObservable = observable;
        }
        if (best == null) return false;
        int first = best[0];
        int into = -1;
        int node = _net.To(first);
        for (int k = _inFirst[node]; k < _inFirst[node + 1] && into < 0; k++)
        {
            if (_inEdges[k] != first && _isMain[_inEdges[k]]) into = _inEdges[k];
        }
        if (into < 0 || !RouteTo(v, into, _net.LengthM(into), ~first, v.KeepOut)) return false;   // the way there keeps the zones' rules
        if (best.Length > 1)
        {
            // Append the rest of the stretch, each edge driven backwards.
            int[] elems = [.. v.Elems, .. best.Skip(1).Select(x => ~x)];
            SetPlan(v, elems, v.D);
        }
        ev.Done = true;
        v.WrongWay = ev;
        if (!bestObservable)
        {
            // A road alongside runs the way the vehicle drives: no engine can tell this drive from a legal one on it, so
            // the truth expects no alert (Monaco: 25 s against a one-way edge with the other half 6 m off).
            ev.Truth.ExpectedAlert = null;
            ev.Truth.Values["observable"] = 0;
        }
        return true;
    }

    /// <summary>Fixes a unit should send from a wrong-way stretch: two to judge by, one to spare.</summary>
    internal const int WrongWayFixes = 3;

    private bool IsWrongWayCandidate(int e) =>
        _net.IsOneWay(e) && _net.Twin(e) < 0 && (_net.Flags(e) & (EdgeFlags.Roundabout | EdgeFlags.Reversible)) == 0 && _isMain[e];

    /// <summary>The one-way edge of the same road (same name; unnamed: same way) that leads into <paramref name="e"/>, when there is exactly one.</summary>
    private int? Before(int e)
    {
        int node = _net.From(e), found = -1;
        for (int k = _inFirst[node]; k < _inFirst[node + 1]; k++)
        {
            int p = _inEdges[k];
            bool sameRoad = _net.NameIndex(e) != 0 ? _net.NameIndex(p) == _net.NameIndex(e) : _net.WayId(p) == _net.WayId(e);
            if (!sameRoad || !IsWrongWayCandidate(p)) continue;
            if (found >= 0) return null;
            found = p;
        }
        return found >= 0 ? found : null;
    }

    /// <summary>
    /// Whether a road other than the stretch runs within 40 m of it (every 20 m along it) in the direction of the
    /// wrong-way drive, within 45°: a road a fix of the drive could equally lie on.
    /// </summary>
    private bool AnythingAlongside(List<int> stretch)
    {
        Span<EdgeCandidate> near = stackalloc EdgeCandidate[16];
        foreach (int e in stretch)
        {
            double len = _net.LengthM(e);
            for (double x = 0; x <= len; x += 20)
            {
                var (plon, plat) = _net.PointAt(e, x);
                double reverse = (_net.BearingAt(e, x) + 180) % 360;
                int n = _index.Within(plon, plat, 40, near);
                for (int i = 0; i < n; i++)
                {
                    if (stretch.Contains(near[i].Edge)) continue;
                    if (GeoMath.BearingDifference(reverse, _net.BearingAt(near[i].Edge, near[i].OffsetM)) <= 45) return true;
                }
            }
        }
        return false;
    }

    private bool HasOtherIn(int node, int except)
    {
        for (int k = _inFirst[node]; k < _inFirst[node + 1]; k++)
        {
            if (_inEdges[k] != except && _isMain[_inEdges[k]]) return true;
        }
        return false;
    }

    // A detour through a place 0.6–1.5 km off the corridor (a shortcut, a forbidden delivery), then back.
    private bool PlanDetour(SimVehicle v, VehicleEvent ev)
    {
        var (lon, lat) = Position(v);
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int e = _mainEdges[v.Rng.Next(_mainEdges.Length)];
            var (el, ea) = _net.PointAt(e, _net.LengthM(e) * 0.5);
            if (GeoMath.FastDistance(lon, lat, el, ea) > 3000) continue;
            double off = CorridorDistance(v, el, ea);
            if (off < 600 || off > 1500) continue;
            if (!RouteTo(v, e, _net.LengthM(e) * 0.5, avoid: v.KeepOut)) continue;   // off the corridor, not into a forbidden zone
            ev.Done = true;
            v.Detour = ev;
            v.CorridorWatch = ev;
            return true;
        }
        return false;
    }

    private bool PlanZone(SimVehicle v, VehicleEvent ev)
    {
        // The road point nearest the zone's centre that lies inside the zone.
        var zone = ev.Zone!;
        var (lon, lat) = zone.Centre();
        Span<EdgeCandidate> c = stackalloc EdgeCandidate[64];
        int n = _index.Nearest(lon, lat, 2000, c);
        for (int i = 0; i < n; i++)
        {
            if (!_isMain[c[i].Edge] || !zone.Contains(c[i].Lon, c[i].Lat)) continue;
            // Into this zone; round the others the vehicle keeps out of.
            if (!RouteTo(v, c[i].Edge, c[i].OffsetM, avoid: v.KeepOut & ~ZonesWhere(z => z == zone))) continue;
            v.ZoneWatch = ev;
            return true;
        }
        return false;
    }

    // ---- GPS ----

    private void Fix(SimVehicle v, long timeMs, SimOutput output)
    {
        double t = timeMs / 1000.0;
        if (v.Events.Count > 0 && Active(v, t, "signal_lost") != null) return;
        if (t < v.SilentUntil) return;
        int elem = v.Elems[v.I];
        int edge = elem >= 0 ? elem : ~elem;
        var (lon, lat) = Position(v);
        double along = v.D - v.Start[v.I];
        double heading = v.SpeedMs > 0.3 || !v.HasLast ? HeadingOf(elem, along) : v.LastHeading;
        double speedKmh = v.SpeedMs * 3.6;
        string dir = _net.Direction(edge);
        if (elem < 0) dir = dir == "forward" ? "backward" : "forward";
        double offset = elem >= 0 ? along : _net.LengthM(edge) - along;
        var truth = new ProbeTruth(edge, _net.WayId(edge), dir, elem < 0 && _net.IsOneWay(edge), offset, speedKmh, _net.SpeedLimitKmh(edge),
            lon, lat, v.State == SimState.Driving && v.SpeedMs > 0 ? "moving" : "stopped");

        // Noise draws happen on every fix, used or not, so that one event does not shift the rest of a vehicle's noise.
        double nx = Gaussian(v.Rng) * v.SigmaM, ny = Gaussian(v.Rng) * v.SigmaM;
        double ns = Gaussian(v.Rng), nh = Gaussian(v.Rng) * 3;
        bool fix = true;
        if (v.NoFixLeft > 0)
        {
            v.NoFixLeft--;
            fix = false;
        }
        else if (v.Rng.NextDouble() < 0.002 && v.HasLast)
        {
            // An occasional fix loss (tunnel, urban canyon): one to three fixes.
            v.NoFixLeft = v.Rng.Next(0, 3);
            fix = false;
        }
        if (v.Events.Count > 0 && v.HasLast && NoFixNow(v, timeMs)) fix = false;

        double rLon = lon + (nx / GeoMath.MetresPerDegreeLon(lat)), rLat = lat + (ny / GeoMath.MetresPerDegree);
        if (v.Events.Count > 0)
        {
            foreach (var e in v.Events)
            {
                if (e.Spec.Kind != "teleport" || e.Done || e.Spec.Start > t) continue;
                // One fix far away: an impossible jump there and back.
                e.Done = true;
                double bearing = v.Rng.NextDouble() * 2 * Math.PI;
                rLon += Math.Sin(bearing) * e.Spec.DistanceM / GeoMath.MetresPerDegreeLon(lat);
                rLat += Math.Cos(bearing) * e.Spec.DistanceM / GeoMath.MetresPerDegree;
                e.Truth.StartMs = e.Truth.EndMs = timeMs;
            }
        }
        double rSpeed = v.SpeedMs > 0 ? Math.Max(0, speedKmh + ns) : 0;
        double rHeading = ((heading + nh) % 360 + 360) % 360;
        if (!fix)
        {
            // No fix: the unit repeats its last position but still reports the speed it measures.
            (rLon, rLat) = (v.LastLon, v.LastLat);
            rHeading = v.LastHeading;
        }
        else
        {
            (v.LastLon, v.LastLat, v.LastHeading, v.HasLast) = (rLon, rLat, rHeading, true);
        }
        output.Probe(v, timeMs, rLon, rLat, rSpeed, rHeading, fix, truth);
    }

    /// <summary>The seed of vehicle <paramref name="index"/>'s random stream: a SplitMix64 mix of the run's seed and the index.</summary>
    internal static int StreamSeed(int seed, int index)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    private static bool NoFixNow(SimVehicle v, long timeMs)
    {
        foreach (var e in v.Events)
        {
            if (e.Spec.Kind == "hazmat_no_fix" && e.Truth.StartMs >= 0 && timeMs >= e.Truth.StartMs && timeMs < e.Truth.EndMs) return true;
        }
        return false;
    }

    internal static double Gaussian(Random rng)
    {
        // Box–Muller, one of the pair: simple and deterministic.
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    // ---- Outputs beside the probes ----

    private void WriteRegistry(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var w = new Utf8JsonWriter(f, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        foreach (var v in _vehicles)
        {
            w.Reset(f);
            w.WriteStartObject();
            w.WriteString("vehicle_id", v.Id);
            w.WriteString("class", v.ClassName);
            if (v.Hazmat != null) w.WriteString("hazmat", v.Hazmat);
            if (v.CorridorId != null) w.WriteString("corridor", v.CorridorId);
            w.WriteString("company", v.Company);
            w.WriteEndObject();
            w.Flush();
            f.WriteByte((byte)'\n');
        }
    }

    // The scenario's zones and the generated corridors in one FeatureCollection.
    private void WriteZones(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var w = new Utf8JsonWriter(f, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("type", "FeatureCollection");
        w.WriteStartArray("features");
        if (_scenario.Zones != null)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_scenario.BaseDirectory, _scenario.Zones)));
            foreach (var feature in doc.RootElement.GetProperty("features").EnumerateArray()) feature.WriteTo(w);
        }
        foreach (var v in _vehicles)
        {
            if (v.CorridorId == null) continue;
            w.WriteStartObject();
            w.WriteString("type", "Feature");
            w.WriteStartObject("properties");
            w.WriteString("id", v.CorridorId);
            w.WriteString("name", "危险品运输走廊 " + v.Id);
            w.WriteString("kind", "corridor");
            w.WriteNumber("width_m", CorridorWidthM);
            w.WriteEndObject();
            w.WriteStartObject("geometry");
            w.WriteString("type", "LineString");
            w.WriteStartArray("coordinates");
            for (int i = 0; i < v.CorridorLon.Length; i++)
            {
                w.WriteStartArray();
                w.WriteNumberValue(Math.Round(v.CorridorLon[i], 7));
                w.WriteNumberValue(Math.Round(v.CorridorLat[i], 7));
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        f.WriteByte((byte)'\n');
    }

    // ---- Network structure ----

    private static (int[] First, int[] Edges) InAdjacency(RoadNetwork net)
    {
        var first = new int[net.NodeCount + 1];
        for (int e = 0; e < net.EdgeCount; e++) first[net.To(e) + 1]++;
        for (int n = 0; n < net.NodeCount; n++) first[n + 1] += first[n];
        var next = first.AsSpan(0, net.NodeCount).ToArray();
        var edges = new int[net.EdgeCount];
        for (int e = 0; e < net.EdgeCount; e++) edges[next[net.To(e)]++] = e;
        return (first, edges);
    }

    // The largest strongly connected part (forward and backward reachable from a hub), found from a few
    // hubs: vehicles placed there can always drive on and come back.
    /// <summary>The edges of the largest strongly connected part of the network, over the edges <paramref name="open"/> allows (all when null).</summary>
    private static (int[] Edges, bool[] IsMain) MainComponent(RoadNetwork net, int[] inFirst, int[] inEdges, Func<int, bool>? open = null)
    {
        open ??= _ => true;
        bool[] best = [];
        int bestCount = -1;
        var rng = new Random(12345);
        for (int attempt = 0; attempt < 6 && bestCount < net.NodeCount / 2; attempt++)
        {
            int hub = net.From(rng.Next(net.EdgeCount));
            var fwd = Reach(net.NodeCount, hub, n => Enumerable.Range(net.FirstOutEdge(n), net.EndOutEdge(n) - net.FirstOutEdge(n)).Where(open).Select(net.To));
            var bwd = Reach(net.NodeCount, hub, n => Enumerable.Range(inFirst[n], inFirst[n + 1] - inFirst[n]).Select(k => inEdges[k]).Where(open).Select(net.From));
            var both = new bool[net.NodeCount];
            int count = 0;
            for (int n = 0; n < both.Length; n++)
            {
                both[n] = fwd[n] && bwd[n];
                if (both[n]) count++;
            }
            if (count > bestCount)
            {
                bestCount = count;
                best = both;
            }
        }
        var isMain = new bool[net.EdgeCount];
        var list = new List<int>();
        for (int e = 0; e < net.EdgeCount; e++)
        {
            if (best[net.From(e)] && best[net.To(e)] && open(e))
            {
                isMain[e] = true;
                list.Add(e);
            }
        }
        return ([.. list], isMain);
    }

    private static bool[] Reach(int nodes, int start, Func<int, IEnumerable<int>> next)
    {
        var seen = new bool[nodes];
        var stack = new Stack<int>();
        stack.Push(start);
        seen[start] = true;
        while (stack.Count > 0)
        {
            int n = stack.Pop();
            foreach (int m in next(n))
            {
                if (seen[m]) continue;
                seen[m] = true;
                stack.Push(m);
            }
        }
        return seen;
    }
}
