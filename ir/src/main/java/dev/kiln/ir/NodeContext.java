package dev.kiln.ir;

import java.util.List;
import java.util.Optional;

/**
 * What a shape rule or evaluator sees of a node: its op declaration and attributes, read with the
 * declared defaults applied, and a way to fail with a message that names the node, op and input shapes.
 */
public abstract class NodeContext {
    private final OpDef def;
    private final String nodeDescription;
    private final Attributes attributes;

    protected NodeContext(OpDef def, String nodeDescription, Attributes attributes) {
        this.def = def;
        this.nodeDescription = nodeDescription;
        this.attributes = attributes;
    }

    public OpDef def() { return def; }

    /** How messages name the node, e.g. {@code node 'conv1' (Conv)}. */
    public String nodeDescription() { return nodeDescription; }

    public Attributes attributes() { return attributes; }

    /** Number of inputs of the node, counting absent optional ones before the last present one. */
    public abstract int inputCount();

    /** True when input i is given. */
    public abstract boolean hasInput(int i);

    /** Number of outputs of the node (including absent ones). */
    public abstract int outputCount();

    /** The input types as text for messages, e.g. {@code X: f32[N,3,32,32], W: f32[32,3,3,3]}. */
    protected abstract String describeInputs();

    /** True if the node sets the attribute or the op declares a default for it. */
    public boolean hasAttr(String name) {
        return attributes.has(name) || spec(name).defaultValue().isPresent();
    }

    /** True if the node itself sets the attribute. */
    public boolean isSet(String name) { return attributes.has(name); }

    public long attrInt(String name) { return ((Attr.Int) lookup(name, AttrType.INT)).value(); }

    public float attrFloat(String name) { return ((Attr.Float) lookup(name, AttrType.FLOAT)).value(); }

    public String attrString(String name) { return ((Attr.Str) lookup(name, AttrType.STRING)).value(); }

    public long[] attrInts(String name) { return ((Attr.Ints) lookup(name, AttrType.INTS)).toArray(); }

    public float[] attrFloats(String name) { return ((Attr.Floats) lookup(name, AttrType.FLOATS)).toArray(); }

    public List<String> attrStrings(String name) { return ((Attr.Strs) lookup(name, AttrType.STRINGS)).values(); }

    public Tensor attrTensor(String name) { return ((Attr.TensorValue) lookup(name, AttrType.TENSOR)).value(); }

    public TensorType attrType(String name) { return ((Attr.TypeValue) lookup(name, AttrType.TYPE)).value(); }

    public Graph attrGraph(String name) { return ((Attr.GraphValue) lookup(name, AttrType.GRAPH)).value(); }

    /** The INTS attribute if set (or defaulted), else empty: for attributes whose absence means "derive it". */
    public Optional<long[]> optInts(String name) {
        return hasAttr(name) ? Optional.of(attrInts(name)) : Optional.empty();
    }

    private AttrSpec spec(String name) {
        return def.attribute(name).orElseThrow(() -> new IllegalStateException(
                "op " + def + " reads attribute '" + name + "' that it does not declare"));
    }

    private Attr lookup(String name, AttrType type) {
        AttrSpec spec = spec(name);
        if (spec.type() != type) {
            throw new IllegalStateException("op " + def + " reads " + name + " as " + type + " but declares " + spec.type());
        }
        Optional<Attr> set = attributes.get(name);
        if (set.isPresent()) {
            if (set.get().type() != type) {
                throw fail("attribute '" + name + "' must be " + type + " but is " + set.get().type());
            }
            return set.get();
        }
        return spec.defaultValue().orElseThrow(() -> fail("attribute '" + name + "' is required"));
    }

    /** An exception naming the node, op and input types, for shape or semantic violations. */
    public ShapeException fail(String message) {
        return new ShapeException(nodeDescription + ": " + message + " (inputs: " + describeInputs() + ")");
    }

    /** An exception for a legal ONNX construct that Kiln does not implement (a mode, a dtype). */
    public UnsupportedOpException unsupported(String message) {
        return new UnsupportedOpException(nodeDescription + ": " + message + " is not supported (inputs: "
                + describeInputs() + ")");
    }
}
