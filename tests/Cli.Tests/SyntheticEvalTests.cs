using System.Globalization;
using System.Text.RegularExpressions;
using Traffic.Cli.Commands;
using Traffic.Geo.Import;
using Traffic.Testing;

namespace Traffic.Cli.Tests;

/// <summary><c>traffic eval synthetic</c> on the fleet simulator's taxis, and the truth it reads back from the simulator.</summary>
public class SyntheticEvalTests
{
    private static readonly Lazy<Traffic.Geo.Network.RoadNetwork> s_net = new(() =>
        NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    [Fact]
    public void Simulated_drives_are_connected_routes_that_the_samples_follow()
    {
        var net = s_net.Value;
        var drives = SimulatedDrives.Run(net, 4, 600, 3);
        Assert.Equal(4, drives.Count);
        foreach (var d in drives)
        {
            Assert.Equal(600, d.Samples.Length); // one a second
            for (int i = 0; i + 1 < d.Route.Length; i++)
                Assert.True(net.To(d.Route[i]) == net.From(d.Route[i + 1]), $"route breaks between edges {d.Route[i]} and {d.Route[i + 1]}");
            for (int i = 0; i < d.Samples.Length; i++)
            {
                var s = d.Samples[i];
                Assert.Equal(s.Edge, d.Route[s.RouteIndex]);
                if (i > 0) Assert.True(s.RouteIndex >= d.Samples[i - 1].RouteIndex);
                var (lon, lat) = net.PointAt(s.Edge, s.OffsetM);
                Assert.True(Traffic.Geo.GeoMath.Distance(lon, lat, s.Lon, s.Lat) < 0.5, "the truth's position is on its edge at its offset");
            }
        }
        // Taxis drive and also stand (at ranks between fares, at the end of a trip).
        var all = drives.SelectMany(d => d.Samples.Zip(d.Samples.Skip(1))).ToList();
        Assert.Contains(all, p => p.First.Edge == p.Second.Edge && p.First.OffsetM == p.Second.OffsetM);
        Assert.True(drives.Sum(d => d.Route.Length) > 40, "the taxis drove");
    }

    [Fact]
    public void Sampling_keeps_every_nth_second_with_noise()
    {
        var drive = SimulatedDrives.Run(s_net.Value, 1, 300, 5)[0];
        var (probes, route) = drive.Probes(15, 10, new Random(1));
        Assert.Equal(20, probes.Length);
        Assert.Same(drive.Route, route);
        for (int i = 0; i < probes.Length; i++)
        {
            var s = drive.Samples[15 * i];
            Assert.Equal(s.TimeMs, probes[i].Probe.TimeMs);
            Assert.Equal(s.Edge, probes[i].TrueEdge);
            Assert.True(Traffic.Geo.GeoMath.Distance(s.Lon, s.Lat, probes[i].Probe.Lon, probes[i].Probe.Lat) < 60);
        }
        Assert.Contains(probes, p => p.Probe.Lon != drive.Samples[(int)p.Probe.Id].Lon);
    }

    [Fact]
    public void Reported_speed_and_heading_leave_positions_as_they_were()
    {
        var net = s_net.Value;
        var drive = SimulatedDrives.Run(net, 1, 600, 5)[0];
        var (plain, _) = drive.Probes(5, 10, new Random(1));
        var (reported, _) = drive.Probes(5, 10, new Random(1), net, Traffic.Geo.Evaluation.ReportedCourse.Speed | Traffic.Geo.Evaluation.ReportedCourse.Heading, new Random(2));
        Assert.Equal(plain.Length, reported.Length);
        for (int i = 0; i < plain.Length; i++)
        {
            var s = drive.Samples[(int)plain[i].Probe.Id];
            Assert.Equal(plain[i].Probe.Lon, reported[i].Probe.Lon);
            Assert.Equal(plain[i].Probe.Lat, reported[i].Probe.Lat);
            Assert.True(float.IsNaN(plain[i].Probe.SpeedKmh) && float.IsNaN(plain[i].Probe.Heading));
            if (s.SpeedKmh == 0)
            {
                // Standing: speed 0, no heading, as units report.
                Assert.Equal(0, reported[i].Probe.SpeedKmh);
                Assert.True(float.IsNaN(reported[i].Probe.Heading));
            }
            else
            {
                Assert.InRange(reported[i].Probe.SpeedKmh, Math.Max(0, s.SpeedKmh - 10), s.SpeedKmh + 10); // 2 km/h noise: 5 sigma
                double d = Traffic.Geo.GeoMath.BearingDifference(reported[i].Probe.Heading, net.BearingAt(s.Edge, s.OffsetM));
                Assert.True(Math.Abs(d) < 25, $"heading off by {d}°"); // 5° noise: 5 sigma
            }
        }
        Assert.Contains(reported, p => p.Probe.SpeedKmh > 10);
        Assert.Contains(reported, p => p.Probe.SpeedKmh == 0);
    }

    [Fact]
    public void Eval_synthetic_prints_a_table_from_the_simulator()
    {
        string osm = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, output, error) = CliRunner.Run("eval", "synthetic", osm, "--vehicles", "4", "--minutes", "10");
        Assert.True(exit == 0, error);
        Assert.Contains("4 simulated taxis, 10 minutes each", output, StringComparison.Ordinal);
        var rows = output.Split('\n').Where(l => Regex.IsMatch(l, @"^\| \d+ m \|")).ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal(5, Regex.Count(r, @"\d+\.\d / \d+\.\d")));
        Assert.StartsWith("Online matching", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_synthetic_matches_offline_when_asked()
    {
        string osm = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, output, error) = CliRunner.Run("eval", "synthetic", osm, "--source", "trips", "--vehicles", "2", "--route-km", "2", "--mode", "offline");
        Assert.True(exit == 0, error);
        Assert.StartsWith("Offline matching", output, StringComparison.Ordinal);
        Assert.Equal(3, output.Split('\n').Count(l => Regex.IsMatch(l, @"^\| \d+ m \|")));
        (exit, _, _) = CliRunner.Run("eval", "synthetic", osm, "--mode", "sideways");
        Assert.NotEqual(0, exit);
        (exit, output, error) = CliRunner.Run("eval", "synthetic", osm, "--source", "trips", "--vehicles", "2", "--route-km", "2", "--reported", "speed,heading");
        Assert.True(exit == 0, error);
        Assert.StartsWith("Probes report Speed, Heading", output, StringComparison.Ordinal);
        Assert.Equal(3, output.Split('\n').Count(l => Regex.IsMatch(l, @"^\| \d+ m \|")));
    }

    [Fact]
    public void Eval_synthetic_runs_the_cells_asked_for_and_breaks_their_errors_down()
    {
        string osm = SharedData.Path("osm", "shenzhen-nanshan.osm");
        var (exit, output, error) = CliRunner.Run("eval", "synthetic", osm, "--source", "trips", "--vehicles", "4", "--route-km", "3",
            "--noise", "20", "--interval", "15", "30", "--errors");
        Assert.True(exit == 0, error);
        Assert.Contains("| noise sigma | 15 s | 30 s |", output, StringComparison.Ordinal);
        var row = Assert.Single(output.Split('\n'), l => Regex.IsMatch(l, @"^\| \d+ m \|"));
        Assert.StartsWith("| 20 m |", row, StringComparison.Ordinal);
        var cells = Regex.Matches(row, @"(\d+\.\d) / (\d+\.\d)");
        Assert.Equal(2, cells.Count);

        // One block a cell; its total agrees with the cell's route accuracy and with its table by road class.
        var totals = Regex.Matches(output, @"\n(20 m / (?:15|30) s): (\d+) m of route error over (\d+) m driven");
        Assert.Equal(["20 m / 15 s", "20 m / 30 s"], totals.Select(m => m.Groups[1].Value));
        for (int i = 0; i < 2; i++)
        {
            double errorM = double.Parse(totals[i].Groups[2].Value, CultureInfo.InvariantCulture);
            double drivenM = double.Parse(totals[i].Groups[3].Value, CultureInfo.InvariantCulture);
            double accuracy = double.Parse(cells[i].Groups[2].Value, CultureInfo.InvariantCulture);
            Assert.InRange(100 * (1 - (errorM / drivenM)), accuracy - 0.06, accuracy + 0.06);
            string block = output[totals[i].Index..(i == 0 ? totals[1].Index : output.Length)];
            var byClass = block.Split('\n').SkipWhile(l => !l.StartsWith("| road class |", StringComparison.Ordinal)).Skip(2)
                .TakeWhile(l => l.StartsWith('|')).Select(l => l.Split('|', StringSplitOptions.TrimEntries)).ToList();
            Assert.NotEmpty(byClass);
            double sum = byClass.Sum(c => double.Parse(c[2], CultureInfo.InvariantCulture) + double.Parse(c[3], CultureInfo.InvariantCulture));
            Assert.InRange(sum, errorM - byClass.Count, errorM + byClass.Count); // each figure rounded to the metre
            Assert.Contains("| trace | missed m | matched, not driven m |", block, StringComparison.Ordinal);

            // The runs where the matched route parts from the true one, by kind: a run matched only drove nothing true.
            var byKind = block.Split('\n').SkipWhile(l => !l.StartsWith("| kind of run |", StringComparison.Ordinal)).Skip(2)
                .TakeWhile(l => l.StartsWith('|')).Select(l => l.Split('|', StringSplitOptions.TrimEntries)).ToList();
            Assert.NotEmpty(byKind);   // 20 m of noise leaves errors
            foreach (var k in byKind)
            {
                Assert.True(int.Parse(k[2], CultureInfo.InvariantCulture) > 0, k[1]);
                if (k[1].StartsWith("matched only", StringComparison.Ordinal)) Assert.Equal("0", k[3]);
                if (k[1].StartsWith("missed only", StringComparison.Ordinal)) Assert.Equal("0", k[4]);
            }
        }
    }
}
