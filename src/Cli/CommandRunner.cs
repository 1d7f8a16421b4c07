using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;

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

    /// <summary>Exit code of a job stopped by Ctrl+C or SIGTERM before its end (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

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
            if (parsed.Action is not AsynchronousCommandLineAction)
            {
                return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            }
            // Ctrl+C and SIGTERM cancel the asynchronous commands' token, and they end themselves: the engine and the gateway
            // flush and leave, a replay stops with one line. (System.CommandLine's own handling is not used: it is set up only
            // once an action first awaits, and a replay that works before its first await died of SIGTERM, exit 143, with
            // nothing flushed.) A command that has not ended 30 s after the signal, or a second signal, ends the process.
            using var interrupt = new CancellationTokenSource();
            void Stop(PosixSignalContext signal)
            {
                signal.Cancel = true;
                if (interrupt.IsCancellationRequested) Environment.Exit(Interrupted);
                interrupt.Cancel();
                _ = Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ => Environment.Exit(Interrupted), TaskScheduler.Default);
            }
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            return parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, interrupt.Token)
                .GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM during a job that ends by itself (replay, demo): one line, not the cancellation's stack.
            Console.Error.WriteLine("traffic: interrupted; the outputs written so far are incomplete");
            return Interrupted;
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
