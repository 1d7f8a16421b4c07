using Traffic.Connectors.Kafka;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// Where a probes partition without a checkpoint starts (<see cref="KafkaEngineOptions.StartAt"/>): an operator who must
/// start over (a new road network refuses the old checkpoints) need not process every retained record again.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
[Trait("Category", "Slow")]
public sealed class StartPositionTests(ITestOutputHelper output)
{
    private static IEnumerable<string> Lines(int from, int count) => SimulatedInput.Instance.Lines.Skip(from).Take(count);

    [Theory]
    [InlineData("earliest", "earliest")]
    [InlineData("LATEST", "latest")]
    [InlineData("2026-11-28T08:00:00+08:00", "2026-11-28T00:00:00.000Z")]
    [InlineData("2026-11-28T00:00:00Z", "2026-11-28T00:00:00.000Z")]
    public void A_start_position_is_read_from_its_words_or_a_time_with_its_offset(string text, string expected) =>
        Assert.Equal(expected, StartPosition.Parse(text).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("now")]
    [InlineData("2026-11-28")]
    [InlineData("2026-11-28T08:00:00")]   // no offset: whose 08:00?
    public void Anything_else_is_refused_with_the_forms_it_takes(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => StartPosition.Parse(text));
        Assert.Contains("earliest, latest or a time with its offset", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Latest_skips_what_the_topics_held_before_the_start_and_a_restart_resumes_from_the_checkpoints()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics());
        // An earlier run's probes and exchange messages (what a state directory removed after a network change leaves).
        long before = EngineHarness.Produce(kafka, Lines(0, 3000));
        using (var earlier = new EngineHarness(kafka, EngineHarness.Options(kafka)))
        {
            earlier.WaitUntilProcessed(before);
            earlier.Stop();
        }
        Directory.Delete(kafka.StateDirectory, recursive: true);   // its state given up: the engine starts over
        long exchange0 = kafka.Watermarks(kafka.Topics.Exchange, 0).High;
        Assert.True(exchange0 > 0);

        long during;
        using (var engine = new EngineHarness(kafka, EngineHarness.Options(kafka) with { StartAt = StartPosition.Latest }))
        {
            try
            {
                WaitForStarts(engine, kafka.Topics.ProbePartitions);
                during = EngineHarness.Produce(kafka, Lines(3000, 3000));
                engine.WaitUntilProcessed(during);
                engine.Stop();
            }
            finally
            {
                foreach (string line in engine.Log) output.WriteLine(line);
            }
            Assert.Equal(during, engine.Counters.Consumed);
            Assert.Equal(0, engine.Counters.DuplicatesDropped);   // the earlier run's exchange messages were not read
            Assert.Contains(engine.Log, l => l.Contains($"segment stage: traffic.exchange[0] has no checkpoint: starts at its end, offset {exchange0}", StringComparison.Ordinal));
            Assert.True(engine.Counters.SegmentRows > 0);
        }

        // Probes produced while no engine runs: a restart resumes from the checkpoints and takes them; latest is only for
        // partitions without one.
        long between = EngineHarness.Produce(kafka, Lines(6000, 2000));
        using var restarted = new EngineHarness(kafka, EngineHarness.Options(kafka) with { StartAt = StartPosition.Latest });
        restarted.WaitUntilProcessed(between);
        restarted.Stop();
        // From each partition's last checkpoint (at a multiple of CheckpointEvery records): the probes after it again, then these.
        Assert.True(restarted.Counters.Consumed >= between, $"{restarted.Counters.Consumed} probes consumed of {between} produced while it was stopped");
        Assert.DoesNotContain(restarted.Log, l => l.Contains("has no checkpoint", StringComparison.Ordinal));
    }

    [Fact]
    public void A_time_starts_at_the_first_record_produced_then_or_later()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics());
        EngineHarness.Produce(kafka, Lines(0, 2000));
        Thread.Sleep(1500);
        var from = DateTimeOffset.UtcNow;
        Thread.Sleep(200);
        long after = EngineHarness.Produce(kafka, Lines(2000, 2000));

        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka) with { StartAt = StartPosition.At(from) });
        engine.WaitUntilProcessed(after);
        engine.Stop();
        Assert.Equal(after, engine.Counters.Consumed);
    }

    private static void WaitForStarts(EngineHarness engine, int partitions)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (engine.Log.Count(l => l.Contains("vehicle stage: traffic.probes[", StringComparison.Ordinal) && l.Contains("has no checkpoint: starts at offset", StringComparison.Ordinal)) < partitions)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the vehicle stage did not start its partitions:\n" + string.Join("\n", engine.Log));
            Thread.Sleep(100);
        }
    }
}
