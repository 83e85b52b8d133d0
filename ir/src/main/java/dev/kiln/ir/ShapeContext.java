package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What a {@link ShapeRule} or {@link SymbolicRule} sees: input types, constant inputs, attributes. */
public final class ShapeContext extends NodeContext {
    private final List<Value> inputs;
    private final int outputCount;
    private final ConstantLookup constants;

    /** Answers which values are constant, or known as dims, at this point of the graph. */
    public interface ConstantLookup {
        Optional<Tensor> constant(Value v);

        Optional<List<Dim>> dims(Value v);
    }

    public ShapeContext(OpDef def, String nodeDescription, Attributes attributes, List<Value> inputs,
                        int outputCount, ConstantLookup constants) {
        super(def, nodeDescription, attributes);
        this.inputs = List.copyOf(inputs);
        this.outputCount = outputCount;
        this.constants = constants;
    }

    @Override
    public int inputCount() { return inputs.size(); }

    @Override
    public boolean hasInput(int i) { return i < inputs.size() && !inputs.get(i).isAbsent(); }

    @Override
    public int outputCount() { return outputCount; }

    /** The same inputs seen as a node of another op with other attributes (how fused ops reuse rules). */
    public ShapeContext as(OpDef other, Attributes otherAttributes) {
        return new ShapeContext(other, nodeDescription(), otherAttributes, inputs, outputCount, constants);
    }

    /** The same node seen as another op with other attributes and inputs (a fused op's logical operands). */
    public ShapeContext as(OpDef other, Attributes otherAttributes, List<Value> otherInputs) {
        return new ShapeContext(other, nodeDescription(), otherAttributes, otherInputs, outputCount, constants);
    }

    /** All inputs, {@link Value#ABSENT} where omitted. */
    public List<Value> inputs() { return inputs; }

    /** What this context knows about constant values (for rules that infer a nested graph). */
    public ConstantLookup constants() { return constants; }

    public Value input(int i) {
        if (!hasInput(i)) {
            throw fail("input " + def().inputName(i) + " is missing");
        }
        return inputs.get(i);
    }

    public TensorType inputType(int i) { return input(i).type(); }

    public Shape inputShape(int i) { return input(i).shape(); }

    public DType inputDtype(int i) { return input(i).dtype(); }

    /** The value of input i if it is a constant (initializer, Constant, or all-constant small subgraph). */
    public Optional<Tensor> constant(int i) {
        return hasInput(i) ? constants.constant(inputs.get(i)) : Optional.empty();
    }

    /** The elements of a 0-D or 1-D integer input as dims, if known (constant or tracked symbolically). */
    public Optional<List<Dim>> dimsValue(int i) {
        if (!hasInput(i)) {
            return Optional.empty();
        }
        Optional<List<Dim>> tracked = constants.dims(inputs.get(i));
        if (tracked.isPresent()) {
            return tracked;
        }
        return constant(i).filter(t -> t.rank() <= 1 && t.dtype().isInteger()).map(t -> {
            List<Dim> dims = new ArrayList<>();
            for (long v : t.longs()) {
                if (v < 0) {
                    return null; // a -1 or other negative entry is a marker, not a dim
                }
                dims.add(Dim.of(v));
            }
            return dims;
        });
    }

    /** The elements of a constant integer input as longs (for axes, pads, starts...). */
    public Optional<long[]> constantLongs(int i) { return constant(i).map(Tensor::toLongArray); }

    @Override
    protected String describeInputs() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            if (!inputs.get(i).isAbsent()) {
                parts.add(def().inputName(i) + ": " + inputs.get(i).type());
            }
        }
        return String.join(", ", parts);
    }
}
