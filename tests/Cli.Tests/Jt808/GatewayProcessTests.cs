using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Traffic.Connectors.Jt808;
using Traffic.Testing;

namespace Traffic.Cli.Tests.Jt808;

/// <summary><c>traffic gateway</c> as an operator runs it: a process on a port, a terminal reporting to it, SIGTERM to stop.</summary>
public partial class GatewayProcessTests
{
    [GeneratedRegex(@"listening on (\S+):(\d+) ")]
    private static partial Regex Listening();

    [Fact]
    public void A_terminal_reporting_to_the_gateway_process_gives_probe_lines_and_SIGTERM_ends_it_with_its_counts()
    {
        string dir = TestDirectory.New("gateway");
        string probes = Path.Combine(dir, "probes.ndjson"), dead = Path.Combine(dir, "dead.ndjson");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "traffic.dll"), "gateway", "--listen", "127.0.0.1:0", "--out", probes, "--dead-letter", dead, "-q" })
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        try
        {
            Match m = Listening().Match(process.StandardOutput.ReadLine() ?? "");
            Assert.True(m.Success, "no 'listening on' line");
            int port = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            long t = new DateTimeOffset(2026, 3, 1, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            using (var client = new TcpClient())
            {
                client.Connect(IPAddress.Loopback, port);
                NetworkStream s = client.GetStream();
                byte[] body = Jt808Messages.PositionBody(new Jt808Position(0, 0x3, 22.5401, 113.9302, 0, 52.3f, 181, t));
                s.Write(Jt808Frame.Build(Jt808Messages.PositionReport, "064612345678", 1, body));
                s.Write([0x7e, 0x01, 0x02, 0x7e]); // too short to be a message
                var reply = new byte[64];
                s.ReadTimeout = 20_000;
                Assert.True(s.Read(reply) > 0);
            }
            var deadline = Stopwatch.StartNew();
            while ((!File.Exists(dead) || new FileInfo(dead).Length == 0) && deadline.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(50);
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            Assert.True(process.WaitForExit(30_000), "the gateway did not stop on SIGTERM");
            Assert.Equal(0, process.ExitCode);
            string counts = process.StandardOutput.ReadToEnd();
            Assert.Contains("probes 1,", counts, StringComparison.Ordinal);
            Assert.Contains("frame:too_short 1", counts, StringComparison.Ordinal);

            var line = JsonDocument.Parse(Assert.Single(File.ReadAllLines(probes))).RootElement;
            Assert.Equal("064612345678", line.GetProperty("vehicle_id").GetString());
            Assert.Equal(t, line.GetProperty("time").GetInt64());
            Assert.Equal(52.3, line.GetProperty("speed_kmh").GetDouble(), 3);
            Assert.Equal("frame:too_short", JsonDocument.Parse(Assert.Single(File.ReadAllLines(dead))).RootElement.GetProperty("code").GetString());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void The_gateway_refuses_to_start_without_exactly_one_output()
    {
        var (exit, _, error) = CliRunner.Run("gateway", "--listen", "127.0.0.1:0");
        Assert.NotEqual(0, exit);
        Assert.Contains("exactly one of --to-kafka", error, StringComparison.Ordinal);
        (exit, _, error) = CliRunner.Run("gateway", "--listen", "nowhere", "--out", "x.ndjson");
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--listen 'nowhere'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_already_taken_is_one_line_and_a_non_zero_exit_not_a_stack_trace()
    {
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        int port = ((IPEndPoint)other.LocalEndpoint).Port;
        string dir = TestDirectory.New("gateway-port");
        var (exit, _, error) = CliRunner.Run("gateway", "--listen", $"127.0.0.1:{port}", "--out", Path.Combine(dir, "p.ndjson"),
            "--dead-letter", Path.Combine(dir, "d.ndjson"));
        Assert.NotEqual(0, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains($"--listen 127.0.0.1:{port}", error, StringComparison.Ordinal);
    }
}
