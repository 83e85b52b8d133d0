package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.GraphVerifier;
import java.util.List;

/**
 * Runs an ordered list of passes over a graph, verifying IR invariants after each one, and on request
 * printing the graph after chosen passes, timing them, and checking numerically that each preserves the
 * model's outputs.
 */
public final class PassManager {
    private final List<Pass> passes;
    private final PassOptions options;

    public PassManager(List<Pass> passes, PassOptions options) {
        this.passes = List.copyOf(passes);
        this.options = options;
        for (String p : options.printAfter()) {
            if (!p.equals("all") && passes.stream().noneMatch(x -> x.name().equals(p))
                    && !Pipeline.allPassNames().contains(p)) {
                throw new IllegalArgumentException("unknown pass '" + p + "' for --print-after; passes: "
                        + Pipeline.allPassNames());
            }
        }
    }

    public static PassManager forLevel(OptLevel level, PassOptions options) {
        return new PassManager(Pipeline.forLevel(level), options);
    }

    public Graph run(Graph graph) {
        Graph g = graph;
        GraphVerifier.verify(g);
        NumericCheck check = options.verify() ? new NumericCheck(g, options.verifyInputs()) : null;
        for (Pass p : passes) {
            int before = g.nodes().size();
            long start = System.nanoTime();
            Graph next = p.apply(g);
            long micros = (System.nanoTime() - start) / 1000;
            if (next != g) {
                GraphVerifier.verify(next);
            }
            if (options.verbose()) {
                options.log().printf("pass %-34s %7d us  nodes %4d -> %4d%s%n", p.name(), micros, before,
                        next.nodes().size(), next == g ? "  (unchanged)" : "");
            }
            if (check != null && next != g) {
                check.compare(p.name(), next);
            }
            if (options.printsAfter(p.name())) {
                options.log().println("// after " + p.name());
                options.log().print(GraphPrinter.print(next));
            }
            g = next;
        }
        return g;
    }
}
