package dev.kiln.ir.builder;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Kiln's layer API: describes a model the way a PyTorch {@code nn.Module} does and produces the same IR
 * that importing the module's ONNX export gives (Gemm with {@code transB=1} and weights {@code [out, in]}
 * for Linear, Conv with {@code [out, in, kh, kw]}, the exporter's node names), through {@link GraphBuilder}
 * so every node is typed by the op table as it is added.
 *
 * <pre>{@code
 * ModelBuilder m = ModelBuilder.create("mnist_cnn").seed(42);
 * m.input("input", DType.FLOAT32, "N,1,28,28")
 *         .conv2d(10, 5).maxPool2d(2).relu()        // conv1.weight [10,1,5,5], conv1.bias [10]
 *         .conv2d(20, 5).maxPool2d(2).relu()        // conv2.*
 *         .reshape(-1, 320)
 *         .dense(50, Activation.RELU).dropout(0.5)  // fc1.*
 *         .dense(10).logSoftmax(1)                  // fc2.*
 *         .output("output");
 * Graph g = m.build();
 * }</pre>
 *
 * <p>Parameters are named {@code <layer>.<param>} like a PyTorch state dict; layers are named {@code fc1},
 * {@code conv1}, {@code bn1}, {@code lstm1}, {@code gru1}... in order of creation unless given a name. They
 * are initialized as PyTorch initializes them (see {@link InitScheme}) from the builder's seed, or taken by
 * name from {@link #weights(Map)}. Configure seed, weights and dropout before the first {@link #input}.
 * A builder is single-use: {@link #build()} ends it.
 */
public final class ModelBuilder {
    private final String name;
    private long seed;
    private Map<String, Tensor> givenWeights;
    private boolean keepDropout;
    private BuildContext context;
    private final Set<Value> inputs = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Value> outputs = new ArrayList<>();
    private final List<String> outputNames = new ArrayList<>();
    private Graph built;

    private ModelBuilder(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** A builder for a model (graph) called {@code name}. */
    public static ModelBuilder create(String name) {
        return new ModelBuilder(name);
    }

    /** A builder whose parameters all come from {@code weights}, by name (see {@link #weights(Map)}). */
    public static ModelBuilder withWeights(String name, Map<String, Tensor> weights) {
        return create(name).weights(weights);
    }

    /** The seed of the initial weights (default 0). */
    public ModelBuilder seed(long s) {
        requireNotStarted("seed");
        this.seed = s;
        return this;
    }

    /**
     * Takes every parameter from {@code weights} by its name ({@code fc1.weight}, ...) instead of initializing
     * it. A layer whose parameter is missing or has another shape or dtype fails naming the parameter, the
     * layer and both shapes; {@link #build()} fails if some given tensor was not used.
     */
    public ModelBuilder weights(Map<String, Tensor> weights) {
        requireNotStarted("weights");
        this.givenWeights = Map.copyOf(weights);
        return this;
    }

    /**
     * Whether {@link Flow#dropout} emits a Dropout node (for graphs that will be trained) or nothing, as an
     * eval-mode PyTorch export does (the default).
     */
    public ModelBuilder keepDropout(boolean keep) {
        requireNotStarted("keepDropout");
        this.keepDropout = keep;
        return this;
    }

    /** A graph input; {@code shape} as {@code "N,1,28,28"} where a name is a symbolic (batch) dim. */
    public Flow input(String inputName, DType dtype, String shape) {
        return input(inputName, dtype, Shape.parse(shape));
    }

    public Flow input(String inputName, DType dtype, Shape shape) {
        Value v = context().graph.input(inputName, dtype, shape);
        inputs.add(v);
        return new Flow(this, v);
    }

    /** {@code a + b}. */
    public Flow add(Flow a, Flow b) {
        return a.add(b);
    }

    /** {@code torch.cat(xs, axis)}. */
    public Flow concat(int axis, Flow first, Flow... rest) {
        return first.concat(axis, rest);
    }

    /** Marks {@code f} as the next graph output, named {@code outputName}. */
    public ModelBuilder output(Flow f, String outputName) {
        Value v = own(f);
        if (!context().graph.freshName(outputName).equals(outputName) || outputNames.contains(outputName)) {
            throw new GraphException("model '" + name + "': output name '" + outputName + "' is already used");
        }
        if (inputs.contains(v) || outputs.contains(v)) {
            // A graph input (or a value already output) cannot also be renamed: copy it, as PyTorch does.
            v = context().node("", "Identity", v).output();
        }
        outputs.add(v);
        outputNames.add(outputName);
        return this;
    }

    /** Names of the parameters (initializers) created so far, in order. */
    public List<String> parameterNames() {
        return context == null ? List.of() : context.parameterNames();
    }

    /** The finished graph, verified; outputs carry the names given to {@link #output}. */
    public Graph build() {
        if (built != null) {
            return built;
        }
        if (outputs.isEmpty()) {
            throw new GraphException("model '" + name + "' has no outputs: call output(...) on its last layer");
        }
        BuildContext c = context();
        c.weights().requireAllUsed(name);
        for (Value v : outputs) {
            c.graph.output(v);
        }
        built = OutputRenaming.rename(c.graph.build(), outputs, outputNames);
        return built;
    }

    BuildContext context() {
        if (built != null) {
            throw new IllegalStateException("model '" + name + "' is already built; start a new ModelBuilder");
        }
        if (context == null) {
            WeightSource source = givenWeights == null ? WeightSource.initialized() : WeightSource.fromMap(givenWeights);
            context = new BuildContext(new GraphBuilder(name), new InitScheme(seed), source, keepDropout);
        }
        return context;
    }

    /** {@code f}'s value, checking it belongs to this builder. */
    Value own(Flow f) {
        if (f.owner() != this) {
            throw new IllegalArgumentException("value " + f + " belongs to another ModelBuilder");
        }
        return f.value();
    }

    private void requireNotStarted(String what) {
        if (context != null) {
            throw new IllegalStateException("set " + what + " before the first input of model '" + name + "'");
        }
    }
}
