using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Traffic.Geo;

/// <summary>
/// Selects without a branch, for hot loops whose conditions follow the data (which route target is beyond its bound,
/// which heap child is least) and are mispredicted about half the time. Each gives to the bit what the conditional
/// expression in its summary gives, NaN and signed zeros included: the second operand unless the comparison holds, which
/// is what MINSD and MAXSD do. Where there is no SSE2 (not x86), the expression itself.
/// </summary>
internal static class BranchFree
{
    /// <summary><c>a &lt; b ? a : b</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Min(double a, double b) =>
        Sse2.IsSupported ? Sse2.MinScalar(Vector128.CreateScalarUnsafe(a), Vector128.CreateScalarUnsafe(b)).ToScalar() : MinPortable(a, b);

    /// <summary><c>a &gt; b ? a : b</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Max(double a, double b) =>
        Sse2.IsSupported ? Sse2.MaxScalar(Vector128.CreateScalarUnsafe(a), Vector128.CreateScalarUnsafe(b)).ToScalar() : MaxPortable(a, b);

    /// <summary><c>c ? a : b</c>, by the bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Select(bool c, double a, double b)
    {
        long m = -(long)Unsafe.BitCast<bool, byte>(c); // all ones when c
        return BitConverter.Int64BitsToDouble((BitConverter.DoubleToInt64Bits(a) & m) | (BitConverter.DoubleToInt64Bits(b) & ~m));
    }

    /// <summary>1 when <paramref name="c"/>, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bit(bool c) => Unsafe.BitCast<bool, byte>(c);

    // The fallbacks, apart so that a test on x86 can hold the intrinsics to them.
    internal static double MinPortable(double a, double b) => a < b ? a : b;

    internal static double MaxPortable(double a, double b) => a > b ? a : b;
}
