package dev.kiln.cli;

import dev.kiln.codegen.GeneratedExecutor;
import dev.kiln.ir.DimBinding;
import dev.kiln.ir.Graph;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import java.util.Map;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.ShapeInference;
import java.io.PrintStream;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Options shared by the commands that execute or show a model: which backend runs it and which optimization
 * level prepares the graph.
 */
public final class EngineOptions {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = "--backend", paramLabel = "reference|codegen", defaultValue = "reference",
            description = "What executes the model: the reference evaluator (default) or the generated Java class"
                    + " (codegen: generated, compiled in process and run).")
    private String backend;

    @Option(names = "-O", paramLabel = "0|1|2|3", hideParamSyntax = true, defaultValue = "0",
            description = "Optimization level, written -O0 (no passes, the default) to -O3; the pass manager runs its pipeline before execution.")
    private String level;

    /** Fails with a usage error unless the backend is one Kiln has. */
    public void requireAvailable() {
        switch (backend) {
            case "reference", "codegen" -> { }
            default -> throw new ParameterException(spec.commandLine(),
                    "unknown backend '" + backend + "': expected reference or codegen");
        }
        optLevel();
    }

    public OptLevel optLevel() {
        try {
            return OptLevel.parse(level);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "unknown optimization level -O" + level + ": use -O0..-O3");
        }
    }

    /**
     * A pass manager for the chosen level.
     *
     * @param printAfter pass names (or {@code all}) after which to print the graph to {@code log}
     * @param verify check every pass numerically against the reference evaluator
     */
    public PassManager passManager(Set<String> printAfter, boolean verbose, boolean verify, PrintStream log) {
        try {
            return PassManager.forLevel(optLevel(), new PassOptions(printAfter, verbose, verify, log));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** True when generated code runs the model. */
    public boolean codegen() {
        return backend.equals("codegen");
    }

    /**
     * Runs an optimized graph on the chosen backend; output name -> tensor. Generated code is compiled for the
     * sizes the feeds give the inputs' symbolic dims other than the batch (it takes only the batch at run time).
     */
    public Map<String, Tensor> execute(Graph optimized, Map<String, Tensor> feeds) {
        if (!backend.equals("codegen")) {
            return ReferenceEvaluator.run(optimized, feeds);
        }
        Map<String, Long> dims = DimBinding.fromFeeds(optimized, feeds, true);
        Graph bound = dims.isEmpty() ? optimized : optimize(new ShapeInference().apply(DimBinding.bind(optimized, dims)));
        return GeneratedExecutor.compile(bound, 1).run(feeds);
    }

    /** {@code graph} optimized at the chosen level, quietly. */
    public Graph optimize(Graph graph) {
        return passManager(Set.of(), false, false, System.err).run(graph);
    }
}
