using System.Runtime.CompilerServices;
using Traffic.Geo.Network;

namespace Traffic.Engine.Segments;

/// <summary>
/// The functional grades of urban roads that the network index weighs separately (CJJ 37: expressway, arterial,
/// secondary arterial, branch), from the OSM class of a segment.
/// </summary>
public enum RoadGrade : byte
{
    /// <summary>快速路: motorways and trunk roads with their links.</summary>
    Expressway = 0,

    /// <summary>主干路: primary roads.</summary>
    Arterial = 1,

    /// <summary>次干路: secondary roads.</summary>
    Secondary = 2,

    /// <summary>支路: everything else.</summary>
    Branch = 3,
}

/// <summary>The sums of one road grade in one window: integers, so that partial sums combine in any order to the same bytes.</summary>
public record struct GradeSums(long VehicleMm, long LengthMm, long SevereLengthMm, int Segments);

/// <summary>The sums of the four grades, indexed by <see cref="RoadGrade"/>.</summary>
[InlineArray(NetworkIndex.Grades)]
public struct GradeSumsArray
{
    private GradeSums _element0;
}

/// <summary>
/// One window's published segments, summed per road grade for the network index: the part one segment partition owns,
/// or, added together (<see cref="Add(in NetworkSums)"/>), the whole network's. Mutable struct: don't make it readonly.
/// </summary>
public struct NetworkSums
{
    public long WindowStartMs;
    public long WindowEndMs;
    public GradeSumsArray Grades;

    public NetworkSums(long windowStartMs, long windowEndMs)
    {
        WindowStartMs = windowStartMs;
        WindowEndMs = windowEndMs;
    }

    /// <summary>Segments with published rows in the sums.</summary>
    public readonly int Segments
    {
        get
        {
            int n = 0;
            for (int g = 0; g < NetworkIndex.Grades; g++) n += Grades[g].Segments;
            return n;
        }
    }

    /// <summary>Adds one published segment row of the window.</summary>
    public void Add(RoadNetwork network, in SegmentStat s)
    {
        ref GradeSums g = ref Grades[(int)NetworkIndex.GradeOf(network.Class(s.Edge))];
        long length = (long)Math.Round(network.LengthM(s.Edge) * 1000);
        g.VehicleMm += s.VehicleMm;
        g.LengthMm += length;
        if (s.Level >= NetworkIndex.SevereLevel) g.SevereLengthMm += length;
        g.Segments++;
    }

    /// <summary>Adds another partition's sums of the same window.</summary>
    public void Add(in NetworkSums other)
    {
        for (int i = 0; i < NetworkIndex.Grades; i++)
        {
            ref GradeSums g = ref Grades[i];
            GradeSums o = other.Grades[i];
            g.VehicleMm += o.VehicleMm;
            g.LengthMm += o.LengthMm;
            g.SevereLengthMm += o.SevereLengthMm;
            g.Segments += o.Segments;
        }
    }
}

/// <summary>One window of the network-wide traffic performance index (docs/outputs.md "Network index").</summary>
public readonly record struct NetworkIndexValue(
    long WindowStartMs, long WindowEndMs, double Tpi, int Level, double SevereShare, int Segments, double VehicleKm, double LengthKm);

/// <summary>
/// The network-wide traffic performance index (交通运行指数, TPI, 0–10 in five grades of 2) as Beijing's DB11/T 785-2011
/// defines it and the later city standards (Guangzhou DB4401/T 57-2020, Tianjin DB12/T 1237-2023) repeat: the share of the
/// road network's mileage that is severely congested (严重拥堵里程比例), per functional grade of road, weighted by each
/// grade's share of the vehicle-kilometres travelled (VKT, its Annex B), mapped piecewise linearly to 0–10 (its Annex C).
/// GB/T 33171-2016 names the index and its five grades; its text was not reachable here, so the city method that it
/// summarises is what is implemented (docs/outputs.md gives the details and the sources).
/// <para>
/// Here: the segments are those with a published row in the window (at least the minimum sample), a segment is severely
/// congested at GB/T 33171 level 5 (speed at most 30 % of its free flow), mileage is the segments' length, and VKT is the
/// distance the probe vehicles drove on them (the traversals' sum), so that busy roads weigh as the traffic on them does.
/// </para>
/// </summary>
public static class NetworkIndex
{
    /// <summary>Number of <see cref="RoadGrade"/> values.</summary>
    public const int Grades = 4;

    /// <summary>The level from which a segment counts as severely congested.</summary>
    public const int SevereLevel = 5;

    // The conversion of the severely congested mileage share to the index: share (breakpoints) → index 0, 2, 4, 6, 8, 10.
    private static ReadOnlySpan<double> Shares => [0, 0.04, 0.08, 0.11, 0.14, 0.24];

    public static RoadGrade GradeOf(RoadClass c) => c switch
    {
        RoadClass.Motorway or RoadClass.MotorwayLink or RoadClass.Trunk or RoadClass.TrunkLink => RoadGrade.Expressway,
        RoadClass.Primary or RoadClass.PrimaryLink => RoadGrade.Arterial,
        RoadClass.Secondary or RoadClass.SecondaryLink => RoadGrade.Secondary,
        _ => RoadGrade.Branch,
    };

    /// <summary>
    /// The VKT-weighted share of severely congested mileage: Σ over grades of (the grade's VKT / all VKT) × (its severe
    /// mileage / its mileage). Grades without VKT weigh nothing; without any VKT at all, mileage weighs instead.
    /// </summary>
    public static double SevereShare(in NetworkSums sums)
    {
        long vkt = 0, length = 0, severe = 0;
        for (int g = 0; g < Grades; g++)
        {
            vkt += sums.Grades[g].VehicleMm;
            length += sums.Grades[g].LengthMm;
            severe += sums.Grades[g].SevereLengthMm;
        }
        if (vkt <= 0) return length > 0 ? severe / (double)length : 0;
        double share = 0;
        for (int g = 0; g < Grades; g++)
        {
            GradeSums s = sums.Grades[g];
            if (s.LengthMm > 0) share += s.VehicleMm / (double)vkt * (s.SevereLengthMm / (double)s.LengthMm);
        }
        return share;
    }

    /// <summary>The index for a share of severely congested mileage: piecewise linear through (0 %, 0), (4 %, 2), (8 %, 4), (11 %, 6), (14 %, 8), (24 %, 10); 10 beyond.</summary>
    public static double Of(double severeShare)
    {
        if (!(severeShare > 0)) return 0;
        ReadOnlySpan<double> x = Shares;
        for (int i = 1; i < x.Length; i++)
        {
            if (severeShare < x[i]) return (2 * (i - 1)) + (2 * (severeShare - x[i - 1]) / (x[i] - x[i - 1]));
        }
        return 10;
    }

    /// <summary>The grade of an index: 1 smooth (畅通, [0, 2)), 2 basically smooth ([2, 4)), 3 light ([4, 6)), 4 moderate ([6, 8)), 5 severe ([8, 10]).</summary>
    public static int LevelOf(double tpi) => tpi switch
    {
        < 2 => 1,
        < 4 => 2,
        < 6 => 3,
        < 8 => 4,
        _ => 5,
    };

    /// <summary>The index of a window from its (whole network's) sums.</summary>
    public static NetworkIndexValue Of(in NetworkSums sums)
    {
        double share = SevereShare(in sums);
        double tpi = Math.Round(Of(share), 2);
        long vkt = 0, length = 0;
        for (int g = 0; g < Grades; g++)
        {
            vkt += sums.Grades[g].VehicleMm;
            length += sums.Grades[g].LengthMm;
        }
        return new NetworkIndexValue(sums.WindowStartMs, sums.WindowEndMs, tpi, LevelOf(tpi), Math.Round(share, 4), sums.Segments,
            Math.Round(vkt / 1e6, 3), Math.Round(length / 1e6, 3));
    }
}
