using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Traffic.Connectors.Jt808;
using Traffic.Connectors.Kafka;

namespace Traffic.Cli.Commands;

/// <summary>
/// <c>traffic gateway</c>: a TCP gateway for JT/T 808 vehicle terminals. Their position reports become probe lines, on
/// the probes topic (keyed by vehicle, for <c>traffic engine</c>) or in an NDJSON file (for <c>traffic replay</c>).
/// </summary>
internal static class GatewayCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "Address and port to listen on for terminals.", DefaultValueFactory = _ => "0.0.0.0:7808" };
        var toKafka = new Option<string?>("--to-kafka") { Description = "Write the probes to this Kafka topic (keyed by vehicle id), e.g. traffic.probes. Needs --bootstrap-servers." };
        var output = new Option<string?>("--out", "-o") { Description = "Write the probes to this NDJSON file instead (appended)." };
        var dead = new Option<string>("--dead-letter") { Description = "Where frames that cannot be read go (NDJSON, appended).", DefaultValueFactory = _ => "jt808-dead-letter.ndjson" };
        var idle = new Option<int>("--idle-timeout") { Description = "Close a connection silent for this many seconds.", DefaultValueFactory = _ => 300 };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors and the final counts." };
        var kafka = new KafkaOptions();
        var command = new Command("gateway", "Accept JT/T 808 (2013/2019) terminals over TCP: answer registration, authentication and heartbeats, and write each position report as a probe to a Kafka topic or an NDJSON file. Runs until stopped (Ctrl+C, SIGTERM).")
        {
            listen, toKafka, output, dead, idle, quiet,
        };
        kafka.AddTo(command);
        command.SetAction(async (parse, cancel) =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out IPEndPoint? endpoint)) throw new ArgumentException($"--listen '{parse.GetValue(listen)}' is not an address and port");
            if (parse.GetValue(idle) < 1) throw new ArgumentException("--idle-timeout must be at least 1 second");
            string? topic = parse.GetValue(toKafka);
            string? file = parse.GetValue(output);
            if ((topic == null) == (file == null)) throw new ArgumentException("give exactly one of --to-kafka <topic> and --out <file>");
            Stream probes;
            if (topic != null)
            {
                string bootstrap = kafka.BootstrapOf(parse) ?? throw new ArgumentException("--to-kafka needs --bootstrap-servers (start the embedded cluster with 'traffic broker')");
                probes = new KafkaProbeWriter(kafka.Connect(parse, bootstrap), topic);
            }
            else
            {
                probes = new FileStream(file!, FileMode.Append, FileAccess.Write, FileShare.Read);
            }
            await using (probes.ConfigureAwait(false))
            await using (var deadLetters = new FileStream(parse.GetValue(dead)!, FileMode.Append, FileAccess.Write, FileShare.Read))
            {
                var gateway = new Jt808Gateway(endpoint, probes, deadLetters, new Jt808GatewayOptions { IdleTimeout = TimeSpan.FromSeconds(parse.GetValue(idle)) });
                await using (gateway.ConfigureAwait(false))
                {
                    try
                    {
                        gateway.Start();
                    }
                    catch (SocketException e)
                    {
                        // A port another process holds, an address not this host's: the operator's to change, in one line.
                        throw new IOException($"--listen {endpoint}: {e.Message}", e);
                    }
                    bool loud = !parse.GetValue(quiet);
                    Console.Out.WriteLine($"listening on {gateway.LocalEndPoint} for JT/T 808 terminals; probes to {(topic != null ? "topic " + topic : file)}");
                    Console.Out.Flush();
                    using var status = loud ? new Timer(_ => Console.Error.WriteLine(Status(gateway.Counters)), null, 10_000, 10_000) : null;
                    try
                    {
                        await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Ctrl+C or SIGTERM: stop accepting, write out what was queued.
                    }
                }
                Console.Out.WriteLine(Status(gateway.Counters));
            }
            return 0;
        });
        return command;
    }

    private static string Status(Jt808Counters c) => string.Create(CultureInfo.InvariantCulture,
        $"connections {c.Connections:N0}, frames {c.Frames:N0}, probes {c.Probes:N0}, not supported {c.Unsupported:N0}, dead letters {c.DeadLetters:N0}")
        + (c.ByReason.Count == 0 ? "" : " (" + string.Join(", ", c.ByReason.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} {r.Value}")) + ")")
        + (c.Faults == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"; the gateway failed on {c.Faults:N0} frames, a defect (last: {c.LastFault})"));
}
