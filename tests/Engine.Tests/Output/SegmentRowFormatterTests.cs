using System.Text;
using Traffic.Engine.Output;
using Traffic.Engine.Segments;
using Traffic.Engine.Tests.Simulation;
using Traffic.Geo.Network;

namespace Traffic.Engine.Tests.Output;

public class SegmentRowFormatterTests
{
    // Names that the writer escapes (quotes, backslashes, control characters, HTML characters it leaves alone under the
    // relaxed encoder, line separators, characters outside the basic plane) or writes as they are.
    private static readonly string[] s_names =
    [
        "", "深南大道", "A \"quoted\" road\\", "<b>&'+`</b>", "tab\there\nnew line\u0001\u001f\u007f", "🚗 road 𠀀",
        "\u2028\u2029\u00ad\u200b\ufeff", "Rúa de Galicia", "  ",
    ];

    /// <summary>One two-way street per name, its ways' ids large and small.</summary>
    private static RoadNetwork Named()
    {
        var b = new NetworkBuilder(NetworkSource.OpenStreetMap);
        for (int i = 0; i < s_names.Length; i++)
        {
            int from = b.AddNode(0.001 * i, 0), to = b.AddNode(0.001 * i, 0.001);
            long way = i % 2 == 0 ? long.MaxValue - i : i + 1;
            int f = b.AddEdge(from, to, [0.001 * i, 0.001 * i], [0, 0.001], RoadClass.Primary, EdgeFlags.None, 50, way, s_names[i]);
            int r = b.AddEdge(to, from, [0.001 * i, 0.001 * i], [0.001, 0], RoadClass.Primary, EdgeFlags.Backward, 50, way, s_names[i]);
            b.SetTwins(f, r);
        }
        return b.Build();
    }

    /// <summary>The rows as the lines' <see cref="System.Text.Json.Utf8JsonWriter"/> writes them, and as the formatter does.</summary>
    private static (string Writer, string Formatter) Both(RoadNetwork net, IEnumerable<SegmentStat> rows)
    {
        using var expected = new MemoryStream();
        using var actual = new MemoryStream();
        var format = new SegmentRowFormatter(net);
        using (var writer = new NdjsonWriter(expected))
        using (var formatter = new NdjsonWriter(actual))
        {
            foreach (var row in rows)
            {
                SegmentRow.WriteFields(writer.Begin(), net, in row);
                writer.End();
                format.Write(formatter, in row);
            }
            Assert.Equal(writer.Lines, formatter.Lines);
        }
        return (Encoding.UTF8.GetString(expected.ToArray()), Encoding.UTF8.GetString(actual.ToArray()));
    }

    [Fact]
    public void Rows_are_the_bytes_the_json_writer_writes_for_any_name_number_and_time()
    {
        var net = Named();
        double[] doubles =
        [
            0, -0.0, 0.001, 0.005, 0.015, 1.005, 2.675, 12.3456, 35.63, 54, 99.999, 123456.785, 1e15 + 0.3, 1e16, 1.5e17, 1e22, 1e300,
            -3.14159, 5e-324, double.Epsilon * 1e10, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 1e-5, 4.35, 8.675,
        ];
        long[] times = [0, -60_000, 1_767_571_200_000, 1_767_571_260_000, 253_402_000_000_000, 946_684_799_999, 1_767_571_200_000];
        int[] ints = [0, 1, 3, 9, 10, 64, 65, 1_000_000, int.MaxValue, -1, int.MinValue];
        var random = new Random(20261127);
        var rows = new List<SegmentStat>();
        for (int i = 0; i < 4_000; i++)
        {
            // Runs of rows with one window (as written: the formatter keeps the last times), and rows out of order.
            long start = times[(i / 7) % times.Length] + (random.Next(3) == 0 ? random.Next(1, 100_000) : 0);
            rows.Add(new SegmentStat(random.Next(net.EdgeCount), start, start + (i % 11 == 0 ? 300_000 : 60_000), ints[random.Next(ints.Length)],
                Pick(), Pick(), Pick(), ints[random.Next(ints.Length)]));
        }
        var (writer, formatter) = Both(net, rows);
        Assert.Equal(writer, formatter);
        Assert.Contains("\\\"quoted\\\" road\\\\", formatter, StringComparison.Ordinal);
        Assert.Contains("\"road\":\"深南大道\"", formatter, StringComparison.Ordinal);
        Assert.Contains("\"direction\":\"backward\"", formatter, StringComparison.Ordinal);

        double Pick() => random.Next(4) == 0 ? (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-8, 20)) : doubles[random.Next(doubles.Length)];
    }

    [Fact]
    public void Hundredths_are_the_shortest_text_that_reads_back_as_the_formatter_writes_it()
    {
        Span<byte> expected = stackalloc byte[64];
        Span<byte> actual = stackalloc byte[64];
        var random = new Random(27);
        for (long i = 0; i < 3_000_000; i++)
        {
            // Every hundredth up to 20,000, then values rounded as the rows round them across every magnitude the fast
            // path takes and beyond it (10¹² and over, negative values, negative zero: the formatter's own).
            double value = i < 2_000_000 ? i / 100.0 : Math.Round((random.NextDouble() - 0.05) * Math.Pow(10, random.Next(-7, 16)), 2);
            if (i == 2_000_001) value = -0.0;
            Assert.True(System.Buffers.Text.Utf8Formatter.TryFormat(value, expected, out int length));
            int written = SegmentRowFormatter.Hundredths(value, actual);
            if (!actual[..written].SequenceEqual(expected[..length]))
                Assert.Fail($"{value:R}: {Encoding.ASCII.GetString(actual[..written])}, the formatter {Encoding.ASCII.GetString(expected[..length])}");
        }
    }

    [Fact]
    public void Every_road_of_a_real_network_is_written_as_the_json_writer_writes_it()
    {
        var net = SimRun.Shenzhen;
        var (writer, formatter) = Both(net, Enumerable.Range(0, net.EdgeCount).Select(e =>
            new SegmentStat(e, 1_767_571_200_000 + (e / 500 * 60_000L), 1_767_571_260_000 + (e / 500 * 60_000L), 3 + (e % 7), e * 0.0137, 50, e % 97 * 1.01, 1 + (e % 5))));
        Assert.Equal(writer, formatter);
    }

    [Fact]
    public void A_row_with_a_number_that_is_not_finite_is_refused_as_the_json_writer_refuses_it()
    {
        var net = Named();
        var format = new SegmentRowFormatter(net);
        foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            using var lines = new NdjsonWriter(new MemoryStream());
            Assert.Throws<ArgumentException>(() => format.Write(lines, new SegmentStat(0, 0, 60_000, 3, bad, 50, 10, 2)));
            using var others = new NdjsonWriter(new MemoryStream());
            Assert.Throws<ArgumentException>(() => format.Write(others, new SegmentStat(0, 0, 60_000, 3, 30, 50, bad, 2)));
        }
    }
}
