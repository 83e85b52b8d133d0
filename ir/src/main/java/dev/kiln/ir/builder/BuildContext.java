package dev.kiln.ir.builder;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The state the layers of one {@link ModelBuilder} share: the graph under construction, node and layer
 * naming, and where parameters come from.
 *
 * <p>Nodes are named as PyTorch's ONNX exporter names them ({@code /fc1/Gemm} producing
 * {@code /fc1/Gemm_output_0}, unscoped ops {@code /Relu}, {@code /Relu_1}, ...), so a model written with the
 * builder reads like the import of the equivalent PyTorch export and error messages point at familiar names.
 */
final class BuildContext {
    final GraphBuilder graph;
    private final InitScheme init;
    private final WeightSource weights;
    private final boolean keepDropout;
    private final Map<String, Integer> nodeCounters = new HashMap<>();
    private final Map<String, Integer> layerCounters = new HashMap<>();
    private final Set<String> layerNames = new HashSet<>();
    private final List<String> parameterNames = new ArrayList<>();

    BuildContext(GraphBuilder graph, InitScheme init, WeightSource weights, boolean keepDropout) {
        this.graph = graph;
        this.init = init;
        this.weights = weights;
        this.keepDropout = keepDropout;
    }

    InitScheme init() { return init; }

    WeightSource weights() { return weights; }

    boolean keepDropout() { return keepDropout; }

    /** Names of the parameters created so far, in creation order. */
    List<String> parameterNames() { return List.copyOf(parameterNames); }

    /**
     * Claims a layer name: {@code requested} if not empty, else {@code prefix} with the next free number
     * ({@code fc1}, {@code fc2}, ...), as the attribute names of a PyTorch module usually go.
     */
    String layerName(String requested, String prefix) {
        if (!requested.isEmpty()) {
            if (!layerNames.add(requested)) {
                throw new WeightException("layer name '" + requested + "' is used twice (parameter names "
                        + requested + ".* must be unique)");
            }
            return requested;
        }
        int k = layerCounters.getOrDefault(prefix, 1);
        while (layerNames.contains(prefix + k)) {
            k++;
        }
        layerCounters.put(prefix, k + 1);
        layerNames.add(prefix + k);
        return prefix + k;
    }

    /** Starts a node of {@code op} in {@code scope} (a layer name, or empty) with {@code outputs} named outputs. */
    GraphBuilder.NodeSpec node(String scope, String op, int outputs) {
        String base = scope.isEmpty() ? "/" + op : "/" + scope + "/" + op;
        int k = nodeCounters.merge(base, 1, Integer::sum) - 1;
        String name = k == 0 ? base : base + "_" + k;
        String[] outNames = new String[outputs];
        for (int i = 0; i < outputs; i++) {
            outNames[i] = name + "_output_" + i;
        }
        return graph.op(op).name(name).outputNames(outNames);
    }

    /** A single-output node of {@code op} in {@code scope}, on {@code inputs}. */
    GraphBuilder.NodeSpec node(String scope, String op, Value... inputs) {
        return node(scope, op, 1).inputs(inputs);
    }

    /** A {@code Constant} node holding {@code value}, as the exporter emits for shapes and indices. */
    Value constant(String scope, Tensor value) {
        return node(scope, "Constant", 1).attr("value", new Attr.TensorValue(value)).output();
    }

    /** A scalar floating {@code Constant} of {@code dtype}. */
    Value scalar(String scope, DType dtype, double v) {
        return constant(scope, Tensor.ofDoubles(dtype, new int[0], v));
    }

    /**
     * The initializer {@code layer.suffix}: a given tensor of that name, or {@code fresh}'s.
     *
     * @param layerDescription how messages name the layer, e.g. {@code 'fc1' (Dense 784 -> 512)}
     */
    Value parameter(String layer, String suffix, String layerDescription, DType dtype, int[] shape,
                    Supplier<Tensor> fresh) {
        String name = layer + "." + suffix;
        Value v = graph.initializer(name, weights.take(name, layerDescription, dtype, shape, fresh));
        parameterNames.add(name);
        return v;
    }

    /** A parameter drawn uniformly from {@code ±bound} when not given. */
    Value uniformParameter(String layer, String suffix, String layerDescription, DType dtype, int[] shape,
                           double bound) {
        String name = layer + "." + suffix;
        return parameter(layer, suffix, layerDescription, dtype, shape, () -> init.uniform(name, dtype, shape, bound));
    }

    /** A parameter filled with {@code value} when not given. */
    Value filledParameter(String layer, String suffix, String layerDescription, DType dtype, int[] shape,
                          double value) {
        return parameter(layer, suffix, layerDescription, dtype, shape, () -> InitScheme.filled(dtype, shape, value));
    }
}
