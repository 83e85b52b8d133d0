package dev.kiln.passes;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * Re-infers every value's type through the op table and records dims that have become known (after
 * constant folding turned a dynamic reshape target into a constant, an unknown dim becomes static or
 * {@code N}), so later passes and code generation see the most specific shapes.
 */
public final class ShapeInference implements Pass {
    @Override
    public String name() { return "shape-inference"; }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        TypeInference inference = new TypeInference();
        g.initializers().forEach(inference::addConstant);
        boolean changed = false;
        for (Node n : g.nodes()) {
            List<Value> in = new ArrayList<>();
            for (Value v : n.inputs()) {
                in.add(v.isAbsent() ? v : rw.map(v));
            }
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            TypeInference.Result r = inference.infer(def, n.describe(), n.attributes(), in, n.outputs().size());
            List<Value> outs = new ArrayList<>();
            boolean refined = false;
            for (int i = 0; i < n.outputs().size(); i++) {
                Value old = n.outputs().get(i);
                TensorType better = old.isAbsent() ? null : refine(old.type(), r.types().get(i));
                if (better == null) {
                    outs.add(old);
                } else {
                    Value v = new Value(old.name(), better);
                    rw.replace(old, v);
                    outs.add(v);
                    refined = true;
                }
            }
            inference.bind(outs, r);
            if (refined) {
                rw.emit(new Node(n.op(), n.domain(), n.name(), n.inputs(), outs, n.attributes()));
                changed = true;
            } else {
                rw.keep(n);
            }
        }
        return changed ? rw.finish() : g;
    }

    /** The inferred type where it knows a dim the recorded one does not; null when nothing is gained. */
    private static TensorType refine(TensorType recorded, TensorType inferred) {
        if (recorded.rank() != inferred.rank() || recorded.dtype() != inferred.dtype()) {
            return null;
        }
        List<Dim> dims = new ArrayList<>();
        boolean gained = false;
        for (int i = 0; i < recorded.rank(); i++) {
            Dim a = recorded.shape().dim(i);
            Dim b = inferred.shape().dim(i);
            if (a.hasUnknown() && !b.hasUnknown()) {
                dims.add(b);
                gained = true;
            } else {
                dims.add(a);
            }
        }
        return gained ? new TensorType(recorded.dtype(), new dev.kiln.ir.Shape(dims)) : null;
    }
}
