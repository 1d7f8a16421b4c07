using Traffic.Geo.Network;

namespace Traffic.Geo.Import.Osm;

/// <summary>
/// The limit that applies to a way without a <c>maxspeed</c> tag: the law of the country the network lies in
/// (https://wiki.openstreetmap.org/wiki/Default_speed_limits). China, the project's home and the default when a file
/// names no country, keeps <see cref="RoadClasses.DefaultLimitKmh"/> (its urban limits by lane layout and the design
/// speeds of its urban road classes). Elsewhere a road inside a town takes the country's urban limit, which binds
/// city streets whatever their class (50 km/h in most of the world; a residential street in Monaco is not a 30 km/h
/// Chinese lane without a centre line); motorways, trunk roads and living streets take their own. A network is not
/// told which of its roads lie outside towns, so rural roads without a tag are judged by the urban limit.
/// </summary>
public static class DefaultSpeedLimits
{
    /// <summary>The country whose limits apply when neither the caller nor the file names one.</summary>
    public const string HomeCountry = "CN";

    /// <summary>
    /// The default limit of each road class in <paramref name="country"/> (ISO 3166-1 alpha-2), indexed by
    /// <see cref="RoadClass"/>; <c>NoLimit</c> where the law sets none (German motorways), the class default standing in
    /// as a design speed.
    /// </summary>
    public static (float Kmh, bool NoLimit)[] ByClass(string country)
    {
        var table = new (float Kmh, bool NoLimit)[RoadClasses.Count];
        for (int c = 0; c < table.Length; c++)
        {
            var cls = (RoadClass)c;
            table[c] = (RoadClasses.DefaultLimitKmh(cls), false);
            if (country == HomeCountry) continue;
            string type = cls switch
            {
                RoadClass.Motorway or RoadClass.MotorwayLink => "motorway",
                RoadClass.Trunk or RoadClass.TrunkLink => "trunk",
                RoadClass.LivingStreet => "living_street",
                _ => "urban",
            };
            if (MaxSpeed.TryParse(country + ":" + type, out float kmh, out bool noLimit)) table[c] = noLimit ? (table[c].Kmh, true) : (kmh, false);
        }
        return table;
    }

    /// <summary>Whether <paramref name="code"/> reads as an ISO 3166-1 alpha-2 code (two ASCII letters), upper-cased.</summary>
    public static bool TryCountryCode(ReadOnlySpan<char> code, out string country)
    {
        code = code.Trim();
        if (code.Length == 2 && char.IsAsciiLetter(code[0]) && char.IsAsciiLetter(code[1]))
        {
            country = code.ToString().ToUpperInvariant();
            return true;
        }
        country = "";
        return false;
    }
}
