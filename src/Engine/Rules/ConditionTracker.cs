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
/// and a reference for each condition. The thresholds are the rule's, passed in, not kept per vehicle. Packed into 17
/// bytes (a vehicle holds up to four): one whole time, the condition's start once it has one (else when it began to hold),
/// and the other two times as 32-bit offsets from the start, which an alert's id names and so is kept exact. An offset
/// beyond ±24.8 days (an alert open that long) is held at that bound.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct ConditionTracker
{
    private const int None = int.MinValue;
    private const byte OpenFlag = 1, StartFlag = 2;

    private long _at;       // the start (StartFlag), else when the condition began to hold, else long.MinValue
    private int _true;      // with a start: when it began to hold, from the start (None: it does not hold)
    private int _false;     // with a start: when it stopped holding, from the start (None: it has not stopped)
    private byte _flags;

    public ConditionTracker()
    {
        _at = long.MinValue;
        _true = None;
        _false = None;
    }

    public readonly bool IsOpen => (_flags & OpenFlag) != 0;

    private readonly bool HasStart => (_flags & StartFlag) != 0;

    /// <summary>When the condition began (the alert's start).</summary>
    public readonly long StartMs => HasStart ? _at : long.MinValue;

    /// <summary>When it stopped holding (the alert's end, at a close).</summary>
    public readonly long EndMs => FalseSince;

    private long TrueSince
    {
        readonly get => !HasStart ? _at : _true == None ? long.MinValue : _at + _true;
        set
        {
            if (HasStart) _true = From(value);
            else _at = value;
        }
    }

    // Set only while open, so only with a start.
    private long FalseSince
    {
        readonly get => HasStart && _false != None ? _at + _false : long.MinValue;
        set => _false = From(value);
    }

    private readonly int From(long timeMs) =>
        timeMs == long.MinValue ? None : (int)Math.Clamp(timeMs - _at, -int.MaxValue, int.MaxValue);

    /// <summary>Begins the alert at when the condition began to hold, which is where the start is kept already.</summary>
    private void Open()
    {
        _flags |= OpenFlag | StartFlag;
        _true = 0;
        _false = None;
    }

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
            if (HasStart && !IsOpen) this = new ConditionTracker();   // a close not cleared yet: what holds now begins anew
            if (HasStart) _false = None;
            if (TrueSince == long.MinValue) TrueSince = beganMs;
            if (!IsOpen && timeMs - TrueSince >= debounce.OpenAfterMs)
            {
                Open();
                return Alerts.AlertState.Open;
            }
            return null;
        }
        TrueSince = long.MinValue;
        if (!IsOpen) return null;
        if (FalseSince == long.MinValue) FalseSince = timeMs;
        if (timeMs - FalseSince < debounce.CloseAfterMs) return null;
        _flags &= unchecked((byte)~OpenFlag);
        return Alerts.AlertState.Close;
    }

    /// <summary>Writes the tracker's state (checkpoint); the thresholds come from the options.</summary>
    public readonly void Save(BinaryWriter w)
    {
        w.Write(TrueSince);
        w.Write(FalseSince);
        w.Write(IsOpen);
        w.Write(StartMs);
    }

    public void Load(BinaryReader r)
    {
        long trueSince = r.ReadInt64(), falseSince = r.ReadInt64();
        bool open = r.ReadBoolean();
        long start = r.ReadInt64();
        Checkpoints.CheckpointReader.Check(start != long.MinValue || (!open && falseSince == long.MinValue),
            "checkpoint malformed: a condition open or ended without a start");
        this = new ConditionTracker();
        if (start == long.MinValue)
        {
            _at = trueSince;
            return;
        }
        (_at, _flags) = (start, (byte)(StartFlag | (open ? OpenFlag : 0)));
        _true = From(trueSince);
        _false = From(falseSince);
    }

    /// <summary>
    /// The vehicle has gone for good (the partition forgets it): an open condition closes, its end when it stopped holding
    /// if it had, else <paramref name="lastMs"/>, the vehicle's last report (known to hold until then, no later).
    /// </summary>
    public Alerts.AlertState? Gone(long lastMs)
    {
        TrueSince = long.MinValue;
        if (!IsOpen) return null;
        if (FalseSince == long.MinValue) FalseSince = Math.Max(StartMs, lastMs);
        _flags &= unchecked((byte)~OpenFlag);
        return Alerts.AlertState.Close;
    }

    /// <summary>Closes an open condition whatever it last held (the vehicle went silent), ready to begin again.</summary>
    public void Close() => Clear();

    /// <summary>Resets after a close has been reported.</summary>
    public void Clear() => this = new ConditionTracker();
}
