using System.Text;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// The embedded cluster keeps only about 5 MiB per partition. An engine that falls further behind finds its next
/// offset gone ("Offset out of range"), and the consumer resets to the oldest record still there: the records in
/// between are lost, and the engine must say so (counted and logged), never carry on silently.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
public sealed class RetentionJumpTests(ITestOutputHelper output)
{
    private const long T0 = 1_767_571_200_000;

    private static string Probe(string vehicle, long i, int padding = 0) =>
        $$"""{"vehicle_id":"{{vehicle}}","time":{{T0 + i * 1000}},"lon":{{113.93 + i % 100 * 1e-5:F5}},"lat":22.52,"speed_kmh":20""" +
        (padding > 0 ? $",\"pad\":\"{new string('x', padding)}\"" : "") + "}";

    // About 8 MiB of probes of 100 kB each: the partition can keep only the newest 5 MiB of them.
    private static IEnumerable<string> Flood(long from) => Enumerable.Range(0, 80).Select(i => Probe("T1", from + i, 100_000));

    [Fact]
    [Trait("Category", "Slow")]
    public void Records_dropped_before_a_new_engine_first_read_its_partition_are_counted_and_logged()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics(probePartitions: 1));
        EngineHarness.Produce(kafka, Flood(0));
        var (low, high) = kafka.Watermarks(kafka.Topics.Probes, 0);
        output.WriteLine($"probes partition 0 holds offsets {low} to {high}");
        Assert.True(low > 0, "the cluster kept all 8 MiB: the test shows nothing");

        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka));
        try
        {
            engine.WaitUntilProcessed(high - low);
            engine.Stop();
        }
        finally
        {
            foreach (string line in engine.Log) output.WriteLine(line);
        }
        Assert.Equal(high - low, engine.Counters.Consumed);
        Assert.Equal(1, engine.Counters.OffsetJumps);
        Assert.Equal(low, engine.Counters.LostRecords);
        Assert.Contains(engine.Log, l => l.Contains($"jumped from offset 0 to {low}", StringComparison.Ordinal) && l.Contains($"{low} probes were lost", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_checkpoint_whose_offset_the_cluster_dropped_resumes_at_the_oldest_record_and_reports_the_gap()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics(probePartitions: 1));
        var options = EngineHarness.Options(kafka) with { CheckpointEvery = 1024, MatchedBatchEvery = 512 };
        long small = EngineHarness.Produce(kafka, Enumerable.Range(0, 1100).Select(i => Probe($"V{i % 5}", i)));
        using (var first = new EngineHarness(kafka, options))
        {
            first.WaitUntilProcessed(small);
            first.Stop();
            Assert.Equal(0, first.Counters.OffsetJumps);
            Assert.True(first.Counters.Checkpoints > 0);
        }
        Assert.True(new Traffic.Connectors.Kafka.CheckpointStore(kafka.StateDirectory).TryLoad(kafka.Topics.Probes, 0, out long next, out _));
        Assert.Equal(1024, next);

        // While no engine runs, the partition moves on far enough to drop the checkpoint's offset.
        EngineHarness.Produce(kafka, Flood(1100));
        var (low, high) = kafka.Watermarks(kafka.Topics.Probes, 0);
        output.WriteLine($"probes partition 0 holds offsets {low} to {high}");
        Assert.True(low > next, "the checkpoint's offset is still there: the test shows nothing");

        // Another consumer group: the checkpoint, not the group, holds the position to resume from, and the embedded
        // cluster notices that the first engine's members left only at their 6 s session timeout.
        using var second = new EngineHarness(kafka, options with { GroupId = "traffic-engine-restarted" });
        try
        {
            second.WaitUntilProcessed(high - low);
            second.Stop();
        }
        finally
        {
            foreach (string line in second.Log) output.WriteLine(line);
        }
        Assert.True(second.Counters.Restored > 0);
        Assert.Equal(high - low, second.Counters.Consumed);
        Assert.Equal(1, second.Counters.OffsetJumps);
        Assert.Equal(low - next, second.Counters.LostRecords);
        Assert.Contains(second.Log, l => l.Contains($"jumped from offset {next} to {low}", StringComparison.Ordinal) && l.Contains("lost", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_checkpoint_beyond_the_end_of_its_partition_stops_the_engine_rather_than_skip_the_records_before_it()
    {
        // A checkpoint at offset 1024 of a cluster that is gone (an embedded cluster restarted with the state directory
        // kept): the new cluster's partition holds only 500 records, the consumer resets to its start, and every record
        // would look "already processed".
        var topics = EngineHarness.Topics(probePartitions: 1);
        string state;
        using (var old = EngineHarness.Cluster(topics))
        {
            state = old.StateDirectory;
            var options = EngineHarness.Options(old) with { CheckpointEvery = 1024, MatchedBatchEvery = 512 };
            long produced = EngineHarness.Produce(old, Enumerable.Range(0, 1100).Select(i => Probe($"V{i % 5}", i)));
            using var first = new EngineHarness(old, options);
            first.WaitUntilProcessed(produced);
            first.Stop();
            // Kept beyond this cluster's life.
            Directory.Move(state, state + ".kept");
        }
        using var kafka = EngineHarness.Cluster(topics, stateDirectory: state + ".kept");
        Assert.True(new Traffic.Connectors.Kafka.CheckpointStore(kafka.StateDirectory).TryLoad(kafka.Topics.Probes, 0, out long next, out _));
        Assert.Equal(1024, next);
        EngineHarness.Produce(kafka, Enumerable.Range(0, 500).Select(i => Probe($"V{i % 5}", i)));

        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka) with { CheckpointEvery = 1024, MatchedBatchEvery = 512 });
        var e = engine.Failure(TimeSpan.FromSeconds(30));
        foreach (string line in engine.Log) output.WriteLine(line);
        output.WriteLine(e.ToString());
        Assert.Contains("traffic.probes[0]", e.Message, StringComparison.Ordinal);
        Assert.Contains("1024", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, engine.Counters.Accepted);
    }

    [Fact]
    public void The_flood_is_what_the_tests_say_it_is()
    {
        // A helper checked too: 80 valid probes of 100 kB each, one vehicle, times in order.
        var lines = Flood(7).ToList();
        Assert.Equal(80, lines.Count);
        Assert.All(lines, l => Assert.True(SimulatedInput.Decodes(l), l[..80]));
        Assert.InRange(lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l)), 8_000_000, 8_200_000);
    }
}
