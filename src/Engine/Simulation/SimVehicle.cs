namespace Traffic.Engine.Simulation;

/// <summary>The simulated vehicle classes (their <c>class</c> names in probes are <c>taxi</c>, <c>bus</c>, <c>hazmat</c>).</summary>
public enum VehicleKind : byte
{
    Taxi,
    Bus,
    Hazmat,
}

internal enum SimState : byte
{
    Driving,
    /// <summary>Stopped on the plan (a bus stop, a pull-over); driving resumes at <see cref="SimVehicle.Until"/>.</summary>
    Dwelling,
    /// <summary>At the end of a plan (waiting for a fare, unloading); the next trip starts at <see cref="SimVehicle.Until"/>.</summary>
    Idle,
    /// <summary>Out of service: reports nothing any more (a GTFS bus after its trip).</summary>
    Off,
}

/// <summary>A stop on a plan: where (distance along it), how long, and for GTFS buses the timetable (sim seconds, NaN if none).</summary>
internal readonly record struct PlanStop(double At, double DwellS, double ArriveS, double DepartS, string? StopId, int Seq);

/// <summary>
/// One run of a GTFS trip: its service date, its first departure (seconds after that day's midnight: a frequency
/// trip has several runs) and the sim seconds to add to the trip's stop times for this run.
/// </summary>
internal readonly record struct GtfsRun(GtfsTrip Trip, DateOnly ServiceDate, int StartS, double OffsetS)
{
    /// <summary>The trip's shape laid on the network.</summary>
    public ShapeRoute? Route { get; init; }

    /// <summary>Scheduled departure from the first stop, sim seconds.</summary>
    public double DepartS => OffsetS + Trip.Stops[0].DepartureS;

    /// <summary>Scheduled arrival at the last stop, sim seconds.</summary>
    public double EndS => OffsetS + Trip.Stops[^1].ArrivalS;
}

/// <summary>A scenario event bound to one vehicle, with the truth it records as it happens.</summary>
internal sealed class VehicleEvent(ScenarioEvent spec, TruthEvent truth)
{
    public ScenarioEvent Spec { get; } = spec;

    public TruthEvent Truth { get; } = truth;

    /// <summary>The event has been carried out (trip-based events happen once).</summary>
    public bool Done { get; set; }

    /// <summary>For zone events: the vehicle was inside the zone at the last step.</summary>
    public bool WasInside { get; set; }

    /// <summary>For zone events: the zone the vehicle drives into.</summary>
    public SimZone? Zone { get; set; }
}

/// <summary>
/// One simulated vehicle: its plan (a sequence of edges, each driven forwards, or backwards when stored
/// as <c>~edge</c>, with stops at distances along it), its motion and its GPS unit's state.
/// Mutable on purpose: the simulator advances it in place, one second at a time.
/// </summary>
internal sealed class SimVehicle(int index, string id, VehicleKind kind, Random rng)
{
    public int Index { get; } = index;
    public string Id { get; } = id;
    public VehicleKind Kind { get; } = kind;
    public Random Rng { get; } = rng;

    public string ClassName => Kind switch { VehicleKind.Bus => "bus", VehicleKind.Hazmat => "hazmat", _ => "taxi" };

    public string? Hazmat { get; set; }
    public string Company { get; set; } = "";

    // GPS unit.
    public double SigmaM;               // position noise per axis, metres
    public long IntervalMs;             // sampling interval
    public long NextFixMs;              // next fix, ms after the simulation start
    public int NoFixLeft;               // fixes left in a natural fix-loss spell
    public double LastLon, LastLat;     // last reported position with a fix: repeated while there is none
    public double LastHeading;
    public bool HasLast;

    // Plan: edges driven in order (~e: against e's direction), their start distances, and stops.
    public int[] Elems = [];
    public double[] Start = [0];        // Start[k]: distance from the plan's origin to element k; Start[^1]: its length
    public List<PlanStop> Stops = [];
    public int NextStop;                // index of the next stop not yet served
    public double D;                    // distance driven along the plan, metres
    public int I;                       // element the vehicle is on
    public bool TurnAhead;              // the junction at the end of element I turns: slow down for it

    // Motion.
    public SimState State;
    public double Until;                // end of a dwell or idle period, sim seconds
    public double ArrivedS;             // when the current dwell began (a bus's arrival at a stop)
    public double Now;                  // sim seconds the vehicle has been advanced to
    public double SpeedMs;
    public double DriverFactor = 1;     // this trip's share of the road's speed: drivers differ
    public bool NoIdle;                 // fatigue scenario: trips back to back, never a break
    public double RestedAt;             // end of the driver's last rest of 20 minutes or more, sim seconds

    // Class-specific plans.
    public GtfsTrip? Trip;              // GTFS: the trip of the run under way (or just driven, while deadheading)
    public GtfsRun[] Runs = [];         // GTFS: the runs this bus drives, one or a block's back to back
    public int Run;                     // GTFS: index in Runs of the run under way or next
    public bool Deadhead;               // GTFS: driving empty from a run's end to the next run's first stop
    public double SilentUntil;          // GTFS: the unit is off until then (no road from a run's end to the next run)
    public int HomeEdge = -1;           // hazmat: the port; bus without GTFS: terminal A
    public int AwayEdge = -1;           // hazmat: the destination; bus: terminal B
    public bool Outbound;               // heading to AwayEdge
    public ulong KeepOut;               // the zones its driver keeps out of (bits by zone index; FleetSimulator.KeepOut)
    public string? CorridorId;          // hazmat: the approved corridor (a line zone), or null
    public double[] CorridorLon = [];   // its line: the route port → destination → port
    public double[] CorridorLat = [];

    // Scenario.
    public List<VehicleEvent> Events = [];
    public VehicleEvent? ZoneWatch;     // a zone event whose entry and exit the truth records
    public VehicleEvent? Detour;        // an off-corridor event whose detour is the current plan
    public VehicleEvent? CorridorWatch; // an off-corridor event whose exit and return the truth records
    public VehicleEvent? WrongWay;      // set while the plan ends with a wrong-way edge
    public VehicleEvent? PullOver;      // a long stop waiting for the vehicle to come to a halt

    // Transport: a probe held back to be written after this vehicle's next one (out of order).
    public byte[]? HeldLine;
    public byte[]? HeldTruth;
    public long HeldTimeMs;

    public int Edge => Elems[I] >= 0 ? Elems[I] : ~Elems[I];

    public bool Reversed => Elems[I] < 0;

    public double PlanEnd => Start[^1];
}
