using System.Text;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// The probes topic is keyed by vehicle id so that each vehicle's probes reach one partition, in order. A producer that
/// sends no key (or keys by something that is not one per vehicle) scatters a vehicle over partitions: each partition
/// matches its share of the track apart, and nothing said so (a JavaScript producer without keys: 4 congestion alerts
/// opened where the keyed run opened 1, the network index averaging 2.08 where it averaged 0.88). The engine must say so.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
public sealed class SplitVehicleTests(ITestOutputHelper output)
{
    private const long T0 = 1_767_571_200_000;

    private static string Probe(string vehicle, long i) =>
        $$"""{"vehicle_id":"{{vehicle}}","time":{{T0 + i * 1000}},"lon":{{113.93 + i * 1e-4:F5}},"lat":22.52,"speed_kmh":30}""";

    [Fact]
    public void A_vehicle_whose_probes_reach_two_partitions_is_counted_and_logged_once()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics(probePartitions: 2));
        using (var producer = new ProducerBuilder<byte[]?, byte[]>(kafka.Connection.Producer("test-split")).Build())
        {
            for (int i = 0; i < 40; i++)
            {
                // V1 unkeyed, spread over both partitions; V2 keyed, on partition 0 only.
                producer.Produce(new TopicPartition(kafka.Topics.Probes, i % 2), new Message<byte[]?, byte[]> { Value = Encoding.UTF8.GetBytes(Probe("V1", i)) });
                producer.Produce(new TopicPartition(kafka.Topics.Probes, 0), new Message<byte[]?, byte[]> { Key = "V2"u8.ToArray(), Value = Encoding.UTF8.GetBytes(Probe("V2", i)) });
            }
            producer.Flush(TimeSpan.FromSeconds(10));
        }
        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka));
        try
        {
            engine.WaitUntilProcessed(80);
            engine.Stop();
        }
        finally
        {
            foreach (string line in engine.Log) output.WriteLine(line);
        }
        Assert.Equal(80, engine.Counters.Accepted);
        Assert.Equal(1, engine.Counters.SplitVehicles);
        var warned = Assert.Single(engine.Log, l => l.Contains("V1", StringComparison.Ordinal) && l.Contains("partitions", StringComparison.Ordinal));
        // Whichever partition the consumer reads first is named first.
        Assert.Matches(@"came on traffic\.probes\[(0\] and \[1|1\] and \[0)\]", warned);
        Assert.DoesNotContain(engine.Log, l => l.Contains("V2", StringComparison.Ordinal));
    }
}
