using System.Text;
using Confluent.Kafka;
using Traffic.Connectors.Kafka;

namespace Traffic.Connectors.Tests.Kafka;

public class EmbeddedKafkaTests
{
    [Fact]
    public void Topics_get_the_partition_count_asked_for_and_carry_records()
    {
        using var kafka = EmbeddedKafka.Start();
        Assert.Matches(@"^(127\.0\.0\.1|localhost):\d+(,(127\.0\.0\.1|localhost):\d+)*$", kafka.BootstrapServers);
        Assert.Equal(ErrorCode.NoError, kafka.CreateTopic("probes", 7));

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            var meta = admin.GetMetadata("probes", TimeSpan.FromSeconds(10));
            Assert.Equal(7, meta.Topics.Single().Partitions.Count);
        }

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            for (int i = 0; i < 500; i++) producer.Produce("probes", new Message<string, string> { Key = $"v{i % 37}", Value = $"m{i}" });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
        }

        var config = new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "t",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using var consumer = new ConsumerBuilder<string, string>(config).Build();
        consumer.Subscribe("probes");
        var seen = new HashSet<string>();
        var byKey = new Dictionary<string, int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (seen.Count < 500 && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r == null) continue;
            seen.Add(r.Message.Value);
            // A key always lands in one partition.
            if (byKey.TryGetValue(r.Message.Key, out int p)) Assert.Equal(p, r.Partition.Value);
            else byKey[r.Message.Key] = r.Partition.Value;
        }
        Assert.Equal(500, seen.Count);
        Assert.True(byKey.Values.Distinct().Count() > 1);
    }
}
