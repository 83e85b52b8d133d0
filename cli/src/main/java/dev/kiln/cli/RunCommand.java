package dev.kiln.cli;

import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.onnx.OnnxImporter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln run}: evaluates a model on input files and writes every graph output as {@code DIR/<name>.npy} (a
 * sequence or optional output as {@code DIR/<name>.pb}, an ONNX SequenceProto or OptionalProto).
 * Outputs are computed and encoded first, then written, so a failure leaves no partial set of files.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {
            "Runs MODEL.onnx on the given inputs (reference evaluator or generated code) and writes DIR/<output name>.npy for"
                    + " every graph output (characters outside [A-Za-z0-9._-] in the name become _; a sequence or optional"
                    + " output is written as DIR/<output name>.pb, an ONNX SequenceProto or OptionalProto).",
            "Inputs given without NAME= go to the graph's inputs (initializers excluded) in order."},
        footer = {"", "Exit codes: 0 success, 1 internal error, 2 bad input or usage."})
public final class RunCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model to run.")
    private Path model;

    @Option(names = "--input", paramLabel = "[NAME=]FILE",
            description = "An input tensor: a NumPy .npy or an ONNX TensorProto .pb file; repeat for each input.")
    private List<String> inputs = new ArrayList<>();

    @Option(names = "--output-dir", required = true, paramLabel = "DIR",
            description = "Folder for the outputs (created if missing).")
    private Path outputDir;

    @Mixin
    private EngineOptions engine;

    @Option(names = {"-v", "--verbose"}, description = "Print stack traces of errors.")
    private boolean verbose;

    @Option(names = "--print", description = "Also print each output's values (up to 64 per output), and for a"
            + " [batch, classes] output the arg-max of each row.")
    private boolean print;

    @Override
    public Integer call() throws IOException {
        engine.requireAvailable();
        Graph graph = engine.optimize(ModelFiles.load(model));
        Map<String, Tensor> feeds = feeds(graph);
        Map<String, Tensor> outputs = engine.execute(graph, feeds);
        Map<Path, byte[]> files = encode(outputs);
        OutputFiles.writeAll(outputDir, files);
        PrintWriter out = spec.commandLine().getOut();
        outputs.forEach((name, t) -> out.println("wrote " + outputDir.resolve(TensorFiles.outputFileName(name, t))
                + " (" + name + ": " + t.type() + ")"));
        if (print) {
            outputs.forEach((name, t) -> out.print(describe(name, t)));
        }
        return Kiln.OK;
    }

    /** The values of an output as text; for a 2-D float output, also each row's arg-max (the predicted class). */
    static String describe(String name, Tensor t) {
        if (!t.isPlain()) {
            StringBuilder sb = new StringBuilder(name).append(": ").append(t.type()).append(" of ")
                    .append(t.elements().size()).append(t.type().isSequence() ? " tensor(s)\n" : " value(s)\n");
            for (int i = 0; i < t.elements().size(); i++) {
                sb.append(describe(name + "[" + i + "]", t.elements().get(i)));
            }
            return sb.toString();
        }
        StringBuilder sb = new StringBuilder(name).append(" = ");
        int shown = Math.min(t.size(), 64);
        sb.append('[');
        for (int i = 0; i < shown; i++) {
            sb.append(i > 0 ? ", " : "").append(t.dtype().isFloat() ? String.format(java.util.Locale.ROOT, "%.5g",
                    t.getDouble(i)) : Long.toString(t.getLong(i)));
        }
        sb.append(t.size() > shown ? ", ... (" + t.size() + " values)]" : "]").append('\n');
        if (t.rank() == 2 && t.dtype().isFloat() && t.dim(1) > 1) {
            for (int r = 0; r < t.dim(0); r++) {
                int best = 0;
                for (int c = 1; c < t.dim(1); c++) {
                    if (t.getDouble(r * t.dim(1) + c) > t.getDouble(r * t.dim(1) + best)) {
                        best = c;
                    }
                }
                sb.append(name).append('[').append(r).append("] arg-max: ").append(best).append('\n');
            }
        }
        return sb.toString();
    }

    /** Named inputs bind by name; the rest fill the graph inputs not named, in order. */
    private Map<String, Tensor> feeds(Graph graph) {
        List<String> names = graph.inputs().stream().map(Value::name).toList();
        Map<String, Path> named = new LinkedHashMap<>();
        List<Path> positional = new ArrayList<>();
        for (String spec : inputs) {
            int eq = spec.indexOf('=');
            String prefix = eq > 0 ? spec.substring(0, eq) : null;
            if (prefix != null && names.contains(prefix)) {
                if (named.put(prefix, Path.of(spec.substring(eq + 1))) != null) {
                    throw new KilnException("input '" + prefix + "' is given twice");
                }
            } else if (prefix != null && !Files.exists(Path.of(spec))) {
                throw new KilnException("model " + model + " has no input '" + prefix + "'; its inputs are " + names);
            } else {
                positional.add(Path.of(spec));
            }
        }
        List<String> unnamed = names.stream().filter(n -> !named.containsKey(n)).toList();
        if (positional.size() > unnamed.size()) {
            throw new KilnException("model " + model + " takes " + names.size() + " input(s) " + names + " but "
                    + inputs.size() + " were given");
        }
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        Map<String, dev.kiln.ir.TensorType> types = new HashMap<>();
        graph.inputs().forEach(v -> types.put(v.name(), v.type()));
        named.forEach((n, f) -> feeds.put(n, TensorFiles.read(f, types.get(n))));
        for (int i = 0; i < positional.size(); i++) {
            feeds.put(unnamed.get(i), TensorFiles.read(positional.get(i), types.get(unnamed.get(i))));
        }
        return feeds;
    }

    private Map<Path, byte[]> encode(Map<String, Tensor> outputs) {
        Map<Path, byte[]> files = new LinkedHashMap<>();
        Map<String, String> owners = new HashMap<>();
        for (Map.Entry<String, Tensor> e : outputs.entrySet()) {
            String file = TensorFiles.outputFileName(e.getKey(), e.getValue());
            String previous = owners.putIfAbsent(file, e.getKey());
            if (previous != null) {
                throw new KilnException("outputs '" + previous + "' and '" + e.getKey() + "' would both be written to "
                        + outputDir.resolve(file));
            }
            files.put(outputDir.resolve(file), e.getValue().isPlain() ? Npy.toBytes(e.getValue())
                    : TensorProtos.valueBytes(e.getKey(), e.getValue()));
        }
        return files;
    }
}
