using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Traffic.Geo.Network;

namespace Traffic.Geo.Spatial;

/// <summary>
/// Candidate search for map matching: a uniform grid over the shape segments of a
/// <see cref="RoadNetwork"/>, in flat CSR arrays. Immutable after construction, so any number of
/// threads may query it at once; a query allocates nothing and writes into the caller's buffer.
/// </summary>
/// <remarks>
/// A segment is named by the shape point index <c>i</c> it starts at (points <c>i</c>..<c>i+1</c> of
/// one edge). A short segment is entered in every cell of its bounding box, and <see cref="Within"/>
/// tests it only in one owner cell; a long one is rasterized (entered only in the cells it passes
/// through, so a diagonal of kilometres costs a thin line of cells, not a square). When the two
/// directions of a road share one shape, only one of them is entered and a hit yields both.
/// Distances are exact point-to-segment distances in a local equirectangular frame centred on the
/// query point (the arithmetic of <see cref="GeoMath.ProjectOnSegment"/>), metre-accurate for the
/// ranges involved at any latitude short of the poles; the query box is sized with the cosine of the
/// query's own latitude, so it is right in metres at 10°N as at 60°N.
/// </remarks>
public sealed class EdgeIndex
{
    /// <summary>
    /// Cell side in metres at the network's mean latitude. Measured on Cebu with the standard 50 m
    /// search radius (bench/RESULTS.md): 64–150 m are level, 32–50 m slower (more cells visited, each
    /// nearly empty); 100 m makes a 50 m query visit 2×2 cells most of the time.
    /// </summary>
    public const double DefaultCellSizeM = 100;

    // Coarsens the grid of a very large, sparse network so cellStart stays bounded.
    private const long MinCellCap = 1 << 20;
    private const long MaxCellCap = 1 << 26;

    // A segment whose bounding box covers at most this many cells is entered in all of them, so that
    // a query can name one owner cell per segment and skip its other copies; a longer one is rasterized.
    private const int BoxInsertMaxCells = 4;

    // Widens every rasterized span and query box by this many cells, so a point that lies exactly on
    // a cell border is never lost to rounding in the degree-to-cell arithmetic.
    private const double CellEpsilon = 1e-7;

    // Widens the float boxes of the prefilter, in cells, far beyond the rounding of the degree-to-cell arithmetic in
    // doubles (about 1e-12 of a cell): the prefilter may pass an entry the exact test drops, never the reverse.
    private const double BoxSlack = 1e-6;

    private readonly RoadNetwork _network;

    // Grid geometry, degrees: cell (x, y) covers lon [_minLon + x*_cellLon, +_cellLon), same for lat.
    private readonly double _minLon;
    private readonly double _minLat;
    private readonly double _cellLon;
    private readonly double _cellLat;
    private readonly double _invCellLon;         // 1 / _cellLon: multiply, don't divide, on the hot path
    private readonly double _invCellLat;
    private readonly int _nx;                    // cells per row (longitude)
    private readonly int _ny;                    // rows (latitude)

    // CSR: the entries of cell c = y*_nx + x are [_cellStart[c], _cellStart[c+1]).
    private readonly int[] _cellStart;

    // Entries, in cell order. An array of structs, against the codebase's struct-of-arrays habit, on
    // purpose: a query reads a few entries in each of several cells, all of every entry it reads, so
    // one 72-byte record per entry costs one or two cache misses where parallel arrays cost one
    // per array (measured: bench/RESULTS.md). Everything a result needs is in the record: no gather from the network's arrays.
    private readonly Entry[] _entries;

    // Each entry's bounding box in grid units (cell columns and rows from the grid's origin), as floats rounded outwards,
    // one array per side and padded by a vector's width: a query tests eight entries' boxes against its own box in four
    // compares and reads the 72-byte records only of those that meet it (most entries of the cells it visits do not).
    private readonly float[] _boxMinX;
    private readonly float[] _boxMaxX;
    private readonly float[] _boxMinY;
    private readonly float[] _boxMaxY;

    // Each entry's owner cell for the prefilter's owner test, in the same padded layout: the first column and row of its
    // box when box-inserted; int.MaxValue when rasterized (a rasterized segment is in each cell it is in once, always its own).
    private readonly int[] _ownX;
    private readonly int[] _ownY;

    // The grid's larger side, cells: bounds the float rounding of grid coordinates in the prefilter.
    private readonly double _gridExtent;

    public EdgeIndex(RoadNetwork network)
        : this(network, DefaultCellSizeM)
    {
    }

    /// <summary>Builds with an explicit cell size: for benchmarks and tests of the grid itself.</summary>
    internal EdgeIndex(RoadNetwork network, double cellSizeM)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cellSizeM);
        _network = network;

        int[] shapeStart = network.ShapeStart;
        double[] lons = network.ShapeLon, lats = network.ShapeLat;
        int points = lons.Length, edges = network.EdgeCount;

        // Segment (shape point index) to its edge; -1 at the last point of each edge, which starts no segment.
        var segmentEdge = new int[points];
        segmentEdge.AsSpan().Fill(-1);
        for (int e = 0; e < edges; e++)
        {
            for (int i = shapeStart[e]; i < shapeStart[e + 1] - 1; i++) segmentEdge[i] = e;
        }
        // The two directions of a road usually share one shape, reversed. Only the lower-numbered edge
        // of such a pair is entered; a hit on it yields both edges, so the geometry is tested once.
        var mirror = new int[edges];
        for (int e = 0; e < edges; e++)
        {
            int t = network.EdgeTwin[e];
            mirror[e] = -1;
            if (t > e && IsReversed(network, e, t))
            {
                mirror[e] = t;
                for (int i = shapeStart[t]; i < shapeStart[t + 1] - 1; i++) segmentEdge[i] = -1;
            }
        }
        int segments = points - edges;

        double minLon = 0, minLat = 0, maxLon = 0, maxLat = 0;
        if (points > 0)
        {
            minLon = minLat = double.MaxValue;
            maxLon = maxLat = double.MinValue;
            for (int i = 0; i < points; i++)
            {
                minLon = Math.Min(minLon, lons[i]);
                maxLon = Math.Max(maxLon, lons[i]);
                minLat = Math.Min(minLat, lats[i]);
                maxLat = Math.Max(maxLat, lats[i]);
            }
        }
        _minLon = minLon;
        _minLat = minLat;

        // Square cells in metres at the mean latitude; the cosine is floored so a polar network still
        // gets a finite grid (queries stay correct, only the cell aspect degrades).
        double metresPerDegLon = Math.Max(0.01, GeoMath.MetresPerDegreeLon((minLat + maxLat) * 0.5) / GeoMath.MetresPerDegree) * GeoMath.MetresPerDegree;
        long cap = Math.Clamp(4L * segments, MinCellCap, MaxCellCap);
        double cellM = cellSizeM;
        long nx, ny;
        while (true)
        {
            _cellLon = cellM / metresPerDegLon;
            _cellLat = cellM / GeoMath.MetresPerDegree;
            nx = (long)Math.Floor((maxLon - minLon) / _cellLon) + 1;
            ny = (long)Math.Floor((maxLat - minLat) / _cellLat) + 1;
            if (nx * ny <= cap) break;
            cellM *= 1.5;
        }
        CellSizeM = cellM;
        _nx = (int)nx;
        _ny = (int)ny;
        _invCellLon = 1 / _cellLon;
        _invCellLat = 1 / _cellLat;

        // Two passes over the same rasterization: count per cell, then fill.
        _cellStart = new int[(_nx * _ny) + 1];
        var counter = new CountVisitor(_cellStart);
        var segMinX = new int[points];
        var segMinY = new int[points];
        for (int s = 0; s < points; s++)
        {
            if (segmentEdge[s] >= 0) (segMinX[s], segMinY[s]) = Insert(s, ref counter);
        }
        for (int c = 0; c < _nx * _ny; c++) _cellStart[c + 1] += _cellStart[c];
        int entries = _cellStart[_nx * _ny];
        var entrySegment = new int[entries];
        _entries = new Entry[entries];
        var filler = new FillVisitor((int[])_cellStart.Clone(), entrySegment);
        for (int s = 0; s < points; s++)
        {
            if (segmentEdge[s] >= 0) Insert(s, ref filler);
        }
        for (int k = 0; k < entries; k++)
        {
            int s = entrySegment[k];
            int e = segmentEdge[s];
            bool unique = segMinX[s] >= 0 && shapeStart[e + 1] - shapeStart[e] == 2;
            int t = mirror[e];
            // The twin's point matching this segment's end point: index from the twin's start = points after it in e.
            double twinOffset1 = t < 0 ? 0 : network.ShapeOffsetM[shapeStart[t] + (shapeStart[e + 1] - 1 - (s + 1))];
            _entries[k] = new Entry
            {
                Twin = t,
                TwinOffset1M = twinOffset1,
                Lon0 = lons[s],
                Lat0 = lats[s],
                Lon1 = lons[s + 1],
                Lat1 = lats[s + 1],
                Offset0M = network.ShapeOffsetM[s],
                LengthM = FloatAtMost(network.ShapeOffsetM[s + 1] - network.ShapeOffsetM[s]),
                Edge = unique ? ~e : e,
                MinX = segMinX[s],
                MinY = segMinY[s],
            };
        }
        int padded = entries + Vector256<float>.Count;
        _boxMinX = new float[padded];
        _boxMaxX = new float[padded];
        _boxMinY = new float[padded];
        _boxMaxY = new float[padded];
        _gridExtent = Math.Max(_nx, _ny);
        _ownX = new int[padded];
        _ownY = new int[padded];
        for (int k = 0; k < entries; k++)
        {
            ref readonly Entry en = ref _entries[k];
            _ownX[k] = en.MinX < 0 ? int.MaxValue : en.MinX;
            _ownY[k] = en.MinY < 0 ? int.MaxValue : en.MinY;
            double gx0 = (en.Lon0 - _minLon) * _invCellLon, gx1 = (en.Lon1 - _minLon) * _invCellLon;
            double gy0 = (en.Lat0 - _minLat) * _invCellLat, gy1 = (en.Lat1 - _minLat) * _invCellLat;
            _boxMinX[k] = FloatAtMost(Math.Min(gx0, gx1) - BoxSlack);
            _boxMaxX[k] = FloatAtLeast(Math.Max(gx0, gx1) + BoxSlack);
            _boxMinY[k] = FloatAtMost(Math.Min(gy0, gy1) - BoxSlack);
            _boxMaxY[k] = FloatAtLeast(Math.Max(gy0, gy1) + BoxSlack);
        }
    }

    public RoadNetwork Network => _network;

    private static bool IsReversed(RoadNetwork net, int e, int t)
    {
        int es = net.ShapeStart[e], n = net.ShapeStart[e + 1] - es, ts = net.ShapeStart[t];
        if (net.ShapeStart[t + 1] - ts != n) return false;
        for (int i = 0; i < n; i++)
        {
            if (net.ShapeLon[es + i] != net.ShapeLon[ts + n - 1 - i] || net.ShapeLat[es + i] != net.ShapeLat[ts + n - 1 - i]) return false;
        }
        return true;
    }

    // Rounds down, so that an offset at the end of a segment never passes the edge's length.
    private static float FloatAtMost(double v)
    {
        float f = (float)v;
        return f > v ? MathF.BitDecrement(f) : f;
    }

    private static float FloatAtLeast(double v)
    {
        float f = (float)v;
        return f < v ? MathF.BitIncrement(f) : f;
    }

    /// <summary>The cell side actually used, metres (larger than asked when the grid had to be coarsened).</summary>
    internal double CellSizeM { get; }

    internal int CellCount => _nx * _ny;

    /// <summary>Segment entries over all cells (a segment crossing several cells counts once per cell).</summary>
    internal int EntryCount => _entries.Length;

    /// <summary>
    /// All edges whose shape lies within <paramref name="radiusM"/> metres of the point (the distance reported no
    /// greater than the radius), one entry per edge (its nearest point; of two as near, the first along the edge),
    /// sorted by distance and equally near edges by number. Writes at most <c>results.Length</c> entries, the first of
    /// that order, and returns how many were written.
    /// </summary>
    public int Within(double lon, double lat, double radiusM, Span<EdgeCandidate> results)
    {
        if (results.IsEmpty || !(radiusM >= 0)) return 0;
        var q = new Collector(this, lon, lat, radiusM, results, ownerTest: true);
        if (!Box(ref q, radiusM, out int x0, out int y0, out int x1, out int y1)) return 0;
        q.SetBoxOrigin(x0, y0);
        for (int y = y0; y <= y1; y++)
        {
            int c = y * _nx;
            for (int x = x0; x <= x1; x++) q.Scan(_cellStart[c + x], _cellStart[c + x + 1], x, y);
        }
        q.Flush();
        return q.Count;
    }

    /// <summary>
    /// <see cref="Within(double, double, double, Span{EdgeCandidate})"/>, and the search <paramref name="alongside"/>
    /// stands for at the same point when its radius is no larger, kept in it for the point. With a buffer no larger than
    /// <paramref name="results"/>, its result is read off this one's: the first of the nearest found here that lie within
    /// its radius, which are exactly what its own query gives, in the same order (a result is ordered by distance, then
    /// edge, whatever order the grid is scanned in, and holds the first edges of that order). With a larger buffer it is
    /// searched for on its own. A wider one is left alone.
    /// </summary>
    public int Within(double lon, double lat, double radiusM, Span<EdgeCandidate> results, NearbySearch? alongside)
    {
        int found = Within(lon, lat, radiusM, results);
        if (alongside == null || alongside.Index != this || !(alongside.RadiusM <= radiusM)) return found;
        Span<EdgeCandidate> kept = alongside.Buffer;
        if (kept.Length > results.Length)
        {
            alongside.Kept(lon, lat, Within(lon, lat, alongside.RadiusM, kept));
            return found;
        }
        double reach = alongside.RadiusM;
        int n = 0;
        while (n < found && n < kept.Length && results[n].DistanceM <= reach)
        {
            kept[n] = results[n];
            n++;
        }
        alongside.Kept(lon, lat, n);
        return found;
    }

    /// <summary>
    /// The <c>results.Length</c> nearest edges within <paramref name="maxRadiusM"/> metres, sorted by
    /// distance; returns how many were found. Searches rings of cells outwards from the point and stops
    /// as soon as the buffer is full of edges nearer than any unvisited cell.
    /// </summary>
    public int Nearest(double lon, double lat, double maxRadiusM, Span<EdgeCandidate> results)
    {
        if (results.IsEmpty || !(maxRadiusM >= 0)) return 0;
        // No owner test here: a segment's owner cell may lie in a later ring than its nearest point,
        // which the early stop relies on having seen. Its copies are deduplicated per edge instead.
        var q = new Collector(this, lon, lat, maxRadiusM, results, ownerTest: false);
        if (!Box(ref q, maxRadiusM, out int qx0, out int qy0, out int qx1, out int qy1)) return 0;
        int cx = Math.Clamp(CellX(lon), qx0, qx1), cy = Math.Clamp(CellY(lat), qy0, qy1);
        for (int ring = 0; ; ring++)
        {
            int x0 = cx - ring, x1 = cx + ring, y0 = cy - ring, y1 = cy + ring;
            int rx0 = Math.Max(x0, qx0), rx1 = Math.Min(x1, qx1);
            if (y0 >= qy0) q.Scan(_cellStart[(y0 * _nx) + rx0], _cellStart[(y0 * _nx) + rx1 + 1], 0, 0);
            if (y1 != y0 && y1 <= qy1) q.Scan(_cellStart[(y1 * _nx) + rx0], _cellStart[(y1 * _nx) + rx1 + 1], 0, 0);
            int ry0 = Math.Max(y0 + 1, qy0), ry1 = Math.Min(y1 - 1, qy1);
            for (int y = ry0; y <= ry1; y++)
            {
                if (x0 >= qx0) q.Scan(_cellStart[(y * _nx) + x0], _cellStart[(y * _nx) + x0 + 1], 0, 0);
                if (x1 != x0 && x1 <= qx1) q.Scan(_cellStart[(y * _nx) + x1], _cellStart[(y * _nx) + x1 + 1], 0, 0);
            }
            q.Flush();
            if (x0 <= qx0 && x1 >= qx1 && y0 <= qy0 && y1 >= qy1) break;
            if (q.IsFull)
            {
                // Everything within this distance of the point lies in the visited square (sides at
                // the box's limit don't count: nothing beyond them is within the radius anyway).
                double covered = double.PositiveInfinity;
                if (x0 > qx0) covered = Math.Min(covered, (lon - (_minLon + (x0 * _cellLon))) * q.Kx);
                if (x1 < qx1) covered = Math.Min(covered, (_minLon + ((x1 + 1) * _cellLon) - lon) * q.Kx);
                if (y0 > qy0) covered = Math.Min(covered, (lat - (_minLat + (y0 * _cellLat))) * GeoMath.MetresPerDegree);
                if (y1 < qy1) covered = Math.Min(covered, (_minLat + ((y1 + 1) * _cellLat) - lat) * GeoMath.MetresPerDegree);
                if (q.FarthestM < covered) break;
            }
        }
        return q.Count;
    }

    // The cells overlapping the box of the circle, clamped to the grid; false when they miss it.
    // Degrees per metre come from the query point's own latitude, so the box is right in metres
    // whatever the network's mean latitude.
    private bool Box(ref Collector q, double radiusM, out int x0, out int y0, out int x1, out int y1)
    {
        double dLon = radiusM / q.Kx, dLat = radiusM / GeoMath.MetresPerDegree;
        double fx0 = ((q.Lon - dLon - _minLon) * _invCellLon) - CellEpsilon, fx1 = ((q.Lon + dLon - _minLon) * _invCellLon) + CellEpsilon;
        double fy0 = ((q.Lat - dLat - _minLat) * _invCellLat) - CellEpsilon, fy1 = ((q.Lat + dLat - _minLat) * _invCellLat) + CellEpsilon;
        if (!(fx1 >= 0 && fy1 >= 0 && fx0 < _nx && fy0 < _ny))
        {
            x0 = y0 = x1 = y1 = 0;
            return false;
        }
        x0 = (int)Math.Max(0, Math.Floor(fx0));
        y0 = (int)Math.Max(0, Math.Floor(fy0));
        x1 = (int)Math.Min(_nx - 1, Math.Floor(fx1));
        y1 = (int)Math.Min(_ny - 1, Math.Floor(fy1));
        return true;
    }

    private int CellX(double lon) => (int)Math.Clamp(Math.Floor((lon - _minLon) * _invCellLon), 0, _nx - 1);

    private int CellY(double lat) => (int)Math.Clamp(Math.Floor((lat - _minLat) * _invCellLat), 0, _ny - 1);

    // Enters segment s in the cells of its bounding box when there are few, else in the cells it passes
    // through. Returns the box's first cell (column, row), or (-1, -1) when rasterized.
    private (int MinX, int MinY) Insert<TVisitor>(int s, ref TVisitor visitor)
        where TVisitor : struct, ICellVisitor
    {
        double[] lons = _network.ShapeLon, lats = _network.ShapeLat;
        double gx0 = (lons[s] - _minLon) * _invCellLon, gy0 = (lats[s] - _minLat) * _invCellLat;
        double gx1 = (lons[s + 1] - _minLon) * _invCellLon, gy1 = (lats[s + 1] - _minLat) * _invCellLat;
        int bx0 = ClampX(Math.Min(gx0, gx1) - CellEpsilon), bx1 = ClampX(Math.Max(gx0, gx1) + CellEpsilon);
        int by0 = ClampY(Math.Min(gy0, gy1) - CellEpsilon), by1 = ClampY(Math.Max(gy0, gy1) + CellEpsilon);
        if ((long)(bx1 - bx0 + 1) * (by1 - by0 + 1) > BoxInsertMaxCells)
        {
            Rasterize(s, ref visitor);
            return (-1, -1);
        }
        for (int y = by0; y <= by1; y++)
        {
            for (int x = bx0; x <= bx1; x++) visitor.Visit((y * _nx) + x, s);
        }
        return (bx0, by0);
    }

    // Visits every cell that segment s passes through: row by row, the span of columns the segment
    // covers within that row's latitude band. Exact for a straight segment in degree space, which is
    // the same straight line the query projects onto.
    private void Rasterize<TVisitor>(int s, ref TVisitor visitor)
        where TVisitor : struct, ICellVisitor
    {
        double[] lons = _network.ShapeLon, lats = _network.ShapeLat;
        double gx0 = (lons[s] - _minLon) * _invCellLon, gy0 = (lats[s] - _minLat) * _invCellLat;
        double gx1 = (lons[s + 1] - _minLon) * _invCellLon, gy1 = (lats[s + 1] - _minLat) * _invCellLat;
        int rowLo = ClampY(Math.Min(gy0, gy1) - CellEpsilon), rowHi = ClampY(Math.Max(gy0, gy1) + CellEpsilon);
        double dy = gy1 - gy0;
        for (int row = rowLo; row <= rowHi; row++)
        {
            double xa = gx0, xb = gx1;
            if (dy != 0)
            {
                // The segment's part inside this band, as fractions along it.
                double ta = Math.Clamp((row - CellEpsilon - gy0) / dy, 0, 1);
                double tb = Math.Clamp((row + 1 + CellEpsilon - gy0) / dy, 0, 1);
                xa = gx0 + (ta * (gx1 - gx0));
                xb = gx0 + (tb * (gx1 - gx0));
            }
            int colLo = ClampX(Math.Min(xa, xb) - CellEpsilon), colHi = ClampX(Math.Max(xa, xb) + CellEpsilon);
            for (int col = colLo; col <= colHi; col++) visitor.Visit((row * _nx) + col, s);
        }
    }

    private int ClampX(double g) => (int)Math.Clamp(Math.Floor(g), 0, _nx - 1);

    private int ClampY(double g) => (int)Math.Clamp(Math.Floor(g), 0, _ny - 1);

    /// <summary>One segment in one cell: its geometry and everything a candidate on it reports.</summary>
    private struct Entry
    {
        public double Lon0;
        public double Lat0;
        public double Lon1;
        public double Lat1;
        public double Offset0M;                  // the edge offset of the segment's first point
        public float LengthM;                    // the segment's length along the edge (float: millimetres up to kilometres)
        public int Edge;                         // the edge, or its complement (~edge) when the edge has this one box-inserted segment only
        public int MinX;                         // the segment's first cell column when box-inserted; -1 when rasterized
        public int MinY;                         // its first cell row
        public int Twin;                         // the reverse edge sharing this shape, or -1
        public double TwinOffset1M;              // the twin's offset at this segment's end point (where the twin's segment starts)
    }

    private interface ICellVisitor
    {
        void Visit(int cell, int segment);
    }

    private struct CountVisitor(int[] cellStart) : ICellVisitor
    {
        public readonly void Visit(int cell, int segment) => cellStart[cell + 1]++;
    }

    private struct FillVisitor(int[] next, int[] entrySegment) : ICellVisitor
    {
        public readonly void Visit(int cell, int segment) => entrySegment[next[cell]++] = segment;
    }

    /// <summary>
    /// One query's state on the stack: the point, its local frame and the caller's buffer kept sorted
    /// by distance with one entry per edge (insertion sort: the buffer is small).
    /// </summary>
    private ref struct Collector
    {
        public readonly double Lon;
        public readonly double Lat;
        public readonly double Kx;               // metres per degree of longitude at the query's latitude
        private readonly EdgeIndex _index;
        private readonly Span<EdgeCandidate> _results;
        private readonly double _radiusM;
        private readonly double _radius2;        // radius² widened past any rounding: the root decides, against the radius
        private readonly bool _ownerTest;        // visit each box-inserted segment in one cell only (Within)
        private int _qx0;                        // the query box's first cell, for the owner test
        private int _qy0;
        private double _limit2;                  // squared distance a segment must not pass: _radius2, or the last kept's when full (widened)
        private double _boxLimit2;               // _limit2 widened past any rounding: a segment whose box lies beyond is not projected
        private int _count;
        private ulong _seenBits;                 // bit (edge mod 64) set for every edge ever put in the buffer: clear, the edge is not in it
        private int _pendEdge;                   // the edge of the hits held back from the buffer (see Scan), or -1
        private int _pendTwin;                   // its reverse twin, or -1
        private bool _pendUnique;
        private double _pendD;                   // the nearest of those hits, metres (the twin's distance too: same geometry)
        private double _pendOffA;                // the edge's offset there, and its point
        private double _pendLonA;
        private double _pendLatA;
        private double _pendOffT;                // the twin's: of hits as near, the one first along the twin may be another
        private double _pendLonT;
        private double _pendLatT;
        private readonly Vector256<float> _gx;            // the point in grid units, for the prefilter
        private readonly Vector256<float> _gy;
        private readonly Vector256<float> _sx;            // metres per grid unit along x at the point's latitude
        private readonly Vector256<float> _sy;
        private readonly Vector256<float> _reach2;        // the prefilter's squared radius, metres², widened past any rounding

        public Collector(EdgeIndex index, double lon, double lat, double radiusM, Span<EdgeCandidate> results, bool ownerTest)
        {
            double kx = GeoMath.MetresPerDegreeLon(lat);
            _ownerTest = ownerTest;
            _qx0 = 0;
            _qy0 = 0;
            _index = index;
            Lon = lon;
            Lat = lat;
            Kx = kx;
            _results = results;
            _radiusM = radiusM;
            _radius2 = BoxLimit(radiusM * radiusM);
            _limit2 = _radius2;
            _boxLimit2 = BoxLimit(_radius2);
            _count = 0;
            _seenBits = 0;
            _pendEdge = -1;
            _pendTwin = -1;
            _pendUnique = false;
            _pendD = _pendOffA = _pendLonA = _pendLatA = _pendOffT = _pendLonT = _pendLatT = 0;
            double gx = (lon - index._minLon) * index._invCellLon, gy = (lat - index._minLat) * index._invCellLat;
            double sx = index._cellLon * kx, sy = index._cellLat * GeoMath.MetresPerDegree;
            // Floats hold a grid coordinate g to within |g|·2^-24 cells: the point's, the boxes' (rounded outwards, BoxSlack),
            // and each gap's subtraction. Widened by far more than that, and relatively by far more than the float products.
            double slackCells = ((Math.Max(Math.Abs(gx), Math.Abs(gy)) + index._gridExtent) * 1e-6) + BoxSlack;
            double reach = (radiusM * (1 + 1e-5)) + (slackCells * Math.Max(sx, sy));
            _gx = Vector256.Create((float)gx);
            _gy = Vector256.Create((float)gy);
            _sx = Vector256.Create((float)sx);
            _sy = Vector256.Create((float)sy);
            _reach2 = Vector256.Create(FloatAtLeast(reach * reach));
        }

        /// <summary>
        /// Which of the entries [b, b + 8) below <paramref name="to"/> may lie within the radius: one bit each, set when
        /// the entry's float box lies within the radius of the point and the cell is the entry's owner (see
        /// <see cref="Scan"/>). A superset of what the exact test keeps (the boxes and the radius are widened past any
        /// rounding), so the entries the scan then tests are those it tested before, in the same order, less the ones that
        /// test would have dropped.
        /// </summary>
        /// <remarks>
        /// The owner test is one compare per axis: <paramref name="ownX"/> is the cell's column, or int.MinValue when any
        /// column qualifies (the query box's first column, or no owner test); a rasterized entry's int.MaxValue passes both.
        /// About a fifth of the entries that meet the box are another cell's copies (Nanshan, 50 m): testing them here
        /// saves their pass through the scan's loop, a branch mispredicted as often as not (0.91 of the time a query).
        /// The distance to the box, not the overlap of the radius's square with it, for the same reason: it drops the
        /// entries in the square's corners that <see cref="BoxDistance2"/> dropped after the loop's branch (0.95).
        /// </remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly uint Meets(int b, int to, Vector256<int> ownX, Vector256<int> ownY)
        {
            int n = to - b;
            uint valid = n >= Vector256<float>.Count ? (1u << Vector256<float>.Count) - 1 : (1u << n) - 1;
            if (!Vector256.IsHardwareAccelerated) return valid;
            EdgeIndex ix = _index;
            Vector256<float> minX = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._boxMinX), (nuint)b);
            Vector256<float> maxX = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._boxMaxX), (nuint)b);
            Vector256<float> minY = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._boxMinY), (nuint)b);
            Vector256<float> maxY = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._boxMaxY), (nuint)b);
            // The gap between the point and the box on each axis, grid units, then metres: the distance to the box.
            // MaxNative: one instruction each (Max's care for NaN and the sign of zero costs three); neither occurs here but a
            // zero gap of either sign, whose square is the same.
            Vector256<float> gapX = Vector256.MaxNative(Vector256.MaxNative(minX - _gx, _gx - maxX), Vector256<float>.Zero) * _sx;
            Vector256<float> gapY = Vector256.MaxNative(Vector256.MaxNative(minY - _gy, _gy - maxY), Vector256<float>.Zero) * _sy;
            Vector256<float> meets = Vector256.LessThanOrEqual((gapX * gapX) + (gapY * gapY), _reach2);
            Vector256<int> owns = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._ownX), (nuint)b), ownX)
                & Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(ix._ownY), (nuint)b), ownY);
            return (meets.AsInt32() & owns).ExtractMostSignificantBits() & valid;
        }

        public readonly int Count => _count;

        public readonly bool IsFull => _count == _results.Length;

        public readonly double FarthestM => _results[_count - 1].DistanceM;

        public void SetBoxOrigin(int qx0, int qy0)
        {
            _qx0 = qx0;
            _qy0 = qy0;
        }

        /// <summary>
        /// Tests the entries [from, to) of cell (cx, cy) against the point and keeps those that qualify.
        /// With the owner test, a box-inserted segment counts only in the first cell of its box that lies
        /// in the query box, so it is measured once although it sits in several of the cells visited.
        /// </summary>
        /// <remarks>
        /// That cell is (max(MinX, qx0), max(MinY, qy0)). A box-inserted entry of cell (cx, cy) has MinX ≤ cx, so the
        /// column matches when MinX ≥ cx (MinX == cx) or when cx is the query box's first column (qx0 ≤ MinX or
        /// MinX &lt; qx0 = cx), rows alike: the same answer without the two Math.Max, which the JIT compiles to branches.
        /// With vectors the prefilter tests it; without, the scan does.
        /// <para>
        /// The hits of one edge mostly come one after another: its consecutive segments lie next to each other in a cell
        /// (Nanshan, 50 m: 8.2 of 17 offers a query named an edge already in the buffer, 6.9 of them the one just offered).
        /// A run of hits on one edge is reduced to its nearest (of as near, the first along the edge; the twin's alike)
        /// and offered once, by <see cref="Flush"/>, when a hit on another edge comes or the query ends: a buffer's lookup,
        /// its mispredicted exit and a shift saved for each. The buffer ends the same: each edge's nearest point is the
        /// same, the order of the buffer does not depend on the order of the offers, and a hit held back only loosens the
        /// limit the next entries are held to (0.97 of the time a query).
        /// </para>
        /// </remarks>
        public void Scan(int from, int to, int cx, int cy)
        {
            Entry[] entries = _index._entries;
            bool ownerTest = _ownerTest;
            bool firstX = cx == _qx0, firstY = cy == _qy0;
            double px = Lon, py = Lat, kx = Kx;
            var ownX = Vector256.Create(ownerTest && !firstX ? cx : int.MinValue);
            var ownY = Vector256.Create(ownerTest && !firstY ? cy : int.MinValue);
            for (int b = from; b < to; b += Vector256<float>.Count)
            {
                for (uint m = Meets(b, to, ownX, ownY); m != 0; m &= m - 1)
                {
                    int k = b + BitOperations.TrailingZeroCount(m);
                    ref readonly Entry en = ref entries[k];
                    int mx = en.MinX, my = en.MinY;
                    // Flags, not branches: whether a copy is the owner is not predicted. Already tested by the prefilter with vectors.
                    bool owns = Vector256.IsHardwareAccelerated || (!ownerTest | (mx < 0) | (((mx == cx) | firstX) & ((my == cy) | firstY)));
                    if (!(owns & (BoxDistance2(in en, px, py, kx) <= _boxLimit2))) continue;
                    double d2 = Project(in en, px, py, kx, out double u);
                    if (d2 > _limit2) continue;
                    double d = Math.Sqrt(d2);
                    if (d > _radiusM) continue;
                    int edge = en.Edge;
                    bool unique = edge < 0;
                    if (unique) edge = ~edge;
                    double lon = en.Lon0 + (u * (en.Lon1 - en.Lon0)), lat = en.Lat0 + (u * (en.Lat1 - en.Lat0));
                    double offA = en.Offset0M + (u * en.LengthM), offT = en.TwinOffset1M + ((1 - u) * en.LengthM);
                    if (edge != _pendEdge)
                    {
                        // Another edge: the run before ends. Hits of the same edge are nearer by distance, then offset.
                        Flush();
                        _pendEdge = edge;
                        _pendTwin = en.Twin;
                        _pendUnique = unique;
                        _pendD = d;
                        _pendOffA = offA;
                        _pendOffT = offT;
                        _pendLonA = _pendLonT = lon;
                        _pendLatA = _pendLatT = lat;
                    }
                    else if (d < _pendD)
                    {
                        _pendD = d;
                        _pendOffA = offA;
                        _pendOffT = offT;
                        _pendLonA = _pendLonT = lon;
                        _pendLatA = _pendLatT = lat;
                    }
                    else if (d == _pendD)
                    {
                        if (offA < _pendOffA)
                        {
                            _pendOffA = offA;
                            _pendLonA = lon;
                            _pendLatA = lat;
                        }
                        if (offT < _pendOffT)
                        {
                            _pendOffT = offT;
                            _pendLonT = lon;
                            _pendLatT = lat;
                        }
                    }
                }
            }
        }

        /// <summary>Offers the held-back hits of one edge (see <see cref="Scan"/>); to be called after the last Scan of a query, or of a ring.</summary>
        /// <remarks>Not inlined: a run ends at about one hit in two, and Offer inlined twice more would double the scan loop's code.</remarks>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Flush()
        {
            int edge = _pendEdge;
            if (edge < 0) return;
            _pendEdge = -1;
            Offer(edge, _pendUnique, _pendD, _pendOffA, _pendLonA, _pendLatA);
            if (_pendTwin >= 0) Offer(_pendTwin, _pendUnique, _pendD, _pendOffT, _pendLonT, _pendLatT);
        }

        /// <summary>
        /// The squared distance in metres from the point to an entry's bounding box, in the frame of <see cref="Project"/>:
        /// a bound below the segment's own distance that costs no division. Most entries of the cells a query visits lie
        /// well beyond the radius and are dropped on it; the rest are projected exactly as before.
        /// </summary>
        /// <remarks>
        /// The box's sides are the very products Project starts from, and its nearest point lies between them up to a few
        /// units in the last place: a box beyond <see cref="BoxLimit"/> holds no segment that Project would keep.
        /// </remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static double BoxDistance2(in Entry en, double px, double py, double kx)
        {
            const double Ky = GeoMath.MetresPerDegree;
            double x0 = (en.Lon0 - px) * kx, x1 = (en.Lon1 - px) * kx;
            double y0 = (en.Lat0 - py) * Ky, y1 = (en.Lat1 - py) * Ky;
            // The gap on each axis: the nearer end when both lie on one side of the point, else none.
            double gx = double.MaxNative(double.MaxNative(double.MinNative(x0, x1), -double.MaxNative(x0, x1)), 0);
            double gy = double.MaxNative(double.MaxNative(double.MinNative(y0, y1), -double.MaxNative(y0, y1)), 0);
            return (gx * gx) + (gy * gy);
        }

        // A margin far above the rounding of Project (relative 1e-9 against its ~1e-15, absolute 1e-9 m² for the
        // point on a segment), so that the box test never drops a segment the limit would keep.
        private static double BoxLimit(double limit2) => (limit2 * (1 + 1e-9)) + 1e-9;

        /// <summary>
        /// The squared distance in metres from the point to an entry's segment, and where along it the nearest point lies
        /// (0–1). The arithmetic of GeoMath.ProjectOnSegment, but squared: most entries fail the limit before a root.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        private static double Project(in Entry en, double px, double py, double kx, out double u)
        {
            const double Ky = GeoMath.MetresPerDegree;
            double x1 = (en.Lon0 - px) * kx, y1 = (en.Lat0 - py) * Ky;
            double dx = ((en.Lon1 - px) * kx) - x1, dy = ((en.Lat1 - py) * Ky) - y1;
            double len2 = (dx * dx) + (dy * dy);
            u = len2 > 0 ? -((x1 * dx) + (y1 * dy)) / len2 : 0;
            // The clamp to [0, 1] without its two branches, which follow where the point lies along the segment and are
            // mispredicted as often as not: the same bits as u < 0 ? 0 : (u > 1 ? 1 : u), -0 and NaN included.
            u = BranchFree.Min(1, BranchFree.Max(0, u));
            double qx = x1 + (u * dx), qy = y1 + (u * dy);
            return (qx * qx) + (qy * qy);
        }

        // Inlined: a call in the scan loop makes the JIT keep the loop's invariants on the stack (every vector register
        // is the caller's to save), reloading them for each entry; about 20 offers a query measured 4–7 % of the search.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Offer(int edge, bool unique, double d, double offsetM, double lon, double lat)
        {
            Span<EdgeCandidate> r = _results;
            int pos = -1;
            // An edge with one box-inserted segment, seen once thanks to the owner test, needs no lookup.
            int seen = _ownerTest && unique ? 0 : _count;
            // Nor does an edge whose bit is clear: once runs are merged (see Scan), an offer seldom names an edge in the buffer.
            ulong bit = 1UL << edge;
            if ((_seenBits & bit) == 0) seen = 0;
            for (int j = 0; j < seen; j++)
            {
                if (r[j].Edge == edge)
                {
                    // The edge's nearest point; of two as near (where its segments meet), the one first along it.
                    if (!(d < r[j].DistanceM || (d == r[j].DistanceM && offsetM < r[j].OffsetM))) return;
                    pos = j;
                    break;
                }
            }
            if (pos < 0)
            {
                if (_count < r.Length) pos = _count++;
                else if (Before(d, edge, in r[_count - 1])) pos = _count - 1; // evict the last
                else return;
                _seenBits |= bit;
            }
            // Shift later entries up over the freed slot; an edge's update only ever moves it nearer.
            while (pos > 0 && Before(d, edge, in r[pos - 1]))
            {
                r[pos] = r[pos - 1];
                pos--;
            }
            ref EdgeCandidate c = ref r[pos];
            c.Edge = edge;
            c.DistanceM = d;
            c.OffsetM = offsetM;
            c.Lon = lon;
            c.Lat = lat;
            if (_count == r.Length)
            {
                double far = r[_count - 1].DistanceM;
                _limit2 = Math.Min(_radius2, BoxLimit(far * far));
                _boxLimit2 = BoxLimit(_limit2);
            }
        }

        /// <summary>
        /// The order of results: by distance, then by edge. A total order on what a query keeps, so that its result does
        /// not depend on the order the grid is scanned in (edges meeting at a node are often exactly as near).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool Before(double d, int edge, in EdgeCandidate other)
            => d < other.DistanceM || (d == other.DistanceM && edge < other.Edge);
    }
}
