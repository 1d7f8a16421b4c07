namespace Traffic.Engine.Segments;

/// <summary>Congestion levels of GB/T 33171-2016, from the delay proportion 1 − v / v_free.</summary>
public static class CongestionLevel
{
    /// <summary>1 smooth (畅通) … 5 severe (严重拥堵).</summary>
    public static int Of(double speedKmh, double freeFlowKmh)
    {
        if (!(freeFlowKmh > 0) || double.IsNaN(speedKmh)) return 1;
        double delay = 1 - (speedKmh / freeFlowKmh);
        return delay switch
        {
            < 0.3 => 1,
            < 0.5 => 2,
            < 0.6 => 3,
            < 0.7 => 4,
            _ => 5,
        };
    }
}
