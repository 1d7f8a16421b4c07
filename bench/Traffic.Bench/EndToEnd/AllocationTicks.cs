using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace Traffic.Bench.EndToEnd;

/// <summary>
/// What a process allocates, by type: the runtime's GC AllocationTick events (one per ~100 KB allocated, naming the type
/// of the object that crossed the mark), so the counts are samples proportional to the bytes of each type.
/// </summary>
internal sealed class AllocationTicks : EventListener
{
    // (type, kind: 0 small object heap, 1 large object heap, 2 pinned) → ticks and bytes the ticks stand for.
    private readonly ConcurrentDictionary<(string Type, int Kind), (long Ticks, long Bytes)> _byType = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName == null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload == null) return;
        int kind = Convert.ToInt32(e.Payload[e.PayloadNames!.IndexOf("AllocationKind")], CultureInfo.InvariantCulture);
        int amountAt = e.PayloadNames.IndexOf("AllocationAmount64");
        long amount = Convert.ToInt64(e.Payload[amountAt >= 0 ? amountAt : e.PayloadNames.IndexOf("AllocationAmount")], CultureInfo.InvariantCulture);
        int typeAt = e.PayloadNames.IndexOf("TypeName");
        string type = typeAt >= 0 ? e.Payload[typeAt] as string ?? "?" : "?";
        _byType.AddOrUpdate((type, kind), (1, amount), (_, v) => (v.Ticks + 1, v.Bytes + amount));
    }

    /// <summary>The types that took most of the bytes, largest first.</summary>
    public void Print(TextWriter to, int top = 20)
    {
        long total = _byType.Values.Sum(v => v.Bytes);
        to.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocation ticks: {total / 1e6:F1} MB sampled"));
        foreach (var ((type, kind), (ticks, bytes)) in _byType.OrderByDescending(kv => kv.Value.Bytes).Take(top))
            to.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {bytes / 1e6,8:F1} MB {ticks,6} ticks {(kind == 1 ? "LOH" : kind == 2 ? "POH" : "SOH")} {type}"));
    }
}
