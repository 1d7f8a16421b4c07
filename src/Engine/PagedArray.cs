using System.Runtime.CompilerServices;

namespace Traffic.Engine;

/// <summary>
/// A growing array (of structs, or references) held in pages of <see cref="PageSize"/>: an element is reached by reference,
/// a page is made when an index in it is first used, and growth copies the page table, never the elements. A table per
/// vehicle grown by doubling held up to twice the room its vehicles needed (a partition of 1,500 vehicles paid for 2,048),
/// and a copy of all of it at each doubling; pages hold at most one page more than the highest index used. Not
/// thread-safe.
/// </summary>
internal sealed class PagedArray<T>
{
    private const int PageShift = 6;

    private const int PageSize = 1 << PageShift;

    private T[]?[] _pages = new T[]?[4];

    /// <summary>The element at <paramref name="index"/> (non-negative), its page made if it has none (elements default).</summary>
    public ref T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            T[]?[] pages = _pages;
            int page = index >> PageShift;
            if ((uint)page < (uint)pages.Length && pages[page] is { } items) return ref items[index & (PageSize - 1)];
            return ref MakePage(index);
        }
    }

    /// <summary>The element at <paramref name="index"/>, or the default where no page was made (none is made here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T? GetOrDefault(int index)
    {
        T[]?[] pages = _pages;
        int page = index >> PageShift;
        return (uint)page < (uint)pages.Length && pages[page] is { } items ? items[index & (PageSize - 1)] : default;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref T MakePage(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        int page = index >> PageShift;
        if (page >= _pages.Length) Array.Resize(ref _pages, Math.Max(page + 1, _pages.Length * 2));
        return ref (_pages[page] ??= new T[PageSize])[index & (PageSize - 1)];
    }
}
