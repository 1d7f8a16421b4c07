using System.Runtime.InteropServices;

namespace Traffic.Engine.Rules;

/// <summary>How long a condition must hold before its alert opens, and have ended before it closes (debounce and hysteresis).</summary>
internal readonly record struct Debounce(long OpenAfterMs, long CloseAfterMs);

/// <summary>
/// The lifecycle of one per-vehicle condition: it opens once it has held for <see cref="Debounce.OpenAfterMs"/>, closes once
/// it has been false for <see cref="Debounce.CloseAfterMs"/> (debounce and hysteresis), and remembers when it began.
/// </summary>
/// <remarks>
/// Mutable struct, kept inline in a vehicle's state (a field, never a copy): an object of its own cost a vehicle 64 bytes
/// and a reference for each condition. The thresholds are the rule's, passed in, not kept per vehicle. Packed: 25 bytes,
/// not the 32 that aligning its flag to the times makes (a vehicle holds up to four).
/// </remarks>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct ConditionTracker
{
    private long _trueSince;
    private long _falseSince;
    private long _startMs;
    private bool _isOpen;

    public ConditionTracker()
    {
        _trueSince = long.MinValue;
        _falseSince = long.MinValue;
        _startMs = long.MinValue;
    }

    public readonly bool IsOpen => _isOpen;

    /// <summary>When the condition began (the alert's start).</summary>
    public readonly long StartMs => _startMs;

    /// <summary>When it stopped holding (the alert's end, at a close).</summary>
    public readonly long EndMs => _falseSince;

    /// <summary>Feeds the condition's value at a time; returns the transition it causes, if any.</summary>
    public Alerts.AlertState? Update(bool active, long timeMs, Debounce debounce) => Update(active, timeMs, timeMs, debounce);

    /// <summary>
    /// Feeds the condition's value at a time, where a condition that starts holding now is known to have begun at
    /// <paramref name="beganMs"/> (the first of the fixes that confirm it); returns the transition it causes, if any.
    /// </summary>
    public Alerts.AlertState? Update(bool active, long timeMs, long beganMs, Debounce debounce)
    {
        if (active)
        {
            _falseSince = long.MinValue;
            if (_trueSince == long.MinValue) _trueSince = beganMs;
            if (!_isOpen && timeMs - _trueSince >= debounce.OpenAfterMs)
            {
                _isOpen = true;
                _startMs = _trueSince;
                return Alerts.AlertState.Open;
            }
            return null;
        }
        _trueSince = long.MinValue;
        if (!_isOpen) return null;
        if (_falseSince == long.MinValue) _falseSince = timeMs;
        if (timeMs - _falseSince < debounce.CloseAfterMs) return null;
        _isOpen = false;
        return Alerts.AlertState.Close;
    }

    /// <summary>Writes the tracker's state (checkpoint); the thresholds come from the options.</summary>
    public readonly void Save(BinaryWriter w)
    {
        w.Write(_trueSince);
        w.Write(_falseSince);
        w.Write(_isOpen);
        w.Write(_startMs);
    }

    public void Load(BinaryReader r)
    {
        _trueSince = r.ReadInt64();
        _falseSince = r.ReadInt64();
        _isOpen = r.ReadBoolean();
        _startMs = r.ReadInt64();
    }

    /// <summary>
    /// The vehicle has gone for good (the partition forgets it): an open condition closes, its end when it stopped holding
    /// if it had, else <paramref name="lastMs"/>, the vehicle's last report (known to hold until then, no later).
    /// </summary>
    public Alerts.AlertState? Gone(long lastMs)
    {
        _trueSince = long.MinValue;
        if (!_isOpen) return null;
        if (_falseSince == long.MinValue) _falseSince = Math.Max(_startMs, lastMs);
        _isOpen = false;
        return Alerts.AlertState.Close;
    }

    /// <summary>Closes an open condition whatever it last held (the vehicle went silent), ready to begin again.</summary>
    public void Close()
    {
        _isOpen = false;
        Clear();
    }

    /// <summary>Resets after a close has been reported.</summary>
    public void Clear()
    {
        _trueSince = long.MinValue;
        _falseSince = long.MinValue;
        _startMs = long.MinValue;
    }
}
