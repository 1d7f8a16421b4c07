using BenchmarkDotNet.Attributes;
using Traffic.Engine.Output;
using Traffic.Engine.Segments;

namespace Traffic.Bench.Pipeline;

/// <summary>
/// A replay's segment rows as NDJSON lines, per row: through the lines' <see cref="System.Text.Json.Utf8JsonWriter"/>
/// (<see cref="SegmentRow.WriteFields"/>, the way before the formatter) and through <see cref="SegmentRowFormatter"/> (the
/// replay's files and the Kafka feed), the same bytes; and appended to the segment Arrow writer. 10,000 rows on Shenzhen's edges, 50 windows of 200
/// rows, speeds and times as a replay's windows have them; lines go to a null stream, Arrow files to a temporary folder.
/// </summary>
[MemoryDiagnoser]
public class SegmentRowBenchmarks
{
    private const int Rows = 10_000;

    private SegmentStat[] _rows = [];
    private NdjsonWriter _lines = null!;
    private SegmentRowFormatter _format = null!;
    private SegmentArrowWriter _arrow = null!;
    private string _dir = "";

    [GlobalSetup]
    public void Setup()
    {
        var net = ReplayBenchData.Shenzhen;
        var random = new Random(1);
        long t0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        _rows = new SegmentStat[Rows];
        for (int i = 0; i < Rows; i++)
        {
            int edge = random.Next(net.EdgeCount);
            long start = t0 + (i / 200 * 60_000L);
            double speed = 5 + (random.NextDouble() * 60), free = random.Next(3) == 0 ? 45 : 20 + (random.Next(120) / 2.0);
            _rows[i] = new SegmentStat(edge, start, start + 60_000, 3 + random.Next(10), speed, free, net.LengthM(edge) / (speed / 3.6),
                CongestionLevel.Of(speed, free));
        }
        Array.Sort(_rows, (a, b) => a.WindowStartMs != b.WindowStartMs ? a.WindowStartMs.CompareTo(b.WindowStartMs) : a.Edge.CompareTo(b.Edge));
        _lines = new NdjsonWriter(Stream.Null);
        _format = new SegmentRowFormatter(net);
        _dir = Directory.CreateTempSubdirectory("traffic-bench-").FullName;
        _arrow = new SegmentArrowWriter(_dir, net);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lines.Dispose();
        _arrow.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "SegmentRow.WriteFields (Utf8JsonWriter)", OperationsPerInvoke = Rows)]
    public long JsonWriter()
    {
        var net = ReplayBenchData.Shenzhen;
        foreach (ref readonly SegmentStat row in _rows.AsSpan())
        {
            SegmentRow.WriteFields(_lines.Begin(), net, in row);
            _lines.End();
        }
        return _lines.Lines;
    }

    [Benchmark(Description = "SegmentRowFormatter.Write", OperationsPerInvoke = Rows)]
    public long Formatter()
    {
        foreach (ref readonly SegmentStat row in _rows.AsSpan()) _format.Write(_lines, in row);
        return _lines.Lines;
    }

    [Benchmark(Description = "SegmentArrowWriter.Append", OperationsPerInvoke = Rows)]
    public int ArrowAppend()
    {
        foreach (ref readonly SegmentStat row in _rows.AsSpan()) _arrow.Append(in row);
        return _arrow.PendingRows;
    }
}
