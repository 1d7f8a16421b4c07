using Traffic.Geo.Import;
using Traffic.Geo.Network;
using Traffic.Testing;

namespace Traffic.Geo.Tests.Network;

public class RoadNetworkTests
{
    [Fact]
    public void Shape_bearings_are_the_bearings_of_the_shape_segments_to_the_bit()
    {
        var net = KubickaGraphReader.Read(SharedData.Kubicka("00000015"), out _);
        for (int e = 0; e < net.EdgeCount; e++)
        {
            ReadOnlySpan<double> lons = net.ShapeLons(e), lats = net.ShapeLats(e), bearings = net.ShapeBearings(e);
            Assert.Equal(lons.Length - 1, bearings.Length);
            for (int k = 0; k < bearings.Length; k++)
            {
                Assert.Equal(
                    BitConverter.DoubleToInt64Bits(GeoMath.Bearing(lons[k], lats[k], lons[k + 1], lats[k + 1])),
                    BitConverter.DoubleToInt64Bits(bearings[k]));
            }
        }
    }
}
