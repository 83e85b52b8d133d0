package dev.kiln.codegen;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Integer values that are functions of the batch alone ({@code Shape(y)}, {@code Size(y)} and the shape arithmetic
 * on them, as autodiff emits when the batch is symbolic), which generated code never holds as tensors: each of
 * their elements is a {@link Dim}, static or a multiple of the batch. Their nodes need no code when only shape
 * arguments (Reshape's and Expand's target, GatherGrad's shape: the emitters take those from static types), other
 * such nodes, or a Cast to float read them; that Cast writes each element from {@code batch} at run time (see
 * {@link BatchScalars}), so for instance {@code ReduceMean}'s gradient divides by {@code (float) (784 * batch)}.
 *
 * @param nodes the nodes that need no code
 * @param dims the elements of every such node's output, by value
 */
record GenerationTimeValues(Set<Node> nodes, Map<Value, List<Dim>> dims) {
    /** Inputs that only give a shape, read from the output's static type by their emitters. */
    private static boolean shapeArgument(Node n, int input) {
        return (input == 1 && n.domain().isEmpty() && (n.op().equals("Reshape") || n.op().equals("Expand")))
                || (input == 2 && n.qualifiedOp().equals(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.GATHER_GRAD));
    }

    static GenerationTimeValues of(Graph g) {
        Map<Value, List<Dim>> dims = symbolicDims(g);
        Set<Node> candidates = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            if (n.outputs().size() == 1 && dims.containsKey(n.output(0))) {
                candidates.add(n);
            }
        }
        // Drop candidates read as data by anything else, until none is.
        boolean changed = true;
        while (changed) {
            changed = false;
            Set<Value> readAsData = new HashSet<>(g.outputs());
            for (Node n : g.nodes()) {
                boolean tolerant = candidates.contains(n) || isBatchCast(n, dims);
                for (int i = 0; i < n.inputs().size(); i++) {
                    if (n.hasInput(i) && !tolerant && !shapeArgument(n, i)) {
                        readAsData.add(n.input(i));
                    }
                }
            }
            changed = candidates.removeIf(n -> readAsData.contains(n.output(0)));
        }
        Map<Value, List<Dim>> kept = new IdentityHashMap<>();
        candidates.forEach(n -> kept.put(n.output(0), dims.get(n.output(0))));
        return new GenerationTimeValues(candidates, kept);
    }

    /** A Cast to float of an integer value whose elements are known as dims. */
    static boolean isBatchCast(Node n, Map<Value, List<Dim>> dims) {
        return n.domain().isEmpty() && n.op().equals("Cast") && n.hasInput(0) && dims.containsKey(n.input(0))
                && n.output(0).dtype().isFloat();
    }

    /** The dims of every integer node output that type inference can track symbolically (not constants). */
    private static Map<Value, List<Dim>> symbolicDims(Graph g) {
        TypeInference inference = new TypeInference();
        g.initializers().forEach(inference::addConstant);
        Map<Value, List<Dim>> out = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            if (n.outputs().size() != 1 || n.output(0).isAbsent() || !n.output(0).dtype().isInteger()) {
                continue;
            }
            OpDef def = OpTable.get().find(n.domain(), n.op()).orElse(null);
            if (def == null) {
                continue;
            }
            try {
                TypeInference.Result r = inference.infer(def, n.describe(), n.attributes(), n.inputs(), 1);
                inference.bind(n.outputs(), r);
            } catch (dev.kiln.ir.KilnException e) {
                continue;
            }
            inference.dims(n.output(0)).ifPresent(d -> out.put(n.output(0), d));
        }
        return out;
    }
}
