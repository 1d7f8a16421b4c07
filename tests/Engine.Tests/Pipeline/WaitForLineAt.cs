using Traffic.Engine.Alerts;
using Traffic.Engine.Pipeline;
using Traffic.Engine.Probes;

namespace Traffic.Engine.Tests.Pipeline;

/// <summary>
/// Blocks a replay's reader at one record until a file of the run holds a line with some text, or a minute has passed:
/// the reader waits there, so the replay cannot end meanwhile, and the shards work through what it has handed on. What
/// the file holds by then was written while the run went on, not at its end.
/// </summary>
internal sealed class WaitForLineAt(long record, string path, string text) : IReplayObserver
{
    public bool SeenBeforeTheEnd { get; private set; }

    public void ProbeRead(in Probe probe, in RecordSource source)
    {
        if (source.Record != record) return;
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!SeenBeforeTheEnd && DateTime.UtcNow < until)
        {
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                SeenBeforeTheEnd = reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
            }
            if (!SeenBeforeTheEnd) Thread.Sleep(50);
        }
    }

    public void AlertRaised(AlertEvent alert, long record) { }
}
