package dev.kiln.cli;

import dev.kiln.ir.KilnException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * The {@code kiln} command: dispatches to its subcommands and turns every failure into an exit code and one
 * line on stderr — {@code 2} with {@code kiln: <message>} for bad input or usage (a {@link KilnException}, a
 * missing or unreadable file, a bad option), {@code 1} with {@code kiln: internal error: ...} for anything else
 * (with the stack trace under {@code -v}).
 */
@Command(name = "kiln", mixinStandardHelpOptions = true, versionProvider = Kiln.Version.class,
        description = "Ahead-of-time compiler from ONNX models to plain, vectorized Java.",
        subcommands = {CompileCommand.class, InspectCommand.class, RunCommand.class, TestOnnxCommand.class, TrainCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 success, 1 internal error (or failed test cases), 2 bad input or usage."})
public final class Kiln implements Runnable {
    public static final int OK = 0;
    public static final int INTERNAL_ERROR = 1;
    public static final int BAD_INPUT = 2;

    @Spec
    private CommandSpec spec;

    private final PrintStream out;
    private final PrintStream err;

    private Kiln(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Standard output of this invocation, for subcommands that hand a stream to library code. */
    PrintStream out() { return out; }

    /** Standard error of this invocation. */
    PrintStream err() { return err; }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command: one of compile, inspect, run, test-onnx, train");
    }

    public static void main(String[] args) {
        System.exit(execute(System.out, System.err, args));
    }

    /** Runs the command line {@code args} with the given streams; returns the exit code. */
    public static int execute(PrintStream out, PrintStream err, String... args) {
        PrintWriter outWriter = new PrintWriter(out, true, StandardCharsets.UTF_8);
        PrintWriter errWriter = new PrintWriter(err, true, StandardCharsets.UTF_8);
        CommandLine cl = new CommandLine(new Kiln(out, err));
        cl.setOut(outWriter);
        cl.setErr(errWriter);
        cl.setParameterExceptionHandler((ex, a) -> {
            errWriter.println("kiln: " + oneLine(ex.getMessage()) + " (see '" + qualifiedName(ex.getCommandLine())
                    + " --help')");
            return BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> handle(ex, errWriter, verbose(parseResult)));
        try {
            return cl.execute(args);
        } finally {
            outWriter.flush();
            errWriter.flush();
        }
    }

    static int handle(Exception ex, PrintWriter err, boolean verbose) {
        Throwable e = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        String userError = userError(e);
        if (userError != null) {
            err.println("kiln: " + userError);
            if (verbose) {
                ex.printStackTrace(err);
            }
            return BAD_INPUT;
        }
        err.println("kiln: internal error: " + e);
        if (verbose) {
            ex.printStackTrace(err);
        } else {
            err.println("kiln: run again with -v for the stack trace");
        }
        return INTERNAL_ERROR;
    }

    /** The one-line message for a failure the user can fix, or null when it is Kiln's own fault. */
    private static String userError(Throwable e) {
        if (e instanceof KilnException) {
            return oneLine(e.getMessage());
        }
        if (e instanceof NoSuchFileException n) {
            return "no such file or folder: " + n.getFile();
        }
        if (e instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        if (e instanceof NotDirectoryException n) {
            return "not a folder: " + n.getFile();
        }
        if (e instanceof FileAlreadyExistsException f) {
            return "already exists and is not a folder: " + f.getFile();
        }
        if (e instanceof IOException io) {
            return "I/O error: " + oneLine(String.valueOf(io.getMessage()));
        }
        return null;
    }

    private static boolean verbose(ParseResult parseResult) {
        for (ParseResult pr = parseResult; pr != null; pr = pr.subcommand()) {
            if (pr.hasMatchedOption("-v")) {
                return true;
            }
        }
        return false;
    }

    private static String qualifiedName(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName();
    }

    static String oneLine(String message) {
        return message == null ? "" : message.replaceAll("\\s*\\R\\s*", " ").strip();
    }

    /** The version from the jar manifest, or "development build" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Kiln.class.getPackage().getImplementationVersion();
            return new String[] {"kiln " + (v == null ? "(development build)" : v)};
        }
    }
}
