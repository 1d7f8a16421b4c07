namespace Traffic.Engine.Pipeline;

/// <summary>Messages filled by one thread and handed to another whole (see <see cref="BatchQueue{T}"/>).</summary>
internal sealed class Batch<T>(int capacity)
{
    /// <summary>The messages; the first <see cref="Count"/> are valid.</summary>
    public readonly T[] Items = new T[capacity];

    public int Count;

    public bool IsFull => Count == Items.Length;

    public ReadOnlySpan<T> Messages => Items.AsSpan(0, Count);

    public void Add(in T message) => Items[Count++] = message;
}

/// <summary>
/// The hand-off between the stages of one process: producers fill batches of messages and send them whole, one
/// consumer takes them in order and gives them back empty. The batches are made once, so the queue is bounded by
/// their number (a producer waits for an empty one: back-pressure) and nothing is allocated per message or per batch.
/// One lock round trip per batch instead of one per message: with a batch of hundreds of probes, the cost of
/// crossing threads disappears from the per-probe figures. Any number of producers may send; one consumer takes.
/// </summary>
internal sealed class BatchQueue<T>
{
    private readonly object _sync = new();          // guards everything below; producers and the consumer wait on it
    private readonly Queue<Batch<T>> _full;         // sent, not yet taken, in send order
    private readonly Stack<Batch<T>> _empty;        // given back, ready to be filled
    private bool _completed;                        // no more sends: the consumer ends once _full is drained
    private bool _aborted;                          // the consumer failed: producers stop waiting

    /// <param name="batches">How many batches exist (at least 2, so one can be filled while another is processed).</param>
    /// <param name="batchSize">Messages per batch.</param>
    public BatchQueue(int batches, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _full = new Queue<Batch<T>>(batches);
        _empty = new Stack<Batch<T>>(batches);
        for (int i = 0; i < batches; i++) _empty.Push(new Batch<T>(batchSize));
    }

    /// <summary>An empty batch to fill, waiting while the consumer holds them all.</summary>
    public Batch<T> Rent()
    {
        lock (_sync)
        {
            while (_empty.Count == 0 && !_aborted) Monitor.Wait(_sync);
            ThrowIfAborted();
            return _empty.Pop();
        }
    }

    /// <summary>Hands a filled batch to the consumer (the producer no longer touches it).</summary>
    public void Send(Batch<T> batch)
    {
        lock (_sync)
        {
            ThrowIfAborted();
            _full.Enqueue(batch);
            Monitor.PulseAll(_sync);
        }
    }

    /// <summary>The next batch sent, waiting for one; false once the queue is completed and drained.</summary>
    public bool TryTake(out Batch<T> batch)
    {
        lock (_sync)
        {
            while (_full.Count == 0)
            {
                if (_completed)
                {
                    batch = null!;
                    return false;
                }
                Monitor.Wait(_sync);
            }
            batch = _full.Dequeue();
            return true;
        }
    }

    /// <summary>Gives a processed batch back for filling.</summary>
    public void Return(Batch<T> batch)
    {
        batch.Count = 0;
        lock (_sync)
        {
            _empty.Push(batch);
            Monitor.PulseAll(_sync);
        }
    }

    /// <summary>No more batches will be sent.</summary>
    public void Complete()
    {
        lock (_sync)
        {
            _completed = true;
            Monitor.PulseAll(_sync);
        }
    }

    /// <summary>The consumer has failed: producers waiting for a batch, and later ones, get an exception instead.</summary>
    public void Abort()
    {
        lock (_sync)
        {
            _aborted = true;
            _completed = true;
            Monitor.PulseAll(_sync);
        }
    }

    private void ThrowIfAborted()
    {
        if (_aborted) throw new ConsumerFailedException();
    }
}

/// <summary>
/// A producer's send or rent on a queue whose consumer has failed (<see cref="BatchQueue{T}.Abort"/>): the consumer's own
/// exception is the cause, and the one to report.
/// </summary>
public sealed class ConsumerFailedException() : OperationCanceledException("the stage consuming this queue has failed");
