package dev.kiln.passes;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * The node outputs whose static dims come from the model's declarations rather than from inference: re-inferring
 * each node from constants and tracked dims alone leaves them unknown (a Reshape target or Expand shape given as a
 * graph input). Such a shape is a promise only the generated code's run-time check confirms, so a rewrite must not
 * take it as proof (e.g. that a Reshape leaves its input's shape unchanged and can go).
 */
final class DeclaredShapes {
    private DeclaredShapes() {}

    static Set<Value> of(Graph g) {
        Set<Value> declared = Collections.newSetFromMap(new IdentityHashMap<>());
        TypeInference inference = new TypeInference();
        g.initializers().forEach(inference::addConstant);
        for (Node n : g.nodes()) {
            OpDef def = OpTable.get().find(n.domain(), n.op()).orElse(null);
            if (def == null) {
                continue;
            }
            TypeInference.Result r;
            try {
                r = inference.infer(def, n.describe(), n.attributes(), n.inputs(), n.outputs().size());
            } catch (KilnException | IllegalStateException e) {
                continue;
            }
            inference.bind(n.outputs(), r);
            for (int i = 0; i < n.outputs().size(); i++) {
                Value o = n.output(i);
                TensorType inferred = r.types().get(i);
                if (!o.isAbsent() && inferred.shape().dims().stream().anyMatch(Dim::hasUnknown)
                        && o.shape().dims().stream().noneMatch(Dim::hasUnknown)) {
                    declared.add(o);
                }
            }
        }
        return declared;
    }
}
