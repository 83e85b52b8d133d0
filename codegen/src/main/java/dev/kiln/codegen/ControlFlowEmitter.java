package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import java.util.ArrayList;
import java.util.List;

/**
 * If, Loop and Scan. Each body (closed, see {@code dev.kiln.ir.Subgraphs}) is compiled like a model of its own, as a
 * class nested in the model's class whose instance the model holds; the step runs it on per-instance arrays: If as
 * if/else over its two branches, Loop as a {@code for} loop carrying values from one iteration's outputs to the
 * next one's inputs, Scan as a loop over slices of its scan inputs. A body's tensors must have static dims (apart from
 * the batch), like any model's; a value whose shape changes between iterations or branches is refused by the body's
 * own planning, naming it.
 */
final class ControlFlowEmitter implements KernelEmitter {
    /** Moves tensors between the model and its bodies, which check their own element types. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** A body compiled as a nested class: the field holding its instance and its run parameters, in order. */
    private record Body(String field, List<Value> inputs, List<Value> outputs) {}

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return switch (ctx.node.op()) {
            case "If" -> emitIf(ctx);
            case "Loop" -> emitLoop(ctx);
            case "Scan" -> emitScan(ctx);
            default -> throw new IllegalStateException("not control flow: " + ctx.node.describe());
        };
    }

    // ---- If ----

    private static CodeBlock emitIf(EmitContext ctx) {
        Node n = ctx.node;
        Body then = compile(ctx, "then_branch");
        Body otherwise = compile(ctx, "else_branch");
        List<Value> captured = n.inputs().subList(1, n.inputs().size());
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("if ($L)", ctx.in(0).at(CodeBlock.of("0")));
        runOnce(ctx, b, then, captured, n.outputs(), "then_branch");
        b.nextControlFlow("else");
        runOnce(ctx, b, otherwise, captured, n.outputs(), "else_branch");
        b.endControlFlow();
        return b.build();
    }

    /** Copies the operands into the body's input arrays, runs it, and copies its outputs out to the results. */
    private static void runOnce(EmitContext ctx, CodeBlock.Builder b, Body body, List<Value> operands,
                                List<Value> results, String which) {
        List<String> inputs = new ArrayList<>();
        for (int i = 0; i < body.inputs().size(); i++) {
            Value in = body.inputs().get(i);
            String buffer = buffer(ctx, b, which + "_" + in.name(), in);
            copyIn(ctx, b, operands.get(i), buffer);
            inputs.add(buffer);
        }
        List<String> outputs = new ArrayList<>();
        for (Value out : body.outputs()) {
            outputs.add(buffer(ctx, b, which + "_" + out.name(), out));
        }
        call(b, body, inputs, outputs);
        for (int j = 0; j < results.size(); j++) {
            copyOut(ctx, b, outputs.get(j), results.get(j));
        }
    }

    // ---- Loop ----

    private static CodeBlock emitLoop(EmitContext ctx) {
        Node n = ctx.node;
        Body body = compile(ctx, "body");
        int captures = Math.toIntExact(ctx.intAttr(ControlFlowOps.CAPTURES));
        int carried = body.inputs().size() - 2 - captures;
        int scans = n.outputs().size() - carried;
        CodeBlock.Builder b = CodeBlock.builder();
        String trips = ctx.locals.newName("tripLimit");
        String cond = ctx.locals.newName("cond");
        b.addStatement("long $N = $L", trips, n.hasInput(0) ? ctx.in(0).at(CodeBlock.of("0")) : "Long.MAX_VALUE");
        b.addStatement("boolean $N = $L", cond, n.hasInput(1) ? ctx.in(1).at(CodeBlock.of("0")) : "true");
        List<String> inputs = new ArrayList<>();
        String iterationIn = buffer(ctx, b, "iteration", body.inputs().get(0));
        String condIn = buffer(ctx, b, "cond_in", body.inputs().get(1));
        inputs.add(iterationIn);
        inputs.add(condIn);
        b.add("// The carried values' first inputs, and the captured values every iteration reads.\n");
        for (int i = 2; i < body.inputs().size(); i++) {
            Value in = body.inputs().get(i);
            String buffer = buffer(ctx, b, in.name(), in);
            copyIn(ctx, b, n.input(i), buffer);
            inputs.add(buffer);
        }
        List<String> outputs = new ArrayList<>();
        for (Value out : body.outputs()) {
            outputs.add(buffer(ctx, b, out.name(), out));
        }
        List<CodeBlock> rows = new ArrayList<>();
        for (int k = 0; k < scans; k++) {
            rows.add(ctx.dim(n.output(carried + k).shape().dim(0)));
        }
        String i = ctx.locals.newName("iteration");
        b.addStatement("int $N = 0", i);
        b.beginControlFlow("for (; $N < $N && $N; $N++)", i, trips, cond, i);
        b.addStatement("this.$N[0] = $N", iterationIn, i);
        b.addStatement("this.$N[0] = $N", condIn, cond);
        call(b, body, inputs, outputs);
        b.addStatement("$N = this.$N[0]", cond, outputs.get(0));
        for (int j = 0; j < carried; j++) {
            b.addStatement("$T.arraycopy(this.$N, 0, this.$N, 0, $L)", System.class, outputs.get(1 + j),
                    inputs.get(2 + j), count(ctx, body.inputs().get(2 + j).shape()));
        }
        for (int k = 0; k < scans; k++) {
            Value out = n.output(carried + k);
            if (out.isAbsent()) {
                continue;
            }
            b.beginControlFlow("if ($N >= $L)", i, rows.get(k));
            b.addStatement("throw new $T($S + $L + $S)", IllegalArgumentException.class, n.describe()
                    + ": its scan outputs were compiled for ", rows.get(k), " iterations, but it runs more");
            b.endControlFlow();
            CodeBlock slice = count(ctx, body.outputs().get(1 + carried + k).shape());
            TensorRef y = ctx.ref(out);
            b.addStatement("$T.arraycopy(this.$N, 0, $N, $L, $L)", System.class, outputs.get(1 + carried + k), y.array(),
                    y.plus(CodeBlock.of("$N * $L", i, slice)), slice);
        }
        b.endControlFlow();
        if (scans > 0) {
            b.beginControlFlow("if ($N != $L)", i, rows.get(0));
            b.addStatement("throw new $T($S + $N + $S + $L)", IllegalArgumentException.class, n.describe() + ": ran ",
                    i, " iterations, but its scan outputs were compiled for ", rows.get(0));
            b.endControlFlow();
        }
        for (int j = 0; j < carried; j++) {
            copyOut(ctx, b, inputs.get(2 + j), n.output(j));
        }
        return b.build();
    }

    // ---- Scan ----

    private static CodeBlock emitScan(EmitContext ctx) {
        Node n = ctx.node;
        Body body = compile(ctx, "body");
        int scanInputs = Math.toIntExact(ctx.intAttr("num_scan_inputs"));
        int captures = Math.toIntExact(ctx.intAttr(ControlFlowOps.CAPTURES));
        int states = n.inputs().size() - scanInputs - captures;
        int scanOutputs = n.outputs().size() - states;
        long[] inputAxes = ints(n, "scan_input_axes", scanInputs);
        long[] inputDirections = ints(n, "scan_input_directions", scanInputs);
        long[] outputAxes = ints(n, "scan_output_axes", scanOutputs);
        long[] outputDirections = ints(n, "scan_output_directions", scanOutputs);
        Value first = n.input(states);
        CodeBlock length = ctx.dim(first.shape().dim(first.shape().axis(inputAxes[0])));
        CodeBlock.Builder b = CodeBlock.builder();
        List<String> inputs = new ArrayList<>();
        b.add("// The states' first values, and the captured values every step reads.\n");
        for (int i = 0; i < body.inputs().size(); i++) {
            Value in = body.inputs().get(i);
            String buffer = buffer(ctx, b, in.name(), in);
            if (i < states || i >= states + scanInputs) {
                copyIn(ctx, b, n.input(i), buffer);
            }
            inputs.add(buffer);
        }
        List<String> outputs = new ArrayList<>();
        for (Value out : body.outputs()) {
            outputs.add(buffer(ctx, b, out.name(), out));
        }
        String t = ctx.locals.newName("step");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", t, t, length, t);
        for (int j = 0; j < scanInputs; j++) {
            Value x = n.input(states + j);
            int axis = x.shape().axis(inputAxes[j]);
            CodeBlock index = inputDirections[j] == 0 ? CodeBlock.of("$N", t) : CodeBlock.of("$L - 1 - $N", length, t);
            stridedSlice(ctx, b, x, axis, index, inputs.get(states + j), true);
        }
        call(b, body, inputs, outputs);
        for (int j = 0; j < states; j++) {
            b.addStatement("$T.arraycopy(this.$N, 0, this.$N, 0, $L)", System.class, outputs.get(j), inputs.get(j),
                    count(ctx, body.inputs().get(j).shape()));
        }
        for (int k = 0; k < scanOutputs; k++) {
            Value y = n.output(states + k);
            if (y.isAbsent()) {
                continue;
            }
            int axis = y.shape().axis(outputAxes[k]);
            CodeBlock index = outputDirections[k] == 0 ? CodeBlock.of("$N", t) : CodeBlock.of("$L - 1 - $N", length, t);
            stridedSlice(ctx, b, y, axis, index, outputs.get(states + k), false);
        }
        b.endControlFlow();
        for (int j = 0; j < states; j++) {
            copyOut(ctx, b, inputs.get(j), n.output(j));
        }
        return b.build();
    }

    /**
     * Copies slice {@code index} of {@code whole} along {@code axis} into the buffer ({@code read}), or the buffer into
     * that slice: one {@code arraycopy} per block of the axes before it.
     */
    private static void stridedSlice(EmitContext ctx, CodeBlock.Builder b, Value whole, int axis, CodeBlock index,
                                     String buffer, boolean read) {
        List<Dim> dims = whole.shape().dims();
        CodeBlock outer = product(ctx, dims.subList(0, axis));
        CodeBlock inner = product(ctx, dims.subList(axis + 1, dims.size()));
        CodeBlock length = ctx.dim(dims.get(axis));
        TensorRef ref = read ? ctx.ref(whole) : ctx.ref(whole);
        if (outer.toString().equals("1")) {
            CodeBlock at = ref.plus(CodeBlock.of("($L) * $L", index, inner));
            arraycopy(b, ref.array(), at, "this." + buffer, CodeBlock.of("0"), inner, read);
            return;
        }
        String o = ctx.locals.newName("block");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, outer, o);
        CodeBlock at = ref.plus(CodeBlock.of("($N * $L + $L) * $L", o, length, index, inner));
        arraycopy(b, ref.array(), at, "this." + buffer, CodeBlock.of("$N * $L", o, inner), inner, read);
        b.endControlFlow();
    }

    private static void arraycopy(CodeBlock.Builder b, String whole, CodeBlock wholeAt, String buffer, CodeBlock bufferAt,
                                  CodeBlock count, boolean read) {
        if (read) {
            b.addStatement("$T.arraycopy($L, $L, $L, $L, $L)", System.class, whole, wholeAt, buffer, bufferAt, count);
        } else {
            b.addStatement("$T.arraycopy($L, $L, $L, $L, $L)", System.class, buffer, bufferAt, whole, wholeAt, count);
        }
    }

    // ---- shared ----

    /** Compiles the body in attribute {@code attr} as a nested class and adds the field holding its instance. */
    private static Body compile(EmitContext ctx, String attr) {
        Graph g = ((Attr.GraphValue) ctx.node.attributes().get(attr).orElseThrow()).value();
        ModelPlan outer = ctx.plan();
        String name = outer.names.newName(Identifiers.upperCamel(Identifiers.method(ctx.node) + "_" + attr));
        ModelPlan plan;
        try {
            plan = new ModelPlan(g, new CodegenOptions(outer.options.packageName(), name, 1, outer.options.sourceName()));
        } catch (UnsupportedOpException e) {
            throw new UnsupportedOpException(ctx.node.describe() + ", " + attr + ": " + e.getMessage());
        }
        plan.self = outer.self.nestedClass(name);
        plan.keyPrefix = outer.keyPrefix + name + "/";
        outer.nestedClasses.add(ClassWriter.writeNested(plan));
        String field = ctx.derivedField("body " + plan.self, plan.self, Identifiers.camel(name, "body"),
                CodeBlock.of("new $T(weights, source)", plan.self));
        return new Body(field, new ArrayList<>(plan.inputParams.keySet()), new ArrayList<>(plan.outputParams.keySet()));
    }

    private static void call(CodeBlock.Builder b, Body body, List<String> inputs, List<String> outputs) {
        List<CodeBlock> args = new ArrayList<>();
        inputs.forEach(a -> args.add(CodeBlock.of("this.$N", a)));
        args.add(CodeBlock.of("batch"));
        outputs.forEach(a -> args.add(CodeBlock.of("this.$N", a)));
        b.addStatement("this.$N.run($L)", body.field(), CodeBlock.join(args, ", "));
    }

    /** A per-instance array for body value v, grown here to v's size this run. */
    private static String buffer(EmitContext ctx, CodeBlock.Builder b, String hint, Value v) {
        ElementType t = ElementType.of(v.dtype());
        String field = ctx.growableArray(Identifiers.camel(hint, "body"), t.array(), "What a body is run on; grown on demand.");
        CodeBlock n = count(ctx, v.shape());
        b.beginControlFlow("if (this.$N.length < $L)", field, n)
                .addStatement("this.$N = new $T[$L]", field, t.element(), n)
                .endControlFlow();
        return field;
    }

    private static void copyIn(EmitContext ctx, CodeBlock.Builder b, Value from, String buffer) {
        TensorRef x = ctx.ref(from);
        b.addStatement("$T.arraycopy($N, $L, this.$N, 0, $L)", System.class, x.array(), x.offset(), buffer,
                count(ctx, from.shape()));
    }

    private static void copyOut(EmitContext ctx, CodeBlock.Builder b, String buffer, Value to) {
        if (to.isAbsent()) {
            return;
        }
        TensorRef y = ctx.ref(to);
        b.addStatement("$T.arraycopy(this.$N, 0, $N, $L, $L)", System.class, buffer, y.array(), y.offset(),
                count(ctx, to.shape()));
    }

    private static CodeBlock count(EmitContext ctx, Shape s) {
        return product(ctx, s.dims());
    }

    /** The product of dims as code, its static factors folded. */
    private static CodeBlock product(EmitContext ctx, List<Dim> dims) {
        long constant = 1;
        List<CodeBlock> factors = new ArrayList<>();
        for (Dim d : dims) {
            if (d.isStatic()) {
                constant *= d.value();
            } else {
                factors.add(ctx.dim(d));
            }
        }
        if (constant != 1 || factors.isEmpty()) {
            factors.add(0, CodeBlock.of("$L", constant));
        }
        return factors.size() == 1 ? factors.get(0) : CodeBlock.of("($L)", CodeBlock.join(factors, " * "));
    }

    private static long[] ints(Node n, String attr, int count) {
        return n.attributes().get(attr).map(a -> ((Attr.Ints) a).toArray()).orElse(new long[count]);
    }
}
