package dev.kiln.codegen;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Code generation's analysis for training: the inference class's plan (the eval graph, with parameters and
 * state in fields under their ONNX names) and the trainer's plan (the training graph, whose parameters and state
 * are the trainer's fields, whose gradients and next state go to fields, and whose labels come in as
 * {@code int[]}), plus what the trainer's API needs to know: which output is the loss, which is whose gradient,
 * and the label range. Nothing here writes Java; {@link TrainerWriter} does.
 */
final class TrainerPlan {
    /** Identifiers the trainer class declares itself (its API and bookkeeping), kept from generated names. */
    static final List<String> TRAINER_NAMES = List.of("optimizer", "optimizerState", "parameters", "gradients",
            "stepCount", "training", "evalNet", "netWeights", "step", "train", "eval", "isTraining", "create", "run",
            "saveWeights", "gradient", "parameter", "parameterNames", "firstNonFinite", "nonFiniteAt", "nonFiniteArray", "PARAMETER_NAMES",
            "requireLabels", "toString", "DEFAULT_OPTIMIZER", DropoutTrainingEmitter.SEED_FIELD);

    /** A trainable parameter: its name, the training graph's input for it and the output holding its gradient. */
    record Parameter(String name, Value input, Value gradient) {}

    /** A state tensor (BatchNorm running statistics): its input and the output holding its next value. */
    record State(String name, Value input, Value next) {}

    /** A frozen parameter: read from the weights like a parameter, no gradient, never updated. */
    record Frozen(String name, Value input) {}

    final ModelPlan net;
    final ModelPlan trainer;
    final String netClass;
    final List<Value> dataInputs = new ArrayList<>();
    final Value labels;
    final boolean integerLabels;
    /** Labels must lie in {@code [0, classes)} when integer. */
    final int classes;
    final Value loss;
    final List<Parameter> parameters = new ArrayList<>();
    final List<State> state = new ArrayList<>();
    final List<Frozen> frozen = new ArrayList<>();
    /** The optimizer SPEC of a generated {@code create(net)}, if any. */
    final Optional<String> defaultOptimizer;
    /** The seed of the trainer's dropout masks. */
    final long dropoutSeed;

    /**
     * @param trainGraph inputs: data, labels, one per parameter, one per state tensor, one per frozen parameter;
     *     outputs: loss, then {@code grad.<parameter>} per parameter, then {@code <state>.next} per state tensor
     * @param evalGraph the inference graph with the same parameters, state and frozen parameters as inputs after
     *     the data inputs
     * @param parameterValues starting value of each parameter, in ONNX initializer order
     * @param stateValues starting value of each state tensor
     * @param frozenValues value of each frozen parameter
     */
    TrainerPlan(Graph trainGraph, Graph evalGraph, Map<String, Tensor> parameterValues, Map<String, Tensor> stateValues,
                Map<String, Tensor> frozenValues, Optional<String> defaultOptimizer, long dropoutSeed,
                CodegenOptions options) {
        this.defaultOptimizer = defaultOptimizer;
        this.dropoutSeed = dropoutSeed;
        trainGraph = floatMasks(trainGraph);
        Map<String, Tensor> fields = new LinkedHashMap<>(parameterValues);
        fields.putAll(stateValues);
        fields.putAll(frozenValues);
        this.netClass = options.className();
        this.net = new ModelPlan(evalGraph, options, new FieldInputs(fields, java.util.Set.of(),
                List.of(TrainableNet.WEIGHTS_FIELD)));
        int firstField = trainGraph.inputs().size() - fields.size();
        if (firstField < 2) {
            throw new IllegalArgumentException("training graph " + trainGraph.name() + " needs data inputs, labels, then "
                    + fields.size() + " parameter and state inputs; it has " + trainGraph.inputs().size() + " inputs");
        }
        this.labels = trainGraph.inputs().get(firstField - 1);
        this.integerLabels = labels.dtype().isInteger();
        dataInputs.addAll(trainGraph.inputs().subList(0, firstField - 1));
        CodegenOptions trainerOptions = new CodegenOptions(options.packageName(), options.className() + "Trainer",
                options.threads(), options.sourceName());
        this.trainer = new ModelPlan(trainGraph, trainerOptions, new FieldInputs(fields,
                integerLabels ? java.util.Set.of(labels.name()) : java.util.Set.of(), TRAINER_NAMES));
        List<Value> outs = trainGraph.outputs();
        if (outs.size() != 1 + parameterValues.size() + stateValues.size()) {
            throw new IllegalArgumentException("training graph " + trainGraph.name() + " has " + outs.size()
                    + " outputs; expected the loss, " + parameterValues.size() + " gradients and " + stateValues.size()
                    + " next states");
        }
        this.loss = outs.get(0);
        int i = 0;
        for (String name : parameterValues.keySet()) {
            Value in = trainGraph.inputs().get(firstField + i);
            Value grad = outs.get(1 + i);
            requireName(in, name);
            requireName(grad, "grad." + name);
            parameters.add(new Parameter(name, in, grad));
            i++;
        }
        for (String name : stateValues.keySet()) {
            Value in = trainGraph.inputs().get(firstField + i);
            Value next = outs.get(1 + i);
            requireName(in, name);
            requireName(next, name + ".next");
            state.add(new State(name, in, next));
            i++;
        }
        for (String name : frozenValues.keySet()) {
            Value in = trainGraph.inputs().get(firstField + i);
            requireName(in, name);
            frozen.add(new Frozen(name, in));
            i++;
        }
        this.classes = integerLabels ? classCount(trainGraph) : 0;
        // Parameters and state take their fields and resource entries first, in ONNX order, before any kernel asks.
        for (String name : fields.keySet()) {
            net.rawWeight(name);
            trainer.rawWeight(name);
        }
    }

    /**
     * The training graph with each Dropout mask (BOOL, read only by DropoutGrad) retyped to float32, 1 for kept: the
     * trainer holds float tensors, and its Dropout kernels write and read the mask as floats.
     */
    private static Graph floatMasks(Graph g) {
        Map<Value, Value> retyped = new java.util.IdentityHashMap<>();
        for (Node n : g.nodes()) {
            if (n.domain().isEmpty() && n.op().equals("Dropout") && n.hasOutput(1)
                    && n.output(1).dtype() == dev.kiln.ir.DType.BOOL) {
                Value m = n.output(1);
                retyped.put(m, new Value(m.name(), new dev.kiln.ir.TensorType(dev.kiln.ir.DType.FLOAT32, m.shape())));
            }
        }
        if (retyped.isEmpty()) {
            return g;
        }
        List<Node> nodes = new ArrayList<>();
        for (Node n : g.nodes()) {
            nodes.add(new Node(n.op(), n.domain(), n.name(), n.inputs().stream().map(v -> retyped.getOrDefault(v, v)).toList(),
                    n.outputs().stream().map(v -> retyped.getOrDefault(v, v)).toList(), n.attributes()));
        }
        return new Graph(g.name(), g.inputs(), g.initializers(), nodes,
                g.outputs().stream().map(v -> retyped.getOrDefault(v, v)).toList());
    }

    /** True when the trainer has a Dropout in training mode, whose masks need the seed. */
    boolean hasDropout() {
        return trainer.graph.nodes().stream().anyMatch(n -> n.domain().isEmpty() && n.op().equals("Dropout"));
    }

    private static void requireName(Value v, String expected) {
        if (!v.name().equals(expected)) {
            throw new IllegalArgumentException("training graph value '" + v.name() + "' is where '" + expected
                    + "' belongs (inputs: data, labels, parameters, state, frozen; outputs: loss, grad.<p>, <state>.next)");
        }
    }

    /** The class count of the loss that reads the labels: the last dim of its scores, [N, C] for labels [N]. */
    private int classCount(Graph g) {
        for (Node n : g.nodes()) {
            if (!n.inputs().contains(labels)) {
                continue;
            }
            Optional<Value> scores = n.inputs().stream()
                    .filter(v -> !v.isAbsent() && v != labels && v.dtype().isFloat() && v.type().rank() == labels.type().rank() + 1)
                    .findFirst();
            if (scores.isPresent() && scores.get().shape().dim(1).isStatic()) {
                return Math.toIntExact(scores.get().shape().dim(1).value());
            }
        }
        throw new UnsupportedOpException("training graph " + g.name() + ": no loss node reads labels '" + labels.name()
                + "' beside scores [N, C] with a static class count");
    }

    String trainerClass() {
        return trainer.options.className();
    }
}
