using System.Buffers.Binary;
using Traffic.Engine.Pipeline;
using Traffic.Geo.Matching;

namespace Traffic.Connectors.Kafka;

/// <summary>Receives the records of an exchange message, in order.</summary>
public interface IExchangeHandler
{
    void Traversal(in SegmentTraversal traversal);

    void Watermark(in SegmentWatermark watermark);

    void Idle(in SegmentIdle idle);
}

/// <summary>
/// The binary value of an exchange-topic message: records that one vehicle-stage partition sends to one
/// segment-stage partition, each with the sender's sequence number (a receiver drops what it has seen, so a
/// sender that replays after a restart causes no double count). Little-endian:
/// <code>
/// header  : version u8 = 1, source partition u16, record count u16
/// record  : kind u8 (1 traversal, 2 watermark, 3 idle), sequence i64,
///           traversal: vehicle key i32, edge i32, from m f64, to m f64, enter ms i64, exit ms i64
///           watermark: watermark ms i64
///           idle: nothing more (its sequence is that of the sender's last message: <see cref="SegmentIdle"/>)
/// </code>
/// </summary>
public sealed class ExchangeBatch
{
    private const byte Version = 1;
    private const int HeaderBytes = 5;
    private const int TraversalBytes = 1 + 8 + 4 + 4 + 8 + 8 + 8 + 8;
    private const int WatermarkBytes = 1 + 8 + 8;
    private const int IdleBytes = 1 + 8;

    /// <summary>Most records per message.</summary>
    public const int MaxRecords = 1024;

    private readonly byte[] _buffer = new byte[HeaderBytes + MaxRecords * TraversalBytes];
    private int _length = HeaderBytes;

    public ExchangeBatch(int sourcePartition)
    {
        _buffer[0] = Version;
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(1), checked((ushort)sourcePartition));
    }

    public int Count { get; private set; }

    public bool IsFull => Count >= MaxRecords;

    public void AddTraversal(in SegmentTraversal traversal)
    {
        Span<byte> s = _buffer.AsSpan(_length, TraversalBytes);
        TraversedEdge t = traversal.Edge;
        s[0] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(s[1..], traversal.Sequence);
        BinaryPrimitives.WriteInt32LittleEndian(s[9..], traversal.VehicleKey);
        BinaryPrimitives.WriteInt32LittleEndian(s[13..], t.Edge);
        BinaryPrimitives.WriteDoubleLittleEndian(s[17..], t.FromOffsetM);
        BinaryPrimitives.WriteDoubleLittleEndian(s[25..], t.ToOffsetM);
        BinaryPrimitives.WriteInt64LittleEndian(s[33..], t.EnterTimeMs);
        BinaryPrimitives.WriteInt64LittleEndian(s[41..], t.ExitTimeMs);
        _length += TraversalBytes;
        Count++;
    }

    public void AddWatermark(in SegmentWatermark watermark)
    {
        Span<byte> s = _buffer.AsSpan(_length, WatermarkBytes);
        s[0] = 2;
        BinaryPrimitives.WriteInt64LittleEndian(s[1..], watermark.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(s[9..], watermark.WatermarkMs);
        _length += WatermarkBytes;
        Count++;
    }

    public void AddIdle(in SegmentIdle idle)
    {
        Span<byte> s = _buffer.AsSpan(_length, IdleBytes);
        s[0] = 3;
        BinaryPrimitives.WriteInt64LittleEndian(s[1..], idle.Sequence);
        _length += IdleBytes;
        Count++;
    }

    /// <summary>The message's bytes; the batch is then empty again.</summary>
    public byte[] Take()
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(3), (ushort)Count);
        byte[] bytes = _buffer.AsSpan(0, _length).ToArray();
        _length = HeaderBytes;
        Count = 0;
        return bytes;
    }

    /// <summary>Reads a message: its records, handed to <paramref name="handler"/> in order, with the sender's partition.</summary>
    /// <exception cref="InvalidDataException">Not an exchange message of this version, or truncated.</exception>
    public static void Read<THandler>(ReadOnlySpan<byte> message, ref THandler handler) where THandler : IExchangeHandler
    {
        if (message.Length < HeaderBytes || message[0] != Version) throw new InvalidDataException("exchange: not a version-1 exchange message");
        int source = BinaryPrimitives.ReadUInt16LittleEndian(message[1..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(message[3..]);
        int at = HeaderBytes;
        for (int i = 0; i < count; i++)
        {
            if (at >= message.Length) throw new InvalidDataException("exchange: truncated message");
            byte kind = message[at];
            int size = kind switch
            {
                1 => TraversalBytes,
                2 => WatermarkBytes,
                3 => IdleBytes,
                _ => throw new InvalidDataException($"exchange: unknown record kind {kind}"),
            };
            if (at + size > message.Length) throw new InvalidDataException("exchange: truncated message");
            ReadOnlySpan<byte> s = message.Slice(at, size);
            long sequence = BinaryPrimitives.ReadInt64LittleEndian(s[1..]);
            if (kind == 2) handler.Watermark(new SegmentWatermark(source, sequence, BinaryPrimitives.ReadInt64LittleEndian(s[9..])));
            else if (kind == 3) handler.Idle(new SegmentIdle(source, sequence));
            else
            {
                handler.Traversal(new SegmentTraversal(source, sequence, BinaryPrimitives.ReadInt32LittleEndian(s[9..]), new TraversedEdge(
                    BinaryPrimitives.ReadInt32LittleEndian(s[13..]),
                    BinaryPrimitives.ReadDoubleLittleEndian(s[17..]),
                    BinaryPrimitives.ReadDoubleLittleEndian(s[25..]),
                    BinaryPrimitives.ReadInt64LittleEndian(s[33..]),
                    BinaryPrimitives.ReadInt64LittleEndian(s[41..]))));
            }
            at += size;
        }
        if (at != message.Length) throw new InvalidDataException("exchange: trailing bytes");
    }
}
