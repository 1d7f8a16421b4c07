using Traffic.Geo.Import.Osm;

namespace Traffic.Geo.Tests.Import.Osm;

public class MaxSpeedTests
{
    [Theory]
    [InlineData("50", 50)]
    [InlineData(" 60 ", 60)]
    [InlineData("50 km/h", 50)]
    [InlineData("50 kmh", 50)]
    [InlineData("50kph", 50)]
    [InlineData("50 KM/H", 50)]
    [InlineData("30 mph", 48.28032)]
    [InlineData("30mph", 48.28032)]
    [InlineData("10 knots", 18.52)]
    [InlineData("walk", MaxSpeed.WalkKmh)]
    [InlineData("60;40", 40)]
    [InlineData("40; 60", 40)]
    [InlineData("30 mph;50", 48.28032)]
    [InlineData("12.5", 12.5)]
    [InlineData("CN:urban", 50)]
    [InlineData("CN:rural", 70)]
    [InlineData("CN:motorway", 120)]
    [InlineData("CN:expressway", 120)]
    [InlineData("cn:urban", 50)]
    [InlineData("FR:rural", 80)]
    [InlineData("FR:motorway", 130)]
    [InlineData("XX:urban", 50)]
    [InlineData("XX:rural", 90)]
    [InlineData("XX:motorway", 120)]
    [InlineData("XX:living_street", 20)]
    [InlineData("DE:living_street", MaxSpeed.WalkKmh)]
    [InlineData("DE:zone30", 30)]
    [InlineData("DE:zone:30", 30)]
    [InlineData("IT:zone20", 20)]
    [InlineData("GB:zone20", 32.18688)]
    [InlineData("GB:nsl_single", 96.56064)]
    public void Parses_limits_in_kmh(string value, double expected)
    {
        Assert.True(MaxSpeed.TryParse(value, out float kmh, out bool none));
        Assert.False(none);
        Assert.Equal(expected, kmh, 0.001);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("NONE")]
    [InlineData("DE:motorway")]
    public void None_means_no_limit(string value)
    {
        Assert.True(MaxSpeed.TryParse(value, out float kmh, out bool none));
        Assert.True(none);
        Assert.Equal(0, kmh);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("signals")]
    [InlineData("variable")]
    [InlineData("fast")]
    [InlineData("50 furlongs")]
    [InlineData("0")]
    [InlineData("-30")]
    [InlineData("5000")]
    [InlineData("50;")]
    [InlineData("60;signals")]
    [InlineData("XX:moon")]
    [InlineData("DE:zone")]
    [InlineData("DE:zonefoo")]
    [InlineData("50,5")]
    [InlineData("1.2.3")]
    [InlineData("CHN:urban")]
    public void Rejects_what_does_not_give_a_limit(string value)
    {
        Assert.False(MaxSpeed.TryParse(value, out float kmh, out bool none));
        Assert.Equal(0, kmh);
        Assert.False(none);
    }

    [Fact]
    public void A_list_with_none_and_a_number_takes_the_number()
    {
        Assert.True(MaxSpeed.TryParse("none;120", out float kmh, out bool none));
        Assert.False(none);
        Assert.Equal(120, kmh);
    }
}
