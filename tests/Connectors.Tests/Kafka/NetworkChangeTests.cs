using Traffic.Connectors.Kafka;
using Traffic.Geo.Import;
using Traffic.Geo.Import.Osm;
using Traffic.Geo.Network;
using Traffic.Testing;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// The OSM extract is updated and the engine restarted on the new network with its state directory: the checkpoints are
/// resumed, not refused, and both stages say what they carried over.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
[Trait("Category", "Slow")]
public sealed class NetworkChangeTests(ITestOutputHelper output)
{
    private static IEnumerable<string> Lines(int from, int count) => SimulatedInput.Instance.Lines.Skip(from).Take(count);

    [Fact]
    public void An_engine_restarted_on_an_updated_network_resumes_its_checkpoints_and_logs_what_changed()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics());
        long before = EngineHarness.Produce(kafka, Lines(0, 6000));
        using (var earlier = new EngineHarness(kafka, EngineHarness.Options(kafka)))
        {
            earlier.WaitUntilProcessed(before);
            earlier.Stop();
        }

        // The same extract with every tenth road gone: the edges are renumbered, most segments are the same.
        OsmData data = OsmXmlReader.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"));
        data.HighwayWays.RemoveAll(w => w.Id % 10 == 3);
        RoadNetwork updated = OsmNetworkImporter.Import(data, new ImportReport());
        Assert.NotEqual(TestKafka.Shenzhen.EdgeCount, updated.EdgeCount);

        long after = EngineHarness.Produce(kafka, Lines(6000, 3000));
        using var restarted = new EngineHarness(kafka, EngineHarness.Options(kafka), network: updated);
        try
        {
            restarted.WaitUntilProcessed(after);
            restarted.Stop();
        }
        finally
        {
            foreach (string line in restarted.Log) output.WriteLine(line);
        }
        Assert.DoesNotContain(restarted.Log, l => l.Contains("has no checkpoint", StringComparison.Ordinal));
        for (int p = 0; p < kafka.Topics.ProbePartitions; p++)
            Assert.Contains(restarted.Log, l => l.Contains($"vehicle stage: traffic.probes[{p}] resumes on a road network other than its checkpoint's", StringComparison.Ordinal));
        Assert.Contains(restarted.Log, l => l.Contains("segment stage: traffic.exchange[", StringComparison.Ordinal)
            && l.Contains("resumes on a road network other than its checkpoint's", StringComparison.Ordinal));
        // From each partition's last checkpoint: the probes after it again, then the new ones, matched on the new network.
        Assert.True(restarted.Counters.Consumed >= after);
        Assert.True(restarted.Counters.SegmentRows > 0);
        // What the old run sent after a checkpoint named the old edges: the partitions restored on the new network sent it
        // again in a new epoch of their sequence, and the segment stage dropped the old (never read as this network's edges).
    }
}
