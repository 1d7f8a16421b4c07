namespace Traffic.Geo.Import;

/// <summary>What an import read, built and skipped (with the reason for each skip), for <c>network build</c> to print.</summary>
public sealed class ImportReport
{
    private readonly SortedDictionary<string, long> _skips = new(StringComparer.Ordinal);

    /// <summary>Nodes in the input file, as osmium counts them.</summary>
    public long NodesRead { get; set; }

    /// <summary>Ways in the input file (arcs for a Kubicka graph).</summary>
    public long WaysRead { get; set; }

    public long RelationsRead { get; set; }

    /// <summary>Ways kept as roads.</summary>
    public long RoadWays { get; set; }

    public long EdgesBuilt { get; set; }

    /// <summary>The country whose default speed limits the ways without <c>maxspeed</c> took (ISO 3166-1 alpha-2).</summary>
    public string? Country { get; set; }

    /// <summary>Where <see cref="Country"/> came from, in words.</summary>
    public string? CountrySource { get; set; }

    /// <summary>Skips and repairs by reason (ways not driven, missing nodes, unparseable tags...).</summary>
    public IReadOnlyDictionary<string, long> Skips => _skips;

    public long SkippedTotal => _skips.Values.Sum();

    public void Skip(string reason, long count = 1)
    {
        _skips.TryGetValue(reason, out long n);
        _skips[reason] = n + count;
    }
}
