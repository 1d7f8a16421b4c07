using System.Text;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Probes;

public class VehicleIdsTests
{
    [Fact]
    public void Bytes_and_strings_intern_to_the_same_dense_ids_in_the_order_they_first_came()
    {
        // Thousands of ids (the UTF-8 index grows several times), interned alternately as strings and as UTF-8 bytes.
        var ids = new VehicleIds();
        var names = Enumerable.Range(0, 5000).Select(i => i % 3 == 0 ? $"琼AT{i:D5}" : i % 3 == 1 ? $"粤B-{i}" : $"T{i}").ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            int v = i % 2 == 0 ? ids.Intern(names[i].AsSpan()) : ids.Intern(Encoding.UTF8.GetBytes(names[i]));
            Assert.Equal(i, v);
        }
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(i, ids.Intern(Encoding.UTF8.GetBytes(names[i])));
            Assert.Equal(i, ids.Intern(names[i].AsSpan()));
            Assert.Equal(names[i], ids.Name(i));
        }
        Assert.Equal(names.Length, ids.Count);
    }

    [Fact]
    public void Invalid_UTF8_is_refused_and_odd_ids_behave_as_their_strings_do()
    {
        var ids = new VehicleIds();
        Assert.Equal(-1, ids.Intern(new byte[] { 0x41, 0xFF, 0x42 }));
        Assert.Equal(-1, ids.Intern(new byte[] { 0xC0, 0x80 })); // overlong NUL
        Assert.Equal(0, ids.Count);

        // A string that is not valid UTF-16 has no UTF-8 form: the replacement character's bytes are another id.
        int lone = ids.Intern("A\uD800".AsSpan());
        int replaced = ids.Intern(Encoding.UTF8.GetBytes("A\uFFFD"));
        Assert.NotEqual(lone, replaced);
        Assert.Equal(replaced, ids.Intern("A\uFFFD".AsSpan()));

        // The empty id, and one of 64 bytes, by either form.
        int empty = ids.Intern(ReadOnlySpan<char>.Empty);
        Assert.Equal(empty, ids.Intern(ReadOnlySpan<byte>.Empty));
        string longest = new('x', VehicleIds.MaxIdBytes);
        int v = ids.Intern(Encoding.UTF8.GetBytes(longest));
        Assert.Equal(v, ids.Intern(longest.AsSpan()));
    }

    [Fact]
    public void Ids_without_a_UTF8_form_in_the_table_leave_the_others_intact()
    {
        // Ids too long to be looked up by their bytes, or not valid UTF-16, between ordinary ones, across table growths.
        var ids = new VehicleIds();
        var names = Enumerable.Range(0, 2000).Select(i => (i % 7) switch
        {
            0 => new string('路', 30 + (i % 5)),       // 90 UTF-8 bytes or more
            1 => $"T{i}\uDC00",                       // a lone surrogate
            2 => i == 2 ? "" : $"琼AT{i:D5}",
            _ => $"V{i}",
        }).Distinct().ToArray();
        for (int i = 0; i < names.Length; i++) Assert.Equal(i, ids.Intern(names[i].AsSpan()));
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(i, ids.Intern(names[i].AsSpan()));
            byte[] utf8 = Encoding.UTF8.GetBytes(names[i]);
            if (!names[i].Contains('\uDC00')) Assert.Equal(i, ids.Intern(utf8));
        }
        Assert.Equal(names.Length, ids.Count);
    }

    [Fact]
    public void Released_ids_are_forgotten_their_numbers_go_to_new_ids_and_every_id_held_is_found_as_before()
    {
        var ids = new VehicleIds();
        var held = new Dictionary<string, int>(StringComparer.Ordinal);
        var random = new Random(11);
        int made = 0;
        for (int step = 0; step < 60_000; step++)
        {
            if (held.Count > 300 || (held.Count > 0 && random.Next(2) == 0))
            {
                // A vehicle gone: its number is released.
                string gone = held.Keys.ElementAt(random.Next(held.Count));
                ids.Release(held[gone]);
                held.Remove(gone);
                Assert.False(ids.TryGet(gone, out _));
                continue;
            }
            // Plates, terminal numbers of other lengths, the empty id and one without a UTF-8 form now and then.
            string name = random.Next(50) == 0 ? "" : random.Next(100) == 0 ? $"bad\uDC00{made}" : random.Next(2) == 0 ? $"粤B{made++:D5}" : $"0{13_800_000_000L + made++}";
            int v = name.Contains('\uDC00') ? ids.Intern(name.AsSpan()) : ids.Intern(Encoding.UTF8.GetBytes(name));
            if (held.TryGetValue(name, out int before)) Assert.Equal(before, v);
            else
            {
                Assert.DoesNotContain(v, held.Values);
                held[name] = v;
            }
            Assert.Equal(name, ids.Name(v));
            if (step % 5_000 == 0)
            {
                foreach (var (n, k) in held)
                {
                    Assert.Equal(k, n.Contains('\uDC00') ? ids.Intern(n.AsSpan()) : ids.Intern(Encoding.UTF8.GetBytes(n)));
                    Assert.Equal(n, ids.Name(k));
                }
            }
        }
        Assert.Equal(held.Count, ids.Live);
        // Numbers are reused: as many given out as were ever held at once (at most 301), not one per id ever seen.
        Assert.True(made > 20_000, $"{made} ids made");
        Assert.True(ids.Count <= 301, $"{ids.Count} numbers given out");
        Assert.Throws<InvalidOperationException>(() => ids.Name(FreeNumber(ids, held)));
    }

    private static int FreeNumber(VehicleIds ids, Dictionary<string, int> held) => Enumerable.Range(0, ids.Count).First(v => !held.ContainsValue(v));
}
