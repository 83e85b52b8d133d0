package dev.kiln.passes.training;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.GradRule;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Turns an inference graph into a {@link TrainingGraph}: the forward in training mode, the loss on the first
 * output, and a reverse-mode backward built from each op's gradient rule for the trainable parameters only.
 *
 * <p>The backward walks the forward nodes in reverse topological order from the loss; a node is visited when
 * one of its outputs has a gradient and one of its inputs needs one (a float value on a path from a trainable
 * parameter to the loss). Gradients reaching a value along several uses are summed with {@code Add}.
 */
public final class Autodiff {
    private final TrainingSpec spec;
    private final Set<String> constants;

    public Autodiff(TrainingSpec spec) {
        this(spec, Set.of());
    }

    /**
     * @param constants names of initializers that are constants of the model, never parameters: those a pass folded
     *     from the model's Constant nodes (an epsilon, a power's exponent), see {@link #constantValues}
     */
    public Autodiff(TrainingSpec spec, Set<String> constants) {
        this.spec = spec;
        this.constants = Set.copyOf(constants);
    }

    /** {@code new Autodiff(spec).apply(graph)}. */
    public static TrainingGraph build(Graph graph, TrainingSpec spec) {
        return new Autodiff(spec).apply(graph);
    }

    /** {@code new Autodiff(spec, constants).apply(graph)}. */
    public static TrainingGraph build(Graph graph, TrainingSpec spec, Set<String> constants) {
        return new Autodiff(spec, constants).apply(graph);
    }

    /**
     * The values of {@code model} computed from no initializer and no input: the outputs of its Constant nodes and of
     * every node reading only such values. A pass may fold them into initializers; they stay constants, as the
     * exporter that wrote them as nodes meant (PyTorch writes a layer's Python scalars so).
     */
    public static Set<String> constantValues(Graph model) {
        Set<String> out = new java.util.HashSet<>();
        for (Node n : model.nodes()) {
            boolean fromConstants = n.inputs().stream().allMatch(v -> v.isAbsent() || out.contains(v.name()));
            // A control-flow body may read parameters of the outer graph, so If and Loop never count.
            boolean subgraphs = n.attributes().asMap().values().stream().anyMatch(a -> a instanceof dev.kiln.ir.Attr.GraphValue);
            if (fromConstants && !subgraphs) {
                n.outputs().forEach(v -> out.add(v.name()));
            }
        }
        return out;
    }

    /** The name used in messages and {@code --print-after}. */
    public String name() { return "autodiff"; }

    /** The training graph of {@code graph}; {@code graph} itself is not changed. */
    public TrainingGraph apply(Graph graph) {
        return new Run(graph).build();
    }

    /** One application: the state of building one training graph. */
    private final class Run {
        private final Graph model;
        private final Value prediction;
        private final Map<Value, Tensor> state = new LinkedHashMap<>();
        private final Map<Value, Tensor> parameters = new LinkedHashMap<>();
        private final Map<Value, Tensor> frozen = new LinkedHashMap<>();
        private final GraphAssembler out;
        private final Map<Value, Value> nextState = new IdentityHashMap<>();
        private final Map<Value, List<Value>> contributions = new IdentityHashMap<>();
        private Set<Value> needsGrad;

        Run(Graph model) {
            this.model = model;
            if (model.outputs().isEmpty()) {
                throw new GraphException("graph '" + model.name() + "' has no output to train");
            }
            this.prediction = model.outputs().get(0);
            if (!prediction.dtype().isFloat()) {
                throw new GraphException("graph '" + model.name() + "': the loss needs a floating output, but '"
                        + prediction.name() + "' is " + prediction.type());
            }
            List<String> names = new ArrayList<>();
            model.inputs().forEach(v -> names.add(v.name()));
            model.initializers().keySet().forEach(v -> names.add(v.name()));
            model.nodes().forEach(n -> n.outputs().forEach(v -> names.add(v.name())));
            this.out = new GraphAssembler(model.name() + "_training", names);
        }

        TrainingGraph build() {
            findStateAndParameters();
            Value labels = new Value(TrainingGraph.LABELS, labelsType());
            if (model.findValue(TrainingGraph.LABELS).isPresent()) {
                throw new GraphException("graph '" + model.name() + "' already has a value named '"
                        + TrainingGraph.LABELS + "', the training graph's labels input");
            }
            model.inputs().forEach(out::input);
            out.input(labels);
            parameters.keySet().forEach(out::input);
            state.keySet().forEach(out::input);
            frozen.keySet().forEach(out::input);
            model.initializers().forEach((v, t) -> {
                if (!parameters.containsKey(v) && !state.containsKey(v) && !frozen.containsKey(v)) {
                    out.initializer(v, t);
                }
            });
            TrainingMode forward = new TrainingMode(out, state.keySet());
            for (Node n : model.nodes()) {
                forward.add(n, nextState);
            }
            Value loss = LossBuilder.emit(out, spec, prediction, labels);
            List<Node> forwardNodes = List.copyOf(out.nodes());
            needsGrad = differentiable(forwardNodes, loss);
            contributions.computeIfAbsent(loss, k -> new ArrayList<>())
                    .add(out.constant("grad.loss.seed", Tensor.wrapDoubles(loss.dtype(), new int[0], new double[] {1})));
            for (int i = forwardNodes.size() - 1; i >= 0; i--) {
                backward(forwardNodes.get(i));
            }
            List<Value> outputs = new ArrayList<>();
            outputs.add(loss);
            Map<Value, Value> renames = new IdentityHashMap<>();
            for (Value p : parameters.keySet()) {
                outputs.add(named(gradient(p, TrainingGraph.gradName(p.name())), TrainingGraph.gradName(p.name()),
                        renames, forwardNodes.size()));
            }
            for (Value s : state.keySet()) {
                outputs.add(nextState.get(s));
            }
            Graph training = applyRenames(out.build(outputs), renames);
            GraphVerifier.verify(training);
            Graph eval = evalGraph();
            Map<String, Tensor> params = new LinkedHashMap<>();
            parameters.forEach((v, t) -> params.put(v.name(), t));
            Map<String, Tensor> st = new LinkedHashMap<>();
            state.forEach((v, t) -> st.put(v.name(), t));
            Map<String, Tensor> fixed = new LinkedHashMap<>();
            frozen.forEach((v, t) -> fixed.put(v.name(), t));
            return new TrainingGraph(training, eval, params, st, fixed, spec);
        }

        /**
         * State = BatchNormalization running mean/var initializers; parameters = the other float initializers,
         * not frozen, with a float path to the prediction (shape-only uses such as {@code Shape(w)} do not count);
         * frozen = those the spec names that would otherwise be parameters.
         */
        private void findStateAndParameters() {
            for (Node n : model.nodes()) {
                if (n.domain().isEmpty() && n.op().equals("BatchNormalization")) {
                    for (int i = 3; i <= 4; i++) {
                        Value v = n.input(i);
                        if (!model.isInitializer(v)) {
                            throw new UnsupportedOpException(n.describe() + ": training needs the running "
                                    + (i == 3 ? "mean" : "variance") + " '" + v.name() + "' to be an initializer");
                        }
                        if (state.put(v, model.initializers().get(v)) != null) {
                            throw new UnsupportedOpException(n.describe() + ": running statistic '" + v.name()
                                    + "' is shared with another BatchNormalization node");
                        }
                    }
                }
            }
            // Dropout's ratio is a hyperparameter, not a weight, though it is a float on the path to the loss.
            Set<Value> hyperparameters = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Node n : model.nodes()) {
                if (n.domain().isEmpty() && n.op().equals("Dropout") && n.hasInput(1)) {
                    hyperparameters.add(n.input(1));
                }
            }
            // An initializer feeding an input the op table declares not trained (Attention's attn_mask) is a
            // constant of the model, like Dropout's ratio: it is never made a parameter.
            for (Node n : model.nodes()) {
                Optional<OpDef> def = OpTable.get().find(n.domain(), n.op());
                for (int k = 0; k < n.inputs().size() && def.isPresent(); k++) {
                    if (n.hasInput(k) && def.get().isNotTrained(k) && model.isInitializer(n.input(k))) {
                        hyperparameters.add(n.input(k));
                    }
                }
            }
            Set<Value> candidates = Collections.newSetFromMap(new IdentityHashMap<>());
            model.initializers().forEach((v, t) -> {
                if (v.dtype().isFloat() && !state.containsKey(v) && !hyperparameters.contains(v)
                        && !spec.frozen().contains(v.name()) && !constants.contains(v.name())) {
                    candidates.add(v);
                }
            });
            for (String f : spec.frozen()) {
                if (model.initializers().keySet().stream().noneMatch(v -> v.name().equals(f))) {
                    throw new GraphException("graph '" + model.name() + "': frozen parameter '" + f
                            + "' is not an initializer");
                }
            }
            Set<Value> reaching = reaching(model.nodes(), prediction);
            // A frozen initializer that would otherwise be a parameter is read like one, never updated.
            model.initializers().forEach((v, t) -> {
                if (!reaching.contains(v)) {
                    return;
                }
                if (candidates.contains(v)) {
                    parameters.put(v, t);
                } else if (spec.frozen().contains(v.name()) && v.dtype().isFloat() && !state.containsKey(v)
                        && !hyperparameters.contains(v)) {
                    frozen.put(v, t);
                }
            });
            if (parameters.isEmpty()) {
                throw new GraphException("graph '" + model.name() + "' has no trainable parameter (float initializers "
                        + "on a path to '" + prediction.name() + "')");
            }
        }

        private TensorType labelsType() {
            Shape p = prediction.shape();
            if (!spec.loss().classLabels()) {
                return prediction.type();
            }
            if (p.rank() < 2) {
                throw new GraphException("graph '" + model.name() + "': " + spec.loss() + " needs an output shaped "
                        + "(N, C, d1..) but '" + prediction.name() + "' is " + prediction.type());
            }
            List<Dim> dims = new ArrayList<>();
            dims.add(p.dim(0));
            for (int k = 2; k < p.rank(); k++) {
                dims.add(p.dim(k));
            }
            return new TensorType(DType.INT64, new Shape(dims));
        }

        /** Values that need a gradient: float, reached from a parameter, and on a path to the loss. */
        private Set<Value> differentiable(List<Node> nodes, Value loss) {
            Set<Value> active = Collections.newSetFromMap(new IdentityHashMap<>());
            active.addAll(parameters.keySet());
            for (Node n : nodes) {
                if (n.inputs().stream().anyMatch(active::contains)) {
                    for (Value o : n.outputs()) {
                        if (!o.isAbsent() && o.dtype().isFloat()) {
                            active.add(o);
                        }
                    }
                }
            }
            Set<Value> reach = reaching(nodes, loss);
            reach.retainAll(active);
            return reach;
        }

        private void backward(Node n) {
            boolean wanted = false;
            for (int i = 0; i < n.inputs().size(); i++) {
                wanted |= n.hasInput(i) && needsGrad.contains(n.input(i));
            }
            List<Value> outGrads = new ArrayList<>();
            boolean any = false;
            for (Value o : n.outputs()) {
                Value g = o.isAbsent() || !contributions.containsKey(o) ? Value.ABSENT : gradient(o, "");
                outGrads.add(g);
                any |= !g.isAbsent();
            }
            if (!wanted || !any) {
                return;
            }
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            if (n.domain().isEmpty() && dev.kiln.ir.Subgraphs.hasBody(n)) {
                throw new UnsupportedOpException("no gradient through " + n.describe() + ": Kiln does not "
                        + "differentiate through control flow (If, Loop, Scan), but a trainable parameter reaches the loss"
                        + " through it (freeze the parameters before it with TrainingSpec.frozen)");
            }
            GradRule rule = def.gradRule().orElseThrow(() -> new UnsupportedOpException(n.describe()
                    + ": op " + def + " has no gradient rule, but a trainable parameter reaches the loss through it"
                    + " (freeze the parameters before it with TrainingSpec.frozen)"));
            Context ctx = new Context(def, n, outGrads);
            rule.apply(ctx);
            nameBackwardNodes(n, ctx);
            for (int i = 0; i < n.inputs().size(); i++) {
                if (ctx.needsGrad(i) && ctx.given.get(i) == null) {
                    throw new IllegalStateException(n.describe() + ": the gradient rule of " + def
                            + " gave no gradient for input " + def.inputName(i));
                }
                if (ctx.given.get(i) != null) {
                    contributions.computeIfAbsent(n.input(i), k -> new ArrayList<>()).add(ctx.given.get(i));
                }
            }
        }

        /**
         * Names the nodes a gradient rule emitted after the forward node, so generated methods read as what they compute:
         * the node giving a parameter's gradient {@code <param>/grad/<Op>} (method {@code fc1WeightGrad}), one giving a
         * data input's {@code <forward path>/grad_<input>/<Op>} ({@code fc1GradInput}, {@code conv1GradX}), the others
         * {@code <forward path>/grad/<Op>} ({@code fc1Grad}). The last path segment names the op, as in PyTorch exports.
         */
        private void nameBackwardNodes(Node forward, Context ctx) {
            String path = forwardPath(forward);
            Map<Value, String> given = new IdentityHashMap<>();
            for (int i = 0; i < forward.inputs().size(); i++) {
                Value g = ctx.given.get(i);
                if (g == null) {
                    continue;
                }
                Value in = forward.input(i);
                String what = parameters.containsKey(in) ? in.name() + "/grad"
                        : path + "/grad_" + (forward.inputs().size() == 1 || i == 0 ? "input"
                                : ctx.def().inputName(i).toLowerCase(java.util.Locale.ROOT));
                given.putIfAbsent(g, what);
            }
            List<Node> nodes = out.nodes();
            for (int k = ctx.firstEmitted; k < nodes.size(); k++) {
                Node b = nodes.get(k);
                String base = b.outputs().stream().filter(given::containsKey).map(given::get).findFirst()
                        .orElse(path + "/grad");
                nodes.set(k, new Node(b.op(), b.domain(), base + "/" + b.op(), b.inputs(), b.outputs(), b.attributes()));
            }
        }

        /** The forward node's name without its op segment ({@code /fc1/Gemm} -> {@code /fc1}), or its output's name. */
        private static String forwardPath(Node n) {
            String name = n.name().isEmpty() ? n.output(0).name() : n.name();
            int slash = name.lastIndexOf('/');
            return slash > 0 ? name.substring(0, slash) : name;
        }

        /** The gradient of {@code v}: its one contribution, or their sum (the last Add named {@code name}). */
        private Value gradient(Value v, String name) {
            List<Value> parts = contributions.get(v);
            if (parts == null || parts.isEmpty()) {
                throw new IllegalStateException("no gradient reached '" + v.name() + "'");
            }
            if (parts.size() > 1) {
                Value sum = parts.get(0);
                for (int k = 1; k < parts.size(); k++) {
                    boolean last = k == parts.size() - 1;
                    sum = out.emit("", "Add", Attributes.EMPTY, List.of(sum, parts.get(k)), 1, "grad." + v.name(),
                            last && !name.isEmpty() ? List.of(name) : List.of()).get(0);
                }
                parts.clear();
                parts.add(sum);
            }
            return parts.get(0);
        }

        /**
         * {@code g} under the public name {@code name}: a backward value is renamed where it is produced (recorded
         * in {@code renames}); a value that cannot be renamed (a forward value, or one already named) gets an Identity.
         */
        private Value named(Value g, String name, Map<Value, Value> renames, int forwardCount) {
            if (g.name().equals(name)) {
                return g;
            }
            boolean backwardValue = false;
            for (int i = forwardCount; i < out.nodes().size() && !backwardValue; i++) {
                backwardValue = out.nodes().get(i).outputs().contains(g);
            }
            if (backwardValue && !renames.containsKey(g)) {
                Value renamed = new Value(out.fresh(name), g.type());
                if (!renamed.name().equals(name)) {
                    throw new GraphException("graph '" + model.name() + "' already has a value named '" + name + "'");
                }
                renames.put(g, renamed);
                return renamed;
            }
            return out.emit("", "Identity", Attributes.EMPTY, List.of(g), 1, "", List.of(name)).get(0);
        }

        private Graph evalGraph() {
            List<Value> inputs = new ArrayList<>(model.inputs());
            inputs.addAll(parameters.keySet());
            inputs.addAll(state.keySet());
            inputs.addAll(frozen.keySet());
            Map<Value, Tensor> inits = new LinkedHashMap<>(model.initializers());
            inits.keySet().removeAll(parameters.keySet());
            inits.keySet().removeAll(state.keySet());
            inits.keySet().removeAll(frozen.keySet());
            Graph g = new Graph(model.name(), inputs, inits, model.nodes(), model.outputs());
            GraphVerifier.verify(g);
            return g;
        }

        /** The gradient context of one forward node. */
        private final class Context extends GradContext {
            private final List<Value> outGrads;
            private final List<Value> given;
            private final String hint;
            /** The index in the assembled graph of the first node this rule emits. */
            private final int firstEmitted;

            Context(OpDef def, Node n, List<Value> outGrads) {
                super(def, n);
                this.outGrads = outGrads;
                this.given = new ArrayList<>(Collections.nCopies(n.inputs().size(), null));
                this.firstEmitted = out.nodes().size();
                this.hint = "bw." + (n.name().isEmpty() ? n.outputs().get(0).name() : n.name());
            }

            @Override
            public Value outputGrad(int i) { return i < outGrads.size() ? outGrads.get(i) : Value.ABSENT; }

            @Override
            public boolean needsGrad(int i) { return hasInput(i) && needsGrad.contains(input(i)); }

            @Override
            public void setInputGrad(int i, Value grad) {
                if (!needsGrad(i)) {
                    return;
                }
                TensorType want = input(i).type();
                if (grad.dtype() != want.dtype() || !sameShape(grad.shape(), want.shape())) {
                    throw new IllegalStateException(nodeDescription() + ": the gradient rule of " + def()
                            + " gave " + grad.type() + " for input " + def().inputName(i) + " of type " + want);
                }
                if (given.get(i) != null) {
                    throw new IllegalStateException(nodeDescription() + ": the gradient rule of " + def()
                            + " set the gradient of input " + def().inputName(i) + " twice");
                }
                given.set(i, grad);
            }

            @Override
            public List<Value> emitMulti(String domain, String op, Attributes attrs, int outputs, Value... inputs) {
                return out.emit(domain, op, attrs, List.of(inputs), outputs, hint, List.of());
            }

            @Override
            public Value constant(Tensor value) { return out.constant(hint + ".const", value); }

            @Override
            public Optional<Tensor> constantValue(Value v) { return out.constant(v); }
        }
    }

    /**
     * {@code sink} and the float values it is computed from through float values; shape-only uses and inputs the
     * op table declares non-differentiable (Dropout's ratio, Clip's bounds) cut the path.
     */
    private static Set<Value> reaching(List<Node> nodes, Value sink) {
        Set<Value> reach = Collections.newSetFromMap(new IdentityHashMap<>());
        reach.add(sink);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            if (n.outputs().stream().anyMatch(reach::contains)) {
                Optional<OpDef> def = OpTable.get().find(n.domain(), n.op());
                for (int k = 0; k < n.inputs().size(); k++) {
                    Value v = n.inputs().get(k);
                    boolean differentiable = def.isEmpty() || def.get().isDifferentiable(k);
                    if (!v.isAbsent() && v.dtype().isFloat() && differentiable) {
                        reach.add(v);
                    }
                }
            }
        }
        return reach;
    }

    private static boolean sameShape(Shape a, Shape b) {
        if (a.rank() != b.rank()) {
            return false;
        }
        for (int k = 0; k < a.rank(); k++) {
            Dim x = a.dim(k);
            Dim y = b.dim(k);
            if (!x.hasUnknown() && !y.hasUnknown() && !x.equals(y)) {
                return false;
            }
        }
        return true;
    }

    /** {@code graph} with each renamed value replaced wherever it is produced or used. */
    private static Graph applyRenames(Graph g, Map<Value, Value> renames) {
        if (renames.isEmpty()) {
            return g;
        }
        List<Node> nodes = new ArrayList<>();
        for (Node n : g.nodes()) {
            List<Value> in = n.inputs().stream().map(v -> renames.getOrDefault(v, v)).toList();
            List<Value> outs = n.outputs().stream().map(v -> renames.getOrDefault(v, v)).toList();
            nodes.add(new Node(n.op(), n.domain(), n.name(), in, outs, n.attributes()));
        }
        List<Value> outputs = g.outputs().stream().map(v -> renames.getOrDefault(v, v)).toList();
        return new Graph(g.name(), g.inputs(), g.initializers(), nodes, outputs);
    }
}
