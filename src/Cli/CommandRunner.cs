using System.CommandLine;

namespace Traffic.Cli;

/// <summary>
/// Runs a command line: parse errors and failures of the input (unreadable, malformed) end in one
/// clear line on stderr and a non-zero exit, never a stack trace.
/// </summary>
internal static class CommandRunner
{
    /// <summary>Exit code for bad arguments.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for input that cannot be read or is not valid.</summary>
    public const int InputError = 1;

    public static int Invoke(RootCommand root, string[] args)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"traffic: {UsageMessage(parsed)} (see 'traffic --help')");
            return UsageError;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsInputError(e))
        {
            Console.Error.WriteLine($"traffic: {e.Message}");
            return InputError;
        }
    }

    /// <summary>
    /// The parse error to show, on one line: a word typed that no command or option knows before "Required command was
    /// not provided" (`traffic bogus` said only the latter, not naming what was typed), and a message of several lines
    /// (an option's choices suggested one a line) joined.
    /// </summary>
    private static string UsageMessage(ParseResult parsed)
    {
        var error = parsed.Errors.FirstOrDefault(e => parsed.UnmatchedTokens.Any(t => e.Message.Contains(t, StringComparison.Ordinal)))
            ?? parsed.Errors[0];
        string[] lines = error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 1 ? lines[0] : $"{lines[0]} {string.Join(", ", lines[1..])}";
    }

    private static bool IsInputError(Exception e) =>
        e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException
            or System.Xml.XmlException or ArgumentException or NotSupportedException;
}
