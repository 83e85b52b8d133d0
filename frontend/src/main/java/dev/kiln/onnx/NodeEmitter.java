package dev.kiln.onnx;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Adds imported nodes to the {@link GraphBuilder} (so each is typed by the op table), and gives
 * {@link OpsetAdapters} what they need to rewrite a node: constants, helper nodes and fresh names that cannot
 * collide with any name the model itself defines later.
 */
final class NodeEmitter {
    private final GraphBuilder builder;
    private final Set<String> modelNames;
    private final Set<String> generated = new HashSet<>();
    private final String source;

    /**
     * @param modelNames every value name the ONNX graph defines (fresh names avoid them)
     * @param source the model file, for messages
     */
    NodeEmitter(GraphBuilder builder, Set<String> modelNames, String source) {
        this.builder = builder;
        this.modelNames = modelNames;
        this.source = source;
    }

    /** The op's declaration in the op table, if Kiln has it. */
    static Optional<OpDef> def(String domain, String op) {
        return OpTable.get().find(domain, op);
    }

    /** Adds {@code n} exactly as given; its outputs get the node's output names. */
    List<Value> node(ImportedNode n) {
        if (def(n.domain(), n.op()).isEmpty()) {
            throw new UnsupportedOpException(source + ": unsupported op '" + n.op() + "' (domain '"
                    + (n.domain().isEmpty() ? "ai.onnx" : n.domain()) + "', opset " + n.opset() + ") used by "
                    + n.describe() + "; Kiln's op table has no such op");
        }
        return builder.op(n.op()).domain(n.domain()).name(n.name()).inputs(n.inputs()).attrs(n.attributes())
                .outputNames(n.outputNames()).build();
    }

    /** A single-output helper node named after the node it helps rewrite, with a fresh output name. */
    Value helper(ImportedNode forNode, String op, Attributes attrs, Value... inputs) {
        String hint = (forNode.name().isEmpty() ? forNode.op().toLowerCase(java.util.Locale.ROOT) : forNode.name())
                + "_" + op.toLowerCase(java.util.Locale.ROOT);
        return helperNamed(forNode, op, attrs, freshName(hint), inputs);
    }

    /** A single-output helper node whose output gets {@code outputName} (e.g. the original node's output). */
    Value helperNamed(ImportedNode forNode, String op, Attributes attrs, String outputName, Value... inputs) {
        ImportedNode h = new ImportedNode(op, "", forNode.name(), List.of(inputs), List.of(outputName), attrs,
                forNode.opset());
        return node(h).get(0);
    }

    /** A named constant (an initializer), e.g. an attribute turned into an input. */
    Value constant(String hint, Tensor value) {
        return builder.initializer(freshName(hint), value);
    }

    /** A constant named after the node it belongs to, e.g. {@code squeeze1_axes}. */
    Value constant(ImportedNode forNode, String what, Tensor value) {
        String base = forNode.name().isEmpty() ? forNode.op().toLowerCase(java.util.Locale.ROOT) : forNode.name();
        return constant(base + "_" + what, value);
    }

    /** The constant value of {@code v} if the builder knows it (initializer or folded constant subgraph). */
    Optional<Tensor> constantValue(Value v) {
        return v.isAbsent() ? Optional.empty() : builder.constantValue(v);
    }

    /** A value name unused in the graph so far and not defined anywhere in the ONNX model. */
    String freshName(String hint) {
        String base = hint.isEmpty() ? "t" : hint;
        for (int k = 0; ; k++) {
            String candidate = k == 0 ? base : base + "_" + k;
            if (!modelNames.contains(candidate) && !generated.contains(candidate)
                    && builder.freshName(candidate).equals(candidate)) {
                generated.add(candidate);
                return candidate;
            }
        }
    }

    String source() { return source; }
}
