namespace Traffic.Testing;

/// <summary>
/// A read-only, non-seekable stream over bytes whose reads return at most <c>max</c> bytes (or, <c>varying</c>, 1, 2, …
/// up to <c>max</c> in turn), as a pipe or a socket may: a reader must give the same result whatever its reads return.
/// </summary>
internal sealed class TrickleStream(byte[] bytes, int max, bool varying = false) : Stream
{
    private int _position;
    private int _turn;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int most = varying ? 1 + (_turn++ % max) : max;
        int n = Math.Min(Math.Min(buffer.Length, bytes.Length - _position), most);
        bytes.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
