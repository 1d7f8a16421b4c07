using System.CommandLine;
using System.Globalization;
using Traffic.Geo.Evaluation;
using Traffic.Geo.Matching;

namespace Traffic.Cli.Commands;

/// <summary><c>traffic eval kubicka</c>: map-matching accuracy on the Kubicka benchmark.</summary>
internal static class EvalCommands
{
    public static Command Create()
    {
        var eval = new Command("eval", "Measure the map matcher against benchmarks with ground truth.");
        eval.Subcommands.Add(CreateKubicka());
        eval.Subcommands.Add(CreateSynthetic());
        return eval;
    }

    private static Command CreateSynthetic()
    {
        var network = new Argument<string>("network") { Description = "A road network (.tnet, or any input 'network build' accepts)." };
        var source = new Option<string>("--source")
        {
            Description = "simulator: the fleet simulator's taxis (speeds vary, stops at junctions and ranks); trips: constant-speed trips along shortest paths.",
            DefaultValueFactory = _ => "simulator",
        };
        source.AcceptOnlyFromAmong("simulator", "trips");
        var vehicles = new Option<int>("--vehicles") { Description = "Vehicles per combination of noise and sampling.", DefaultValueFactory = _ => 20 };
        var length = new Option<double>("--route-km") { Description = "trips: length of each vehicle's random route, km.", DefaultValueFactory = _ => 10 };
        var minutes = new Option<double>("--minutes") { Description = "simulator: minutes each taxi is simulated.", DefaultValueFactory = _ => 30 };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        var mode = new Option<string>("--mode") { Description = "online (probe by probe, default lag) or offline (whole trace).", DefaultValueFactory = _ => "online" };
        mode.AcceptOnlyFromAmong("online", "offline");
        var reported = new Option<string>("--reported")
        {
            Description = "What probes report besides position: none (default), speed, heading or speed,heading. Speed: the true instantaneous speed ± 2 km/h (Gaussian), clamped at 0, 0 when standing; heading: the road's bearing ± 5°, none when standing.",
            DefaultValueFactory = _ => "none",
        };
        var noises = new Option<double[]>("--noise")
        {
            Description = "Noise sigmas to run, metres (default 5 10 20).",
            DefaultValueFactory = _ => [5, 10, 20],
            AllowMultipleArgumentsPerToken = true,
        };
        var intervals = new Option<int[]>("--interval")
        {
            Description = "Sampling intervals to run, seconds (default 1 5 15 30 60).",
            DefaultValueFactory = _ => [1, 5, 15, 30, 60],
            AllowMultipleArgumentsPerToken = true,
        };
        var errors = new Option<bool>("--errors") { Description = "After the table, each cell's route errors: by kind (the runs where the matched route parts from the true one: a parallel road, a loop, the first or last probe), by road class and by road: metres of true route missed and of route matched that was not driven." };
        var cmd = new Command("synthetic", "Edge-level accuracy on vehicles driven on a network with Gaussian noise (sigma 5, 10, 20 m) sampled every 1, 5, 15, 30, 60 s.")
        {
            network, source, vehicles, length, minutes, seed, mode, reported, noises, intervals, errors,
        };
        cmd.SetAction(parse =>
        {
            var net = Traffic.Geo.Import.NetworkImport.Read(parse.GetValue(network)!, out _);
            var index = new Traffic.Geo.Spatial.EdgeIndex(net);
            int n = parse.GetValue(vehicles);
            int seedValue = parse.GetValue(seed);
            bool simulator = parse.GetValue(source) == "simulator";
            bool online = parse.GetValue(mode) == "online";
            double routeM = parse.GetValue(length) * 1000;
            var report = SyntheticTraces.ParseReported(parse.GetValue(reported));
            // The simulator drives once (exact positions every second); each cell samples and adds noise to that.
            var drives = simulator ? SimulatedDrives.Run(net, n, parse.GetValue(minutes) * 60, seedValue) : null;
            var ci = CultureInfo.InvariantCulture;
            int[] intervalValues = parse.GetValue(intervals)!;
            string what = simulator
                ? string.Create(ci, $"{n} simulated taxis, {parse.GetValue(minutes):N0} minutes each ({drives!.Sum(d => DrivenM(net, d)) / 1000:N0} km driven in all)")
                : string.Create(ci, $"{n} vehicles per cell, {routeM / 1000:N0} km constant-speed trips each");
            if (report != ReportedCourse.None) Console.WriteLine($"Probes report {report} (speed ± {SyntheticTraces.ReportedSpeedSigmaKmh} km/h, heading ± {SyntheticTraces.ReportedHeadingSigmaDeg}°).");
            Console.WriteLine(string.Create(ci, $"{(online ? "Online" : "Offline")} matching (sigma set to the noise, search radius max(50 m, 4 sigma), min move 2 sigma) of {what}. Each cell: probes matched to their true edge % / route accuracy % (1 − route mismatch fraction, edge by edge, length-weighted, over the route driven from the first probe to the last)."));
            Console.WriteLine("| noise sigma | " + string.Join(" | ", intervalValues.Select(i => i.ToString(ci) + " s")) + " |");
            Console.WriteLine("| --- |" + string.Concat(intervalValues.Select(_ => " ---: |")));
            var errorReports = new List<string>();
            foreach (double sigma in parse.GetValue(noises)!)
            {
                var cells = new List<string>();
                foreach (int interval in intervalValues)
                {
                    var rng = new Random(seedValue);
                    var courseRng = new Random(seedValue + 7919); // the reported values' noise, apart from the positions'
                    var traces = simulator
                        ? drives!.Select(d => d.Probes(interval, sigma, rng, net, report, courseRng)).ToList()
                        : Enumerable.Range(0, n).Select(_ => SyntheticTraces.Drive(net, rng, routeM, interval, sigma, reported: report)).ToList();
                    // The matcher is told the noise of the source, as a deployment configures it per source.
                    var options = new MatcherOptions { SigmaM = sigma, SearchRadiusM = Math.Max(50, 4 * sigma), MinMoveM = 2 * sigma };
                    if (!online) options = options.AsOffline();
                    var cellErrors = parse.GetValue(errors) ? new List<(int Trace, int Edge, double M, bool Missed)>() : null;
                    var cellRuns = cellErrors is null ? null : new List<RouteRun>();
                    var score = SyntheticTraces.OnlineAccuracy(index, traces, options,
                        cellErrors is null ? null : (t, e, m, missed) => cellErrors.Add((t, e, m, missed)),
                        cellRuns is null ? null : (_, truth, matched) => cellRuns.AddRange(RouteRuns.Between(truth, matched, net.LengthM)));
                    if (cellErrors is not null) errorReports.Add(ErrorReport(net, string.Create(ci, $"{sigma:F0} m / {interval} s"), score, cellErrors, cellRuns!));
                    cells.Add(string.Create(ci, $"{100 * score.EdgeAccuracy:F1} / {100 * score.RouteAccuracy:F1}"));
                }
                Console.WriteLine(string.Create(ci, $"| {sigma:F0} m | ") + string.Join(" | ", cells) + " |");
            }
            foreach (string cellReport in errorReports) Console.Write(cellReport);
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// A cell's route errors: the runs where the matched route parts from the true one, by kind (<see cref="RouteRuns"/>),
    /// then the mismatched edges by road class, by road (name and class) and by trace, largest first.
    /// </summary>
    private static string ErrorReport(Traffic.Geo.Network.RoadNetwork net, string cell, SyntheticScore score, List<(int Trace, int Edge, double M, bool Missed)> errors, List<RouteRun> runs)
    {
        var ci = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Create(ci, $"\n{cell}: {score.RouteErrorM:F0} m of route error over {score.TruthRouteM:F0} m driven\n"));
        text.AppendLine("| kind of run | runs | true m | matched m |");
        text.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var g in runs.GroupBy(r => r.Kind).OrderByDescending(g => g.Sum(r => r.TruthM + r.MatchM)))
        {
            text.AppendLine(string.Create(ci, $"| {RunKindName(g.Key)} | {g.Count()} | {g.Sum(r => r.TruthM):F0} | {g.Sum(r => r.MatchM):F0} |"));
        }
        text.AppendLine();
        text.AppendLine("(whole edges, each as often as a run holds it: the kinds add up to more than the error)");
        text.AppendLine();
        void Table(string title, Func<(int Trace, int Edge, double M, bool Missed), string> key, int top)
        {
            text.AppendLine(string.Create(ci, $"| {title} | missed m | matched, not driven m |"));
            text.AppendLine("| --- | ---: | ---: |");
            foreach (var g in errors.GroupBy(key).OrderByDescending(g => g.Sum(e => e.M)).Take(top))
            {
                text.AppendLine(string.Create(ci, $"| {g.Key} | {g.Where(e => e.Missed).Sum(e => e.M):F0} | {g.Where(e => !e.Missed).Sum(e => e.M):F0} |"));
            }
            text.AppendLine();
        }
        Table("road class", e => Traffic.Geo.Network.RoadClasses.Name(net.Class(e.Edge)), 20);
        Table("road", e => $"{net.Name(e.Edge)} ({Traffic.Geo.Network.RoadClasses.Name(net.Class(e.Edge))})", 15);
        Table("trace", e => e.Trace.ToString(ci), 10);
        return text.ToString();
    }

    private static string RunKindName(RouteRunKind kind) => kind switch
    {
        RouteRunKind.Ends => "first or last probe",
        RouteRunKind.Parallel => "parallel road (same fork and merge, lengths within 15 %)",
        RouteRunKind.MatchedOnly => "matched only (a loop or a detour)",
        RouteRunKind.MissedOnly => "missed only",
        _ => "other",
    };

    private static double DrivenM(Traffic.Geo.Network.RoadNetwork net, SimulatedDrive d)
    {
        if (d.Samples.Length == 0) return 0;
        double m = 0;
        for (int i = d.Samples[0].RouteIndex; i <= d.Samples[^1].RouteIndex; i++) m += net.LengthM(d.Route[i]);
        return m;
    }

    private static Command CreateKubicka()
    {
        var dir = new Argument<string>("dir") { Description = "A folder of track folders <id>/ holding <id>.nodes, .arcs, .track and .route (or one such folder)." };
        var mode = new Option<string>("--mode") { Description = "online (probe by probe, default lag) or offline (whole trace).", DefaultValueFactory = _ => "offline" };
        mode.AcceptOnlyFromAmong("online", "offline");
        var write = new Option<string?>("--write-routes") { Description = "Write <outdir>/<id>.matched: the matched route's arc ids in driving order, one per line." };
        var sigma = new Option<double?>("--sigma") { Description = "GPS noise sigma in metres (default: the matcher's)." };
        var beta = new Option<double?>("--beta") { Description = "Transition scale beta in metres (default: the matcher's)." };
        var lag = new Option<int?>("--lag") { Description = "Online: most probes a decision waits for (default: the matcher's)." };
        var candidates = new Option<int?>("--candidates") { Description = "Most candidates per probe (default: the matcher's)." };
        var prune = new Option<double?>("--prune") { Description = "Beam pruning threshold, natural log (default: the matcher's)." };
        var minMove = new Option<double?>("--min-move") { Description = "Distance below which a probe follows the previous one, metres (default: the matcher's)." };
        var uturn = new Option<double?>("--u-turn") { Description = "U-turn penalty, metres (default: the matcher's)." };
        var betaPer = new Option<double?>("--beta-per-metre") { Description = "Growth of beta per metre between probes (default: the matcher's)." };
        var betaNoise = new Option<double?>("--beta-noise") { Description = "Factor of beta's noise term, sigma² over the distance between probes (default: the matcher's; 0 turns it off)." };
        var maxGap = new Option<double?>("--max-gap") { Description = "A time gap between probes longer than this breaks the chain, seconds (default: the matcher's)." };
        var cmd = new Command("kubicka", "Match every track of a Kubicka-format benchmark and print the route accuracy (1 − route mismatch fraction).") { dir, mode, write, sigma, beta, lag, candidates, prune, minMove, uturn, betaPer, betaNoise, maxGap };
        cmd.SetAction(parse =>
        {
            bool online = parse.GetValue(mode) == "online";
            var options = new MatcherOptions();
            if (parse.GetValue(sigma) is double sg) options = options with { SigmaM = sg };
            if (parse.GetValue(beta) is double bt) options = options with { BetaM = bt };
            if (parse.GetValue(lag) is int lg) options = options with { LagProbes = lg };
            if (parse.GetValue(candidates) is int kc) options = options with { MaxCandidates = kc };
            if (parse.GetValue(prune) is double pr) options = options with { PruneLogProbability = pr };
            if (parse.GetValue(minMove) is double mm) options = options with { MinMoveM = mm };
            if (parse.GetValue(uturn) is double ut) options = options with { UTurnPenaltyM = ut };
            if (parse.GetValue(betaPer) is double bp) options = options with { BetaPerMetre = bp };
            if (parse.GetValue(betaNoise) is double bn) options = options with { BetaNoiseFactor = bn };
            if (parse.GetValue(maxGap) is double mg) options = options with { MaxGapS = mg };
            string? outDir = parse.GetValue(write);
            if (outDir != null) Directory.CreateDirectory(outDir);
            var ci = CultureInfo.InvariantCulture;
            double truth = 0, error = 0, seconds = 0;
            long points = 0;
            var folders = KubickaBenchmark.TrackFolders(parse.GetValue(dir)!);
            foreach (string folder in folders)
            {
                var r = KubickaBenchmark.Run(folder, online, options);
                truth += r.TruthLengthM;
                error += r.ErrorLengthM;
                seconds += r.Seconds;
                points += r.Points;
                Console.WriteLine(string.Create(ci,
                    $"{r.Id}  {r.Points,6:N0} points  {r.Matched,6:N0} matched  route {r.TruthLengthM / 1000,8:N2} km  accuracy {r.Accuracy * 100,6:F2}%  {r.Points / Math.Max(r.Seconds, 1e-9),10:N0} points/s"));
                if (outDir != null)
                    File.WriteAllLines(Path.Combine(outDir, r.Id + ".matched"), r.RouteArcs.Select(a => a.ToString(ci)));
            }
            double overall = truth > 0 ? 1 - (error / truth) : 0;
            Console.WriteLine(string.Create(ci, $"mode {(online ? "online" : "offline")}: {points:N0} points in {seconds:N2} s of matching"));
            Console.WriteLine(string.Create(ci, $"overall accuracy {overall * 100:F2}% over {folders.Count} tracks"));
            return 0;
        });
        return cmd;
    }
}
