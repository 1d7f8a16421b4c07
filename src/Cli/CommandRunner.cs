using System.CommandLine;
using System.CommandLine.Parsing;

namespace Traffic.Cli;

/// <summary>
/// Runs a command line: parse errors, failures of the input (unreadable, malformed) and of Kafka end in one
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
        catch (Confluent.Kafka.KafkaException e)
        {
            // Brokers that cannot be reached (a wrong -b), topics that cannot be created, output the brokers refused.
            Console.Error.WriteLine($"traffic: Kafka: {e.Error.Reason}");
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
        if (BadValue(error) is { } bad) return bad;
        string[] lines = error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 1 ? lines[0] : $"{lines[0]} {string.Join(", ", lines[1..])}";
    }

    /// <summary>
    /// A value an option cannot take, said in the option's own terms: the parser's message named the .NET type
    /// ("as expected type 'Traffic.Engine.Pipeline.InputOrder'", "'System.Int32'"), which says nothing to a user.
    /// </summary>
    private static string? BadValue(ParseError error)
    {
        if (error.SymbolResult is not OptionResult { Option: var option } result || result.Tokens.Count == 0
            || !error.Message.StartsWith("Cannot parse argument", StringComparison.Ordinal))
        {
            return null;
        }
        Type type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        string? expected = type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()))
            : type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(double) || type == typeof(float) ? "a number"
            : null;
        return expected is null ? null : $"{option.Name}: '{result.Tokens[^1].Value}' is not {expected}";
    }

    private static bool IsInputError(Exception e) =>
        e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException
            or System.Xml.XmlException or ArgumentException or NotSupportedException;
}
