package dev.kiln.passes;

import dev.kiln.ir.Graph;

/**
 * One graph-to-graph rewrite. A pass is pure: it builds a new graph and never mutates its input, and it
 * returns the very same graph object when it changed nothing (so the pass manager can tell).
 */
public interface Pass {
    /** The name used by {@code --print-after}, in kebab case, e.g. {@code constant-folding}. */
    String name();

    Graph apply(Graph graph);
}
