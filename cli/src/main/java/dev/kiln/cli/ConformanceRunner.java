package dev.kiln.cli;

import dev.kiln.codegen.GeneratedExecutor;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.onnx.ModelOpTypes;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.onnx.UnsupportedModelException;
import dev.kiln.passes.Pass;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs ONNX backend test cases on the reference evaluator or through generated code: a case is a folder with {@code model.onnx} and
 * {@code test_data_set_*} folders of {@code input_*.pb} / {@code output_*.pb}.
 *
 * <p>A case passes when every output of every data set is within {@link Tolerance} of the expected one. It is
 * skipped when the model uses something Kiln does not support (an op, an op mode, an element type, a map or other
 * non-tensor value beside sequences of tensors and optionals), or when a mismatching output depends on random draws (Dropout in training mode, random
 * ops), whose expected values come from NumPy's generator. Every other error — a shape rule rejecting the
 * model, an evaluator exception, a wrong result — is a failure, so a bug never hides as "unsupported".
 */
public final class ConformanceRunner {
    private static final String MODEL = "model.onnx";
    private static final Pattern DATA_SET = Pattern.compile("test_data_set_(\\d+)");
    private static final Pattern INPUT = Pattern.compile("input_(\\d+)\\.pb");
    private static final Pattern OUTPUT = Pattern.compile("output_(\\d+)\\.pb");
    private static final int MAX_DETAIL = 400;

    /** What executes a case's graph. */
    public enum Backend { REFERENCE, CODEGEN }

    private final Tolerance tolerance;
    private final List<Pass> passes;
    private final boolean verifyPasses;
    private final Backend backend;

    /**
     * @param tolerance when floating outputs match
     * @param passes the optimization pipeline applied to each imported graph before evaluation (empty for -O0)
     * @param verifyPasses check every pass numerically on the case's first data set (the pass manager's
     *     {@code --verify}); a divergence fails the case naming the pass
     */
    public ConformanceRunner(Tolerance tolerance, List<Pass> passes, boolean verifyPasses) {
        this(tolerance, passes, verifyPasses, Backend.REFERENCE);
    }

    /**
     * @param backend {@link Backend#CODEGEN}: each case's optimized graph is generated, compiled in process once
     *     and run on every data set; a model code generation cannot handle yet is skipped, naming why
     */
    public ConformanceRunner(Tolerance tolerance, List<Pass> passes, boolean verifyPasses, Backend backend) {
        this.tolerance = tolerance;
        this.passes = List.copyOf(passes);
        this.verifyPasses = verifyPasses;
        this.backend = backend;
    }

    /** A runner that evaluates graphs as imported. */
    public ConformanceRunner(Tolerance tolerance) {
        this(tolerance, List.of(), false);
    }

    public Tolerance tolerance() { return tolerance; }

    /**
     * The case folders under {@code path} in name order: {@code path} itself if it holds a model, else every
     * folder below it that does (searched recursively).
     */
    public static List<Path> discover(Path path) {
        if (!Files.isDirectory(path)) {
            throw new KilnException("test path '" + path + "' is not a folder");
        }
        if (Files.isRegularFile(path.resolve(MODEL))) {
            return List.of(path);
        }
        try (Stream<Path> walk = Files.walk(path)) {
            return walk.filter(p -> Files.isRegularFile(p.resolve(MODEL)))
                    .sorted(Comparator.comparing(Path::toString))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list test cases under " + path, e);
        }
    }

    /** Discovers and runs the cases under every path, reporting each result as it completes. */
    public List<CaseResult> runAll(List<Path> paths, Consumer<CaseResult> onResult) {
        List<Path> cases = new ArrayList<>();
        for (Path p : paths) {
            List<Path> found = discover(p);
            if (found.isEmpty()) {
                throw new KilnException("no ONNX test cases (folders with " + MODEL + ") under '" + p + "'");
            }
            cases.addAll(found);
        }
        List<CaseResult> results = new ArrayList<>(cases.size());
        for (Path c : cases) {
            CaseResult r = run(c);
            results.add(r);
            onResult.accept(r);
        }
        return results;
    }

    /** Runs one case folder. Never throws for a problem of the case itself: that becomes a FAIL or SKIP. */
    public CaseResult run(Path caseDir) {
        Path parent = caseDir.toAbsolutePath().normalize().getParent();
        String suite = parent == null || parent.getFileName() == null ? "" : parent.getFileName().toString();
        String name = (suite.isEmpty() ? "" : suite + "/") + caseDir.toAbsolutePath().normalize().getFileName();
        SortedSet<String> ops = new TreeSet<>();
        CaseResult.Status status;
        String detail;
        try {
            ops.addAll(ModelOpTypes.of(caseDir.resolve(MODEL)));
            Graph imported = OnnxImporter.load(caseDir.resolve(MODEL));
            Verdict verdict = optimize(caseDir, imported);
            if (verdict.status() == CaseResult.Status.PASS) {
                verdict = runDataSets(caseDir, verdict.graph());
            }
            status = verdict.status();
            detail = verdict.detail();
        } catch (UnsupportedOpException | UnsupportedModelException e) {
            status = CaseResult.Status.SKIP;
            detail = message(e);
        } catch (KilnException e) {
            status = CaseResult.Status.FAIL;
            detail = message(e);
        } catch (RuntimeException | StackOverflowError e) {
            status = CaseResult.Status.FAIL;
            detail = "internal error: " + e.getClass().getName() + ": " + message(e) + where(e);
        }
        return new CaseResult(suite, name, caseDir, status, truncate(detail), ops);
    }

    /** What a step of a case showed: PASS (with the graph to go on with), or why it failed or was skipped. */
    private record Verdict(CaseResult.Status status, String detail, Graph graph) {
        static Verdict pass(Graph g) {
            return new Verdict(CaseResult.Status.PASS, "", g);
        }

        static Verdict of(CaseResult.Status status, String detail) {
            return new Verdict(status, detail, null);
        }
    }

    /**
     * Runs the passes through the pass manager; with {@code verifyPasses} it checks every pass numerically on the
     * case's first data set (real inputs, unlike random feeds, keep index and shape inputs valid).
     */
    private Verdict optimize(Path caseDir, Graph imported) {
        if (passes.isEmpty()) {
            return Verdict.pass(imported);
        }
        PassOptions options = new PassOptions(Set.of(), false, verifyPasses, System.err);
        List<Path> dataSets = numbered(caseDir, DATA_SET, true);
        if (verifyPasses && !dataSets.isEmpty()) {
            options = options.withVerifyInputs(feeds(imported, dataSets.get(0)));
        }
        return Verdict.pass(new PassManager(passes, options).run(imported));
    }

    private Verdict runDataSets(Path caseDir, Graph graph) {
        List<Path> dataSets = numbered(caseDir, DATA_SET, true);
        if (dataSets.isEmpty()) {
            throw new KilnException("case " + caseDir + " has no test_data_set_* folder");
        }
        Set<Value> trainingModes = trainingModeInputs(graph);
        GeneratedExecutor generated = backend == Backend.CODEGEN ? GeneratedExecutor.compile(graph, 1) : null;
        for (Path ds : dataSets) {
            Map<String, Tensor> feeds = feeds(graph, ds);
            Map<Value, Tensor> seen = new IdentityHashMap<>();
            Map<String, Tensor> actual = generated != null ? generated.run(feeds)
                    : ReferenceEvaluator.run(graph, feeds, 0, (v, t) -> {
                        if (trainingModes.contains(v)) {
                            seen.put(v, t);
                        }
                    });
            List<Path> outputs = numbered(ds, OUTPUT, false);
            if (outputs.size() > graph.outputs().size()) {
                return Verdict.of(CaseResult.Status.FAIL, ds.getFileName() + ": " + outputs.size()
                        + " expected outputs but the model has " + graph.outputs().size());
            }
            for (int i = 0; i < outputs.size(); i++) {
                Value out = graph.outputs().get(i);
                Tensor expected = TensorProtos.read(outputs.get(i), out.type()).tensor();
                Tolerance tol = graph.producer(out).filter(n -> SPECTRAL.contains(n.op())).isPresent()
                        ? tolerance.spectral(expected) : tolerance;
                TensorComparison cmp = TensorComparison.of(expected, actual.get(out.name()), tol);
                if (!cmp.matches()) {
                    String mismatch = ds.getFileName() + ", output " + i + " '" + out.name() + "': " + cmp.problem()
                            + (expected.dtype().isFloat() ? " (tolerance " + tol.describe() + ")" : "");
                    Optional<String> random = randomness(graph, feeds, seen);
                    return random.isPresent()
                            ? Verdict.of(CaseResult.Status.SKIP, "expected values come from NumPy's random generator, "
                                    + "which Kiln does not reproduce: " + random.get() + " (" + mismatch + ")")
                            : Verdict.of(CaseResult.Status.FAIL, mismatch);
                }
            }
        }
        return Verdict.pass(graph);
    }

    /**
     * Ops whose outputs are Fourier transforms: each bin is a sum over the whole signal, so float32 expected data
     * carries rounding of the order of eps * max|y| on every bin, bins that cancel to zero included.
     */
    private static final Set<String> SPECTRAL = Set.of("DFT", "STFT");

    /** The {@code training_mode} inputs of training-aware ops (Dropout), whose run-time value decides randomness. */
    private static Set<Value> trainingModeInputs(Graph graph) {
        Set<Value> values = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : graph.nodes()) {
            OpTable.get().find(n.domain(), n.op()).ifPresent(def -> {
                int t = def.inputNames().indexOf("training_mode");
                if (def.has(OpProperty.TRAINING_AWARE) && t >= 0 && n.hasInput(t)) {
                    values.add(n.input(t));
                }
            });
        }
        return values;
    }

    /**
     * Why the outputs depend on random draws at these feeds: a nondeterministic op, or a training-aware op whose
     * {@code training_mode} is true (Dropout then samples its mask). Empty when the graph is deterministic.
     */
    private static Optional<String> randomness(Graph graph, Map<String, Tensor> feeds, Map<Value, Tensor> seen) {
        for (Node n : graph.nodes()) {
            Optional<OpDef> def = OpTable.get().find(n.domain(), n.op());
            if (def.isEmpty()) {
                continue;
            }
            if (def.get().has(OpProperty.NONDETERMINISTIC)) {
                return Optional.of(n.describe() + " draws random numbers");
            }
            int t = def.get().inputNames().indexOf("training_mode");
            if (def.get().has(OpProperty.TRAINING_AWARE) && t >= 0 && n.hasInput(t)) {
                Value v = n.input(t);
                Tensor mode = feeds.containsKey(v.name()) ? feeds.get(v.name())
                        : graph.isInitializer(v) ? graph.initializers().get(v) : seen.get(v);
                if (mode != null && mode.size() > 0 && mode.getBool(0)) {
                    return Optional.of(n.describe() + " runs with training_mode=true and samples a random mask");
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Binds {@code input_i.pb} to the graph input of the same name, or to the i-th graph input when the file
     * names none that exists (as ONNX's runner feeds by position).
     */
    private static Map<String, Tensor> feeds(Graph graph, Path dataSet) {
        List<Path> inputs = numbered(dataSet, INPUT, false);
        List<Value> graphInputs = graph.inputs();
        if (inputs.size() > graphInputs.size()) {
            throw new KilnException(dataSet + " has " + inputs.size() + " inputs but the model takes "
                    + graphInputs.size() + " " + graphInputs.stream().map(Value::name).toList());
        }
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            // The file does not say whether it holds a tensor, a sequence or an optional: the input's type does.
            Value positional = graphInputs.get(i);
            var named = TensorProtos.read(inputs.get(i), positional.type());
            String name = named.name();
            Optional<Value> byName = graphInputs.stream().filter(v -> v.name().equals(name)).findFirst();
            if (byName.isPresent() && !feeds.containsKey(name)) {
                if (byName.get().type().kind() != positional.type().kind()) {
                    named = TensorProtos.read(inputs.get(i), byName.get().type());
                }
                feeds.put(name, named.tensor());
            } else {
                feeds.put(positional.name(), named.tensor());
            }
        }
        return feeds;
    }

    /** Children of {@code dir} matching {@code pattern} (folders or files), ordered by their number. */
    private static List<Path> numbered(Path dir, Pattern pattern, boolean folders) {
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(p -> folders ? Files.isDirectory(p) : Files.isRegularFile(p))
                    .filter(p -> pattern.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingInt(p -> number(pattern, p)))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    private static int number(Pattern pattern, Path p) {
        Matcher m = pattern.matcher(p.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m.replaceAll("\\s*\\R\\s*", " ").strip();
    }

    /** The top stack frame, so an internal error in a FAIL line points at the code that threw. */
    private static String where(Throwable e) {
        StackTraceElement[] trace = e.getStackTrace();
        return trace.length == 0 ? "" : " (at " + trace[0] + ")";
    }

    private static String truncate(String s) {
        return s.length() <= MAX_DETAIL ? s : s.substring(0, MAX_DETAIL - 3) + "...";
    }
}
