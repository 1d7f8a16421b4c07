using System.Diagnostics;
using System.Text;
using Traffic.Connectors.Kafka;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>
/// The NDJSON stream that produces each probe line as one message of the probes topic, keyed by vehicle id, read
/// back from the embedded cluster.
/// </summary>
public class KafkaProbeWriterTests
{
    // Lines of every kind: plain, Chinese ids (multi-byte UTF-8), an escaped id, an RFC 3339 time, blank and
    // whitespace-only lines, a line without a readable id, a broken line whose id is readable.
    private static string Lines(int n) => string.Join("\n",
        $$"""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.52,"n":{{n}}}""",
        "",
        $$"""{"vehicle_id":"粤B12345","time":1767571201000,"lon":113.94,"lat":22.53,"road":"深南大道","n":{{n}}}""",
        "   \t ",
        $$"""{"n":{{n}},"vehicle_id":"\u7CA4B12345","time":"2026-01-05T00:00:02Z","lon":113.94,"lat":22.53}""",
        $$"""this is not a probe {{n}}""",
        $$"""{"vehicle_id":7,"n":{{n}}}""",
        $$"""{"vehicle_id":"琼A00001","time":1767571203000,"lon":113.9""" + $"[{n}]",
        $$"""{"vehicle_id":"T1","time":1767571204000,"lon":113.95,"lat":22.54,"n":{{n}}}""") + "\n";

    // What each line of Lines(n) must become: (key, value), blank lines gone.
    private static IEnumerable<(string? Key, string Value)> Expected(int n) => Lines(n).Split('\n')
        .Where(l => l.Trim().Length > 0)
        .Select(l => (Key(l), l));

    private static string? Key(string line) =>
        line.Contains("\"T1\"", StringComparison.Ordinal) ? "T1"
        : line.Contains("粤B12345", StringComparison.Ordinal) || line.Contains("\\u7CA4B12345", StringComparison.Ordinal) ? "粤B12345"
        : line.Contains("琼A00001", StringComparison.Ordinal) ? "琼A00001"
        : null;

    [Fact]
    public void Lines_split_across_any_writes_are_produced_whole_keyed_by_vehicle_id_and_blank_lines_skipped()
    {
        using var kafka = new TestKafka();
        var expected = new List<(string? Key, string Value)>();
        int variant = 0;
        using (var writer = new KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes))
        {
            // One write per variant: the whole text at once; then every single split point, which includes every
            // point inside each Chinese character; then random splits into many pieces; then a byte at a time.
            byte[] whole = Encoding.UTF8.GetBytes(Lines(variant));
            writer.Write(whole);
            expected.AddRange(Expected(variant++));
            int points = whole.Length;
            for (int split = 1; split < points; split++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(Lines(variant));
                int at = Math.Min(split, bytes.Length - 1);
                writer.Write(bytes, 0, at);
                writer.Write(bytes, at, bytes.Length - at);
                expected.AddRange(Expected(variant++));
            }
            var random = new Random(11);
            for (int r = 0; r < 50; r++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(Lines(variant));
                int at = 0;
                while (at < bytes.Length)
                {
                    int n = Math.Min(bytes.Length - at, random.Next(0, 40));
                    writer.Write(bytes.AsSpan(at, n));
                    at += n;
                }
                expected.AddRange(Expected(variant++));
            }
            byte[] single = Encoding.UTF8.GetBytes(Lines(variant));
            foreach (byte b in single) writer.Write([b], 0, 1);
            expected.AddRange(Expected(variant++));
            writer.Flush();
            Assert.Equal(expected.Count, writer.Produced);
        }
        // The splits hit the inside of a multi-byte character.
        Assert.True(Encoding.UTF8.GetByteCount("粤") == 3 && Lines(0).Contains('粤', StringComparison.Ordinal));

        var records = kafka.Read(kafka.Topics.Probes);
        var got = records.Select(r => (Key: r.Key == null ? null : TestKafka.Text(r.Key), Value: TestKafka.Text(r.Value))).ToList();
        var missing = expected.Except(got).Take(3).ToList();
        var extra = got.Except(expected).Take(3).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing e.g. {string.Join(" | ", missing)}; extra e.g. {string.Join(" | ", extra)}");
        Assert.Equal(expected.Count, got.Count);
        // Per key, one partition, in the order written.
        foreach (var group in records.Where(r => r.Key != null).GroupBy(r => TestKafka.Text(r.Key)))
        {
            Assert.Single(group.Select(r => r.Partition).Distinct());
            var order = group.OrderBy(r => r.Offset).Select(r => TestKafka.Text(r.Value)).ToList();
            Assert.Equal(expected.Where(e => e.Key == group.Key).Select(e => e.Value), order);
        }
        Assert.True(records.Where(r => r.Key != null).Select(r => r.Partition).Distinct().Count() > 1, "every key in one partition: the test shows nothing about keying");
        Assert.Equal(variant * 2, records.Count(r => r.Key == null));
    }

    [Fact]
    public void A_last_line_without_newline_is_produced_on_flush_and_CRLF_lines_lose_their_CR()
    {
        using var kafka = new TestKafka();
        using (var writer = new KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes))
        {
            writer.Write("""{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.52}"""u8);
            writer.Write("\r\n\r\n"u8);
            writer.Write("""{"vehicle_id":"T2","time":1767571200000,"lon":113.93,"lat":22.52}"""u8);
        }
        var records = kafka.Read(kafka.Topics.Probes).OrderBy(r => TestKafka.Text(r.Key), StringComparer.Ordinal).ToList();
        Assert.Equal(["T1", "T2"], records.Select(r => TestKafka.Text(r.Key)));
        Assert.Equal(
        [
            """{"vehicle_id":"T1","time":1767571200000,"lon":113.93,"lat":22.52}""",
            """{"vehicle_id":"T2","time":1767571200000,"lon":113.93,"lat":22.52}""",
        ], records.Select(r => TestKafka.Text(r.Value)));
    }

    [Fact]
    public void A_vehicle_id_with_an_escaped_lone_surrogate_is_produced_unkeyed_and_the_lines_after_it_too()
    {
        // "\uD800" alone is valid JSON syntax but no text: unescaping the id threw InvalidOperationException out of
        // Write, and the lines after it were never produced.
        using var kafka = new TestKafka();
        using (var writer = new KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes))
        {
            writer.Write("""{"vehicle_id":"\uD800T1","time":1767571200000,"lon":113.93,"lat":22.52}"""u8);
            writer.Write("\n"u8);
            writer.Write("""{"vehicle_id":"T2","time":1767571200000,"lon":113.93,"lat":22.52}"""u8);
            writer.Write("\n"u8);
        }
        var records = kafka.Read(kafka.Topics.Probes);
        Assert.Equal(2, records.Count);
        Assert.Null(records.Single(r => TestKafka.Text(r.Value).Contains("uD800", StringComparison.Ordinal)).Key);
        Assert.Equal("T2", TestKafka.Text(records.Single(r => r.Key != null).Key));
    }

    [Fact]
    public void The_same_input_lands_the_same_way_every_time_unkeyed_lines_included()
    {
        // Both topics auto-created with 4 partitions.
        using var kafka = new TestKafka();
        foreach (string topic in (string[])["a.probes", "b.probes"])
        {
            using var writer = new KafkaProbeWriter(kafka.Connection, topic);
            for (int n = 0; n < 6; n++)
            {
                writer.Write(Encoding.UTF8.GetBytes(Lines(n)));
                writer.Flush();
                // Longer than the producer's sticky partitioning of unkeyed messages.
                Thread.Sleep(25);
            }
        }
        static List<(int, long, string, string)> Layout(List<TopicRecord> records) =>
            records.Select(r => (r.Partition, r.Offset, TestKafka.Text(r.Key), TestKafka.Text(r.Value))).OrderBy(r => r.Partition).ThenBy(r => r.Offset).ToList();
        var a = Layout(kafka.Read("a.probes"));
        var b = Layout(kafka.Read("b.probes"));
        Assert.Equal(6 * 7, a.Count);
        Assert.Equal(a, b);
    }

    [Fact]
    public void With_a_speed_the_lines_are_paced_by_their_own_times()
    {
        using var kafka = new TestKafka();
        // Two seconds of event time at five times real time: at least 400 ms (a lower bound only, never a timing benchmark).
        var text = new StringBuilder();
        for (int i = 0; i <= 4; i++) text.Append($$"""{"vehicle_id":"T1","time":{{1767571200000 + i * 500}},"lon":113.93,"lat":22.52}""").Append('\n');
        var clock = Stopwatch.StartNew();
        using (var writer = new KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes, speed: 5))
        {
            writer.Write(Encoding.UTF8.GetBytes(text.ToString()));
            Assert.True(clock.ElapsedMilliseconds >= 380, $"five probes over 2 s of event time at speed 5 were written in {clock.ElapsedMilliseconds} ms");
        }
        Assert.Equal(5, kafka.Read(kafka.Topics.Probes).Count);
    }

    [Fact]
    public void A_consumer_far_behind_holds_the_writer_back_and_nothing_is_lost()
    {
        using var kafka = new TestKafka();
        // A slow consumer that takes one message every 2 ms once it has started: the writer must never run more than
        // MaxAhead ahead of it, and waits rather than lets the cluster's retention drop what it has not taken.
        var slow = Stopwatch.StartNew();
        KafkaProbeWriter? writer = null;
        long worst = 0;
        long Taken()
        {
            long taken = slow.ElapsedMilliseconds / 2;
            worst = Math.Max(worst, writer!.Produced - taken);
            return taken;
        }
        var text = new StringBuilder();
        for (int i = 0; i < 300; i++) text.Append($$"""{"vehicle_id":"T{{i % 7}}","time":{{1767571200000 + i * 100}},"lon":113.93,"lat":22.52}""").Append('\n');
        using (writer = new KafkaProbeWriter(kafka.Connection, kafka.Topics.Probes) { Taken = Taken, MaxAhead = 40 })
        {
            writer.Write(Encoding.UTF8.GetBytes(text.ToString()));
            writer.Flush();
            Assert.Equal(300, writer.Produced);
            Assert.True(writer.HeldMs > 0, "the writer never waited for the consumer");
        }
        Assert.True(worst <= 41, $"the writer ran {worst} messages ahead of the consumer (at most 40 allowed)");
        Assert.Equal(300, kafka.Read(kafka.Topics.Probes).Count);
    }
}
