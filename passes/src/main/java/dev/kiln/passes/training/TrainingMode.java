package dev.kiln.passes.training;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites forward nodes into training mode as they are added to a training graph: BatchNormalization
 * normalizes with the batch's statistics and yields the next running mean/variance as PyTorch updates them
 * (the variance term is the unbiased batch variance), and Dropout drops with its mask as an output, which the
 * backward reuses. Other nodes are added as they are.
 */
final class TrainingMode {
    private final GraphAssembler out;
    private final Set<Value> state;

    TrainingMode(GraphAssembler out, Set<Value> state) {
        this.out = out;
        this.state = state;
    }

    /** Adds {@code n} in training mode; next values of state tensors it updates go to {@code nextState}. */
    void add(Node n, Map<Value, Value> nextState) {
        if (n.domain().isEmpty() && n.op().equals("BatchNormalization") && state.contains(n.input(3))) {
            batchNorm(n, nextState);
        } else if (n.domain().isEmpty() && n.op().equals("Dropout")) {
            dropout(n);
        } else {
            out.adopt(n);
        }
    }

    /**
     * {@code Y = BatchNormalization{training_mode=1}(X, scale, B, mean, var)} with the running statistics computed
     * beside it: ONNX's own running_var output uses the biased batch variance, PyTorch the unbiased one.
     */
    private void batchNorm(Node n, Map<Value, Value> nextState) {
        Value x = n.input(0);
        Attributes training = n.attributes().with("training_mode", new Attr.Int(1));
        out.adopt(new Node(n.op(), n.domain(), n.name(), n.inputs(), List.of(n.output(0)), training));
        int firstStatistic = out.nodes().size();

        String hint = n.output(0).name() + ".stats";
        int rank = x.shape().rank();
        List<Long> axisList = new ArrayList<>();
        axisList.add(0L);
        for (int k = 2; k < rank; k++) {
            axisList.add((long) k);
        }
        long[] axesArray = axisList.stream().mapToLong(Long::longValue).toArray();
        Value axes = out.constant(hint + ".axes", Tensor.ofInt64s(axesArray));
        Attributes keep = Attributes.builder().i("keepdims", 1).build();
        Attributes drop = Attributes.builder().i("keepdims", 0).build();
        Value meanKept = out.emit1("ReduceMean", keep, hint, x, axes);
        Value centered = out.emit1("Sub", Attributes.EMPTY, hint, x, meanKept);
        Value squared = out.emit1("Mul", Attributes.EMPTY, hint, centered, centered);
        Value biasedVar = out.emit1("ReduceMean", drop, hint, squared, axes);
        Value mean = out.emit1("Squeeze", Attributes.EMPTY, hint, meanKept, axes);

        // momentum is a float32 attribute; its shortest decimal form recovers PyTorch's 1 - 0.1 exactly.
        double momentum = Double.parseDouble(Float.toString(OpTable.get().floatAttr(n, "momentum")));
        int unbiasingStart = out.nodes().size();
        Value unbiasing = unbiasing(x, axesArray, hint);
        int meanStart = out.nodes().size();
        Value keepOld = scalar(x.dtype(), momentum, hint);
        Value takeNew = scalar(x.dtype(), 1 - momentum, hint);

        Value runningMean = n.input(3);
        Value runningVar = n.input(4);
        Value meanNext = out.emit("", "Add", Attributes.EMPTY, List.of(
                out.emit1("Mul", Attributes.EMPTY, hint, runningMean, keepOld),
                out.emit1("Mul", Attributes.EMPTY, hint, mean, takeNew)), 1, "",
                List.of(TrainingGraph.nextName(runningMean.name()))).get(0);
        int varStart = out.nodes().size();
        Value unbiasedVar = out.emit1("Mul", Attributes.EMPTY, hint, biasedVar, unbiasing);
        Value varNext = out.emit("", "Add", Attributes.EMPTY, List.of(
                out.emit1("Mul", Attributes.EMPTY, hint, runningVar, keepOld),
                out.emit1("Mul", Attributes.EMPTY, hint, unbiasedVar, takeNew)), 1, "",
                List.of(TrainingGraph.nextName(runningVar.name()))).get(0);
        nextState.put(runningMean, meanNext);
        nextState.put(runningVar, varNext);
        // Named after the BatchNorm's path and what they compute, so generated methods read as such (bn1RunningMean).
        String name = n.name().isEmpty() ? n.output(0).name() : n.name();
        String path = name.lastIndexOf('/') > 0 ? name.substring(0, name.lastIndexOf('/')) : name;
        List<Node> nodes = out.nodes();
        for (int k = firstStatistic; k < nodes.size(); k++) {
            String role = k < unbiasingStart ? "batch_stats" : k >= meanStart && k < varStart ? "running_mean"
                    : "running_var";
            Node s = nodes.get(k);
            nodes.set(k, new Node(s.op(), s.domain(), path + "/" + role + "/" + s.op(), s.inputs(), s.outputs(),
                    s.attributes()));
        }
    }

    /** {@code M / (M - 1)} for M values per channel: a constant when the reduced dims are static. */
    private Value unbiasing(Value x, long[] axes, String hint) {
        Shape s = x.shape();
        boolean isStatic = true;
        long m = 1;
        for (long a : axes) {
            isStatic &= s.dim((int) a).isStatic();
            m *= isStatic ? s.dim((int) a).value() : 1;
        }
        if (isStatic) {
            return scalar(x.dtype(), m / (double) (m - 1), hint);
        }
        if (!s.dim(1).isStatic()) {
            throw new IllegalArgumentException(x.name() + ": BatchNormalization training needs a static channel "
                    + "count, but the input is " + x.type());
        }
        Value size = out.emit1("Cast", Attributes.builder().i("to", x.dtype().onnxCode()).build(), hint,
                out.emit1("Size", Attributes.EMPTY, hint, x));
        Value count = out.emit1("Div", Attributes.EMPTY, hint, size, scalar(x.dtype(), s.dim(1).value(), hint));
        Value less = out.emit1("Sub", Attributes.EMPTY, hint, count, scalar(x.dtype(), 1, hint));
        return out.emit1("Div", Attributes.EMPTY, hint, count, less);
    }

    /**
     * {@code Dropout(data, ratio, training_mode=true)} with its mask output; without a seed attribute the mask is
     * drawn from the evaluation's random source, so each training step draws a new one.
     */
    private void dropout(Node n) {
        Value ratio = n.hasInput(1) ? n.input(1) : out.constant(n.output(0).name() + ".ratio", Tensor.scalarFloat(0.5f));
        Value trainingMode = out.constant(n.output(0).name() + ".training",
                Tensor.wrapBools(new int[0], new boolean[] {true}));
        Value mask = n.hasOutput(1) ? n.output(1)
                : new Value(out.fresh(n.output(0).name() + ".mask"), new TensorType(DType.BOOL,
                        n.output(0).shape()));
        out.adopt(new Node(n.op(), n.domain(), n.name(), List.of(n.input(0), ratio, trainingMode),
                List.of(n.output(0), mask), n.attributes()));
    }

    private Value scalar(DType dtype, double v, String hint) {
        return out.constant(hint + ".c", Tensor.wrapDoubles(dtype, new int[0], new double[] {v}));
    }
}
