using BenchmarkDotNet.Attributes;
using Traffic.Engine.Probes;

namespace Traffic.Bench.Pipeline;

/// <summary>
/// Decoding, per probe: a record alone (<see cref="ProbeJsonDecoder"/>, <see cref="ProbeBinaryRecord"/>) and a whole
/// input read through <see cref="ProbeStreamReader"/> (pipe, line splitting, decode) into a handler that only counts.
/// 3,000 simulated vehicles for 10 minutes on Shenzhen (about 138,000 probes); figures per probe.
/// </summary>
[MemoryDiagnoser]
public class ProbeDecodeBenchmarks
{
    private ReplayBenchData _data = null!;
    private ProbeJsonDecoder _json = null!;
    private ProbeJsonDecoder _jsonFull = null!;
    private long _newest;

    [GlobalSetup]
    public void Setup()
    {
        _data = ReplayBenchData.Simulate(3000, 600);
        _json = new ProbeJsonDecoder(_data.Ids);
        _jsonFull = new ProbeJsonDecoder(_data.Ids) { Compact = false };
        _newest = long.MinValue;
    }

    private const int Probes = 138_000;

    [Benchmark(Description = "NDJSON record decode", OperationsPerInvoke = Probes)]
    public long DecodeNdjson() => Decode(_json);

    /// <summary>The same records through <see cref="System.Text.Json.Utf8JsonReader"/> only (the decoder before its compact fast path).</summary>
    [Benchmark(Description = "NDJSON record decode, Utf8JsonReader only", OperationsPerInvoke = Probes)]
    public long DecodeNdjsonFull() => Decode(_jsonFull);

    private long Decode(ProbeJsonDecoder decoder)
    {
        long sum = 0;
        var lines = _data.Lines;
        byte[] bytes = _data.Ndjson;
        for (int i = 0; i < Probes; i++)
        {
            var (start, length) = lines[i % lines.Length];
            if (decoder.TryDecode(bytes.AsSpan(start, length), out Probe p, out _)) sum += p.Vehicle;
        }
        return sum;
    }

    [Benchmark(Description = "binary record decode", OperationsPerInvoke = Probes)]
    public long DecodeBinary()
    {
        long sum = 0;
        byte[] bytes = _data.Binary;
        int records = bytes.Length / ProbeBinaryRecord.Size;
        for (int i = 0; i < Probes; i++)
        {
            var span = bytes.AsSpan((i % records) * ProbeBinaryRecord.Size, ProbeBinaryRecord.Size);
            if (ProbeBinaryRecord.TryDecode(span, _data.Ids, ref _newest, out Probe p, out _)) sum += p.Vehicle;
        }
        return sum;
    }

    [Benchmark(Description = "NDJSON stream read", OperationsPerInvoke = Probes)]
    public long ReadNdjson() => Read(ProbeFormat.NdJson, _data.Ndjson);

    [Benchmark(Description = "binary stream read", OperationsPerInvoke = Probes)]
    public long ReadBinary() => Read(ProbeFormat.Binary, _data.Binary);

    private long Read(ProbeFormat format, byte[] bytes)
    {
        var handler = new Count();
        new ProbeStreamReader(format, _data.Ids).ReadAsync(new MemoryStream(bytes, writable: false), handler).AsTask().GetAwaiter().GetResult();
        if (handler.Probes != _data.Probes.Length) throw new InvalidOperationException($"{handler.Probes} probes read of {_data.Probes.Length}");
        return handler.Probes;
    }

    private sealed class Count : IProbeHandler
    {
        public long Probes;

        public void OnProbe(in Probe probe, in RecordSource source) => Probes++;

        public void OnRejected(in DecodeError error, in RecordSource source, ReadOnlySpan<byte> raw)
        {
        }
    }
}
