package dev.kiln.passes.training;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Assembles a graph from existing nodes (adopted as they are) and new ones (typed through the op table as
 * they are emitted), tracking constants and unique names: how autodiff extends a forward graph in place.
 */
final class GraphAssembler {
    private final String name;
    private final List<Value> inputs = new ArrayList<>();
    private final Map<Value, Tensor> initializers = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Set<String> usedNames = new HashSet<>();
    private final Map<String, Integer> nextSuffix = new HashMap<>();
    private final TypeInference inference = new TypeInference();

    GraphAssembler(String name, Iterable<String> reservedNames) {
        this.name = name;
        reservedNames.forEach(usedNames::add);
    }

    /** An existing value becomes a graph input (its name must be reserved or fresh). */
    void input(Value v) {
        usedNames.add(v.name());
        inputs.add(v);
    }

    /** An existing value becomes an initializer. */
    void initializer(Value v, Tensor t) {
        usedNames.add(v.name());
        initializers.put(v, t);
        inference.addConstant(v, t);
    }

    /** A new constant under a fresh name derived from {@code hint}. */
    Value constant(String hint, Tensor t) {
        Value v = new Value(fresh(hint), t.type());
        initializer(v, t);
        return v;
    }

    /** Adds an existing node as it is (its values keep their identity and names). */
    void adopt(Node n) {
        OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
        TypeInference.Result r = inference.infer(def, n.describe(), n.attributes(), n.inputs(), n.outputs().size());
        n.outputs().forEach(v -> usedNames.add(v.name()));
        inference.bind(n.outputs(), r);
        nodes.add(n);
    }

    /**
     * Emits a new node; output k is named {@code names.get(k)} when given (must be unused), else a fresh name
     * derived from {@code hint} and the op. An empty requested name leaves that output absent.
     */
    List<Value> emit(String domain, String op, Attributes attrs, List<Value> in, int outputs, String hint,
                     List<String> names) {
        String description = op + " node #" + nodes.size() + (hint.isEmpty() ? "" : " (for " + hint + ")");
        OpDef def = OpTable.get().require(domain, op, description);
        TypeInference.Result r = inference.infer(def, description, attrs, in, outputs);
        List<Value> outs = new ArrayList<>();
        for (int k = 0; k < outputs; k++) {
            String n;
            if (k < names.size()) {
                n = names.get(k);
                if (n.isEmpty()) {
                    outs.add(Value.ABSENT);
                    continue;
                }
                if (!usedNames.add(n)) {
                    throw new GraphException("graph '" + name + "': cannot name a new value '" + n
                            + "', the model already has a value of that name");
                }
            } else {
                String base = (hint.isEmpty() ? "" : hint + ".") + op.toLowerCase(Locale.ROOT);
                n = fresh(outputs == 1 ? base : base + "_" + k);
            }
            outs.add(new Value(n, r.types().get(k)));
        }
        inference.bind(outs, r);
        nodes.add(new Node(op, domain, "", in, outs, attrs));
        return outs;
    }

    Value emit1(String op, Attributes attrs, String hint, Value... in) {
        return emit("", op, attrs, List.of(in), 1, hint, List.of()).get(0);
    }

    /** A node like {@code n} (same op, inputs, attributes) whose outputs are renamed/added as given. */
    List<Value> reemit(Node n, Attributes attrs, List<Value> in, List<String> names) {
        return emit(n.domain(), n.op(), attrs, in, names.size(), "", names);
    }

    Optional<Tensor> constant(Value v) { return inference.constant(v); }

    String fresh(String hint) {
        String base = hint.isEmpty() ? "t" : hint;
        String n = base;
        if (usedNames.contains(n)) {
            int k = nextSuffix.getOrDefault(base, 1);
            while (usedNames.contains(base + "_" + k)) {
                k++;
            }
            nextSuffix.put(base, k + 1);
            n = base + "_" + k;
        }
        usedNames.add(n);
        return n;
    }

    List<Node> nodes() { return nodes; }

    Graph build(List<Value> outputs) {
        return new Graph(name, inputs, initializers, nodes, outputs);
    }
}
