using System.Runtime.InteropServices;

namespace Traffic.Engine.Rules;

/// <summary>
/// A running estimate of a GPS unit's error σ per axis, from distances that are half-normal with that σ when the unit
/// errs by it (a fix's distance across its road, a fix's distance off the line through its neighbours scaled to one
/// fix): mean × √(π/2), the last <see cref="Span"/> samples weighted alike. A rule that gives the benefit of the doubt
/// to anything within a GPS error of a fix gives a precise unit less of it.
/// </summary>
/// <remarks>Packed: 9 bytes, not 16 (a vehicle holds three).</remarks>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct UnitError
{
    /// <summary>The estimate follows about this many recent samples: a unit's error changes with where it is.</summary>
    public const int Span = 32;

    private byte _samples;
    private double _mean;

    public void Add(double distanceM)
    {
        if (_samples < Span) _samples++;
        _mean += (distanceM - _mean) / _samples;
    }

    /// <summary>Whether this many samples have shown the unit's error.</summary>
    public readonly bool Known(int minSamples) => _samples >= minSamples;

    /// <summary>The unit's error σ per axis, metres.</summary>
    public readonly double SigmaM => _mean * 1.2533141373155003;

    /// <summary>The unit's error σ once <paramref name="minSamples"/> samples have shown it, else <paramref name="fallbackM"/>.</summary>
    public readonly double SigmaOr(int minSamples, double fallbackM) => _samples < minSamples ? fallbackM : SigmaM;

    /// <summary>
    /// <paramref name="sigmas"/> times the unit's error within [<paramref name="minM"/>, <paramref name="maxM"/>] once
    /// <paramref name="minSamples"/> samples have shown it; <paramref name="maxM"/> until then.
    /// </summary>
    public readonly double Radius(int minSamples, double sigmas, double minM, double maxM) =>
        _samples < minSamples ? maxM : Math.Clamp(sigmas * SigmaM, minM, maxM);

    public readonly void Save(BinaryWriter o)
    {
        o.Write((int)_samples);
        o.Write(_mean);
    }

    public void Load(BinaryReader i)
    {
        int samples = i.ReadInt32();
        Checkpoints.CheckpointReader.Check(samples is >= 0 and <= Span, "checkpoint malformed: a unit's error samples out of range");
        _samples = (byte)samples;
        _mean = i.ReadDouble();
    }
}
