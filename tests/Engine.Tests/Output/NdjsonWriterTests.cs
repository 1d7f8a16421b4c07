using System.Text;
using Traffic.Engine.Output;

namespace Traffic.Engine.Tests.Output;

public class NdjsonWriterTests
{
    // Enough lines of about 60 bytes to fill several blocks, with a long line across a block's end.
    private static void WriteLines(NdjsonWriter lines)
    {
        for (int i = 0; i < 5_000; i++)
        {
            var w = lines.Begin();
            w.WriteNumber("line"u8, i);
            w.WriteString("road"u8, i == 1_100 ? new string('路', 40_000) : "深南大道");
            w.WriteNumber("speed_kmh"u8, i * 0.25);
            lines.End();
        }
    }

    [Fact]
    public void Blocks_hold_the_same_bytes_as_lines_written_one_by_one()
    {
        using var blocks = new MemoryStream();
        using var single = new MemoryStream();
        using (var lines = new NdjsonWriter(blocks)) WriteLines(lines);
        using (var lines = new NdjsonWriter(single, lineByLine: true)) WriteLines(lines);
        Assert.True(blocks.Length > 3 * NdjsonWriter.BlockBytes);
        Assert.Equal(single.ToArray(), blocks.ToArray());
        string[] text = Encoding.UTF8.GetString(blocks.ToArray()).Split('\n');
        Assert.Equal(5_001, text.Length);
        Assert.Equal("{\"line\":0,\"road\":\"深南大道\",\"speed_kmh\":0}", text[0]);
        Assert.Equal("", text[^1]);
    }

    [Fact]
    public void A_line_by_line_writer_hands_each_line_over_at_its_end_and_a_block_writer_at_the_block_or_dispose()
    {
        using var single = new MemoryStream();
        using var blocks = new MemoryStream();
        var one = new NdjsonWriter(single, lineByLine: true);
        var many = new NdjsonWriter(blocks);
        foreach (var lines in new[] { one, many })
        {
            lines.Begin().WriteNumber("a"u8, 1);
            lines.End();
        }
        Assert.Equal("{\"a\":1}\n", Encoding.UTF8.GetString(single.ToArray()));
        Assert.Equal(0, blocks.Length);
        many.Dispose();
        one.Dispose();
        Assert.Equal("{\"a\":1}\n", Encoding.UTF8.GetString(blocks.ToArray()));
        Assert.Equal(1, many.Lines);
    }
}
