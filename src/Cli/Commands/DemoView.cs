using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Traffic.Connectors.Kafka;

namespace Traffic.Cli.Commands;

/// <summary>
/// The demo's live terminal view (Spectre.Console): throughput, consumer lag, rejected and late counts, the network
/// traffic performance index of the newest window, open alerts by kind and the most congested roads by name; or a plain status line when the output is not a terminal.
/// </summary>
internal sealed class DemoView(EngineCounters counters)
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    /// <summary>Shows the view until the producer is done and the engine has consumed everything (or the engine fails).</summary>
    public async Task WatchAsync(bool live, Task producer, Task engine, long expected, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        long lastConsumed = 0;
        double lastTime = 0, rate = 0;
        long idleSince = -1, stillSince = -1, stillAt = -1;
        bool Done()
        {
            if (engine.IsCompleted || cancel.IsCancellationRequested) return true;
            if (!producer.IsCompleted) return false;
            // Caught up: nothing left in the probes topic and the counters stand still for a moment. Every probe read, or
            // lost to the embedded cluster's retention (the engine saw the offsets jump), or none read for 10 s with
            // nothing left to read (a loss it could not see): the summary says what was lost.
            long consumed = counters.Consumed, now = clock.ElapsedMilliseconds;
            if (consumed != stillAt) (stillAt, stillSince) = (consumed, now);
            bool all = consumed + counters.LostRecords >= expected || now - stillSince > 10_000;
            if (all && counters.ProbeLag == 0)
            {
                if (idleSince < 0) idleSince = now;
                return now - idleSince > 3000;
            }
            idleSince = -1;
            return false;
        }
        void Sample()
        {
            double now = clock.Elapsed.TotalSeconds;
            long consumed = counters.Consumed;
            if (now - lastTime >= 1)
            {
                rate = (consumed - lastConsumed) / (now - lastTime);
                lastConsumed = consumed;
                lastTime = now;
            }
        }
        if (live)
        {
            await AnsiConsole.Live(Render(0, expected, 0)).AutoClear(false).StartAsync(async ctx =>
            {
                while (!Done())
                {
                    Sample();
                    ctx.UpdateTarget(Render(rate, expected, clock.Elapsed.TotalSeconds));
                    await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
                }
                Sample();
                ctx.UpdateTarget(Render(rate, expected, clock.Elapsed.TotalSeconds));
            }).ConfigureAwait(false);
        }
        else
        {
            long lastPrint = 0;
            while (!Done())
            {
                Sample();
                if (clock.ElapsedMilliseconds - lastPrint >= 5000)
                {
                    lastPrint = clock.ElapsedMilliseconds;
                    Console.Out.WriteLine(StatusLine(rate, expected));
                }
                await Task.Delay(250, CancellationToken.None).ConfigureAwait(false);
            }
            Console.Out.WriteLine(StatusLine(rate, expected));
        }
        if (engine.IsFaulted) await engine.ConfigureAwait(false);
    }

    private string StatusLine(double rate, long expected) => string.Create(s_ci,
        $"consumed {counters.Consumed:N0}/{expected:N0} ({rate:N0}/s), lag {counters.ProbeLag:N0}, rejected {counters.Rejected:N0}, late {counters.Late:N0}, network index {IndexText()}, open alerts: {OpenAlerts()}");

    private string IndexText()
    {
        var index = counters.NetworkIndex;
        return index.WindowStartMs == long.MinValue ? "-" : string.Create(s_ci, $"{index.Tpi:F1} (level {index.Level}) at {Local(index.WindowStartMs)}");
    }

    private string OpenAlerts()
    {
        var open = counters.AlertsOpen.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}").ToList();
        return open.Count == 0 ? "none" : string.Join(", ", open);
    }

    private Grid Render(double rate, long expected, double seconds)
    {
        var stats = new Table().Border(TableBorder.Rounded).Title("[bold]Traffic engine[/] on Kafka").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        stats.AddRow("probes consumed", string.Create(s_ci, $"{counters.Consumed:N0} / {expected:N0}"));
        stats.AddRow("probes/s", string.Create(s_ci, $"{rate:N0}"));
        stats.AddRow("consumer lag", string.Create(s_ci, $"{counters.ProbeLag:N0}"));
        stats.AddRow("rejected (dead letter)", string.Create(s_ci, $"{counters.Rejected:N0}"));
        stats.AddRow("late", string.Create(s_ci, $"{counters.Late:N0}"));
        stats.AddRow("matched", string.Create(s_ci, $"{counters.Matched:N0}"));
        stats.AddRow("segment windows published", string.Create(s_ci, $"{counters.SegmentRows:N0}"));
        stats.AddRow("5-minute views published", string.Create(s_ci, $"{counters.SegmentViews:N0}"));
        var index = counters.NetworkIndex;
        var (_, _, peak) = counters.NetworkIndexSummary;
        stats.AddRow("network index (TPI 0-10)", index.WindowStartMs == long.MinValue ? "-"
            : string.Create(s_ci, $"{index.Tpi:F1} {Level(index.Level)} at {Local(index.WindowStartMs)}, peak {peak:F1}"));
        stats.AddRow("event time", counters.NewestEventMs == long.MinValue ? "-" : DateTimeOffset.FromUnixTimeMilliseconds(counters.NewestEventMs).ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", s_ci));
        stats.AddRow("elapsed", string.Create(s_ci, $"{seconds:N0} s"));

        var alerts = new Table().Border(TableBorder.Rounded).Title("alerts").AddColumn("kind").AddColumn(new TableColumn("open").RightAligned()).AddColumn(new TableColumn("opened").RightAligned());
        foreach (var (kind, opened) in counters.AlertsOpened.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            alerts.AddRow(Markup.Escape(kind), string.Create(s_ci, $"{counters.AlertsOpen.GetValueOrDefault(kind)}"), string.Create(s_ci, $"{opened:N0}"));

        var roads = new Table().Border(TableBorder.Rounded).Title("most congested roads (newest window)").AddColumn("road").AddColumn("level").AddColumn(new TableColumn("km/h").RightAligned()).AddColumn(new TableColumn("free flow").RightAligned());
        long newest = counters.Roads.IsEmpty ? 0 : counters.Roads.Values.Max(r => r.WindowStartMs);
        foreach (var (road, r) in counters.Roads.Where(kv => kv.Value.WindowStartMs >= newest - 300_000)
                     .OrderByDescending(kv => kv.Value.Level).ThenBy(kv => kv.Value.SpeedKmh / Math.Max(kv.Value.FreeFlowKmh, 1)).Take(6))
            roads.AddRow(Markup.Escape(road), Level(r.Level), string.Create(s_ci, $"{r.SpeedKmh:N0}"), string.Create(s_ci, $"{r.FreeFlowKmh:N0}"));

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow(stats, alerts);
        grid.AddRow(roads, new Text(""));
        return grid;
    }

    private static string Local(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToOffset(TimeSpan.FromHours(8)).ToString("HH:mm", s_ci);

    private static string Level(int level) => level switch
    {
        >= 5 => "[red]5 严重拥堵[/]",
        4 => "[darkorange]4 中度拥堵[/]",
        3 => "[yellow]3 轻度拥堵[/]",
        2 => "[green]2 基本畅通[/]",
        _ => "[green]1 畅通[/]",
    };
}
