using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Traffic.Engine.Alerts;

namespace Traffic.Engine.Tests.Output;

/// <summary>
/// Reads Arrow output files back with the C# Apache.Arrow reader into rows of plain values, in the form
/// that the NDJSON lines take (times as RFC 3339 strings, dictionary values as strings, the evidence map as
/// a dictionary), so that the two outputs can be compared field by field; and names Arrow types the way
/// pyarrow prints them, so that schemas can be compared with what another implementation reports.
/// </summary>
internal static class ArrowTestFiles
{
    /// <summary>The <c>*.arrow</c> files under a folder (recursively), in name order.</summary>
    public static string[] Files(string dir) =>
        Directory.GetFiles(dir, "*.arrow", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    /// <summary>One file's schema and its rows (every record batch).</summary>
    public static (Schema Schema, List<Dictionary<string, object?>> Rows) Read(string file)
    {
        using var stream = File.OpenRead(file);
        using var reader = new ArrowFileReader(stream);
        var rows = new List<Dictionary<string, object?>>();
        Schema schema = reader.Schema;
        RecordBatch? batch;
        while ((batch = reader.ReadNextRecordBatch()) != null)
        {
            using (batch)
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    var row = new Dictionary<string, object?>(StringComparer.Ordinal);
                    for (int c = 0; c < schema.FieldsList.Count; c++) row[schema.FieldsList[c].Name] = Value(batch.Column(c), i);
                    rows.Add(row);
                }
            }
        }
        return (schema, rows);
    }

    /// <summary>The rows of every file under a folder, in file order.</summary>
    public static List<Dictionary<string, object?>> ReadAll(string dir) => Files(dir).SelectMany(f => Read(f).Rows).ToList();

    /// <summary>An NDJSON line's fields as the same plain values (numbers as long when integral, else double).</summary>
    public static Dictionary<string, object?> FromJson(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return FromJson(doc.RootElement);
    }

    /// <summary>A JSON object's fields as plain values.</summary>
    public static Dictionary<string, object?> FromJson(JsonElement obj)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject()) row[p.Name] = Plain(p.Value);
        return row;
    }

    /// <summary>
    /// Asserts that an Arrow row holds what an NDJSON line holds: every field of the line with an equal value,
    /// and null in every column the line leaves out.
    /// </summary>
    public static void AssertSameRow(Dictionary<string, object?> json, Dictionary<string, object?> arrow)
    {
        foreach (var (name, value) in json)
        {
            Assert.True(arrow.ContainsKey(name), $"column {name} missing");
            Assert.Equal(Normal(value), Normal(arrow[name]));
        }
        foreach (var (name, value) in arrow)
        {
            if (!json.ContainsKey(name)) Assert.True(value is null, $"column {name} is {value} where the NDJSON line has nothing");
        }
    }

    /// <summary>The type as pyarrow prints it: <c>int64</c>, <c>timestamp[ms, tz=UTC]</c>, <c>dictionary&lt;values=string, indices=int32, ordered=0&gt;</c>, <c>map&lt;string, double&gt;</c>.</summary>
    public static string TypeName(IArrowType type) => type switch
    {
        BooleanType => "bool",
        Int8Type => "int8",
        Int16Type => "int16",
        Int32Type => "int32",
        Int64Type => "int64",
        UInt8Type => "uint8",
        UInt16Type => "uint16",
        UInt32Type => "uint32",
        UInt64Type => "uint64",
        FloatType => "float",
        DoubleType => "double",
        StringType => "string",
        TimestampType t => $"timestamp[{Unit(t.Unit)}{(string.IsNullOrEmpty(t.Timezone) ? "" : ", tz=" + t.Timezone)}]",
        DictionaryType d => $"dictionary<values={TypeName(d.ValueType)}, indices={TypeName(d.IndexType)}, ordered={(d.Ordered ? 1 : 0)}>",
        MapType m => $"map<{TypeName(m.KeyField.DataType)}, {TypeName(m.ValueField.DataType)}{(m.KeySorted ? ", keys_sorted" : "")}>",
        _ => throw new NotSupportedException($"no name for {type.Name}"),
    };

    private static string Unit(TimeUnit unit) => unit switch
    {
        TimeUnit.Second => "s",
        TimeUnit.Millisecond => "ms",
        TimeUnit.Microsecond => "us",
        _ => "ns",
    };

    private static object? Normal(object? v) => v switch
    {
        int i => (long)i,
        byte b => (long)b,
        double d when d == Math.Floor(d) && Math.Abs(d) < 1e15 => (long)d,
        Dictionary<string, object?> map => string.Join(",", map.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={Normal(e.Value)}")),
        _ => v,
    };

    private static object? Plain(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? l : e.GetDouble(),
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value), StringComparer.Ordinal),
        _ => throw new NotSupportedException(e.ValueKind.ToString()),
    };

    private static object? Value(IArrowArray array, int i)
    {
        if (array.IsNull(i)) return null;
        switch (array)
        {
            case DictionaryArray d:
                int index = d.Indices switch
                {
                    Int32Array a => a.GetValue(i)!.Value,
                    _ => throw new NotSupportedException(d.Indices.Data.DataType.Name),
                };
                return ((StringArray)d.Dictionary).GetString(index);
            case TimestampArray t:
                return AlertWriter.Rfc3339(t.GetTimestamp(i)!.Value.ToUnixTimeMilliseconds());
            case MapArray m:
                var keys = (StringArray)m.Keys;
                var values = (DoubleArray)m.Values;
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                for (int k = m.ValueOffsets[i]; k < m.ValueOffsets[i + 1]; k++) map[keys.GetString(k)] = values.GetValue(k);
                return map;
            case StringArray s: return s.GetString(i);
            case Int64Array l: return l.GetValue(i);
            case Int32Array n: return n.GetValue(i);
            case UInt8Array b: return b.GetValue(i);
            case DoubleArray x: return x.GetValue(i);
            case FloatArray f: return (double)f.GetValue(i)!.Value;
            case BooleanArray o: return o.GetValue(i);
            default: throw new NotSupportedException(array.Data.DataType.Name);
        }
    }
}
