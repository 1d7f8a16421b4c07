using System.Text;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Confluent.Kafka;
using Traffic.Engine.Probes;
using Traffic.Engine.Registry;
using Xunit.Abstractions;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// A long-running engine sees vehicles come and go: units replaced, plates changed, trucks at the port once. Those it forgot
/// (silent for hours) give their ids up, and so do refused records that brought a new one, so that the ids it holds are
/// those of the vehicles it knows, not of every one it ever saw; a released number names the next new vehicle, and every
/// output row still names its own.
/// </summary>
[Collection(KafkaEngineCollection.Name)]
public sealed class VehicleIdReleaseTests(ITestOutputHelper output)
{
    private const long T0 = 1_767_571_200_000;
    private const int Fleet = 30, Reports = 20;

    private static string Probe(string vehicle, long timeMs, int i) =>
        $$"""{"vehicle_id":"{{vehicle}}","time":{{timeMs}},"lon":{{113.93 + i * 1e-4:F5}},"lat":22.52,"speed_kmh":30}""";

    [Fact]
    public void Vehicles_forgotten_and_refused_records_give_their_ids_up_and_every_row_keeps_its_own_vehicle()
    {
        using var kafka = EngineHarness.Cluster(EngineHarness.Topics(probePartitions: 1));
        var lines = new List<string>();
        // A morning fleet, then another fleet seven hours on (the first is forgotten after six hours of silence).
        foreach (var (fleet, start) in new[] { ("A", T0), ("B", T0 + 7 * 3600_000L) })
        {
            for (int i = 0; i < Reports; i++)
            {
                for (int v = 0; v < Fleet; v++) lines.Add(Probe($"{fleet}{v:D3}", start + i * 1000, i));
            }
        }
        // Refused records, each with a new id: one that does not decode, one two days ahead of the rest.
        lines.Insert(Fleet * Reports, """{"vehicle_id":"BAD-1","time":1767571300000,"lon":113.93}""");
        lines.Add(Probe("FUTURE-1", T0 + 9 * 86_400_000L, 0));
        // The last of the second fleet an hour later still, so that the watermark passes its reports.
        for (int v = 0; v < Fleet; v++) lines.Add(Probe($"B{v:D3}", T0 + 8 * 3600_000L, Reports));
        long produced;
        using (var producer = new ProducerBuilder<byte[]?, byte[]>(kafka.Connection.Producer("test-ids")).Build())
        {
            foreach (string line in lines)
                producer.Produce(kafka.Topics.Probes, new Message<byte[]?, byte[]> { Value = Encoding.UTF8.GetBytes(line) });
            producer.Flush(TimeSpan.FromSeconds(10));
            produced = lines.Count;
        }
        using var engine = new EngineHarness(kafka, EngineHarness.Options(kafka));
        try
        {
            engine.WaitUntilProcessed(produced);
            engine.Stop();
        }
        finally
        {
            foreach (string line in engine.Log) output.WriteLine(line);
        }
        Assert.Equal(2, engine.Counters.Rejected);
        // Released: the first fleet's ids when it was forgotten, the id of the probe refused as ahead of the rest, and at
        // the stop the second fleet's, whose partition the engine gave up.
        Assert.Equal(2 * Fleet + 1, engine.Counters.ReleasedIds);
        var registryOnly = new VehicleIds();
        VehicleRegistry.Load(SimulatedInput.Instance.Registry, registryOnly);
        Assert.Equal(registryOnly.Count, engine.Ids.Live);
        Assert.False(engine.Ids.TryGet("BAD-1", out _));
        // The second fleet took the first's numbers: one fleet's worth given out beyond the registry's and a few, not two
        // fleets and two (the watermark follows a jump of hours once several units agree on it, and the first fleet is
        // forgotten then: the second fleet's first vehicles take new numbers, one of them the bad record's).
        Assert.True(engine.Ids.Count <= registryOnly.Count + Fleet + 10, $"{engine.Ids.Count} numbers, {registryOnly.Count} of the registry");

        // Every matched row names its own vehicle: each of the 60 has all its reports, under its own name.
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in EngineOutputs.Read(kafka).Records["matched"].Values)
        {
            using var reader = new ArrowStreamReader(new MemoryStream(r.Value!));
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                var vehicles = (DictionaryArray)batch.Column("vehicle_id");
                var names = (StringArray)vehicles.Dictionary;
                for (int i = 0; i < batch.Length; i++)
                {
                    string name = names.GetString(((Int32Array)vehicles.Indices).GetValue(i)!.Value);
                    rows[name] = rows.GetValueOrDefault(name) + 1;
                }
            }
        }
        Assert.Equal(2 * Fleet, rows.Count);
        Assert.All(Enumerable.Range(0, Fleet), v => Assert.Equal(Reports, rows[$"A{v:D3}"]));
        Assert.All(Enumerable.Range(0, Fleet), v => Assert.Equal(Reports + 1, rows[$"B{v:D3}"]));
    }
}
