using Traffic.Engine.Alerts;
using Traffic.Engine.Rules;
using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;

namespace Traffic.Engine.Tests.Rules;

public class CongestionRuleTests
{
    private static readonly long s_t0 = new DateTimeOffset(2025, 11, 25, 2, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>One-minute windows of one segment at the given speeds (free flow 50 km/h).</summary>
    private static List<AlertEvent> Windows(params double[] speeds)
    {
        var rule = new CongestionRule(SimRun.Shenzhen);
        var alerts = new List<AlertEvent>();
        for (int i = 0; i < speeds.Length; i++)
        {
            long start = s_t0 + (i * 60_000);
            var w = new SegmentStat(5, start, start + 60_000, 6, speeds[i], 50, 30, CongestionLevel.Of(speeds[i], 50));
            rule.OnWindow(w, alerts);
        }
        return alerts;
    }

    [Fact]
    public void A_slowdown_lasting_three_windows_opens_congestion_escalates_and_closes_with_hysteresis()
    {
        // 45 (1) … 18 (4) 18 (4) 12 (5) 18 (4) 30 (2) 45 (1): opens at the third congested window, updates at 12, closes after two clear.
        var alerts = Windows(45, 45, 18, 18, 18, 12, 18, 30, 45, 45);
        var congestion = alerts.Where(a => a.Kind == "congestion").ToList();
        Assert.Equal([AlertState.Open, AlertState.Update, AlertState.Close], congestion.Select(a => a.State));
        Assert.Equal(s_t0 + (2 * 60_000), congestion[0].StartMs);
        Assert.Equal(5, congestion[1].Severity);
        Assert.Single(congestion.Select(a => a.AlertId).Distinct());
    }

    [Fact]
    public void A_short_or_light_slowdown_raises_no_congestion()
    {
        Assert.DoesNotContain(Windows(45, 18, 18, 45, 45), a => a.Kind == "congestion");   // two windows only
        Assert.DoesNotContain(Windows(45, 24, 24, 24, 24, 45), a => a.Kind == "congestion"); // light (level 3)
    }

    [Fact]
    public void A_sudden_collapse_raises_an_incident()
    {
        var alerts = Windows(48, 46, 47, 8, 8, 8, 45, 45);
        var incident = alerts.Where(a => a.Kind == "incident").ToList();
        Assert.Equal([AlertState.Open, AlertState.Close], incident.Select(a => a.State));
        Assert.True(incident[0].Evidence["recent_speed_kmh"] > 40);
        Assert.DoesNotContain(Windows(30, 24, 20, 17, 15, 14), a => a.Kind == "incident"); // a gradual slowdown is congestion, not an incident
    }
}
