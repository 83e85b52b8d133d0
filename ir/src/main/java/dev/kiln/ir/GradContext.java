package dev.kiln.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a {@link GradRule} sees of one forward node while the backward graph is built: the node, its
 * attributes with declared defaults (as in every {@link NodeContext}), the gradients of its outputs, which
 * inputs need a gradient, and a way to emit new nodes typed through the op table. The autodiff pass
 * implements the emission; gradients of a value used several times are summed by the pass, not by rules.
 */
public abstract class GradContext extends NodeContext {
    private final Node node;

    protected GradContext(OpDef def, Node node) {
        super(def, node.describe(), node.attributes());
        this.node = node;
    }

    /** The forward node whose inputs' gradients are being built. */
    public Node node() { return node; }

    /** Forward input i (its value is available to the backward nodes). */
    public Value input(int i) { return node.input(i); }

    /** Forward output i (its value is available to the backward nodes). */
    public Value output(int i) { return node.output(i); }

    @Override
    public int inputCount() { return node.inputs().size(); }

    @Override
    public boolean hasInput(int i) { return node.hasInput(i); }

    @Override
    public int outputCount() { return node.outputs().size(); }

    /**
     * The gradient of the loss with respect to output i, typed like that output; {@link Value#ABSENT} when the
     * output does not reach the loss (a rule then treats it as zero).
     */
    public abstract Value outputGrad(int i);

    /** True when input i is on a path from a trainable parameter, so its gradient is wanted. */
    public abstract boolean needsGrad(int i);

    /** Hands over the gradient of input i (same type as that input); inputs that do not need one are ignored. */
    public abstract void setInputGrad(int i, Value grad);

    /**
     * Emits a node of op {@code domain.op} (Kiln's own ops have domain {@link OpTable#KILN_DOMAIN}) and returns
     * its {@code outputs} outputs, typed by the op's shape rule.
     */
    public abstract List<Value> emitMulti(String domain, String op, Attributes attrs, int outputs, Value... inputs);

    /** A constant in the backward graph. */
    public abstract Value constant(Tensor value);

    /** The value of {@code v} when it is constant in the graph (initializer or constant subgraph). */
    public abstract Optional<Tensor> constantValue(Value v);

    /** Emits a single-output ONNX op. */
    public Value emit(String op, Attributes attrs, Value... inputs) {
        return emitMulti("", op, attrs, 1, inputs).get(0);
    }

    /** Emits a single-output ONNX op without attributes. */
    public Value emit(String op, Value... inputs) {
        return emit(op, Attributes.EMPTY, inputs);
    }

    /** Emits a single-output op of Kiln's domain (a gradient op such as {@code ReluGrad}). */
    public Value emitKiln(String op, Attributes attrs, Value... inputs) {
        return emitMulti(OpTable.KILN_DOMAIN, op, attrs, 1, inputs).get(0);
    }

    /** A scalar constant of {@code like}'s floating type. */
    public Value scalar(double v, Value like) {
        return constant(Tensor.wrapDoubles(like.dtype(), new int[0], new double[] {v}));
    }

    /** Zeros typed like {@code like} (a constant when its shape is static, else ConstantOfShape of its shape). */
    public Value zerosLike(Value like) {
        if (like.shape().isStatic()) {
            return constant(Tensor.zeros(like.dtype(), like.shape().toIntArray()));
        }
        Tensor zero = Tensor.wrapDoubles(like.dtype(), new int[] {1}, new double[] {0});
        return emit("ConstantOfShape", Attributes.builder().tensor("value", zero).build(), shapeOf(like));
    }

    /** The shape of {@code v} as an int64 vector: a constant when static, else {@code Shape(v)} (batch stays symbolic). */
    public Value shapeOf(Value v) {
        if (v.shape().isStatic()) {
            int[] dims = v.shape().toIntArray();
            long[] l = new long[dims.length];
            for (int k = 0; k < dims.length; k++) {
                l[k] = dims[k];
            }
            return constant(Tensor.wrapLongs(DType.INT64, new int[] {l.length}, l));
        }
        return emit("Shape", v);
    }

    /**
     * Reduces {@code grad}, the gradient of a broadcast result, back to the shape of {@code like} (an operand
     * of the broadcast): sums the leading axes {@code like} lacks, then the axes where {@code like} has size 1.
     * A symbolic batch dim present in both stays symbolic; returns {@code grad} itself when nothing is broadcast.
     */
    public Value sumToShape(Value grad, Value like) {
        Shape g = grad.shape();
        Shape s = like.shape();
        int lead = g.rank() - s.rank();
        if (lead < 0) {
            throw fail("gradient " + grad.type() + " has lower rank than operand " + like.type());
        }
        Value out = grad;
        if (lead > 0) {
            out = reduceSum(out, range(0, lead), false);
        }
        List<Long> kept = new ArrayList<>();
        for (int k = 0; k < s.rank(); k++) {
            Dim want = s.dim(k);
            Dim have = g.dim(lead + k);
            if (want.equals(have)) {
                continue;
            }
            if (want.isStatic() && want.value() == 1) {
                kept.add((long) k);
            } else {
                throw fail("cannot reduce gradient " + grad.type() + " to operand " + like.type() + " at axis " + k);
            }
        }
        if (!kept.isEmpty()) {
            out = reduceSum(out, kept.stream().mapToLong(Long::longValue).toArray(), true);
        }
        return out;
    }

    /** {@code ReduceSum(x, axes)} with the given keepdims. */
    public Value reduceSum(Value x, long[] axes, boolean keepDims) {
        Value axesValue = constant(Tensor.wrapLongs(DType.INT64, new int[] {axes.length}, axes.clone()));
        return emit("ReduceSum", Attributes.builder().i("keepdims", keepDims ? 1 : 0).build(), x, axesValue);
    }

    private static long[] range(int from, int to) {
        long[] r = new long[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    @Override
    protected String describeInputs() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < node.inputs().size(); i++) {
            if (node.hasInput(i)) {
                parts.add(def().inputName(i) + ": " + node.input(i).type());
            }
        }
        return String.join(", ", parts);
    }
}
