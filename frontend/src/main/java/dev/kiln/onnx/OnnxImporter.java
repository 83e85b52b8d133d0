package dev.kiln.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.InputException;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.GradientExpansion;
import dev.kiln.ir.ops.PreviewTrainingOps;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Loads an ONNX model into Kiln's IR: parses the protobuf, reads initializers (inline or external), types the
 * graph inputs (keeping symbolic dims by name), rewrites old-opset op forms through {@link OpsetAdapters}, and
 * adds every node through {@link GraphBuilder} so the op table types it; the result passes the
 * {@link dev.kiln.ir.GraphVerifier}. Every failure is a {@link KilnException} naming the model file.
 */
public final class OnnxImporter {
    /** The oldest default-domain opset Kiln imports; {@link OpsetAdapters} rewrite old op forms. */
    public static final int MIN_OPSET = 1;
    /** The newest default-domain opset Kiln imports. */
    public static final int MAX_OPSET = 28;

    private final ModelProto model;
    private final String source;
    private final Path baseDir;
    private final Map<String, Integer> opsets = new HashMap<>();
    /** Every value name the model defines, in its graph and all bodies: names adapters make avoid them all. */
    private Set<String> modelNames;

    private OnnxImporter(ModelProto model, String source, Path baseDir) {
        this.model = model;
        this.source = source;
        this.baseDir = baseDir;
    }

    /** Loads the model in {@code modelFile}; external data is looked up beside it. */
    public static Graph load(Path modelFile) {
        byte[] bytes = FileIo.readAll(modelFile, "ONNX model");
        Path dir = modelFile.toAbsolutePath().getParent();
        return load(bytes, modelFile.toString(), dir);
    }

    /**
     * Loads a serialized model.
     *
     * @param sourceName how error messages name the model (usually its file)
     * @param baseDir the folder external-data locations are relative to
     */
    public static Graph load(byte[] bytes, String sourceName, Path baseDir) {
        ModelProto m;
        try {
            m = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(sourceName + " is not a valid ONNX model (truncated or corrupt protobuf: "
                    + e.getMessage() + ")", e);
        }
        OnnxImporter importer = new OnnxImporter(m, sourceName, baseDir);
        try {
            return importer.importModel();
        } catch (KilnException e) {
            throw importer.named(e);
        } catch (RuntimeException | StackOverflowError e) {
            throw new KilnException(sourceName + ": internal error while importing the model: " + e, e);
        }
    }

    private Graph importModel() {
        if (!model.hasGraph()) {
            throw new ModelFormatException(source + " contains no graph (empty file, or not an ONNX model)");
        }
        GraphProto gp = model.getGraph();
        if (gp.getNodeCount() == 0) {
            throw new ModelFormatException(source + ": graph '" + gp.getName() + "' is empty (it has no nodes)");
        }
        if (gp.getOutputCount() == 0) {
            throw new ModelFormatException(source + ": graph '" + gp.getName() + "' declares no outputs");
        }
        readOpsets();
        modelNames = definedNames(gp);
        GraphBuilder b = new GraphBuilder(graphName(gp));
        ImportScope scope = new ImportScope(null, b);
        Map<String, TensorProto> initializers = initializers(gp);
        for (ValueInfoProto vi : gp.getInputList()) {
            if (initializers.containsKey(vi.getName())) {
                continue; // an input with a default value: Kiln treats it as the constant it is
            }
            String what = source + ": graph input '" + vi.getName() + "'";
            if (vi.getName().isEmpty()) {
                throw new ModelFormatException(source + ": a graph input has no name");
            }
            if (scope.definesLocally(vi.getName())) {
                throw new ModelFormatException(what + " is declared twice");
            }
            TensorType t = tensorType(vi, what);
            scope.define(vi.getName(), b.input(vi.getName(), t));
        }
        importContents(gp, scope);
        return b.build();
    }

    /**
     * Imports a body (a graph attribute) of a node of the graph {@code outer} imports: its inputs get the given
     * types (what the node feeds them, not the loosely declared types of the file), outer names it uses become
     * captures (see {@link ImportScope}).
     *
     * @param inputTypes one type per input the body declares
     */
    ImportedBody importBody(GraphProto gp, ImportScope outer, List<TensorType> inputTypes, String where) {
        if (gp.getInputCount() != inputTypes.size()) {
            throw new ModelFormatException(where + " declares " + gp.getInputCount() + " inputs but takes "
                    + inputTypes.size());
        }
        GraphBuilder b = new GraphBuilder(gp.getName().isEmpty() ? "body" : gp.getName());
        ImportScope scope = new ImportScope(outer, b);
        for (int i = 0; i < inputTypes.size(); i++) {
            String name = gp.getInput(i).getName();
            if (name.isEmpty() || scope.definesLocally(name)) {
                throw new ModelFormatException(where + ": body input " + i + " has no name or a repeated one");
            }
            TensorType t = inputTypes.get(i);
            scope.define(name, b.input(name, t));
        }
        importContents(gp, scope);
        return new ImportedBody(b.build(), List.copyOf(scope.captures().keySet()));
    }

    /**
     * Imports the nodes of a body into the graph of {@code scope} itself (an If whose condition is a constant: only
     * the branch taken exists, and the other may not even type-check for these inputs); the body's outputs.
     */
    List<Value> importInline(GraphProto gp, ImportScope scope, String where) {
        GraphBuilder b = scope.builder();
        for (Map.Entry<String, TensorProto> e : initializers(gp).entrySet()) {
            Tensor t = TensorProtos.toTensor(e.getValue(), baseDir, source);
            scope.define(e.getKey(), b.initializer(e.getKey(), t));
        }
        declareShapes(gp, b);
        NodeEmitter emitter = new NodeEmitter(b, modelNames, source);
        for (NodeProto np : topologicalOrder(gp, scope)) {
            importNode(np, emitter, scope);
        }
        List<Value> outs = new ArrayList<>();
        for (ValueInfoProto vi : gp.getOutputList()) {
            outs.add(scope.resolve(vi.getName()).orElseThrow(() -> new GraphException(where + ": output '"
                    + vi.getName() + "' is not produced by any node")));
        }
        return outs;
    }

    /** A body as imported: a closed graph, and the outer values its trailing inputs receive. */
    record ImportedBody(Graph graph, List<Value> captured) {}

    /** Imports a graph's initializers, nodes and outputs into the scope, whose inputs are already defined. */
    private void importContents(GraphProto gp, ImportScope scope) {
        GraphBuilder b = scope.builder();
        Map<String, TensorProto> initializers = initializers(gp);
        for (Map.Entry<String, TensorProto> e : initializers.entrySet()) {
            Tensor t = TensorProtos.toTensor(e.getValue(), baseDir, source);
            scope.define(e.getKey(), b.initializer(e.getKey(), t));
        }
        declareShapes(gp, b);
        List<NodeProto> nodes = topologicalOrder(gp, scope);
        NodeEmitter emitter = new NodeEmitter(b, modelNames, source);
        for (NodeProto np : nodes) {
            if (isGradient(np)) {
                importGradient(np, scope);
            } else {
                importNode(np, emitter, scope);
            }
        }
        for (ValueInfoProto vi : gp.getOutputList()) {
            Value v = scope.resolve(vi.getName()).orElseThrow(() -> new GraphException(source + ": "
                    + (scope.isBody() ? "output '" + vi.getName() + "' of body '" + gp.getName() + "'"
                            : "graph output '" + vi.getName() + "'")
                    + " is not produced by any node, graph input or initializer"));
            b.output(v);
        }
    }

    /**
     * Hands the builder the static dims the model declares for computed values (graph outputs, value_info), which
     * size tensors whose shape depends on input values. Declarations are hints: a malformed or non-tensor one is
     * skipped, never an error, because exporters write value_info loosely.
     */
    private static void declareShapes(GraphProto gp, GraphBuilder b) {
        List<ValueInfoProto> declared = new ArrayList<>(gp.getValueInfoList());
        declared.addAll(gp.getOutputList());
        for (ValueInfoProto vi : declared) {
            if (vi.getName().isEmpty() || !vi.getType().hasTensorType() || !vi.getType().getTensorType().hasShape()) {
                continue;
            }
            List<Dim> dims = new ArrayList<>();
            for (TensorShapeProto.Dimension d : vi.getType().getTensorType().getShape().getDimList()) {
                dims.add(d.hasDimValue() && d.getDimValue() >= 0 ? Dim.of(d.getDimValue()) : Dim.unknown());
            }
            b.declareShape(vi.getName(), new Shape(dims));
        }
    }

    private String graphName(GraphProto gp) {
        if (!gp.getName().isEmpty()) {
            return gp.getName();
        }
        String file = Path.of(source).getFileName().toString();
        int dot = file.lastIndexOf('.');
        return dot > 0 ? file.substring(0, dot) : file;
    }

    private void readOpsets() {
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            String domain = o.getDomain().equals("ai.onnx") ? "" : o.getDomain();
            opsets.put(domain, Math.toIntExact(o.getVersion()));
        }
        Integer opset = opsets.get("");
        if (opset == null && model.getOpsetImportCount() == 0 && model.getIrVersion() < 3) {
            // IR versions 1 and 2 predate opset_import and imply opset 1.
            opset = 1;
        }
        if (opset == null) {
            // Only nodes of other domains can be imported; a default-domain node fails with a clear message.
            opsets.putIfAbsent(OpTable.KILN_DOMAIN, 1);
            return;
        }
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new UnsupportedModelException(source + " uses ONNX opset " + opset + "; Kiln imports opsets "
                    + MIN_OPSET + " to " + MAX_OPSET);
        }
        opsets.put("", opset);
        opsets.putIfAbsent(OpTable.KILN_DOMAIN, 1);
    }

    private Map<String, TensorProto> initializers(GraphProto gp) {
        Map<String, TensorProto> inits = new LinkedHashMap<>();
        for (TensorProto t : gp.getInitializerList()) {
            if (t.getName().isEmpty()) {
                throw new ModelFormatException(source + ": an initializer has no name");
            }
            if (inits.put(t.getName(), t) != null) {
                throw new ModelFormatException(source + ": initializer '" + t.getName() + "' is declared twice");
            }
        }
        if (gp.getSparseInitializerCount() > 0) {
            throw new UnsupportedModelException(source + ": sparse initializer '"
                    + gp.getSparseInitializer(0).getValues().getName() + "' is not supported (Kiln needs dense tensors)");
        }
        return inits;
    }

    /** Every value name the ONNX graph and its bodies define: fresh names made by adapters must avoid them all. */
    private static Set<String> definedNames(GraphProto gp) {
        Set<String> names = new HashSet<>();
        gp.getInputList().forEach(v -> names.add(v.getName()));
        gp.getInitializerList().forEach(t -> names.add(t.getName()));
        for (NodeProto n : gp.getNodeList()) {
            names.addAll(n.getOutputList());
            for (dev.kiln.onnx.proto.Onnx.AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    names.addAll(definedNames(a.getG()));
                }
                a.getGraphsList().forEach(g -> names.addAll(definedNames(g)));
            }
        }
        names.remove("");
        return names;
    }

    /**
     * The nodes in an order where each value is defined before use: the file's order when it already is one
     * (as ONNX requires), otherwise a stable topological sort; dangling inputs and cycles are errors.
     */
    private List<NodeProto> topologicalOrder(GraphProto gp, ImportScope scope) {
        List<NodeProto> nodes = gp.getNodeList();
        Map<String, Integer> producer = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String out : nodes.get(i).getOutputList()) {
                if (out.isEmpty()) {
                    continue;
                }
                if (scope.definesLocally(out)) {
                    throw new GraphException(source + ": " + describe(nodes.get(i)) + " redefines '" + out
                            + "', which is already a graph input or initializer");
                }
                Integer before = producer.put(out, i);
                if (before != null) {
                    throw new GraphException(source + ": value '" + out + "' is produced twice, by "
                            + describe(nodes.get(before)) + " and " + describe(nodes.get(i)));
                }
            }
        }
        boolean sorted = true;
        int[] pending = new int[nodes.size()];
        List<List<Integer>> users = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            users.add(new ArrayList<>());
        }
        for (int i = 0; i < nodes.size(); i++) {
            for (String in : dependencies(nodes.get(i))) {
                if (in.isEmpty() || scope.definesLocally(in)) {
                    continue;
                }
                Integer p = producer.get(in);
                if (p == null && scope.resolve(in).isPresent()) {
                    continue; // an enclosing graph's value, captured by this body
                }
                if (p == null) {
                    throw new GraphException(source + ": " + describe(nodes.get(i)) + " uses '" + in
                            + "', which no node, graph input or initializer defines (missing initializer?)");
                }
                if (p >= i) {
                    sorted = false;
                }
                pending[i]++;
                users.get(p).add(i);
            }
        }
        if (sorted) {
            return nodes;
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (pending[i] == 0) {
                ready.add(i);
            }
        }
        List<NodeProto> order = new ArrayList<>();
        while (!ready.isEmpty()) {
            int i = ready.poll();
            order.add(nodes.get(i));
            for (int u : users.get(i)) {
                if (--pending[u] == 0) {
                    ready.add(u);
                }
            }
        }
        if (order.size() != nodes.size()) {
            for (int i = 0; i < nodes.size(); i++) {
                if (pending[i] > 0) {
                    throw new GraphException(source + ": the graph has a cycle through " + describe(nodes.get(i)));
                }
            }
        }
        return order;
    }

    /** A node's inputs, and for a Gradient node also its y, which it names instead of consuming. */
    private static List<String> dependencies(NodeProto np) {
        if (!isGradient(np)) {
            return np.getInputList();
        }
        List<String> names = new ArrayList<>(np.getInputList());
        np.getAttributeList().stream().filter(a -> a.getName().equals("y"))
                .forEach(a -> names.add(a.getS().toStringUtf8()));
        return names;
    }

    private static boolean isGradient(NodeProto np) {
        return np.getDomain().equals(PreviewTrainingOps.DOMAIN) && np.getOpType().equals(GradientExpansion.OP);
    }

    /**
     * ONNX's Gradient(xs, zs, y): its inputs are the tensors named by xs then zs, and its outputs the gradients of y
     * with respect to xs, which {@link GradientExpansion} builds here from the op table's gradient rules (each output
     * is an Identity of its gradient, so it keeps the model's name).
     */
    private void importGradient(NodeProto np, ImportScope scope) {
        GraphBuilder b = scope.builder();
        String where = source + ": " + describe(np);
        Attributes attrs = AttributeProtos.toAttributes(np.getAttributeList(), baseDir, source, where);
        List<String> xs = attrs.get("xs").filter(a -> a instanceof Attr.Strs).map(a -> ((Attr.Strs) a).values())
                .orElseThrow(() -> new ModelFormatException(where + " needs the strings attribute xs"));
        List<String> zs = attrs.get("zs").filter(a -> a instanceof Attr.Strs).map(a -> ((Attr.Strs) a).values())
                .orElse(List.of());
        String y = attrs.get("y").filter(a -> a instanceof Attr.Str).map(a -> ((Attr.Str) a).value())
                .orElseThrow(() -> new ModelFormatException(where + " needs the string attribute y"));
        List<String> named = new ArrayList<>(xs);
        named.addAll(zs);
        if (!np.getInputList().equals(named)) {
            throw new ModelFormatException(where + ": its inputs " + np.getInputList() + " must be the tensors xs "
                    + xs + " followed by zs " + zs);
        }
        if (np.getOutputCount() != xs.size()) {
            throw new ModelFormatException(where + " has " + np.getOutputCount() + " outputs but xs names "
                    + xs.size() + " tensors (one gradient each)");
        }
        Value target = scope.resolve(y).orElse(null);
        if (target == null) {
            throw new ModelFormatException(where + ": y '" + y + "' is not a tensor of the graph");
        }
        List<Value> xValues = xs.stream().map(x -> scope.resolve(x).orElse(null)).toList();
        java.util.Set<Value> zValues = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        zs.stream().map(z -> scope.resolve(z).orElse(null)).forEach(zValues::add);
        try {
            List<Value> grads = GradientExpansion.expand(b, describe(np), xValues, zValues, target);
            for (int i = 0; i < grads.size(); i++) {
                String name = np.getOutput(i);
                if (!name.isEmpty()) {
                    scope.define(name, b.op("Identity").inputs(grads.get(i)).outputNames(name).output());
                }
            }
        } catch (KilnException e) {
            throw named(e);
        }
    }

    private void importNode(NodeProto np, NodeEmitter emitter, ImportScope scope) {
        String domain = np.getDomain().equals("ai.onnx") ? "" : np.getDomain();
        String where = source + ": " + describe(np);
        Integer opset = opsets.get(domain);
        if (opset == null) {
            throw new ModelFormatException(source + ": " + describe(np) + " uses domain '"
                    + (domain.isEmpty() ? "ai.onnx" : domain) + "', for which the model imports no opset (opset_import)");
        }
        if (np.getOpType().isEmpty()) {
            throw new ModelFormatException(where + " has no op_type");
        }
        List<Value> inputs = new ArrayList<>();
        for (String in : np.getInputList()) {
            inputs.add(in.isEmpty() ? Value.ABSENT : scope.resolve(in).orElseThrow(() -> new GraphException(
                    where + " uses '" + in + "', which no node, graph input or initializer defines")));
        }
        List<Value> outs;
        if (ControlFlowImport.handles(np, domain)) {
            outs = new ControlFlowImport(this, np, where, opset, inputs, scope, emitter).emit();
        } else {
            Attributes attrs = AttributeProtos.toAttributes(np.getAttributeList(), baseDir, source, where);
            ImportedNode node = new ImportedNode(np.getOpType(), domain, np.getName(), inputs, np.getOutputList(),
                    attrs, opset);
            outs = OpsetAdapters.emit(node, emitter);
        }
        for (Value v : outs) {
            if (!v.isAbsent()) {
                scope.define(v.name(), v);
            }
        }
    }

    TensorType tensorType(ValueInfoProto vi, String what) {
        if (!vi.hasType()) {
            throw new ModelFormatException(what + " has no type");
        }
        return TypeProtos.toType(vi.getType(), what);
    }

    private static final java.util.regex.Pattern FACTOR =
            java.util.regex.Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)(?:\\^([0-9]+))?");

    /**
     * A dim_param as a dim: a plain name is a symbol; a product in the printer's notation ({@code 320*N},
     * {@code N^2}, as Kiln's exporter writes derived dims) is read back as that monomial.
     */
    static Dim symbolicDim(String param) {
        String[] parts = param.split("\\*", -1);
        if (parts.length == 1 && !param.contains("^")) {
            return Dim.sym(param);
        }
        Dim d = Dim.of(1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (i == 0 && !p.isEmpty() && p.length() <= 18 && p.chars().allMatch(Character::isDigit)) {
                d = d.times(Long.parseLong(p));
                continue;
            }
            java.util.regex.Matcher m = FACTOR.matcher(p);
            if (!m.matches()) {
                return Dim.sym(param);
            }
            int exp = m.group(2) == null ? 1 : Integer.parseInt(m.group(2));
            for (int k = 0; k < exp; k++) {
                d = d.times(Dim.sym(m.group(1)));
            }
        }
        return d;
    }

    static String describe(NodeProto n) {
        if (!n.getName().isEmpty()) {
            return "node '" + n.getName() + "' (" + n.getOpType() + ")";
        }
        String first = n.getOutputList().stream().filter(s -> !s.isEmpty()).findFirst().orElse("?");
        return n.getOpType() + " node producing '" + first + "'";
    }

    /** The same kind of exception with the model file in front of its message (if not there yet). */
    private KilnException named(KilnException e) {
        String msg = e.getMessage() == null ? e.toString() : e.getMessage();
        if (msg.startsWith(source)) {
            return e;
        }
        String m = source + ": " + msg;
        KilnException named = switch (e) {
            case UnsupportedOpException x -> new UnsupportedOpException(m);
            case ShapeException x -> new ShapeException(m);
            case GraphException x -> new GraphException(m);
            case InputException x -> new InputException(m);
            case UnsupportedModelException x -> new UnsupportedModelException(m);
            case ModelFormatException x -> new ModelFormatException(m, e);
            default -> new KilnException(m, e);
        };
        if (named.getCause() == null) {
            named.initCause(e);
        }
        return named;
    }
}
