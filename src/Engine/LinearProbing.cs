namespace Traffic.Engine;

/// <summary>Removal from an open-addressing table with linear probing (a power-of-two length), without tombstones.</summary>
internal static class LinearProbing
{
    /// <summary>
    /// Empties slot <paramref name="hole"/>, moving back each entry after it, up to the first empty slot, whose home slot
    /// (<paramref name="home"/>, masked to the table) does not lie cyclically in (hole, its slot]: lookups that probe from
    /// their home to the first empty slot still find every entry.
    /// </summary>
    public static void RemoveAt<T>(T[] table, int hole, Func<T, bool> isEmpty, Func<T, int> home)
    {
        int mask = table.Length - 1;
        for (int j = (hole + 1) & mask; !isEmpty(table[j]); j = (j + 1) & mask)
        {
            int h = home(table[j]) & mask;
            if (((j - h) & mask) >= ((j - hole) & mask))
            {
                table[hole] = table[j];
                hole = j;
            }
        }
        table[hole] = default!;
    }
}
