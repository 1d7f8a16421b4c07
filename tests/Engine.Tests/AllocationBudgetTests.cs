using System.Text;
using System.Text.Json;
using Traffic.Engine.Probes;
using Traffic.Testing;

namespace Traffic.Engine.Tests;

/// <summary>The Engine's hot-path operations in bench/allocation-budget.json (those starting with "Probe"), measured in bytes, never time.</summary>
public class AllocationBudgetTests
{
    private const int Iterations = 2000;

    public static TheoryData<string> Operations()
    {
        var data = new TheoryData<string>();
        foreach (var name in Budgets().Keys.Where(k => k.StartsWith("Probe", StringComparison.Ordinal))) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public void Hot_path_operation_stays_within_its_allocation_budget(string operation)
    {
        long budget = Budgets()[operation];
        Action<int> op = Operation(operation);
        for (int i = 0; i < Iterations; i++) op(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Iterations; i++) op(i);
        long perOp = (GC.GetAllocatedBytesForCurrentThread() - before) / Iterations;
        Assert.True(perOp <= budget, $"{operation} allocates {perOp} bytes per operation; its budget is {budget}");
    }

    private static Dictionary<string, long> Budgets()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.RepoRoot(), "bench", "allocation-budget.json")));
        return doc.RootElement.GetProperty("budgets").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    private static Action<int> Operation(string name)
    {
        // Ten vehicles, all fields present, times moving forward.
        var records = Enumerable.Range(0, 10).Select(i => Encoding.UTF8.GetBytes(
            $$"""{"vehicle_id":"琼A1000{{i}}","time":{{1764028800000 + i}},"lon":110.{{i}},"lat":20.{{i}},"speed_kmh":41.5,"heading":270,"class":"taxi","fix":true,"accuracy_m":4,"status":3}""")).ToArray();
        var ids = new VehicleIds();
        var json = new ProbeJsonDecoder(ids);
        switch (name)
        {
            case "ProbeJsonDecoder.TryDecode":
                return i => json.TryDecode(records[i % records.Length], out _, out _);
            case "ProbeBinaryRecord.TryDecode":
            {
                var binary = records.Select(r =>
                {
                    json.TryDecode(r, out var p, out _);
                    var rec = new byte[ProbeBinaryRecord.Size];
                    ProbeBinaryRecord.TryWrite(p, Encoding.UTF8.GetBytes(ids.Name(p.Vehicle)), rec);
                    return rec;
                }).ToArray();
                var readIds = new VehicleIds();
                long newest = long.MinValue;
                return i => ProbeBinaryRecord.TryDecode(binary[i % binary.Length], readIds, ref newest, out _, out _);
            }
            default:
                throw new InvalidOperationException($"no measurement for budgeted operation '{name}'");
        }
    }
}
