using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Traffic.Connectors.Kafka;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// A probes partition without traffic (more partitions than busy vehicles, a fleet off for the night) must not hold back
/// every segment window: the engine declares it idle (<see cref="KafkaEngineOptions.IdlePartitionAfter"/>) and the
/// windows close on the other partitions' watermarks.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
[Trait("Category", "Slow")]
public sealed class IdlePartitionTests(ITestOutputHelper output)
{
    /// <summary>
    /// The simulated input with every vehicle keyed to partition 0 or 1 of the probes topic, whatever its partition count:
    /// on a topic of three, partition 2 gets nothing.
    /// </summary>
    private static long ProduceToTwoPartitions(TestKafka kafka)
    {
        long produced = 0;
        using var producer = new ProducerBuilder<byte[]?, byte[]>(kafka.Connection.Producer("test-idle")).Build();
        foreach (string line in SimulatedInput.Instance.Lines)
        {
            string? vehicle = null;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("vehicle_id", out var id)) vehicle = id.ToString();
            }
            catch (JsonException)
            {
                // A malformed line: unkeyed, on partition 0.
            }
            int partition = vehicle == null ? 0 : (int)(System.IO.Hashing.Crc32.HashToUInt32(Encoding.UTF8.GetBytes(vehicle)) % 2);
            producer.Produce(new TopicPartition(kafka.Topics.Probes, partition), new Message<byte[]?, byte[]>
            {
                Key = vehicle == null ? null : Encoding.UTF8.GetBytes(vehicle),
                Value = Encoding.UTF8.GetBytes(line),
            });
            produced++;
        }
        producer.Flush(TimeSpan.FromSeconds(30));
        return produced;
    }

    /// <summary>Runs the engine on the input; with <paramref name="idleAfter"/>, waits for partition 2 to be declared idle to both exchange partitions.</summary>
    private (EngineOutputs Outputs, EngineCounters Counters, List<string> Log) Run(int probePartitions, TimeSpan idleAfter)
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics(probePartitions));
        long produced = ProduceToTwoPartitions(kafka);
        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka) with { IdlePartitionAfter = idleAfter });
        try
        {
            engine.WaitUntilProcessed(produced, TimeSpan.FromSeconds(90));
            if (idleAfter > TimeSpan.Zero)
            {
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (engine.Log.Count(l => l.Contains("segment stage: traffic.probes[2] is idle", StringComparison.Ordinal)) < 2)
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException("partition 2 was not declared idle to both exchange partitions");
                    Thread.Sleep(100);
                }
                engine.WaitUntilProcessed(produced, TimeSpan.FromSeconds(60));
            }
            else Thread.Sleep(2000);   // time enough for a declaration that must not come
            engine.Stop();
        }
        finally
        {
            foreach (string line in engine.Log) output.WriteLine(line);
        }
        var outputs = EngineOutputs.Read(kafka);
        output.WriteLine($"{probePartitions} probes partitions, idle after {idleAfter.TotalSeconds} s: {outputs.Describe()}");
        return (outputs, engine.Counters, [.. engine.Log]);
    }

    [Fact]
    public void An_empty_probes_partition_is_declared_idle_and_the_windows_close_as_they_do_without_it()
    {
        // Without the empty partition: the same probes on the same two partitions.
        var (reference, _, _) = Run(probePartitions: 2, idleAfter: TimeSpan.Zero);
        var (withIdle, counters, log) = Run(probePartitions: 3, idleAfter: TimeSpan.FromSeconds(1));

        Assert.True(reference.Records["segments"].Count > 100, $"{reference.Records["segments"].Count} segment rows");
        Assert.Contains(log, l => l.Contains("vehicle stage: traffic.probes[2] has had no record for 1 s: idle", StringComparison.Ordinal));
        Assert.True(counters.IdleDeclared >= 1);
        // Every window the reference closed is closed here with the same row, and so are the congestion alerts and the
        // network index. (Here partitions 0 and 1 also go idle once read to their ends, whichever first: windows the
        // reference left open at the stop may close here on the other's watermark, so there may be more.)
        foreach (string topic in new[] { "segments", "segments-5m", "tpi" })
        {
            var ours = withIdle.Records[topic];
            foreach (var (key, record) in reference.Records[topic])
            {
                Assert.True(ours.TryGetValue(key, out var mine), $"{topic}: {key} missing");
                Assert.True(record.Value.AsSpan().SequenceEqual(mine!.Value), $"{topic}: {key} differs");
            }
        }
        Assert.Empty(withIdle.DifferentRepeats);
    }

    [Fact]
    public void Never_declared_idle_an_empty_probes_partition_holds_back_every_window()
    {
        var (outputs, counters, log) = Run(probePartitions: 3, idleAfter: TimeSpan.Zero);

        Assert.Empty(outputs.Records["segments"]);
        Assert.Empty(outputs.Records["tpi"]);
        Assert.True(counters.Matched > 1000);
        Assert.Equal(0, counters.IdleDeclared);
        Assert.DoesNotContain(log, l => l.Contains("idle", StringComparison.Ordinal));
    }
}
