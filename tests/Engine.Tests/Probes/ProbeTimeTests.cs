using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Probes;

/// <summary>The forms of <c>time</c> a user's file may hold, read alike from NDJSON and CSV.</summary>
public class ProbeTimeTests
{
    // 2026-03-02T01:00:00Z.
    private const long T0 = 1772413200000;

    public static TheoryData<string, string, long> Accepted => new()
    {
        // JSON value, the same in a CSV cell, epoch ms
        { "1772413200000", "1772413200000", T0 },
        { "1772413200000.0", "1772413200000.0", T0 },                    // a float of integral value, as float writers put it
        { "1.7724132e12", "1.7724132e12", T0 },
        { "1772413200000.75", "1772413200000.75", T0 },                   // a fraction of a millisecond dropped
        { "\"1772413200000\"", "1772413200000", T0 },                     // int64 as a string (protobuf's JSON mapping)
        { "\"2026-03-02T09:00:00+08:00\"", "2026-03-02T09:00:00+08:00", T0 },
        { "\"2026-03-02T01:00:00Z\"", "2026-03-02T01:00:00Z", T0 },
        { "\"2026-03-02t01:00:00z\"", "2026-03-02t01:00:00z", T0 },
        { "\"2026-03-02 09:00:00+08:00\"", "2026-03-02 09:00:00+08:00", T0 }, // RFC 3339 §5.6: a space for the T
        { "\"2026-03-01T20:30:00.250-04:30\"", "2026-03-01T20:30:00.250-04:30", T0 + 250 },
        { "\"2026-03-02T01:00:00.1234567Z\"", "2026-03-02T01:00:00.1234567Z", T0 + 123 },
        { "\"2026-03-02T01:00:00.5Z\"", "2026-03-02T01:00:00.5Z", T0 + 500 },
    };

    public static TheoryData<string, string, string> Rejected => new()
    {
        { "\"2026-03-02T09:00:00\"", "2026-03-02T09:00:00", "time:no_utc_offset" },
        { "\"2026-03-02T09:00:00.5\"", "2026-03-02T09:00:00.5", "time:no_utc_offset" },
        { "\"2026-02-30T09:00:00Z\"", "2026-02-30T09:00:00Z", "time:malformed" },
        { "\"2026-03-02T24:00:00Z\"", "2026-03-02T24:00:00Z", "time:malformed" },
        { "\"2026-03-02T09:00:00+8\"", "2026-03-02T09:00:00+8", "time:malformed" },
        { "\"2026-03-02T09:00Z\"", "2026-03-02T09:00Z", "time:malformed" },
        { "\"March 2, 2026\"", "March 2 2026", "time:malformed" },
        { "\"2026-03-02T09:00:00.Z\"", "2026-03-02T09:00:00.Z", "time:malformed" },
        { "1e300", "1e300", "time:out_of_range" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void A_time_in_any_of_its_forms_reads_the_same_from_JSON_and_CSV(string json, string csv, long expected)
    {
        var d = new ProbeJsonDecoder(new VehicleIds());
        Assert.True(d.TryDecode(Encoding.UTF8.GetBytes($$"""{"vehicle_id":"a","time":{{json}},"lon":1,"lat":1}"""), out var p, out var e), e.ToString());
        Assert.Equal(expected, p.TimeMs);
        var sink = new Sink();
        new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream(Encoding.UTF8.GetBytes($"vehicle_id,time,lon,lat\na,{csv},1,1\n")), sink);
        Assert.Equal(expected, Assert.Single(sink.Times));
    }

    [Theory]
    [MemberData(nameof(Rejected))]
    public void A_time_that_is_none_or_names_no_zone_is_rejected_from_JSON_and_CSV(string json, string csv, string code)
    {
        var d = new ProbeJsonDecoder(new VehicleIds());
        Assert.False(d.TryDecode(Encoding.UTF8.GetBytes($$"""{"vehicle_id":"a","time":{{json}},"lon":1,"lat":1}"""), out _, out var e));
        Assert.Equal(code, e.Code);
        var sink = new Sink();
        new ProbeCsvReader(new VehicleIds()).Read(new MemoryStream(Encoding.UTF8.GetBytes($"vehicle_id,time,lon,lat\na,{csv},1,1\n")), sink);
        Assert.Equal(code, Assert.Single(sink.Codes));
    }

    private sealed class Sink : IProbeHandler
    {
        public List<long> Times { get; } = [];
        public List<string> Codes { get; } = [];

        public void OnProbe(in Probe probe, in RecordSource source) => Times.Add(probe.TimeMs);

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw) => Codes.Add(error.Code);
    }
}
