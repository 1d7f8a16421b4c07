namespace Traffic.Engine.Rules;

/// <summary>
/// The lifecycle of one per-vehicle condition: it opens once it has held for <c>openAfterMs</c>, closes once
/// it has been false for <c>closeAfterMs</c> (debounce and hysteresis), and remembers when it began.
/// </summary>
internal sealed class ConditionTracker(long openAfterMs, long closeAfterMs)
{
    private long _trueSince = long.MinValue;
    private long _falseSince = long.MinValue;

    public bool IsOpen { get; private set; }

    /// <summary>When the condition began (the alert's start).</summary>
    public long StartMs { get; private set; } = long.MinValue;

    /// <summary>When it stopped holding (the alert's end, at a close).</summary>
    public long EndMs => _falseSince;

    /// <summary>Feeds the condition's value at a time; returns the transition it causes, if any.</summary>
    public Alerts.AlertState? Update(bool active, long timeMs) => Update(active, timeMs, timeMs);

    /// <summary>
    /// Feeds the condition's value at a time, where a condition that starts holding now is known to have begun at
    /// <paramref name="beganMs"/> (the first of the fixes that confirm it); returns the transition it causes, if any.
    /// </summary>
    public Alerts.AlertState? Update(bool active, long timeMs, long beganMs)
    {
        if (active)
        {
            _falseSince = long.MinValue;
            if (_trueSince == long.MinValue) _trueSince = beganMs;
            if (!IsOpen && timeMs - _trueSince >= openAfterMs)
            {
                IsOpen = true;
                StartMs = _trueSince;
                return Alerts.AlertState.Open;
            }
            return null;
        }
        _trueSince = long.MinValue;
        if (!IsOpen) return null;
        if (_falseSince == long.MinValue) _falseSince = timeMs;
        if (timeMs - _falseSince < closeAfterMs) return null;
        IsOpen = false;
        return Alerts.AlertState.Close;
    }

    /// <summary>Writes the tracker's state (checkpoint); the thresholds come from the options.</summary>
    public void Save(BinaryWriter w)
    {
        w.Write(_trueSince);
        w.Write(_falseSince);
        w.Write(IsOpen);
        w.Write(StartMs);
    }

    public void Load(BinaryReader r)
    {
        _trueSince = r.ReadInt64();
        _falseSince = r.ReadInt64();
        IsOpen = r.ReadBoolean();
        StartMs = r.ReadInt64();
    }

    /// <summary>
    /// The vehicle has gone for good (the partition forgets it): an open condition closes, its end when it stopped holding
    /// if it had, else <paramref name="lastMs"/>, the vehicle's last report (known to hold until then, no later).
    /// </summary>
    public Alerts.AlertState? Gone(long lastMs)
    {
        _trueSince = long.MinValue;
        if (!IsOpen) return null;
        if (_falseSince == long.MinValue) _falseSince = Math.Max(StartMs, lastMs);
        IsOpen = false;
        return Alerts.AlertState.Close;
    }

    /// <summary>Closes an open condition whatever it last held (the vehicle went silent), ready to begin again.</summary>
    public void Close()
    {
        IsOpen = false;
        Clear();
    }

    /// <summary>Resets after a close has been reported.</summary>
    public void Clear()
    {
        _trueSince = long.MinValue;
        _falseSince = long.MinValue;
        StartMs = long.MinValue;
    }
}
