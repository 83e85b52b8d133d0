package dev.kiln.maven;

import dev.kiln.ir.KilnException;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.training.Loss;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Entry point of the JVM that {@link ForkedModelCompiler} starts: compiles one model in process and reports on
 * standard output in lines that start with {@value #PREFIX}, so JVM warnings on the same stream do not confuse
 * the parent. Exit code 0 success, 2 model error, 1 internal error.
 */
public final class ForkedCompilerMain {
    static final String PREFIX = "kiln-fork ";

    private ForkedCompilerMain() {}

    /**
     * Arguments: model, source root, resource root, package ({@code -} for none), class, level, threads, loss
     * ({@code -} for no trainer), optimizer SPEC ({@code -} for none), dims ({@link #formatDims}), then the frozen
     * initializers' names, one argument each (any name is safe as an argument of its own).
     */
    public static void main(String[] args) {
        PrintStream out = System.out;
        try {
            Optional<TrainingConfig> training = args[7].equals("-") ? Optional.empty() : Optional.of(new TrainingConfig(
                    Loss.parse(args[7]), args[8].equals("-") ? Optional.empty() : Optional.of(args[8]),
                    List.of(args).subList(10, args.length)));
            ModelCompiler.Written w = ModelCompiler.inProcess().compile(Path.of(args[0]), args[3].equals("-") ? "" : args[3],
                    args[4], OptLevel.valueOf(args[5]), Integer.parseInt(args[6]), training, parseDims(args[9]),
                    Path.of(args[1]), Path.of(args[2]));
            for (Path f : w.files()) {
                out.println(PREFIX + "file " + f);
            }
            out.println(PREFIX + "sources " + w.sourceCount());
            out.println(PREFIX + "weights " + w.weightBytes());
            out.flush();
            System.exit(0);
        } catch (KilnException e) {
            out.println(PREFIX + "error " + oneLine(e.getMessage()));
            out.flush();
            System.exit(2);
        } catch (RuntimeException | Error e) {
            e.printStackTrace(out);
            out.println(PREFIX + "internal " + oneLine(e.toString()));
            out.flush();
            System.exit(1);
        }
    }

    /** {@code S=128,T=4}, or {@code -} for none: the dims argument of the forked compiler. */
    static String formatDims(Map<String, Long> dims) {
        if (dims.isEmpty()) {
            return "-";
        }
        StringBuilder sb = new StringBuilder();
        dims.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ",").append(k).append('=').append(v));
        return sb.toString();
    }

    static Map<String, Long> parseDims(String arg) {
        Map<String, Long> dims = new LinkedHashMap<>();
        if (!arg.equals("-")) {
            for (String kv : arg.split(",")) {
                int eq = kv.lastIndexOf('=');
                dims.put(kv.substring(0, eq), Long.parseLong(kv.substring(eq + 1)));
            }
        }
        return dims;
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replace('\n', ' ').replace('\r', ' ');
    }
}
