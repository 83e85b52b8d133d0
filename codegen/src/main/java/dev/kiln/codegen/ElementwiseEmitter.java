package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.FusedOps;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One loop for an elementwise op or a fused chain ({@code dev.kiln.FusedElementwise}): each output element is
 * computed from the inputs' elements in registers, intermediate values never touch memory. When every input
 * is either the output's shape or a single element, the loop is vectorized ({@code SPECIES} lanes at a time,
 * scalar tail); otherwise (true broadcasting, e.g. {@code [N,C,H,W] + [C,1,1]}) it is a nest of scalar loops
 * over the output dims with stride-0 dims for broadcast inputs. Single-element constants become literals.
 */
final class ElementwiseEmitter implements KernelEmitter {
    private enum Kind { FULL, SCALAR, BROADCAST }

    /**
     * The chain in terms of its own values; {@code sources} are the node's values its inputs read (absent optional
     * inputs, such as Clip's missing bounds, are left out of both).
     */
    private record Chain(List<Node> nodes, List<Value> inputs, List<Value> sources, Map<Value, Tensor> literals, Value output) {}

    /** Chains of float32 values take the vector loop; any other element types the scalar loops of {@link TypedForms}. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Strings take the scalar loops when every op touching one selects or compares it (see {@link TypedForms}). */
    @Override
    public boolean strings(Node n) {
        List<Node> ops = n.op().equals(FusedOps.FUSED_ELEMENTWISE)
                ? ((Attr.GraphValue) n.attributes().get("body").orElseThrow()).value().nodes() : List.of(n);
        return ops.stream().allMatch(TypedForms::handlesStrings);
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if ((n.op().equals("Cast") || n.op().equals("CastLike")) && n.output(0).dtype().isFloat()
                && ctx.batchValue(n.input(0)).isPresent()) {
            return BatchScalars.emit(ctx);
        }
        Chain chain = chain(ctx);
        if (!allFloat32(chain)) {
            return broadcastLoops(ctx, chain, true);
        }
        Value out = n.output(0);
        List<Kind> kinds = new ArrayList<>();
        boolean vectorizable = true;
        for (int i = 0; i < chain.inputs().size(); i++) {
            Kind k = kind(chain.sources().get(i).shape(), out.shape());
            kinds.add(k);
            vectorizable &= k != Kind.BROADCAST;
        }
        for (Node op : chain.nodes()) {
            vectorizable &= PointwiseForms.of(op, dummyArgs(op)).vector().isPresent();
        }
        return vectorizable ? vectorLoop(ctx, chain, kinds) : broadcastLoops(ctx, chain, false);
    }

    /** True when every value of the chain is float32 and every op has a float form. */
    private static boolean allFloat32(Chain chain) {
        for (Node op : chain.nodes()) {
            if (!PointwiseForms.supports(op)) {
                return false;
            }
            for (Value v : op.inputs()) {
                if (!v.isAbsent() && v.dtype() != dev.kiln.ir.DType.FLOAT32) {
                    return false;
                }
            }
            if (op.output(0).dtype() != dev.kiln.ir.DType.FLOAT32) {
                return false;
            }
        }
        return true;
    }

    private static Chain chain(EmitContext ctx) {
        Node n = ctx.node;
        // Insertion-ordered (Value has identity equality): the order of emitted declarations must not vary by run.
        Map<Value, Tensor> literals = new java.util.LinkedHashMap<>();
        if (n.op().equals(FusedOps.FUSED_ELEMENTWISE)) {
            Graph body = ((Attr.GraphValue) n.attributes().get("body").orElseThrow()).value();
            literals.putAll(body.initializers());
            return new Chain(body.nodes(), body.inputs(), n.inputs(), literals, body.outputs().get(0));
        }
        List<Value> inputs = new ArrayList<>();
        for (int k = 0; k < n.inputs().size(); k++) {
            Value v = n.inputs().get(k);
            // CastLike's second input only names the target type; its elements are never read.
            if (v.isAbsent() || (k == 1 && n.op().equals("CastLike"))) {
                continue;
            }
            inputs.add(v);
            if (ctx.isConstant(v) && ctx.constant(v).size() == 1) {
                literals.put(v, ctx.constant(v));
            }
        }
        return new Chain(List.of(n), inputs, inputs, literals, n.output(0));
    }

    private static List<CodeBlock> dummyArgs(Node op) {
        List<CodeBlock> a = new ArrayList<>();
        for (int i = 0; i < op.inputs().size(); i++) {
            a.add(!op.hasInput(i) ? null : CodeBlock.of("a$L", i));
        }
        return a;
    }

    private static Kind kind(Shape in, Shape out) {
        if (in.elementCount().isStatic() && in.elementCount().value() == 1) {
            return Kind.SCALAR;
        }
        return in.equals(out) ? Kind.FULL : Kind.BROADCAST;
    }

    private static CodeBlock vectorLoop(EmitContext ctx, Chain chain, List<Kind> kinds) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        String count = ctx.locals.newName("n");
        b.addStatement("int $N = $L", count, ctx.count(n.output(0)));
        Map<Value, String> scalarNames = new IdentityHashMap<>();
        Map<Value, String> vectorNames = new IdentityHashMap<>();
        // Loop-invariant operands: single-element inputs and literals, as floats and as broadcast vectors.
        for (int i = 0; i < chain.inputs().size(); i++) {
            Value v = chain.inputs().get(i);
            if (kinds.get(i) == Kind.SCALAR && !chain.literals().containsKey(v)) {
                String s = ctx.locals.newName(Identifiers.camel(v.name(), "s"));
                b.addStatement("float $N = $L", s, ctx.ref(chain.sources().get(i)).at(CodeBlock.of("0")));
                scalarNames.put(v, s);
            }
        }
        chain.literals().forEach((v, f) -> scalarNames.put(v, null));
        for (Value v : invariantValues(chain, kinds)) {
            String vec = ctx.locals.newName(Identifiers.camel(v.name(), "c") + "Vector");
            b.addStatement("$T $N = $T.broadcast(SPECIES, $L)", PointwiseForms.FLOAT_VECTOR, vec, PointwiseForms.FLOAT_VECTOR,
                    scalarOperand(v, chain, scalarNames));
            vectorNames.put(v, vec);
        }
        String i = ctx.locals.newName("i");
        b.addStatement("int $N = 0", i);
        b.beginControlFlow("for (; $N < SPECIES.loopBound($N); $N += SPECIES.length())", i, count, i);
        Map<Value, CodeBlock> vec = new IdentityHashMap<>();
        vectorNames.forEach((v, name) -> vec.put(v, CodeBlock.of("$N", name)));
        for (int k = 0; k < chain.inputs().size(); k++) {
            if (kinds.get(k) == Kind.FULL) {
                Value v = chain.inputs().get(k);
                String name = ctx.locals.newName(Identifiers.camel(v.name(), "x"));
                TensorRef r = ctx.ref(chain.sources().get(k));
                b.addStatement("$T $N = $T.fromArray(SPECIES, $N, $L)", PointwiseForms.FLOAT_VECTOR, name,
                        PointwiseForms.FLOAT_VECTOR, r.array(), r.plus(CodeBlock.of("$N", i)));
                vec.put(v, CodeBlock.of("$N", name));
            }
        }
        CodeBlock result = body(ctx, chain, vec, true, false, b);
        TensorRef o = ctx.out(0);
        b.addStatement("$L.intoArray($N, $L)", result, o.array(), o.plus(CodeBlock.of("$N", i)));
        b.endControlFlow();
        b.beginControlFlow("for (; $N < $N; $N++)", i, count, i);
        Map<Value, CodeBlock> sc = new IdentityHashMap<>();
        for (int k = 0; k < chain.inputs().size(); k++) {
            Value v = chain.inputs().get(k);
            sc.put(v, kinds.get(k) == Kind.FULL ? ctx.ref(chain.sources().get(k)).at(CodeBlock.of("$N", i))
                    : scalarOperand(v, chain, scalarNames));
        }
        chain.literals().forEach((v, f) -> sc.put(v, literal(v, f)));
        b.addStatement("$L = $L", o.at(CodeBlock.of("$N", i)), body(ctx, chain, sc, false, false, b));
        b.endControlFlow();
        return b.build();
    }

    /** Chain inputs that do not change across the loop (single elements and literals). */
    private static List<Value> invariantValues(Chain chain, List<Kind> kinds) {
        List<Value> out = new ArrayList<>();
        for (int i = 0; i < chain.inputs().size(); i++) {
            if (kinds.get(i) == Kind.SCALAR) {
                out.add(chain.inputs().get(i));
            }
        }
        chain.literals().keySet().stream().filter(v -> !out.contains(v)).forEach(out::add);
        return out;
    }

    private static CodeBlock scalarOperand(Value v, Chain chain, Map<Value, String> scalarNames) {
        Tensor lit = chain.literals().get(v);
        return lit != null ? literal(v, lit) : CodeBlock.of("$N", scalarNames.get(v));
    }

    /** A single-element constant as a literal of its compute type. */
    private static CodeBlock literal(Value v, Tensor t) {
        return EmitContext.type(v).literal(t, 0);
    }

    static CodeBlock literal(float f) {
        if (Float.isNaN(f)) {
            return CodeBlock.of("$T.NaN", Float.class);
        }
        if (Float.isInfinite(f)) {
            return CodeBlock.of(f > 0 ? "$T.POSITIVE_INFINITY" : "$T.NEGATIVE_INFINITY", Float.class);
        }
        return CodeBlock.of("$Lf", Float.toString(f));
    }

    /**
     * Emits the chain's ops as locals (one per intermediate, named after the value) and returns the expression of
     * the last one. {@code operands} maps chain inputs to expressions.
     */
    private static CodeBlock body(EmitContext ctx, Chain chain, Map<Value, CodeBlock> operands, boolean vector,
                                  boolean typed, CodeBlock.Builder b) {
        Map<Value, CodeBlock> env = new IdentityHashMap<>(operands);
        CodeBlock last = null;
        for (int k = 0; k < chain.nodes().size(); k++) {
            Node op = chain.nodes().get(k);
            List<CodeBlock> args = new ArrayList<>();
            for (Value v : op.inputs()) {
                args.add(env.get(v));
            }
            CodeBlock expr;
            if (typed) {
                CodeBlock form = TypedForms.scalar(op, args);
                expr = TypedForms.producesOutputType(op) ? form : EmitContext.type(op.output(0)).narrow(form);
            } else {
                PointwiseForms.Form f = PointwiseForms.of(op, args);
                expr = vector ? f.vector().orElseThrow() : f.scalar();
            }
            if (k == chain.nodes().size() - 1) {
                last = expr;
            } else {
                String name = ctx.locals.newName(Identifiers.camel(op.output(0).name(), "t"));
                if (typed) {
                    b.addStatement("$T $N = $L", EmitContext.type(op.output(0)).compute(), name, expr);
                } else {
                    b.addStatement("$T $N = $L", vector ? PointwiseForms.FLOAT_VECTOR : float.class, name, expr);
                }
                env.put(op.output(0), CodeBlock.of("$N", name));
            }
        }
        return last;
    }

    /** Scalar loops over the output dims; each input is indexed with its own strides (0 where broadcast). */
    private static CodeBlock broadcastLoops(EmitContext ctx, Chain chain, boolean typed) {
        Node n = ctx.node;
        Shape out = n.output(0).shape();
        int rank = out.rank();
        CodeBlock.Builder b = CodeBlock.builder();
        List<String> idx = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            idx.add(ctx.locals.newName("i" + d));
        }
        String flat = ctx.locals.newName("o");
        b.addStatement("int $N = 0", flat);
        for (int d = 0; d < rank; d++) {
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", idx.get(d), idx.get(d), ctx.dim(out.dim(d)), idx.get(d));
        }
        Map<Value, CodeBlock> sc = new IdentityHashMap<>();
        for (int k = 0; k < chain.inputs().size(); k++) {
            Value v = chain.inputs().get(k);
            Tensor lit = chain.literals().get(v);
            if (lit != null) {
                sc.put(v, literal(v, lit));
                continue;
            }
            Value source = chain.sources().get(k);
            Shape in = source.shape();
            CodeBlock index = in.equals(out) ? CodeBlock.of("$N", flat) : broadcastIndex(ctx, in, out, idx);
            sc.put(v, ctx.ref(source).at(index));
        }
        chain.literals().forEach((v, f) -> sc.put(v, literal(v, f)));
        TensorRef o = ctx.out(0);
        // Inputs of the output's shape are read at the flat index, so it advances only after the store.
        b.addStatement("$L = $L", o.at(CodeBlock.of("$N", flat)), body(ctx, chain, sc, false, typed, b));
        b.addStatement("$N++", flat);
        for (int d = 0; d < rank; d++) {
            b.endControlFlow();
        }
        return b.build();
    }

    private static CodeBlock broadcastIndex(EmitContext ctx, Shape in, Shape out, List<String> idx) {
        List<CodeBlock> terms = new ArrayList<>();
        long stride = 1;
        for (int j = in.rank() - 1; j >= 0; j--) {
            Dim d = in.dim(j);
            int axis = j + out.rank() - in.rank();
            if (!(d.isStatic() && d.value() == 1)) {
                terms.add(0, stride == 1 ? CodeBlock.of("$N", idx.get(axis)) : CodeBlock.of("$N * $L", idx.get(axis), stride));
            }
            if (!d.isStatic()) {
                if (j > 0) {
                    throw ctx.unsupported("broadcasting an input whose non-leading dim " + d + " is dynamic");
                }
                continue;
            }
            stride *= d.value();
        }
        return terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ");
    }

}
