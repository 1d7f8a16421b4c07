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
            Console.Error.WriteLine($"traffic: {parsed.Errors[0].Message} (see 'traffic --help')");
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

    private static bool IsInputError(Exception e) =>
        e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException
            or System.Xml.XmlException or ArgumentException or NotSupportedException;
}
