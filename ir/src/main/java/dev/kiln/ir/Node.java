package dev.kiln.ir;

import java.util.List;
import java.util.Objects;

/**
 * One operation: an op of the op table applied to input values, producing fresh output values.
 * Omitted optional inputs and outputs are {@link Value#ABSENT}. Immutable; passes build new nodes.
 *
 * @param op the op name, e.g. {@code Conv}
 * @param domain the op's domain ({@code ""} for the default ONNX domain)
 * @param name the node's name, possibly empty (kept from the source model for error messages and comments)
 * @param inputs the inputs in the op's order
 * @param outputs the outputs in the op's order
 * @param attributes the attributes explicitly set on the node
 */
public record Node(String op, String domain, String name, List<Value> inputs, List<Value> outputs,
                   Attributes attributes) {

    public Node {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(name, "name");
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        Objects.requireNonNull(attributes, "attributes");
    }

    public Value input(int i) {
        if (!hasInput(i)) {
            throw new GraphException(describe() + " has no input " + i);
        }
        return inputs.get(i);
    }

    /** True if input i was given (present and not {@link Value#ABSENT}). */
    public boolean hasInput(int i) {
        return i < inputs.size() && !inputs.get(i).isAbsent();
    }

    public Value output(int i) { return outputs.get(i); }

    public boolean hasOutput(int i) {
        return i < outputs.size() && !outputs.get(i).isAbsent();
    }

    /** The op qualified by domain when not the default one: {@code Conv}, {@code com.microsoft.Gelu}. */
    public String qualifiedOp() { return domain.isEmpty() || domain.equals("ai.onnx") ? op : domain + "." + op; }

    /** How error messages name this node: {@code node 'conv1' (Conv)} or {@code Conv node producing 'y'}. */
    public String describe() {
        if (!name.isEmpty()) {
            return "node '" + name + "' (" + qualifiedOp() + ")";
        }
        String out = outputs.stream().filter(v -> !v.isAbsent()).map(Value::name).findFirst().orElse("?");
        return qualifiedOp() + " node producing '" + out + "'";
    }

    /** This node with other inputs, same everything else. */
    public Node withInputs(List<Value> newInputs) {
        return new Node(op, domain, name, newInputs, outputs, attributes);
    }
}
