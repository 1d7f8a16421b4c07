using System.Text;
using Traffic.Connectors.Kafka;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>The engine tests' helpers, tested too: the comparison of two runs' outputs and the simulated input.</summary>
public class EngineHarnessTests
{
    private static TopicRecord Record(string key, string value, string? header = null) => new("t", 0, 0, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value),
        header == null ? new Dictionary<string, byte[]>() : new Dictionary<string, byte[]> { ["event"] = Encoding.UTF8.GetBytes(header) });

    private static EngineOutputs Outputs(params (string Topic, TopicRecord Record)[] records)
    {
        var outputs = new EngineOutputs();
        foreach (string topic in EngineOutputs.TopicNames) outputs.Records[topic] = [];
        foreach (var (topic, r) in records) outputs.Records[topic][Encoding.UTF8.GetString(r.Key!)] = r;
        return outputs;
    }

    [Fact]
    public void Differences_finds_missing_extra_and_changed_records_and_headers()
    {
        var a = Outputs(("alerts", Record("a1", "{}", "open@1")), ("segments", Record("s1", "{\"v\":3}")), ("late", Record("l1", "x")));
        Assert.Empty(a.Differences(Outputs(("alerts", Record("a1", "{}", "open@1")), ("segments", Record("s1", "{\"v\":3}")), ("late", Record("l1", "x")))));

        var b = Outputs(("alerts", Record("a1", "{}", "close@1")), ("segments", Record("s1", "{\"v\":4}")), ("matched", Record("m1", "")));
        var found = a.Differences(b);
        Assert.Contains("alerts: a1 differs", found);
        Assert.Contains("segments: s1 differs", found);
        Assert.Contains("late: l1 only in the first", found);
        Assert.Contains("matched: m1 only in the second", found);
        Assert.Equal(4, found.Count);
    }

    [Fact]
    public void The_simulated_input_has_malformed_unkeyed_and_future_probes_among_many_good_ones()
    {
        var input = SimulatedInput.Instance;
        Assert.True(input.Lines.Length > 5000);
        Assert.True(input.FutureProbes >= 3);
        Assert.True(input.LateProbes >= 2);
        Assert.True(input.Lines.Count(l => l.StartsWith("{\"vehicle_id\":\"LATE", StringComparison.Ordinal)) == input.LateProbes);
        Assert.True(input.Malformed > input.FutureProbes + 10);
        static bool Ours(string l) => l.StartsWith("garbage line", StringComparison.Ordinal)
            || (l.StartsWith("{\"vehicle_id\":", StringComparison.Ordinal) && char.IsAsciiDigit(l["{\"vehicle_id\":".Length]));
        int ours = input.Lines.Count(Ours);
        Assert.True(ours >= 3);
        Assert.Contains(input.Lines, l => l.StartsWith("garbage line", StringComparison.Ordinal));
        // The simulator's own malformed lines are there too, not only ours.
        Assert.True(input.Lines.Count(l => !SimulatedInput.Decodes(l)) - ours > 5);
        Assert.True(File.Exists(input.Registry) && File.Exists(input.Zones));
    }
}
