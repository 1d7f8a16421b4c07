using Traffic.Geo.Evaluation;
using Traffic.Geo.Matching;
using Traffic.Geo.Spatial;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Matching;

public class OnlineMatcherTests
{
    private static readonly Lazy<EdgeIndex> s_shenzhen = new(() =>
        new EdgeIndex(Traffic.Geo.Import.NetworkImport.Read(SharedData.Path("osm", "shenzhen-nanshan.osm"), out _)));

    private static readonly Lazy<KubickaTrack> s_belgium = new(() => KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka("00000015"))!));

    // A track (1 Hz) on which an online ring holds as many pending probes with candidates as it has blocks, and runs of
    // followers that fill its capacity: it widens a compact ring to all its slots and blocks.
    private static readonly Lazy<KubickaTrack> s_widening = new(() => KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka("00000042"))!));

    [Fact]
    public void Online_with_a_very_large_lag_equals_offline()
    {
        var track = s_belgium.Value;
        var index = new EdgeIndex(track.Network);
        var offline = new Recorder { Matches = [] };
        new OfflineMatcher(index).Match(track.Points, ref offline);

        var online = new Recorder { Matches = [] };
        var matcher = new OnlineMatcher(index, new MatcherOptions { LagProbes = 100_000, LagSeconds = 1e9 });
        var state = matcher.NewState();
        foreach (var p in track.Points) matcher.Push(state, p, ref online);
        matcher.Flush(state, ref online);

        Assert.Equal(track.Points.Length, offline.Matches.Count);
        Assert.Equal(offline.Matches.Select(m => (m.ProbeId, m.Edge, m.OffsetM)), online.Matches.Select(m => (m.ProbeId, m.Edge, m.OffsetM)));
    }

    [Fact]
    public void Matchers_sharing_one_router_match_as_each_with_its_own()
    {
        // Two vehicle classes' matchers of other options (sigma, the U-turn penalty the router charges) on one shard's
        // thread, taking their vehicles' probes in turn: one route search for both, as a vehicle stage runs them.
        var track = s_belgium.Value;
        var index = new EdgeIndex(track.Network);
        var a = new MatcherOptions();
        var b = new MatcherOptions { SigmaM = 8, UTurnPenaltyM = 0, LagProbes = 4 };
        var shared = new Traffic.Geo.Routing.BoundedDijkstra(track.Network);
        var (sharedA, sharedB) = Interleaved(new OnlineMatcher(index, a, shared), new OnlineMatcher(index, b, shared), track.Points);
        var (ownA, ownB) = Interleaved(new OnlineMatcher(index, a), new OnlineMatcher(index, b), track.Points);

        Assert.Equal(ownA.Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)), sharedA.Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)));
        Assert.Equal(ownB.Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)), sharedB.Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)));
        Assert.NotEqual(ownA.Select(m => (m.Edge, m.OffsetM)), ownB.Select(m => (m.Edge, m.OffsetM)));   // the options do differ
    }

    private static (List<MatchedProbe> A, List<MatchedProbe> B) Interleaved(OnlineMatcher a, OnlineMatcher b, GpsPoint[] points)
    {
        var sa = new Recorder { Matches = [] };
        var sb = new Recorder { Matches = [] };
        var stateA = a.NewState();
        var stateB = b.NewState();
        foreach (var p in points)
        {
            a.Push(stateA, p, ref sa);
            b.Push(stateB, p, ref sb);
        }
        a.Flush(stateA, ref sa);
        b.Flush(stateB, ref sb);
        return (sa.Matches, sb.Matches);
    }

    [Fact]
    public void Every_probe_is_emitted_once_in_order_with_the_default_lag()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        foreach (var p in track.Points)
        {
            Assert.Equal(PushResult.Accepted, matcher.Push(state, p, ref sink));
            Assert.True(state.Pending < state.Capacity, "the online ring never grows");
        }
        matcher.Flush(state, ref sink);
        Assert.Equal(track.Points.Select(p => p.Id), sink.Matches.Select(m => m.ProbeId));
        // Most probes are decided because every path agrees, not by the lag.
        Assert.True(sink.Matches.Count(m => m.Forced) < track.Points.Length / 10);
    }

    [Fact]
    public void Per_vehicle_state_stays_under_one_kilobyte()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        Assert.True(matcher.NewState().SizeBytes < 1024, $"state is {matcher.NewState().SizeBytes} bytes");
    }

    [Fact]
    public void A_ring_that_starts_narrow_and_widens_matches_and_writes_as_one_with_all_its_slots_and_blocks()
    {
        // A new state holds the columns and candidate blocks of a vehicle reporting every 10 s within the lag; followers
        // piling up (1 Hz, standing) widen its columns, pending probes with candidates its blocks, up to its capacity, which
        // the matcher's decisions depend on, not on what is allocated so far. One that starts with a single block widens it
        // at the second pending probe with candidates.
        var track = s_widening.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var o = matcher.Options;
        int capacity = VehicleMatchState.OnlineCapacity(o), blocks = VehicleMatchState.OnlineBlocks(o);
        var whole = new VehicleMatchState(o.MaxCandidates, capacity, blocks);
        VehicleMatchState[] narrow = [matcher.NewState(), new VehicleMatchState(o.MaxCandidates, capacity, blocks, VehicleMatchState.OnlineSlots(o), startBlocks: 1)];
        int[] startBytes = narrow.Select(s => s.SizeBytes).ToArray();
        Assert.All(narrow, s => Assert.Equal(whole.Capacity, s.Capacity));
        Assert.All(startBytes, n => Assert.True(n < whole.SizeBytes, $"{n} bytes new, {whole.SizeBytes} with all its slots and blocks"));
        var expected = new Recorder { Matches = [], Routes = [] };
        Recorder[] got = [new Recorder { Matches = [], Routes = [] }, new Recorder { Matches = [], Routes = [] }];
        foreach (var p in track.Points)
        {
            matcher.Push(whole, p, ref expected);
            for (int i = 0; i < narrow.Length; i++)
            {
                matcher.Push(narrow[i], p, ref got[i]);
                Assert.Equal(Bytes(whole), Bytes(narrow[i]));
            }
        }
        matcher.Flush(whole, ref expected);
        for (int i = 0; i < narrow.Length; i++) matcher.Flush(narrow[i], ref got[i]);

        // This track widened both to all their slots and blocks.
        Assert.All(narrow, s => Assert.Equal(whole.SizeBytes, s.SizeBytes));
        AssertSameMatches(expected, got);
    }

    [Fact]
    public void A_ring_widened_step_by_step_or_read_back_at_each_width_matches_and_writes_as_one_with_all_its_slots_and_blocks()
    {
        // A ring that starts with 2 column slots and 1 candidate block widens through every width in between (one slot at
        // a time up to the anchor, the lag and the new column, then to its capacity; one block at a time); another is
        // written and read back after every probe, which gives it the fewest slots and blocks that hold what it has.
        // Neither changes a match, a route or a checkpoint's byte.
        var track = s_widening.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var o = matcher.Options;
        int capacity = VehicleMatchState.OnlineCapacity(o), blocks = VehicleMatchState.OnlineBlocks(o);
        var whole = new VehicleMatchState(o.MaxCandidates, capacity, blocks);
        var step = new VehicleMatchState(o.MaxCandidates, capacity, blocks, slots: 2, startBlocks: 1);
        var resumed = matcher.NewState();
        var expected = new Recorder { Matches = [], Routes = [] };
        Recorder[] got = [new Recorder { Matches = [], Routes = [] }, new Recorder { Matches = [], Routes = [] }];
        var (slotsSeen, blocksSeen) = (new SortedSet<int> { step.Slots }, new SortedSet<int> { step.BlockSlots });
        var (resumedSlotsSeen, resumedBlocksSeen) = (new SortedSet<int>(), new SortedSet<int>());
        foreach (var p in track.Points)
        {
            matcher.Push(whole, p, ref expected);
            matcher.Push(step, p, ref got[0]);
            matcher.Push(resumed, p, ref got[1]);
            byte[] bytes = Bytes(whole);
            Assert.Equal(bytes, Bytes(step));
            Assert.Equal(bytes, Bytes(resumed));
            slotsSeen.Add(step.Slots);
            blocksSeen.Add(step.BlockSlots);
            resumed = VehicleMatchState.ReadFrom(new BinaryReader(new MemoryStream(bytes)), o);
            resumedSlotsSeen.Add(resumed.Slots);
            resumedBlocksSeen.Add(resumed.BlockSlots);
            Assert.True(resumed.Slots >= Math.Max(VehicleMatchState.OnlineSlots(o), resumed.Length), $"{resumed.Slots} slots for {resumed.Length} columns");
        }
        matcher.Flush(whole, ref expected);
        matcher.Flush(step, ref got[0]);
        matcher.Flush(resumed, ref got[1]);

        Assert.Equal(Enumerable.Range(2, blocks).Append(capacity), slotsSeen);
        Assert.Equal(Enumerable.Range(1, blocks), blocksSeen);
        Assert.Equal(Enumerable.Range(VehicleMatchState.OnlineSlots(o), blocks + 2 - VehicleMatchState.OnlineSlots(o)).Append(capacity), resumedSlotsSeen);
        Assert.Equal(Enumerable.Range(VehicleMatchState.OnlineStartBlocks(o), blocks + 1 - VehicleMatchState.OnlineStartBlocks(o)), resumedBlocksSeen);
        AssertSameMatches(expected, got);
    }

    /// <summary>Every recorder's matches and routes are the expected ones, match by match.</summary>
    private static void AssertSameMatches(Recorder expected, Recorder[] got)
    {
        foreach (var a in got)
        {
            Assert.Equal(expected.Matches.Count, a.Matches.Count);
            for (int i = 0; i < a.Matches.Count; i++)
            {
                var (x, y) = (a.Matches[i], expected.Matches[i]);
                Assert.Equal((x.ProbeId, x.Edge, x.OffsetM, x.Lon, x.Lat, x.Confidence, x.Break, x.Forced), (y.ProbeId, y.Edge, y.OffsetM, y.Lon, y.Lat, y.Confidence, y.Break, y.Forced));
                Assert.Equal(a.Routes![i], expected.Routes![i]);
            }
        }
    }

    /// <summary>A state as a checkpoint writes it.</summary>
    private static byte[] Bytes(VehicleMatchState s)
    {
        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer)) s.WriteTo(w);
        return buffer.ToArray();
    }

    [Fact]
    public void Followers_leave_room_for_more_probes_than_the_lag()
    {
        // Followers keep no candidates, so the bytes the lag's columns need hold more probes besides.
        var options = new MatcherOptions();
        var state = new VehicleMatchState(options);
        Assert.True(state.Capacity >= 2 * (options.LagProbes + 2), $"{state.Capacity} probes for a lag of {options.LagProbes}");
    }

    [Fact]
    public void A_lag_of_one_probe_decides_each_probe_that_moves_when_the_next_arrives()
    {
        // Every probe a move (no min move, no reported speed): none is a follower, so the lag counts them all.
        var index = s_shenzhen.Value;
        var matcher = new OnlineMatcher(index, new MatcherOptions { LagProbes = 1, MinMoveM = 0 });
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var trace = SyntheticTraces.Drive(index.Network, new Random(2), 5000, 5, 10).Probes;
        foreach (var p in trace)
        {
            matcher.Push(state, p.Probe, ref sink);
            Assert.True(state.Pending <= 1, $"{state.Pending} probes pending");
        }
        matcher.Flush(state, ref sink);
        Assert.Equal(trace.Select(p => p.Probe.Id), sink.Matches.Select(m => m.ProbeId));
    }

    [Theory]
    [InlineData(1L << 33, 0L)]             // ids further apart than an int spans
    [InlineData(-1L, long.MaxValue)]       // falling ids
    [InlineData(7_919L, long.MinValue)]    // from the bottom of the range
    [InlineData(1L, long.MaxValue - 100)]  // wrapping round to the bottom
    public void Probe_ids_come_back_exactly_however_far_apart(long step, long first)
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var ids = track.Points.Select((_, i) => unchecked(first + (i * step))).ToArray();
        for (int i = 0; i < track.Points.Length; i++) matcher.Push(state, track.Points[i] with { Id = ids[i] }, ref sink);
        matcher.Flush(state, ref sink);
        Assert.Equal(ids, sink.Matches.Select(m => m.ProbeId));
    }

    [Fact]
    public void Route_between_matches_is_connected_with_monotonic_times()
    {
        var track = s_belgium.Value;
        var net = track.Network;
        var sink = new Recorder { Matches = [], Routes = [] };
        new OfflineMatcher(new EdgeIndex(net)).Match(track.Points, ref sink);
        foreach (var route in sink.Routes!)
        {
            for (int i = 1; i < route.Length; i++)
            {
                Assert.Equal(net.To(route[i - 1].Edge), net.From(route[i].Edge));
                Assert.True(route[i].EnterTimeMs >= route[i - 1].EnterTimeMs);
                Assert.Equal(route[i - 1].ExitTimeMs, route[i].EnterTimeMs);
            }
        }
    }

    [Fact]
    public void A_probe_far_from_roads_is_reported_unmatched_and_breaks_the_chain()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var pts = track.Points.Take(50).ToArray();
        foreach (var p in pts.Take(20)) matcher.Push(state, p, ref sink);
        var far = pts[20] with { Lon = pts[20].Lon + 1.5, Lat = pts[20].Lat + 1.5, Id = 999 };
        matcher.Push(state, far, ref sink);
        foreach (var p in pts.Skip(21)) matcher.Push(state, p, ref sink);
        matcher.Flush(state, ref sink);
        var unmatched = Assert.Single(sink.Matches, m => m.Edge < 0);
        Assert.Equal(999, unmatched.ProbeId);
        Assert.Equal(ChainBreak.NoCandidates, unmatched.Break);
        Assert.Equal(ChainBreak.NoCandidates, sink.Matches.Single(m => m.ProbeId == pts[21].Id).Break);
        Assert.Equal(pts.Length, sink.Matches.Count);
    }

    [Fact]
    public void A_long_time_gap_breaks_the_chain()
    {
        var track = KubickaTrack.Load(Path.GetDirectoryName(SharedData.Kubicka("00000046"))!);
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        // A stretch where the vehicle drives at road speeds.
        var pts = track.Points.Skip(300).Take(40).ToArray();
        for (int i = 0; i < pts.Length; i++)
        {
            var p = i >= 20 ? pts[i] with { TimeMs = pts[i].TimeMs + 3_600_000 } : pts[i];
            matcher.Push(state, p, ref sink);
        }
        matcher.Flush(state, ref sink);
        Assert.Equal(ChainBreak.Start, sink.Matches[0].Break);
        Assert.Equal(ChainBreak.TimeGap, sink.Matches.Single(m => m.ProbeId == pts[20].Id).Break);
        Assert.True(2 == sink.Matches.Count(m => m.Break != ChainBreak.None), string.Join(" ", sink.Matches.Where(m => m.Break != ChainBreak.None).Select(m => $"{m.ProbeId}:{m.Break}")));
    }

    [Fact]
    public void Duplicates_and_out_of_order_probes_are_refused_with_a_reason()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var p = track.Points;
        Assert.Equal(PushResult.Accepted, matcher.Push(state, p[0], ref sink));
        Assert.Equal(PushResult.Accepted, matcher.Push(state, p[1], ref sink));
        Assert.Equal(PushResult.Duplicate, matcher.Push(state, p[1], ref sink));
        Assert.Equal(PushResult.OutOfOrder, matcher.Push(state, p[0], ref sink));
        Assert.Equal(PushResult.Invalid, matcher.Push(state, p[2] with { Lon = double.NaN }, ref sink));
        Assert.Equal(PushResult.Accepted, matcher.Push(state, p[2], ref sink));
    }

    [Fact]
    public void A_standing_vehicle_does_not_loop_around_the_block()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var p0 = track.Points[100];
        var rng = new Random(7);
        for (int i = 0; i < 60; i++)
        {
            // Jitter of a few metres around one point for a minute.
            double dLon = (rng.NextDouble() - 0.5) * 8 / GeoMath.MetresPerDegreeLon(p0.Lat);
            double dLat = (rng.NextDouble() - 0.5) * 8 / GeoMath.MetresPerDegree;
            matcher.Push(state, new GpsPoint(p0.TimeMs + (i * 1000), p0.Lon + dLon, p0.Lat + dLat) { Id = i }, ref sink);
        }
        matcher.Flush(state, ref sink);
        Assert.Equal(60, sink.Matches.Count);
        Assert.True(sink.Matches.Sum(m => m.RouteDistanceM) < 60, $"a standing vehicle drove {sink.Matches.Sum(m => m.RouteDistanceM):F0} m");
    }

    [Fact]
    public void A_standing_vehicle_with_gaussian_noise_stays_put_when_it_reports_standing()
    {
        // (Without a reported speed such a vehicle still creeps along its road: docs/matching.md.)
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var p0 = track.Points[100];
        var rng = new Random(11);
        for (int i = 0; i < 300; i++)
        {
            // Five minutes standing, a fix every second with Gaussian noise of the matcher's sigma (10 m).
            var (lon, lat) = SyntheticTraces.Noise(rng, p0.Lon, p0.Lat, 10);
            var p = new GpsPoint(p0.TimeMs + (i * 1000), lon, lat) { Id = i, SpeedKmh = 0 };
            matcher.Push(state, p, ref sink);
        }
        matcher.Flush(state, ref sink);
        Assert.Equal(300, sink.Matches.Count);
        double driven = sink.Matches.Sum(m => m.RouteDistanceM);
        int edges = sink.Matches.Select(m => m.Edge).Distinct().Count();
        Assert.True(driven < 1, $"a standing vehicle reporting 0 km/h drove {driven:F0} m");
        Assert.Equal(1, edges);
    }

    [Fact]
    public void Every_probe_comes_back_with_its_reported_speed_the_trailing_follower_of_a_flush_too()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var pts = track.Points.Skip(400).Take(30).ToList();
        // The last fixes repeat the last position: followers, the newest of which the flush makes a column of its own.
        for (int i = 0; i < 4; i++) pts.Add(pts[^1] with { TimeMs = pts[^1].TimeMs + 1000 });
        for (int i = 0; i < pts.Count; i++) matcher.Push(state, pts[i] with { Id = i, SpeedKmh = 10 + i }, ref sink);
        matcher.Flush(state, ref sink);
        Assert.Equal(pts.Count, sink.Matches.Count);
        foreach (var m in sink.Matches) Assert.Equal(10 + m.ProbeId, m.ReportedSpeedKmh);
    }

    [Fact]
    public void One_teleported_fix_does_not_break_or_corrupt_the_match()
    {
        var track = s_belgium.Value;
        var index = new EdgeIndex(track.Network);
        var pts = track.Points.Skip(200).Take(120).ToArray();
        var clean = Match(index, pts);

        // Fix 60 jumps onto another road about 2 km away, then the unit recovers.
        var far = track.Points[3000];
        var noisy = pts.ToArray();
        noisy[60] = noisy[60] with { Lon = far.Lon, Lat = far.Lat };
        var dirty = Match(index, noisy);

        Assert.Equal(pts.Length, dirty.Count);
        Assert.DoesNotContain(dirty, m => m.Break is ChainBreak.NoRoute or ChainBreak.NoCandidates);
        // The same route, and every other probe where the clean run placed it, give or take the noise: the model averages
        // each probe it uses with the followers just before it (MatcherOptions.SmoothFollowers) and the bad fix is left
        // out, so which later probes are followers can shift by one (measured: probes 99-109 of this walker placed at the
        // end of one edge instead of the first 15 m of the next; everything else on the same edges).
        static List<int> Route(List<MatchedProbe> ms)
        {
            var route = new List<int>();
            foreach (var m in ms.Where(m => !m.Outlier))
            {
                if (route.Count == 0 || route[^1] != m.Edge) route.Add(m.Edge);
            }
            return route;
        }
        Assert.Equal(Route(clean), Route(dirty));
        for (int i = 0; i < pts.Length; i++)
        {
            if (i == 60) continue;
            double apart = GeoMath.Distance(clean[i].Lon, clean[i].Lat, dirty[i].Lon, dirty[i].Lat);
            Assert.True(apart <= 20, $"probe {i}: {apart:F1} m from where the clean run placed it");
        }
        // The bad fix is placed on the route driven, far from where it claimed to be.
        Assert.True(dirty[60].DistanceM > 1000);
        Assert.True(dirty[60].Outlier);
        Assert.DoesNotContain(dirty, m => m.Outlier && m.ProbeId != dirty[60].ProbeId);
        // No speed spike: the bad fix adds no distance, and the speeds around it stay within those of the clean run.
        Assert.Equal(0, dirty[60].RouteDistanceM);
        static double MaxSpeed(List<MatchedProbe> ms) => ms.Where(m => !double.IsNaN(m.SpeedKmh)).Max(m => m.SpeedKmh);
        Assert.True(MaxSpeed(dirty) <= MaxSpeed(clean) + 1, $"max speed {MaxSpeed(dirty):F0} km/h with the bad fix, {MaxSpeed(clean):F0} without");
        Assert.Equal(clean.Sum(m => m.RouteDistanceM), dirty.Sum(m => m.RouteDistanceM), 0);
    }

    [Fact]
    public void An_idle_vehicle_is_flushed_after_the_timeout()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        var pts = track.Points.Skip(500).Take(5).ToArray();
        foreach (var p in pts) matcher.Push(state, p, ref sink);
        int before = sink.Matches.Count;
        Assert.False(matcher.FlushIfIdle(state, pts[^1].TimeMs + 1000, idleMs: 30_000, ref sink));
        Assert.True(matcher.FlushIfIdle(state, pts[^1].TimeMs + 31_000, idleMs: 30_000, ref sink));
        Assert.Equal(pts.Length, sink.Matches.Count);
        Assert.True(sink.Matches.Count >= before);
        Assert.Equal(0, state.Pending);
    }

    [Fact]
    public void Each_match_reports_its_own_fix_though_the_model_averages_dense_ones()
    {
        // 20 m noise every second: most probes are followers, and each probe the model uses is averaged with up to two
        // of them. The match still reports the fix the unit sent (the rules weigh it against the snapped point).
        var index = s_shenzhen.Value;
        var (trace, _) = SyntheticTraces.Drive(index.Network, new Random(2), 3000, 1, 20);
        var options = new MatcherOptions { SigmaM = 20, SearchRadiusM = 80, MinMoveM = 40 };
        var matcher = new OnlineMatcher(index, options);
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        foreach (var tp in trace) matcher.Push(state, tp.Probe, ref sink);
        matcher.Flush(state, ref sink);

        Assert.Equal(trace.Length, sink.Matches.Count);
        var fixes = trace.ToDictionary(tp => tp.Probe.Id, tp => tp.Probe);
        foreach (var m in sink.Matches)
        {
            var fix = fixes[m.ProbeId];
            Assert.InRange(m.ProbeLon - fix.Lon, -1e-6, 1e-6); // the ring keeps positions as floats from a reference
            Assert.InRange(m.ProbeLat - fix.Lat, -1e-6, 1e-6);
            Assert.Equal(GeoMath.Distance(fix.Lon, fix.Lat, m.Lon, m.Lat), m.DistanceM, 0.5);
        }
    }

    /// <summary>
    /// A rule's search riding along with the candidate search, with a buffer larger or smaller than the matcher's 10,
    /// changes no match: the matcher scores the first 10 of a larger search, which are its own search's.
    /// </summary>
    [Fact]
    public void A_search_alongside_of_any_size_changes_no_match()
    {
        var index = s_shenzhen.Value;
        var (trace, _) = SyntheticTraces.Drive(index.Network, new Random(5), 6000, 5, 10);
        List<MatchedProbe> Run(NearbySearch? alongside)
        {
            var matcher = new OnlineMatcher(index) { Alongside = alongside };
            var state = matcher.NewState();
            var sink = new Recorder { Matches = [] };
            foreach (var tp in trace) matcher.Push(state, tp.Probe, ref sink);
            matcher.Flush(state, ref sink);
            return sink.Matches;
        }
        var alone = Run(null).Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)).ToList();
        Assert.Equal(trace.Length, alone.Count);
        foreach (int capacity in (ReadOnlySpan<int>)[16, 24, 4])
        {
            var wide = new NearbySearch(index, 35, capacity);
            Assert.Equal(alone, Run(wide).Select(m => (m.ProbeId, m.Edge, m.OffsetM, m.Confidence)));
            Assert.Equal(0, wide.Misses);
        }
    }

    private static List<MatchedProbe> Match(EdgeIndex index, GpsPoint[] points)
    {
        var matcher = new OnlineMatcher(index);
        var state = matcher.NewState();
        var sink = new Recorder { Matches = [] };
        foreach (var p in points) matcher.Push(state, p, ref sink);
        matcher.Flush(state, ref sink);
        return sink.Matches;
    }

    [Fact]
    public void A_state_written_and_read_back_mid_track_continues_exactly()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var straight = new Recorder { Matches = [], Routes = [] };
        var state = matcher.NewState();
        foreach (var p in track.Points) matcher.Push(state, p, ref straight);
        matcher.Flush(state, ref straight);

        // Cut at several points, each time with undecided probes in the ring: write, read into a new object, go on.
        var resumed = new Recorder { Matches = [], Routes = [] };
        state = matcher.NewState();
        int cuts = 0;
        for (int i = 0; i < track.Points.Length; i++)
        {
            matcher.Push(state, track.Points[i], ref resumed);
            if (i % 7 != 3 || state.Pending == 0) continue;
            var buffer = new MemoryStream();
            using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) state.WriteTo(w);
            buffer.Position = 0;
            using var r = new BinaryReader(buffer);
            state = VehicleMatchState.ReadFrom(r, matcher.Options);
            Assert.Equal(buffer.Length, buffer.Position);
            cuts++;
        }
        matcher.Flush(state, ref resumed);

        Assert.True(cuts >= 10, $"{cuts} cuts with undecided probes");
        Assert.Equal(straight.Matches.Count, resumed.Matches.Count);
        for (int i = 0; i < straight.Matches.Count; i++)
        {
            var (a, b) = (straight.Matches[i], resumed.Matches[i]);
            Assert.Equal((a.ProbeId, a.Edge, a.OffsetM, a.Lon, a.Lat, a.Confidence, a.Break, a.Forced), (b.ProbeId, b.Edge, b.OffsetM, b.Lon, b.Lat, b.Confidence, b.Break, b.Forced));
            Assert.Equal(straight.Routes![i], resumed.Routes![i]);
        }
    }

    [Fact]
    public void A_state_written_under_other_options_is_refused()
    {
        var track = s_belgium.Value;
        var matcher = new OnlineMatcher(new EdgeIndex(track.Network));
        var state = matcher.NewState();
        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) state.WriteTo(w);
        buffer.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => VehicleMatchState.ReadFrom(new BinaryReader(buffer), new MatcherOptions { MaxCandidates = 4 }));
        Assert.Contains("candidates", e.Message, StringComparison.Ordinal);
        buffer.Position = 0;
        e = Assert.Throws<InvalidDataException>(() => VehicleMatchState.ReadFrom(new BinaryReader(buffer), new MatcherOptions { LagProbes = 20 }));
        Assert.Contains("ring", e.Message, StringComparison.Ordinal);
    }

    private struct Recorder : IMatchSink
    {
        public List<MatchedProbe> Matches;
        public List<TraversedEdge[]>? Routes;

        public readonly void OnMatch(in MatchedProbe match, ReadOnlySpan<TraversedEdge> route)
        {
            Matches.Add(match);
            Routes?.Add(route.ToArray());
        }
    }
}
