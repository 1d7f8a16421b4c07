using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Segments;
using Traffic.Geo.Import;
using Traffic.Geo.Matching;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// A source that says it is idle (<see cref="SegmentIdle"/>: a probes partition without traffic) no longer holds back the
/// windows of a <see cref="SegmentPartition"/>; one that comes back counts again, and what it sends for windows closed
/// without it is late.
/// </summary>
public class SegmentPartitionIdleTests
{
    private const long Minute = 60_000;
    private const int Sources = 3;

    private static readonly Lazy<RoadNetwork> s_net = new(() => NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _));

    // 2026-01-05 08:00 local, a weekday morning.
    private static readonly long s_w0 = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static int Edge => Enumerable.Range(0, s_net.Value.EdgeCount).First(e => s_net.Value.LengthM(e) > 150);

    private sealed class Rows : ISegmentPartitionOutput
    {
        public List<SegmentStat> Windows { get; } = [];

        public void Window(in SegmentStat window) => Windows.Add(window);

        public void Alert(AlertEvent alert)
        {
        }

        public void View(in SegmentStat view)
        {
        }

        public void Network(in NetworkSums sums)
        {
        }
    }

    /// <summary>A source's messages, numbered as a vehicle partition numbers them.</summary>
    private sealed class Sender(int source)
    {
        public long Sequence { get; private set; }

        /// <summary>A vehicle's drive over the whole edge at 36 km/h, leaving it <paramref name="exitAfterMs"/> into the first window.</summary>
        public SegmentTraversal Drive(string vehicle, long exitAfterMs)
        {
            double length = s_net.Value.LengthM(Edge);
            long exit = s_w0 + exitAfterMs;
            return new SegmentTraversal(source, ++Sequence, VehicleKey.Of(vehicle), new TraversedEdge(Edge, 0, length, exit - (long)(length / 10 * 1000), exit));
        }

        public SegmentWatermark Watermark(long afterMs) => new(source, ++Sequence, s_w0 + afterMs);

        public SegmentIdle Idle() => new(source, Sequence);
    }

    /// <summary>Three vehicles from each of sources 0 and 1 in the first window, and both sources' watermarks past its end (not the second's).</summary>
    private static (SegmentPartition Partition, Rows Rows, Sender[] Senders) TwoBusySourcesAndOneSilent()
    {
        var partition = new SegmentPartition(s_net.Value, 0, Sources);
        var rows = new Rows();
        var senders = Enumerable.Range(0, Sources).Select(s => new Sender(s)).ToArray();
        for (int s = 0; s < 2; s++)
        {
            for (int v = 0; v < 3; v++) Assert.True(partition.OnTraversal(senders[s].Drive($"粤B{s}{v}", 20_000 + v * 10_000)));
        }
        for (int s = 0; s < 2; s++) Assert.True(partition.OnWatermark(senders[s].Watermark(90_000), rows));
        return (partition, rows, senders);
    }

    [Fact]
    public void A_silent_source_holds_back_the_windows_until_it_says_it_is_idle()
    {
        var (partition, rows, senders) = TwoBusySourcesAndOneSilent();
        Assert.Empty(rows.Windows);   // source 2 has sent nothing: its watermark is still the least
        Assert.Equal(long.MinValue, partition.WatermarkMs);

        Assert.True(partition.OnIdle(senders[2].Idle(), rows));

        Assert.True(partition.IsIdle(2));
        Assert.Equal(1, partition.IdleSources);
        Assert.Equal(s_w0 + 90_000, partition.WatermarkMs);
        var window = Assert.Single(rows.Windows);
        Assert.Equal((Edge, s_w0, 6), (window.Edge, window.WindowStartMs, window.Vehicles));
        Assert.Equal(36, window.SpeedKmh, 2);
    }

    [Fact]
    public void An_idle_word_older_than_the_last_message_taken_from_its_source_is_ignored()
    {
        var (partition, rows, senders) = TwoBusySourcesAndOneSilent();
        var stale = senders[0].Idle();
        Assert.True(partition.OnTraversal(senders[0].Drive("粤B09", Minute + 20_000)));   // sent after the word was written

        Assert.False(partition.OnIdle(stale, rows));
        Assert.False(partition.IsIdle(0));
        Assert.Empty(rows.Windows);
    }

    [Fact]
    public void A_source_back_from_idle_counts_again_and_what_it_sends_for_a_closed_window_is_late()
    {
        var (partition, rows, senders) = TwoBusySourcesAndOneSilent();
        partition.OnIdle(senders[2].Idle(), rows);
        Assert.Single(rows.Windows);
        // Three vehicles in the second window, and the busy sources' watermarks past it: published, source 2 still idle.
        for (int v = 0; v < 3; v++) partition.OnTraversal(senders[0].Drive($"粤B1{v}", Minute + 20_000 + v * 10_000));

        // Source 2 comes back with a drive in the first window, closed without it: late, and the window is not published again.
        Assert.True(partition.OnTraversal(senders[2].Drive("粤B20", 50_000)));
        Assert.False(partition.IsIdle(2));
        Assert.Equal(1, partition.LateTraversals);
        // It counts again: the second window waits for its watermark, not only the others'.
        for (int s = 0; s < 2; s++) partition.OnWatermark(senders[s].Watermark(3 * Minute), rows);
        Assert.Single(rows.Windows);
        partition.OnWatermark(senders[2].Watermark(3 * Minute), rows);

        Assert.Equal([(s_w0, 6), (s_w0 + Minute, 3)], rows.Windows.Select(w => (w.WindowStartMs, w.Vehicles)));
    }

    [Fact]
    public void A_checkpoint_keeps_which_sources_are_idle()
    {
        var (partition, rows, senders) = TwoBusySourcesAndOneSilent();
        partition.OnIdle(senders[2].Idle(), rows);
        var saved = new MemoryStream();
        partition.Save(saved);
        saved.Position = 0;
        var restored = SegmentPartition.Load(s_net.Value, 0, Sources, saved);
        var restoredRows = new Rows();

        Assert.True(restored.IsIdle(2));
        Assert.False(restored.IsIdle(0));
        // The same messages after the checkpoint give the same rows: the second window closes on sources 0 and 1 alone.
        var drives = Enumerable.Range(0, 3).Select(v => senders[0].Drive($"粤B3{v}", Minute + 20_000 + v * 10_000)).ToList();
        var watermarks = new[] { senders[0].Watermark(3 * Minute), senders[1].Watermark(3 * Minute) };
        foreach (var (p, output) in new[] { (partition, rows), (restored, restoredRows) })
        {
            foreach (var d in drives) p.OnTraversal(in d);
            foreach (var w in watermarks) p.OnWatermark(in w, output);
        }
        Assert.Equal(rows.Windows.Skip(1), restoredRows.Windows);
        Assert.Equal(s_w0 + Minute, Assert.Single(restoredRows.Windows).WindowStartMs);
    }

    [Fact]
    public void A_message_naming_an_edge_or_a_source_the_partition_lacks_is_refused_as_data_and_takes_no_sequence_number()
    {
        // What another group or a hand-made record may put on the exchange topic: refused as data (the Kafka host counts,
        // logs and skips it), not an exception that stops the segment stage; the source's real message of that number is
        // still taken.
        var partition = new SegmentPartition(s_net.Value, 0, Sources);
        var sender = new Sender(0);
        SegmentTraversal real = sender.Drive("粤B00", 20_000);
        var badEdge = real with { Edge = real.Edge with { Edge = s_net.Value.EdgeCount + 7 } };
        var negative = real with { Edge = real.Edge with { Edge = -3 } };
        var badSource = real with { Source = Sources };
        Assert.Contains("edge", Assert.Throws<InvalidDataException>(() => partition.OnTraversal(in badEdge)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => partition.OnTraversal(in negative));
        Assert.Contains("source partition", Assert.Throws<InvalidDataException>(() => partition.OnTraversal(in badSource)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => partition.OnWatermark(new SegmentWatermark(Sources + 1, 1, s_w0), new Rows()));
        Assert.True(partition.OnTraversal(in real));
        Assert.Equal(0, partition.Duplicates);
    }
}
