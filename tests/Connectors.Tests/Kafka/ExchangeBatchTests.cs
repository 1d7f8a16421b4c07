using System.Buffers.Binary;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Pipeline;
using Traffic.Geo.Matching;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>The exchange topic's binary message: what a vehicle-stage partition writes, a segment-stage partition reads back exactly.</summary>
public class ExchangeBatchTests
{
    private static SegmentTraversal Traversal(int source, long sequence, int i) => new(source, sequence, unchecked(i * -1640531535),
        new TraversedEdge(i * 7 + 3, i * 0.125, 1000.5 + i / 3.0, 1_767_571_200_000 + i * 1000L, 1_767_571_200_500 + i * 1000L));

    [Fact]
    public void Traversals_watermarks_and_idle_words_round_trip_in_order_with_their_source()
    {
        var batch = new ExchangeBatch(sourcePartition: 513);
        var sent = new List<object>();
        long sequence = 1;
        for (int i = 0; i < 40; i++)
        {
            if (i % 9 == 4)
            {
                var w = new SegmentWatermark(513, sequence++, 1_767_571_000_000 + i);
                batch.AddWatermark(in w);
                sent.Add(w);
            }
            var t = Traversal(513, sequence++, i);
            batch.AddTraversal(in t);
            sent.Add(t);
        }
        // A partition gone idle: its word carries the last sequence number, taking none of its own.
        var idle = new SegmentIdle(513, sequence - 1);
        batch.AddIdle(in idle);
        sent.Add(idle);
        // The watermark at the end of a partition's input.
        var end = new SegmentWatermark(513, sequence, long.MaxValue);
        batch.AddWatermark(in end);
        sent.Add(end);
        Assert.Equal(sent.Count, batch.Count);

        byte[] message = batch.Take();
        Assert.Equal(0, batch.Count);
        Assert.Equal(sent, ReadAll(message));
    }

    [Fact]
    public void A_full_batch_holds_the_most_records_and_the_batch_starts_over_after_Take()
    {
        var batch = new ExchangeBatch(3);
        for (int i = 0; i < ExchangeBatch.MaxRecords; i++)
        {
            Assert.False(batch.IsFull);
            var t = Traversal(3, i + 1, i);
            batch.AddTraversal(in t);
        }
        Assert.True(batch.IsFull);
        var read = ReadAll(batch.Take());
        Assert.Equal(ExchangeBatch.MaxRecords, read.Count);
        Assert.Equal(Enumerable.Range(0, ExchangeBatch.MaxRecords).Select(i => (object)Traversal(3, i + 1, i)), read);

        Assert.False(batch.IsFull);
        var w = new SegmentWatermark(3, 5000, 42);
        batch.AddWatermark(in w);
        Assert.Equal([w], ReadAll(batch.Take()));
        // An empty batch is a valid message with no records.
        Assert.Empty(ReadAll(batch.Take()));
    }

    [Fact]
    public void A_truncated_message_is_refused_at_every_length()
    {
        var batch = new ExchangeBatch(1);
        var t = Traversal(1, 1, 1);
        batch.AddTraversal(in t);
        var w = new SegmentWatermark(1, 2, 99);
        batch.AddWatermark(in w);
        byte[] message = batch.Take();
        for (int length = 0; length < message.Length; length++)
            Assert.Throws<InvalidDataException>(() => ReadAll(message.AsSpan(0, length).ToArray()));
        Assert.Equal(2, ReadAll(message).Count);
    }

    [Fact]
    public void Trailing_bytes_a_foreign_message_another_version_or_an_unknown_record_kind_are_refused()
    {
        var batch = new ExchangeBatch(1);
        var t = Traversal(1, 1, 1);
        batch.AddTraversal(in t);
        byte[] message = batch.Take();

        var trailing = Assert.Throws<InvalidDataException>(() => ReadAll([.. message, 0]));
        Assert.Contains("trailing", trailing.Message, StringComparison.Ordinal);

        // A count that says fewer records than there are leaves bytes over, too.
        byte[] fewer = [.. message, .. message.AsSpan(5)];
        Assert.Throws<InvalidDataException>(() => ReadAll(fewer));

        Assert.Throws<InvalidDataException>(() => ReadAll("""{"vehicle_id":"T1"}"""u8.ToArray()));
        byte[] version2 = [.. message];
        version2[0] = 2;
        Assert.Throws<InvalidDataException>(() => ReadAll(version2));

        byte[] kind = [.. message];
        kind[5] = 7;
        var unknown = Assert.Throws<InvalidDataException>(() => ReadAll(kind));
        Assert.Contains("kind 7", unknown.Message, StringComparison.Ordinal);

        // More records announced than there are.
        byte[] more = [.. message];
        BinaryPrimitives.WriteUInt16LittleEndian(more.AsSpan(3), 2);
        Assert.Throws<InvalidDataException>(() => ReadAll(more));
    }

    [Fact]
    public void The_source_partition_must_fit_the_header()
    {
        Assert.Throws<OverflowException>(() => new ExchangeBatch(70_000));
        var batch = new ExchangeBatch(ushort.MaxValue);
        var w = new SegmentWatermark(ushort.MaxValue, 1, 1);
        batch.AddWatermark(in w);
        Assert.Equal([w], ReadAll(batch.Take()));
    }

    private static List<object> ReadAll(byte[] message)
    {
        var handler = new Collect();
        ExchangeBatch.Read(message, ref handler);
        return handler.Records;
    }

    private struct Collect() : IExchangeHandler
    {
        public List<object> Records { get; } = [];

        public readonly void Traversal(in SegmentTraversal traversal) => Records.Add(traversal);

        public readonly void Watermark(in SegmentWatermark watermark) => Records.Add(watermark);

        public readonly void Idle(in SegmentIdle idle) => Records.Add(idle);
    }
}
