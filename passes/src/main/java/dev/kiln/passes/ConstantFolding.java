package dev.kiln.passes;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Replaces nodes whose inputs are all constant by initializers computed with the reference evaluator, and
 * shape computations whose value is fully static (e.g. {@code Shape(x)} of a static-shaped x) by constants.
 * Computations that depend on the symbolic batch stay in the graph (their types keep the symbol).
 * A node is not folded when its result would be much larger than its inputs (e.g. ConstantOfShape of a
 * large shape): that would trade a cheap op for a large weight file. A sequence or optional cannot be an
 * initializer: a node computing one from constants stays, but its value is known here, so the tensors read from it
 * (SequenceAt, SequenceLength of a constant sequence) fold, and the node then goes when nothing else reads it.
 */
public final class ConstantFolding implements Pass {
    /** Folding may grow the constants by at most this many elements per node beyond its inputs' size. */
    static final long MAX_GROWTH = 4096;

    @Override
    public String name() { return "constant-folding"; }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        TypeInference inference = new TypeInference();
        Map<Value, Tensor> constants = new IdentityHashMap<>(g.initializers());
        constants.forEach(inference::addConstant);
        boolean changed = false;
        for (Node n : g.nodes()) {
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            Optional<List<Tensor>> folded = fold(n, def, constants);
            if (folded.isEmpty()) {
                TypeInference.Result r = inference.infer(def, n.describe(), n.attributes(), n.inputs(), n.outputs().size());
                inference.bind(n.outputs(), r);
                folded = staticShapeValue(n, r);
            }
            if (folded.isEmpty()) {
                rw.keep(n);
                continue;
            }
            if (n.outputs().stream().anyMatch(v -> !v.isAbsent() && !v.type().isTensor())) {
                for (int i = 0; i < n.outputs().size(); i++) {
                    Value v = n.outputs().get(i);
                    if (!v.isAbsent()) {
                        constants.put(v, folded.get().get(i));
                        inference.addConstant(v, folded.get().get(i));
                    }
                }
                rw.keep(n);
                continue;
            }
            for (int i = 0; i < n.outputs().size(); i++) {
                Value v = n.outputs().get(i);
                if (v.isAbsent()) {
                    continue;
                }
                Tensor t = folded.get().get(i);
                constants.put(v, t);
                inference.addConstant(v, t);
                if (t.type().equals(v.type())) {
                    rw.addInitializer(v, t);
                } else {
                    rw.replace(v, rw.addInitializer(v.name() + "_folded", t));
                }
            }
            changed = true;
        }
        return changed ? rw.finish() : g;
    }

    private static Optional<List<Tensor>> fold(Node n, OpDef def, Map<Value, Tensor> constants) {
        // Training-aware ops (Dropout with training_mode) may draw random masks: folding would freeze one.
        // So would such an op in a body (If, Loop, Scan).
        if (dev.kiln.ir.Subgraphs.nondeterministic(def, n.attributes())) {
            return Optional.empty();
        }
        List<Tensor> in = new ArrayList<>();
        long inputElements = 0;
        for (Value v : n.inputs()) {
            if (v.isAbsent()) {
                in.add(null);
                continue;
            }
            Tensor t = constants.get(v);
            if (t == null) {
                return Optional.empty();
            }
            in.add(t);
            inputElements += t.size();
        }
        long outputElements = 0;
        for (Value v : n.outputs()) {
            Dim count = v.shape().elementCount();
            if (!v.isAbsent() && count.isStatic()) {
                outputElements += count.value();
            }
        }
        if (outputElements > inputElements + MAX_GROWTH) {
            return Optional.empty();
        }
        return Optional.of(ReferenceEvaluator.evaluateNode(n, in, new Random(0)));
    }

    /** A single-output integer shape computation whose elements are all static dims, as a constant. */
    private static Optional<List<Tensor>> staticShapeValue(Node n, TypeInference.Result r) {
        if (n.outputs().size() != 1 || r.dims().isEmpty()) {
            return Optional.empty();
        }
        Value out = n.outputs().get(0);
        if (!out.dtype().isInteger() || out.type().rank() > 1 || !out.shape().isStatic()) {
            return Optional.empty();
        }
        List<Dim> dims = r.dims().get();
        long[] values = new long[dims.size()];
        for (int i = 0; i < values.length; i++) {
            if (!dims.get(i).isStatic()) {
                return Optional.empty();
            }
            values[i] = dims.get(i).value();
        }
        if (values.length != dev.kiln.ir.Tensor.sizeOf(out.shape().toIntArray())) {
            return Optional.empty();
        }
        return Optional.of(List.of(Tensor.wrapLongs(out.dtype(), out.shape().toIntArray(), values)));
    }
}
