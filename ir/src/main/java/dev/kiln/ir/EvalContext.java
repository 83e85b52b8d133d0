package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** What an {@link EvalRule} sees: concrete input tensors, attributes, and the evaluation's seeded RNG. */
public final class EvalContext extends NodeContext {
    private final List<Tensor> inputs;
    private final int outputCount;
    private final Random random;

    /**
     * @param inputs the input tensors, {@code null} where the node omits an optional input (never seen by
     *     rules, which ask {@link #hasInput})
     */
    public EvalContext(OpDef def, String nodeDescription, Attributes attributes, List<Tensor> inputs,
                       int outputCount, Random random) {
        super(def, nodeDescription, attributes);
        this.inputs = new ArrayList<>(inputs);
        this.outputCount = outputCount;
        this.random = random;
    }

    @Override
    public int inputCount() { return inputs.size(); }

    @Override
    public boolean hasInput(int i) { return i < inputs.size() && inputs.get(i) != null; }

    @Override
    public int outputCount() { return outputCount; }

    /** The same inputs seen as a node of another op with other attributes (how fused ops reuse semantics). */
    public EvalContext as(OpDef other, Attributes otherAttributes) {
        return new EvalContext(other, nodeDescription(), otherAttributes, inputs, outputCount, random);
    }

    public Tensor input(int i) {
        if (!hasInput(i)) {
            throw fail("input " + def().inputName(i) + " is missing");
        }
        return inputs.get(i);
    }

    /** Random source for nondeterministic ops (seeded per evaluation, so runs are reproducible). */
    public Random random() { return random; }

    @Override
    protected String describeInputs() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            if (inputs.get(i) != null) {
                parts.add(def().inputName(i) + ": " + inputs.get(i).type());
            }
        }
        return String.join(", ", parts);
    }
}
