package dev.kiln.cli;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.KilnException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code kiln inspect}: prints a model's graph in Kiln's IR text form, optionally also as Graphviz DOT. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Imports MODEL.onnx, runs the -O pipeline and prints the graph in Kiln's IR text form (types with symbolic batch dims).",
        footer = {"", "Exit codes: 0 success, 1 internal error, 2 bad input or usage."})
public final class InspectCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model to show.")
    private Path model;

    @Option(names = "--dot", paramLabel = "FILE",
            description = "Also write the graph as Graphviz DOT to FILE, and beside it FILE.svg when Graphviz's dot"
                    + " is installed.")
    private Path dot;

    @Mixin
    private EngineOptions engine;

    @Option(names = "--print-after", paramLabel = "PASS", split = ",",
            description = "Print the graph after these passes of the -O pipeline (comma-separated names, or all).")
    private Set<String> printAfter = new LinkedHashSet<>();

    @ParentCommand
    private Kiln kiln;

    @Option(names = {"-v", "--verbose"}, description = "Print pass timings and stack traces of errors.")
    private boolean verbose;

    @Override
    public Integer call() {
        engine.requireAvailable();
        Graph imported = ModelFiles.load(model);
        PrintWriter out = spec.commandLine().getOut();
        out.flush();
        Graph graph = engine.passManager(printAfter, verbose, false, kiln.out()).run(imported);
        kiln.out().flush();
        if (dot != null) {
            try {
                Files.writeString(dot, DotWriter.toDot(graph), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new KilnException("cannot write DOT file '" + dot + "': " + e, e);
            }
            renderSvg(dot).ifPresent(svg -> kiln.err().println("wrote " + svg));
        }
        out.print(GraphPrinter.print(graph));
        return Kiln.OK;
    }

    /** Renders {@code dotFile} to {@code dotFile.svg} with Graphviz when {@code dot} is on the PATH; empty when it is not. */
    static java.util.Optional<Path> renderSvg(Path dotFile) {
        Path svg = dotFile.resolveSibling(dotFile.getFileName() + ".svg");
        ProcessBuilder pb = new ProcessBuilder("dot", "-Tsvg", dotFile.toString(), "-o", svg.toString())
                .redirectErrorStream(true);
        try {
            Process p = pb.start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new KilnException("Graphviz could not render '" + dotFile + "': " + output.strip());
            }
            return java.util.Optional.of(svg);
        } catch (IOException e) {
            return java.util.Optional.empty(); // no Graphviz installed: the DOT file is the result
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException("interrupted while rendering '" + dotFile + "'", e);
        }
    }
}
