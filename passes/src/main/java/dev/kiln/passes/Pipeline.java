package dev.kiln.passes;

import java.util.ArrayList;
import java.util.List;

/** The one place that says which passes run, in which order, at each optimization level. */
public final class Pipeline {
    /**
     * {@code -Dkiln.blockedLayout=false} leaves {@link BlockedLayout} out of -O3 (it is in by default; it blocks only
     * the chains its cost model finds faster blocked, so a model without such chains is unchanged).
     */
    public static final String BLOCKED_LAYOUT_PROPERTY = "kiln.blockedLayout";

    private Pipeline() {}

    public static List<Pass> forLevel(OptLevel level) {
        List<Pass> passes = new ArrayList<>();
        if (level == OptLevel.O0) {
            return passes;
        }
        // -O1: make the graph smaller without changing any kernel's arithmetic.
        passes.add(new Simplification());
        passes.add(new ConstantFolding());
        passes.add(new SequenceLowering());
        passes.add(new Simplification());
        passes.add(new SubgraphOptimization(level));
        passes.add(new CommonSubexpressionElimination());
        passes.add(new DeadCodeElimination());
        passes.add(new ShapeInference());
        if (level == OptLevel.O1) {
            return passes;
        }
        // -O2: one kernel per fusable group: folded BatchNorm, bias and activation epilogues, Pad into Conv.
        passes.add(new Fusion());
        passes.add(new DeadCodeElimination());
        if (level == OptLevel.O2) {
            return passes;
        }
        // -O3: conv chains in the activation layout their kernels run fastest in (before elementwise fusion, so
        // the elementwise ops inside a chain are still plain ONNX ops it can keep blocked); one loop per elementwise
        // chain; weights stored in the layouts the kernels read.
        if (!"false".equals(System.getProperty(BLOCKED_LAYOUT_PROPERTY))) {
            passes.add(new BlockedLayout());
        }
        passes.add(new ElementwiseFusion());
        passes.add(new WeightLayout());
        passes.add(new DeadCodeElimination());
        return passes;
    }

    /** Names of every pass any level runs, for validating {@code --print-after}. */
    public static List<String> allPassNames() {
        List<String> names = new ArrayList<>(forLevel(OptLevel.O3).stream().map(Pass::name).distinct().toList());
        if (!names.contains("blocked-layout")) {
            names.add("blocked-layout");
        }
        return List.copyOf(names);
    }
}
