using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Simulation;
using Traffic.Geo.Import;
using Traffic.Geo.Network;

namespace Traffic.Cli.Commands;

/// <summary><c>traffic simulate</c>: probes and ground truth from a simulated fleet.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var network = new Option<string>("--network") { Description = "Road network: " + NetworkImport.Formats + ".", Required = true };
        var gtfs = new Option<string?>("--gtfs") { Description = "A GTFS feed (.zip): buses run its trips (blocks, frequencies, trips past midnight) along their shapes." };
        var scenario = new Option<string?>("--scenario") { Description = "A scenario file (.yaml, .yml or .json): fleet, events, faults (docs/simulator.md)." };
        var vehicles = new Option<int>("--vehicles") { Description = "Fleet size when the scenario gives none: 70 % taxis, 20 % buses, 10 % hazmat trucks.", DefaultValueFactory = _ => 100 };
        var duration = new Option<double>("--duration") { Description = "Simulated seconds.", DefaultValueFactory = _ => 3600 };
        var start = new Option<string>("--start") { Description = "Start time, RFC 3339; its UTC offset is the local time zone.", DefaultValueFactory = _ => "2026-01-05T08:00:00+08:00" };
        var seed = new Option<int>("--seed") { Description = "Random seed: the same seed gives the same bytes.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out", "-o") { Description = "The probes file to write (NDJSON); truth.ndjson, vehicles.ndjson and zones.geojson go beside it.", Required = true };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var toKafka = new Option<string?>("--to-kafka") { Description = "Write the probes to this Kafka topic (keyed by vehicle id) instead of the --out file; truth, vehicles and zones still go beside --out. Needs --bootstrap-servers (e.g. from 'traffic broker')." };
        var speed = new Option<double>("--speed") { Description = "With --to-kafka: real time × this factor, paced by the probes' times; 0: as fast as possible.", DefaultValueFactory = _ => 0 };
        var kafka = new KafkaOptions();
        var command = new Command("simulate", "Simulate a fleet on a road network: GPS probes as NDJSON and their ground truth.")
        {
            network, gtfs, scenario, vehicles, duration, start, seed, output, quiet, toKafka, speed,
        };
        kafka.AddTo(command);
        command.SetAction(parse =>
        {
            if (!DateTimeOffset.TryParse(parse.GetValue(start), CultureInfo.InvariantCulture, DateTimeStyles.None, out var startTime))
                throw new FormatException($"--start: not an RFC 3339 time: {parse.GetValue(start)}");
            double seconds = parse.GetValue(duration);
            if (!(seconds > 0)) throw new ArgumentException("--duration must be a positive number of seconds");
            if (parse.GetValue(vehicles) < 0) throw new ArgumentException("--vehicles must not be negative");
            var clock = Stopwatch.StartNew();
            RoadNetwork net = NetworkImport.Read(parse.GetValue(network)!, out _);
            var options = new SimulationOptions
            {
                Vehicles = parse.GetValue(vehicles),
                DurationS = seconds,
                Start = startTime,
                Seed = parse.GetValue(seed),
                Scenario = parse.GetValue(scenario) is string s ? Scenario.Load(s) : new Scenario(),
                Gtfs = parse.GetValue(gtfs) is string g ? GtfsFeed.ReadFor(g, startTime, seconds) : null,
            };
            var sim = new FleetSimulator(net, options);
            bool loud = !parse.GetValue(quiet);
            var progress = loud && !Console.IsErrorRedirected ? new ConsoleProgress() : null;
            string outPath = parse.GetValue(output)!;
            SimulationSummary summary;
            if (parse.GetValue(toKafka) is { } topic)
            {
                string bootstrap = kafka.BootstrapOf(parse) ?? throw new ArgumentException("--to-kafka needs --bootstrap-servers (start the embedded cluster with 'traffic broker')");
                if (parse.GetValue(speed) < 0) throw new ArgumentException("--speed must not be negative");
                using var writer = new KafkaProbeWriter(kafka.Connect(parse, bootstrap), topic, parse.GetValue(speed));
                summary = sim.Run(outPath, progress, writer);
                writer.Flush();
                if (loud) Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"produced {writer.Produced:N0} messages to {topic} at {bootstrap}"));
            }
            else summary = sim.Run(outPath, progress);
            if (loud)
            {
                if (progress != null) Console.Error.WriteLine();
                double secs = clock.Elapsed.TotalSeconds;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {(parse.GetValue(toKafka) is { } t ? "topic " + t : outPath)}: {summary.ProbeLines:N0} lines from {summary.ProbesGenerated:N0} probes of {summary.Vehicles:N0} vehicles, {summary.Events:N0} events in the truth; {secs:N1} s ({summary.ProbesGenerated / Math.Max(secs, 1e-9):N0} probes/s)"));
                if (net.Source == NetworkSource.OpenStreetMap) Console.Out.WriteLine("Road data © OpenStreetMap contributors, ODbL 1.0.");
            }
            return 0;
        });
        return command;
    }

    // Synchronous, unlike Progress<T>, whose callbacks run later on the thread pool and can land after the summary.
    private sealed class ConsoleProgress : IProgress<double>
    {
        public void Report(double value) => Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\rsimulated {value:P0}  "));
    }
}
