namespace Traffic.Geo.Matching;

/// <summary>
/// One vehicle's Viterbi frontier: a ring of probe columns (the last decided one, the anchor, then
/// the undecided ones), each with up to K candidates stored as struct-of-arrays. Its size is fixed by
/// the lag and K when online; an offline match lets it grow to the whole trace.
/// </summary>
public sealed class VehicleMatchState
{
    // Per column (ring slot).
    internal long[] Time;
    internal double[] Lon;
    internal double[] Lat;
    internal long[] Id;
    internal byte[] Count;          // candidates in the column, alive or not
    internal ChainBreak[] Break;     // why a chain starts at this column (None inside a chain)

    // Per candidate: slot * K + i.
    internal int[] Edge;
    internal float[] Offset;
    internal float[] Score;          // log probability of the best path ending here, max of the column = 0; -inf: dead
    internal byte[] Back;            // candidate index in the previous column on that path

    internal readonly int K;
    internal int Start;              // ring slot of the oldest column
    internal int Length;             // columns held, anchor included
    internal bool HasAnchor;         // column 0 is the last decided one (a single candidate)

    // The last probe accepted, for ordering, duplicates and gaps (survives flushes).
    internal bool HasInput;
    internal long LastTime;
    internal double LastLon;
    internal double LastLat;
    internal ChainBreak NextBreak = ChainBreak.Start;

    public VehicleMatchState(MatcherOptions options) : this(options.MaxCandidates, OnlineCapacity(options))
    {
    }

    internal VehicleMatchState(int k, int capacity)
    {
        if (k is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(k), "between 1 and 32 candidates");
        K = k;
        Time = new long[capacity];
        Lon = new double[capacity];
        Lat = new double[capacity];
        Id = new long[capacity];
        Count = new byte[capacity];
        Break = new ChainBreak[capacity];
        Edge = new int[capacity * k];
        Offset = new float[capacity * k];
        Score = new float[capacity * k];
        Back = new byte[capacity * k];
    }

    /// <summary>Columns the ring holds before it must decide or grow.</summary>
    public int Capacity => Time.Length;

    /// <summary>Probes received but not yet decided.</summary>
    public int Pending => Length - (HasAnchor ? 1 : 0);

    /// <summary>Event time of the last probe accepted, epoch ms (long.MinValue before any).</summary>
    public long LastProbeTimeMs => HasInput ? LastTime : long.MinValue;

    /// <summary>Bytes of state held for this vehicle (arrays and object headers).</summary>
    public int SizeBytes => 64 + (6 * 24) + (Capacity * (8 + 8 + 8 + 8 + 1 + 1)) + (4 * 24) + (Capacity * K * (4 + 4 + 4 + 1));

    internal static int OnlineCapacity(MatcherOptions o) =>
        o.LagProbes >= 1024 ? 64 : o.LagProbes + 2; // anchor + lag + the new column; offline grows

    internal int Slot(int column) => (Start + column) % Time.Length;

    /// <summary>Drops every column (the chain ends); keeps the last input for ordering.</summary>
    internal void Clear()
    {
        Start = 0;
        Length = 0;
        HasAnchor = false;
    }

    /// <summary>Doubles the ring, keeping column order (offline matching only).</summary>
    internal void Grow()
    {
        int cap = Time.Length, newCap = cap * 2;
        var time = new long[newCap];
        var lon = new double[newCap];
        var lat = new double[newCap];
        var id = new long[newCap];
        var count = new byte[newCap];
        var brk = new ChainBreak[newCap];
        var edge = new int[newCap * K];
        var offset = new float[newCap * K];
        var score = new float[newCap * K];
        var back = new byte[newCap * K];
        for (int c = 0; c < Length; c++)
        {
            int s = Slot(c);
            time[c] = Time[s];
            lon[c] = Lon[s];
            lat[c] = Lat[s];
            id[c] = Id[s];
            count[c] = Count[s];
            brk[c] = Break[s];
            Array.Copy(Edge, s * K, edge, c * K, K);
            Array.Copy(Offset, s * K, offset, c * K, K);
            Array.Copy(Score, s * K, score, c * K, K);
            Array.Copy(Back, s * K, back, c * K, K);
        }
        (Time, Lon, Lat, Id, Count, Break, Edge, Offset, Score, Back) = (time, lon, lat, id, count, brk, edge, offset, score, back);
        Start = 0;
    }
}
