package dev.kiln.codegen;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;

/**
 * Generated code holds tensors only: a model whose optimized graph still has a sequence or optional value is refused
 * here, naming the graph input or output, or the node and op, and the type. The pass pipeline's sequence lowering
 * turns sequences whose contents are known at compile time (built from tensors at constant positions, or split along
 * a static dim) into tensor ops first, so what remains is a sequence or optional crossing the model's boundary or
 * one whose contents depend on run-time values.
 */
final class TensorValuesOnly {
    private TensorValuesOnly() {}

    static void require(Graph g) {
        for (Value v : g.inputs()) {
            if (!v.type().isTensor()) {
                throw new UnsupportedOpException("graph input '" + v.name() + "' is " + v.type() + ": generated classes "
                        + "take and return tensors only (a sequence or optional input has no generated API yet)");
            }
        }
        for (Value v : g.outputs()) {
            if (!v.type().isTensor()) {
                throw new UnsupportedOpException("graph output '" + v.name() + "' is " + v.type() + ": generated "
                        + "classes take and return tensors only (a sequence or optional output has no generated API yet)");
            }
        }
        for (Node n : g.nodes()) {
            for (Value v : n.outputs()) {
                if (!v.isAbsent() && !v.type().isTensor()) {
                    throw new UnsupportedOpException(n.describe() + ": op " + n.qualifiedOp() + " makes '" + v.name()
                            + "' of type " + v.type() + ", which generated code cannot hold (it holds tensors only); "
                            + "the sequence-lowering pass (-O1 and above) turns sequences built from tensors at constant "
                            + "positions, or split along static dims, into tensor ops, and has not resolved this one");
                }
            }
        }
    }
}
