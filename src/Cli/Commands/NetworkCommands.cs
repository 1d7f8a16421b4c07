using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Traffic.Geo.Import;
using Traffic.Geo.Network;

namespace Traffic.Cli.Commands;

/// <summary><c>traffic network build</c> and <c>traffic network info</c>.</summary>
internal static class NetworkCommands
{
    public static Command Create()
    {
        var network = new Command("network", "Build and describe road networks.");
        network.Subcommands.Add(CreateBuild());
        network.Subcommands.Add(CreateInfo());
        return network;
    }

    private static Command CreateBuild()
    {
        var input = new Argument<string>("input") { Description = "Road network input: " + NetworkImport.Formats + "." };
        var output = new Option<string>("--output", "-o") { Description = "The network file to write (.tnet).", Required = true };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var country = new Option<string?>("--country")
        {
            Description = "The country whose default speed limits apply to OSM ways without maxspeed (ISO 3166-1 alpha-2, e.g. CN, MC); "
                + "by default the one the file's addr:country and boundary tags name most, else CN.",
        };
        country.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } c && !Traffic.Geo.Import.Osm.DefaultSpeedLimits.TryCountryCode(c, out _))
                r.AddError($"--country '{c}' is not an ISO 3166-1 alpha-2 code (two letters, such as CN or MC)");
        });
        var build = new Command("build", "Import a road network and write it as a compact binary network file.") { input, output, country, quiet };
        build.SetAction(parse =>
        {
            string inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!;
            var clock = Stopwatch.StartNew();
            RoadNetwork net = NetworkImport.Read(inPath, out ImportReport report, parse.GetValue(country));
            NetworkFile.Write(net, outPath);
            if (!parse.GetValue(quiet))
            {
                var o = Console.Out;
                o.WriteLine(net.Source == NetworkSource.Kubicka
                    ? string.Create(CultureInfo.InvariantCulture, $"read {report.NodesRead:N0} nodes, {report.WaysRead:N0} arcs (a Kubicka graph: no names, limits nor one-way tags)")
                    : string.Create(CultureInfo.InvariantCulture,
                        $"read {report.NodesRead:N0} nodes, {report.WaysRead:N0} ways, {report.RelationsRead:N0} relations; kept {report.RoadWays:N0} road ways"));
                foreach (var (reason, count) in report.Skips) o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  skipped {count:N0}: {reason}"));
                if (report.Country != null) o.WriteLine($"default speed limits of {report.Country} ({report.CountrySource})");
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {outPath}: {net.NodeCount:N0} nodes, {net.EdgeCount:N0} edges, {new FileInfo(outPath).Length / 1024.0:N0} KiB in {clock.Elapsed.TotalSeconds:N2} s"));
                if (net.Source == NetworkSource.OpenStreetMap) o.WriteLine("Road data © OpenStreetMap contributors, ODbL 1.0.");
            }
            return 0;
        });
        return build;
    }

    private static Command CreateInfo()
    {
        var file = new Argument<string>("file") { Description = "A network file (.tnet), or any input 'network build' accepts." };
        var top = new Option<int>("--top") { Description = "How many named roads to list.", DefaultValueFactory = _ => 10 };
        var info = new Command("info", "Describe a road network: counts, length, extent, road classes and the main named roads.") { file, top };
        info.SetAction(parse =>
        {
            RoadNetwork net = NetworkImport.Read(parse.GetValue(file)!, out _);
            Traffic.Geo.Network.NetworkSummary.Write(net, Console.Out, parse.GetValue(top));
            return 0;
        });
        return info;
    }
}
