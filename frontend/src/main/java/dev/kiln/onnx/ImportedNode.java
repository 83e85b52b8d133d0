package dev.kiln.onnx;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One ONNX node on its way into the IR: inputs already resolved to values, outputs still names (an empty name
 * is an omitted output). {@link OpsetAdapters} rewrite it before {@link NodeEmitter} adds it to the graph.
 *
 * @param op the op type
 * @param domain the op's domain, {@code ""} for ONNX's default one
 * @param name the node's name, possibly empty
 * @param inputs the inputs ({@link Value#ABSENT} for omitted ones)
 * @param outputNames the output names ({@code ""} for omitted ones)
 * @param attributes the attributes set on the node
 * @param opset the opset version of the node's domain that the model imports
 */
record ImportedNode(String op, String domain, String name, List<Value> inputs, List<String> outputNames,
                    Attributes attributes, int opset) {

    ImportedNode {
        Objects.requireNonNull(op);
        Objects.requireNonNull(domain);
        Objects.requireNonNull(name);
        inputs = List.copyOf(inputs);
        outputNames = List.copyOf(outputNames);
        Objects.requireNonNull(attributes);
    }

    /** How messages name the node: {@code node 'conv1' (Conv)} or {@code Conv node producing 'y'}. */
    String describe() {
        if (!name.isEmpty()) {
            return "node '" + name + "' (" + op + ")";
        }
        String first = outputNames.stream().filter(s -> !s.isEmpty()).findFirst().orElse("?");
        return op + " node producing '" + first + "'";
    }

    boolean hasInput(int i) { return i < inputs.size() && !inputs.get(i).isAbsent(); }

    Value input(int i) { return inputs.get(i); }

    Optional<Attr> attr(String attrName) { return attributes.get(attrName); }

    ImportedNode withOp(String newOp) {
        return new ImportedNode(newOp, domain, name, inputs, outputNames, attributes, opset);
    }

    ImportedNode withInputs(List<Value> newInputs) {
        return new ImportedNode(op, domain, name, newInputs, outputNames, attributes, opset);
    }

    /** This node with input {@code i} set, padding skipped positions with {@link Value#ABSENT}. */
    ImportedNode withInput(int i, Value v) {
        List<Value> in = new ArrayList<>(inputs);
        while (in.size() <= i) {
            in.add(Value.ABSENT);
        }
        in.set(i, v);
        return withInputs(in);
    }

    ImportedNode withOutputNames(List<String> names) {
        return new ImportedNode(op, domain, name, inputs, names, attributes, opset);
    }

    ImportedNode withAttributes(Attributes a) {
        return new ImportedNode(op, domain, name, inputs, outputNames, a, opset);
    }

    ImportedNode withAttr(String attrName, Attr value) {
        return withAttributes(attributes.with(attrName, value));
    }

    ImportedNode without(String... attrNames) {
        Attributes a = attributes;
        for (String n : attrNames) {
            a = a.without(n);
        }
        return withAttributes(a);
    }
}
