using System.Text;
using Apache.Arrow.Ipc;
using Confluent.Kafka;
using Traffic.Connectors.Kafka;
using Traffic.Engine.Alerts;
using Traffic.Engine.Output;
using Traffic.Engine.Probes;
using Traffic.Engine.Segments;
using Traffic.Geo.Matching;

namespace Traffic.Connectors.Tests.Kafka;

/// <summary>The engine's output records as they arrive on the embedded cluster: keys, headers and values.</summary>
public class KafkaSinksTests
{
    private static AlertEvent Alert(AlertState state, long timeMs) => new()
    {
        AlertId = "speeding:粤B12345:1767571200000",
        Kind = "speeding",
        State = state,
        TimeMs = timeMs,
        StartMs = 1_767_571_200_000,
        EndMs = state == AlertState.Close ? timeMs : null,
        VehicleId = "粤B12345",
        Class = "taxi",
        Road = "深南大道",
        WayId = 123456789,
        Direction = "forward",
        Lon = 113.9312345678,
        Lat = 22.5312345678,
        Severity = 2,
        Evidence = new Dictionary<string, double> { ["speed_kmh"] = 93.25, ["limit_kmh"] = 60 },
    };

    private static string AlertLine(AlertEvent a)
    {
        using var stream = new MemoryStream();
        using (var writer = new AlertWriter(stream)) writer.Write(a);
        string line = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        return line[..^1];
    }

    [Fact]
    public void An_alert_event_is_keyed_by_alert_id_with_its_lifecycle_in_a_header_and_the_AlertWriter_line_as_value()
    {
        using var kafka = new TestKafka();
        var events = new[] { Alert(AlertState.Open, 1_767_571_200_000), Alert(AlertState.Update, 1_767_571_230_000), Alert(AlertState.Close, 1_767_571_260_000) };
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test"))
        {
            foreach (var e in events) sinks.Alert(e);
            sinks.Flush();
            Assert.Equal(3, sinks.Produced);
            Assert.Equal(0, sinks.Failed);
        }
        var records = kafka.Read(kafka.Topics.Alerts).OrderBy(r => r.Offset).ToList();
        Assert.Equal(3, records.Count);
        // One alert's events stay in one partition, in order.
        Assert.Single(records.Select(r => r.Partition).Distinct());
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(events[i].AlertId, TestKafka.Text(records[i].Key));
            Assert.Equal(AlertLine(events[i]), TestKafka.Text(records[i].Value));
            Assert.Equal($"{AlertWriter.StateName(events[i].State)}@{events[i].TimeMs}", TestKafka.Text(records[i].Headers["event"]));
            Assert.Single(records[i].Headers);
        }
    }

    [Fact]
    public void A_segment_row_is_keyed_by_way_direction_edge_and_window_with_the_segments_ndjson_row_as_value()
    {
        using var kafka = new TestKafka();
        var net = TestKafka.Shenzhen;
        int named = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0 && net.Direction(e) == "backward");
        int unnamed = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length == 0);
        var rows = new[]
        {
            new SegmentStat(named, 1_767_571_200_000, 1_767_571_260_000, 5, 23.456, 51.2, 12.345, 2),
            new SegmentStat(unnamed, 1_767_571_260_000, 1_767_571_320_000, 3, 40, 45, 3.5, 0),
        };
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, net, "test"))
        {
            Assert.Equal($"{net.WayId(named)}:backward:{named}@1767571200000", Encoding.UTF8.GetString(sinks.SegmentKey(in rows[0])));
            foreach (var s in rows) sinks.Segment(in s);
            sinks.Flush();
        }
        var records = kafka.Read(kafka.Topics.Segments).ToDictionary(r => TestKafka.Text(r.Key), r => r);
        Assert.Equal(2, records.Count);
        foreach (var s in rows)
        {
            string key = $"{net.WayId(s.Edge)}:{net.Direction(s.Edge)}:{s.Edge}@{s.WindowStartMs}";
            Assert.True(records.TryGetValue(key, out var r), $"no record keyed {key} among {string.Join(", ", records.Keys)}");
            using var stream = new MemoryStream();
            using (var json = new NdjsonWriter(stream))
            {
                SegmentRow.WriteFields(json.Begin(), net, in s);
                json.End();
            }
            Assert.Equal(Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n'), TestKafka.Text(r.Value));
            Assert.Empty(r.Headers);
        }
        Assert.Contains(net.Name(named), TestKafka.Text(records.Values.First(r => r.Key != null && TestKafka.Text(r.Key).EndsWith("@1767571200000", StringComparison.Ordinal)).Value), StringComparison.Ordinal);
    }

    [Fact]
    public void A_sliding_view_goes_to_the_smoothed_feed_keyed_like_a_segment_row_and_the_network_index_by_its_window()
    {
        var topics = new KafkaTopics { SegmentViewsName = new SegmentOptions { SlidingWindows = 10 }.SlidingName };
        using var kafka = new TestKafka(topics);
        var net = TestKafka.Shenzhen;
        int edge = Enumerable.Range(0, net.EdgeCount).First(e => net.Name(e).Length > 0);
        var view = new SegmentStat(edge, 1_767_571_200_000, 1_767_571_800_000, 7, 31.5, 50, 20.25, 2);
        var sums = new NetworkSums(1_767_571_740_000, 1_767_571_800_000);
        sums.Grades[(int)RoadGrade.Arterial] = new GradeSums(5_000_000, 1_000_000, 150_000, 4);
        var index = NetworkIndex.Of(in sums);
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, net, "test"))
        {
            sinks.SegmentView(in view);
            sinks.NetworkIndex(in index);
            sinks.Flush();
        }
        Assert.Equal("traffic.segments-10m", kafka.Topics.SegmentViews);
        var r = Assert.Single(kafka.Read(kafka.Topics.SegmentViews));
        Assert.Equal($"{net.WayId(edge)}:{net.Direction(edge)}:{edge}@1767571200000", TestKafka.Text(r.Key));
        using (var stream = new MemoryStream())
        {
            using (var json = new NdjsonWriter(stream))
            {
                SegmentRow.WriteFields(json.Begin(), net, in view);
                json.End();
            }
            Assert.Equal(Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n'), TestKafka.Text(r.Value));
        }
        var t = Assert.Single(kafka.Read(kafka.Topics.Tpi));
        Assert.Equal("1767571740000", TestKafka.Text(t.Key));
        // 15 % of the mileage severe, all of it arterial: 8 + 2 × 0.01 / 0.10.
        Assert.Equal("""{"window_start":"2026-01-05T00:09:00.000Z","window_end":"2026-01-05T00:10:00.000Z","tpi":8.2,"level":5,"severe_share":0.15,"segments":4,"vehicle_km":5,"length_km":1}""", TestKafka.Text(t.Value));
    }

    [Fact]
    public void A_dead_letter_carries_the_original_bytes_and_the_reason_code_and_source_in_headers()
    {
        using var kafka = new TestKafka();
        // Not UTF-8, and a NUL: the bytes go as they came.
        byte[] original = [.. """{"vehicle_id":"粤B1","lat":95"""u8, 0xFF, 0x00, 0xC3];
        var error = new DecodeError(ProbeField.Lat, DecodeReason.OutOfRange);
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test"))
        {
            sinks.DeadLetter(original, in error, "traffic.probes", 5, 123456);
            sinks.DeadLetter([], new DecodeError(ProbeField.Record, DecodeReason.Malformed), "traffic.probes", 0, 0);
            sinks.DeadLetter([], new DecodeError(ProbeField.Record, DecodeReason.Malformed), "traffic.probes", 0, 1, tombstone: true);
            sinks.Flush();
        }
        var records = kafka.Read(kafka.Topics.DeadLetter).ToDictionary(r => TestKafka.Text(r.Key), r => r);
        var r = records["traffic.probes:5:123456"];
        Assert.Equal(original, r.Value);
        Assert.Equal("lat: out of range", TestKafka.Text(r.Headers["reason"]));
        Assert.Equal("lat:out_of_range", TestKafka.Text(r.Headers["code"]));
        Assert.Equal("traffic.probes:5:123456", TestKafka.Text(r.Headers["source"]));
        var empty = records["traffic.probes:0:0"];
        Assert.NotNull(empty.Value);
        Assert.Empty(empty.Value);
        Assert.Equal("record:malformed", TestKafka.Text(empty.Headers["code"]));
        // A tombstone's dead letter is a tombstone too: a null value, not an empty one.
        var tombstone = records["traffic.probes:0:1"];
        Assert.Null(tombstone.Value);
        Assert.Equal("record:malformed", TestKafka.Text(tombstone.Headers["code"]));
    }

    [Fact]
    public void A_dead_letter_too_large_for_a_message_is_cut_to_fit_and_says_how_long_the_original_was()
    {
        // A record the brokers took (a value of 999,950 bytes under their limit of about 1 MB) no longer fits once the key
        // and headers of its dead letter are added: the producer refused it (Message size too large), the vehicle stage
        // died, and every restart died again on the same record.
        using var kafka = new TestKafka();
        byte[] original = new byte[999_950];
        original.AsSpan().Fill((byte)'x');
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test"))
        {
            sinks.DeadLetter(original, new DecodeError(ProbeField.Record, DecodeReason.Malformed), "traffic.probes", 1, 2590);
            sinks.DeadLetter("[1,2,3]"u8, new DecodeError(ProbeField.Record, DecodeReason.Malformed), "traffic.probes", 1, 2591);
            sinks.Flush();
            Assert.Equal(0, sinks.Failed);
        }
        var records = kafka.Read(kafka.Topics.DeadLetter).ToDictionary(r => TestKafka.Text(r.Key), r => r);
        var cut = records["traffic.probes:1:2590"];
        Assert.InRange(cut.Value!.Length, 990_000, original.Length - 1);
        Assert.True(original.AsSpan(0, cut.Value.Length).SequenceEqual(cut.Value));
        Assert.Equal("999950", TestKafka.Text(cut.Headers["original_length"]));
        Assert.Equal("record:malformed", TestKafka.Text(cut.Headers["code"]));
        var whole = records["traffic.probes:1:2591"];
        Assert.Equal("[1,2,3]", TestKafka.Text(whole.Value));
        Assert.False(whole.Headers.ContainsKey("original_length"));
    }

    [Fact]
    public void Late_probes_matched_batches_and_exchange_messages_go_where_they_belong()
    {
        using var kafka = new TestKafka();
        var ids = new VehicleIds();
        int vehicle = ids.Intern("粤B7");
        var builder = new MatchedBatchBuilder(TestKafka.Shenzhen, ids);
        builder.Append(vehicle, new MatchedProbe
        {
            ProbeId = 1, TimeMs = 1_767_571_200_000, Edge = 5, OffsetM = 3, Lon = 113.9, Lat = 22.5, DistanceM = 2,
            RouteDistanceM = 10, SpeedKmh = 30, Confidence = 0.9, Break = ChainBreak.None, Forced = false, ReportedSpeedKmh = double.NaN,
        });
        byte[] arrow = builder.TakeIpcStream();
        var probe = Probe.Empty with { Vehicle = vehicle, TimeMs = 1_767_571_200_000, Lon = 113.9, Lat = 22.5, SpeedKmh = 31.5f };
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test"))
        {
            sinks.Late("粤B7", in probe, "traffic.probes", 2, 99);
            sinks.Matched(3, 7, arrow);
            for (int p = 0; p < kafka.Topics.ExchangePartitions; p++) sinks.Exchange(p, [1, (byte)p, 0, 0, 0]);
            sinks.Flush();
        }
        var late = Assert.Single(kafka.Read(kafka.Topics.Late));
        Assert.Equal("traffic.probes:2:99", TestKafka.Text(late.Key));
        Assert.Equal("""{"vehicle_id":"粤B7","time":1767571200000,"lon":113.9,"lat":22.5,"speed_kmh":31.5,"source":"traffic.probes:2:99","reason":"late"}""", TestKafka.Text(late.Value));

        var matched = Assert.Single(kafka.Read(kafka.Topics.Matched));
        Assert.Equal("3:7", TestKafka.Text(matched.Key));
        Assert.Equal(arrow, matched.Value);
        using (var reader = new ArrowStreamReader(new MemoryStream(matched.Value!)))
            Assert.Equal(1, reader.ReadNextRecordBatch()!.Length);

        var exchange = kafka.Read(kafka.Topics.Exchange);
        Assert.Equal(kafka.Topics.ExchangePartitions, exchange.Count);
        Assert.All(exchange, r =>
        {
            Assert.Null(r.Key);
            Assert.Equal(r.Partition, r.Value![1]);
        });
    }

    [Fact]
    public void Flush_throws_when_a_record_could_not_be_delivered()
    {
        var properties = new Dictionary<string, string> { ["message.timeout.ms"] = "1500", ["log_level"] = "0" };
        using var kafka = new TestKafka(properties: properties);
        using var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test");
        sinks.Alert(Alert(AlertState.Open, 1_767_571_200_000));
        sinks.Flush();
        Assert.Equal(0, sinks.Failed);

        kafka.StopCluster();
        sinks.Alert(Alert(AlertState.Close, 1_767_571_260_000));
        var e = Assert.Throws<KafkaException>(() => sinks.Flush());
        Assert.Contains("not delivered", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, sinks.Failed);
        // And again: a failure is never forgotten, so no later checkpoint can cover it.
        Assert.Throws<KafkaException>(() => sinks.Flush());
    }

    [Fact]
    public void A_full_producer_queue_calls_QueueFull_then_QueueDrained_and_every_record_arrives()
    {
        var properties = new Dictionary<string, string> { ["queue.buffering.max.messages"] = "4" };
        using var kafka = new TestKafka(properties: properties);
        int full = 0, drained = 0, maxDepth = 0, depth = 0;
        using (var sinks = new KafkaSinks(kafka.Connection, kafka.Topics, TestKafka.Shenzhen, "test"))
        {
            sinks.QueueFull = () =>
            {
                full++;
                maxDepth = Math.Max(maxDepth, ++depth);
            };
            sinks.QueueDrained = () =>
            {
                drained++;
                depth--;
            };
            for (int i = 0; i < 300; i++) sinks.Alert(Alert(AlertState.Update, 1_767_571_200_000 + i * 1000L));
            sinks.Flush();
            Assert.Equal(300, sinks.Produced);
        }
        Assert.True(full > 0, "the queue of 4 never filled up");
        Assert.Equal(full, drained);
        Assert.Equal(1, maxDepth);
        var records = kafka.Read(kafka.Topics.Alerts).OrderBy(r => r.Offset).ToList();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"update@{1_767_571_200_000 + i * 1000L}"), records.Select(r => TestKafka.Text(r.Headers["event"])));
    }
}
