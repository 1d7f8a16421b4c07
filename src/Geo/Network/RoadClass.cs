namespace Traffic.Geo.Network;

/// <summary>
/// The road classes that vehicles drive, after OpenStreetMap's <c>highway=*</c> values.
/// The numeric value is stored in the network file: append, never renumber.
/// </summary>
public enum RoadClass : byte
{
    Unknown = 0,
    Motorway = 1,
    MotorwayLink = 2,
    Trunk = 3,
    TrunkLink = 4,
    Primary = 5,
    PrimaryLink = 6,
    Secondary = 7,
    SecondaryLink = 8,
    Tertiary = 9,
    TertiaryLink = 10,
    Unclassified = 11,
    Residential = 12,
    LivingStreet = 13,
    Service = 14,
    Road = 15,
    Busway = 16,
    Track = 17,
}

/// <summary>Names and defaults per road class.</summary>
public static class RoadClasses
{
    /// <summary>Number of values of <see cref="RoadClass"/>.</summary>
    public const int Count = 18;

    private static readonly string[] s_names =
    [
        "unknown", "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
        "living_street", "service", "road", "busway", "track",
    ];

    /// <summary>
    /// Default speed limits in km/h per class where a way has no usable <c>maxspeed</c>, for China
    /// (Road Traffic Safety Law of the PRC art. 45 and its implementing regulations art. 45/78:
    /// expressways 120, urban roads 30–50 by lane layout, and the design speeds of CJJ 37-2012
    /// for urban expressways, arterials, secondary and branch roads). See docs/network.md.
    /// </summary>
    private static readonly float[] s_defaultLimitKmh =
    [
        40, 120, 60, 80, 50, 60, 40, 50, 40, 40, 30, 40, 30, 20, 20, 30, 40, 20,
    ];

    public static string Name(RoadClass c) => (uint)c < (uint)s_names.Length ? s_names[(int)c] : "unknown";

    public static float DefaultLimitKmh(RoadClass c) => s_defaultLimitKmh[(int)c < s_defaultLimitKmh.Length ? (int)c : 0];

    /// <summary>Parses an OSM <c>highway=*</c> value into a class; false for roads vehicles do not drive.</summary>
    public static bool TryParseHighway(ReadOnlySpan<char> value, out RoadClass roadClass)
    {
        for (int i = 1; i < s_names.Length; i++)
        {
            if (value.SequenceEqual(s_names[i]))
            {
                roadClass = (RoadClass)i;
                return true;
            }
        }
        roadClass = RoadClass.Unknown;
        return false;
    }
}
