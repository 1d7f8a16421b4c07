using System.Globalization;
using System.Text;
using Traffic.Engine.Alerts;

namespace Traffic.Engine.Tests.Alerts;

public class AlertWriterTests
{
    // The text the writers have always produced: .NET's custom date format.
    private static string Reference(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(1767571200005L)]
    [InlineData(951782400000L)]        // 2000-02-29
    [InlineData(253402300799999L)]     // 9999-12-31T23:59:59.999
    [InlineData(-62135596800000L)]     // 0001-01-01
    public void Rfc3339_matches_the_custom_date_format(long ms)
    {
        Span<byte> utf8 = stackalloc byte[AlertWriter.Rfc3339Length + 3];
        Assert.Equal(Reference(ms), Encoding.ASCII.GetString(AlertWriter.Rfc3339(ms, utf8)));
        Assert.Equal(Reference(ms), AlertWriter.Rfc3339(ms));
    }

    [Fact]
    public void Rfc3339_matches_the_custom_date_format_over_random_times()
    {
        var random = new Random(6);
        Span<byte> utf8 = stackalloc byte[AlertWriter.Rfc3339Length];
        for (int i = 0; i < 100_000; i++)
        {
            long ms = random.NextInt64(-62135596800000L, 253402300800000L);
            Assert.Equal(Reference(ms), Encoding.ASCII.GetString(AlertWriter.Rfc3339(ms, utf8)));
        }
    }

    [Fact]
    public void Rfc3339_rejects_times_beyond_the_calendar_as_before()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Reference(253402300800000L));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlertWriter.Rfc3339(253402300800000L));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlertWriter.Rfc3339(long.MaxValue));
    }
}
