using Traffic.Geo.Matching;

namespace Traffic.Engine.Output;

/// <summary>The <c>reason</c> of a row of the late output (late.ndjson, the late topic).</summary>
public static class LateReasons
{
    /// <summary>
    /// Why an accepted probe went to the late output: behind the watermark (<c>late</c>), a repeat of its vehicle's
    /// previous probe (<c>duplicate</c>), or older than it (<c>out_of_order</c>), which its vehicle's matcher cannot take.
    /// </summary>
    public static string Of(PushResult why) => why switch
    {
        PushResult.Duplicate => "duplicate",
        PushResult.OutOfOrder => "out_of_order",
        PushResult.Invalid => "invalid",
        _ => "late",
    };
}
