using Traffic.Engine.Pipeline;

namespace Traffic.Engine.Tests.Pipeline;

public class BatchQueueTests
{
    [Fact]
    public async Task Messages_from_two_producers_arrive_whole_and_each_producer_in_its_order()
    {
        var queue = new BatchQueue<(int Producer, int Sequence)>(batches: 3, batchSize: 7);
        const int PerProducer = 10_000;
        var producers = Enumerable.Range(0, 2).Select(p => Task.Run(() =>
        {
            Batch<(int, int)> batch = queue.Rent();
            for (int i = 0; i < PerProducer; i++)
            {
                batch.Add((p, i));
                if (!batch.IsFull) continue;
                queue.Send(batch);
                batch = queue.Rent();
            }
            queue.Send(batch);
        })).ToArray();
        var consumer = Task.Run(() =>
        {
            int[] next = new int[2];
            while (queue.TryTake(out var batch))
            {
                foreach (var (p, i) in batch.Messages)
                {
                    Assert.Equal(next[p], i);
                    next[p]++;
                }
                queue.Return(batch);
            }
            return next;
        });
        await Task.WhenAll(producers);
        queue.Complete();
        int[] counts = await consumer;
        Assert.Equal(new[] { PerProducer, PerProducer }, counts);
    }

    [Fact]
    public async Task A_producer_waits_while_the_consumer_holds_every_batch_and_a_failed_consumer_releases_it_with_an_exception()
    {
        var queue = new BatchQueue<int>(batches: 2, batchSize: 1);
        var first = queue.Rent();
        var second = queue.Rent();
        queue.Send(first);
        queue.Send(second);
        var waiting = Task.Run(queue.Rent);
        Assert.NotSame(waiting, await Task.WhenAny(waiting, Task.Delay(200))); // no empty batch: back-pressure
        Assert.True(queue.TryTake(out var taken));
        queue.Return(taken);
        var third = await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        var blocked = Task.Run(queue.Rent);
        Assert.NotSame(blocked, await Task.WhenAny(blocked, Task.Delay(200)));
        queue.Abort();
        await Assert.ThrowsAsync<ConsumerFailedException>(() => blocked.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Throws<ConsumerFailedException>(() => queue.Send(third));
    }

    [Fact]
    public void A_completed_queue_is_drained_before_the_consumer_ends()
    {
        var queue = new BatchQueue<int>(batches: 4, batchSize: 2);
        for (int i = 0; i < 3; i++)
        {
            var b = queue.Rent();
            b.Add(i);
            queue.Send(b);
        }
        queue.Complete();
        var seen = new List<int>();
        while (queue.TryTake(out var batch))
        {
            seen.AddRange(batch.Messages.ToArray());
            queue.Return(batch);
        }
        Assert.Equal([0, 1, 2], seen);
    }
}
