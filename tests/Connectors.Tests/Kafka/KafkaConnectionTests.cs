using Traffic.Connectors.Kafka;

namespace Traffic.Connectors.Tests.Kafka;

public class KafkaConnectionTests
{
    [Fact]
    public void Properties_given_pass_through_and_win_over_the_defaults()
    {
        var c = new KafkaConnection("broker:9092", KafkaConnection.ParseProperties(["session.timeout.ms=10000", "security.protocol=SASL_SSL", " linger.ms = 20 "]));
        var consumer = c.Consumer("g", "client");
        Assert.Equal(10_000, consumer.SessionTimeoutMs);
        Assert.Equal("g", consumer.GroupId);
        Assert.Equal("SASL_SSL", consumer.Get("security.protocol"));
        Assert.Equal("broker:9092", consumer.BootstrapServers);
        var producer = c.Producer("p");
        Assert.Equal(20, producer.LingerMs);
        Assert.True(producer.EnableIdempotence);
        Assert.Equal("SASL_SSL", c.Admin().Get("security.protocol"));
        Assert.Equal(6000, new KafkaConnection("broker:9092").Consumer("g", "c").SessionTimeoutMs);
    }

    [Theory]
    [InlineData("novalue")]
    [InlineData("=x")]
    public void A_property_that_is_not_key_value_is_refused(string pair) =>
        Assert.Throws<ArgumentException>(() => KafkaConnection.ParseProperties([pair]));
}

public class KafkaConnectionTopicTests
{
    [Fact]
    public async Task Topics_that_cannot_be_created_are_named_with_what_to_do()
    {
        // An engine with a --topic-prefix that `traffic broker` did not create said only "Failed while waiting for
        // controller: Local: Timed out": the embedded cluster's admin API cannot create topics.
        using var kafka = new TestKafka();
        var topics = new KafkaTopics { Prefix = "other" };
        var e = await Assert.ThrowsAnyAsync<Confluent.Kafka.KafkaException>(() =>
            kafka.Connection.EnsureTopicsAsync(topics.All(), timeout: TimeSpan.FromSeconds(3)));
        Assert.Contains("other.probes", e.Message, StringComparison.Ordinal);
        Assert.Contains("could not be created", e.Message, StringComparison.Ordinal);
        Assert.Contains("--topic-prefix", e.Message, StringComparison.Ordinal);
    }
}
