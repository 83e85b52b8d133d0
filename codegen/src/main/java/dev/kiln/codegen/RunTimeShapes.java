package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.Locale;

/**
 * What the emitters of ops whose output shape depends on input values share. Such a shape (a Reshape target,
 * Slice bounds, a Range limit... given as a graph input or computed) is compiled as the model declares it, so the
 * generated code checks at run time, through the runtime's {@code ShapeChecks}, that the values really give it:
 * here are the test for an input read at run time, the static dims arrays the checks read, and {@code long[]}
 * views of integer inputs held in narrower arrays. Ops whose output extent depends on data (TopK, Compress,
 * NonZero, MaxUnpool) call the runtime's {@code ValueShapes} with a compiled shape as an {@code int[]}
 * ({@link #shapeArray}).
 */
final class RunTimeShapes {
    static final ClassName SHAPE_CHECKS = ClassName.get("dev.kiln.runtime", "ShapeChecks");
    static final ClassName VALUE_SHAPES = ClassName.get("dev.kiln.runtime", "ValueShapes");
    static final ClassName TOP_K_ORDER = ClassName.get("dev.kiln.runtime", "TopKOrder");
    static final ClassName DYNAMIC_TENSORS = ClassName.get("dev.kiln.runtime", "DynamicTensors");
    private static final TypeName LONGS = ArrayTypeName.of(TypeName.LONG);

    private RunTimeShapes() {}

    /**
     * True when input {@code i} of the node is present and read at run time: neither a constant nor a function of
     * the batch that generation resolves from static types (e.g. Reshape's target {@code Shape(x)}).
     */
    static boolean atRunTime(EmitContext ctx, int i) {
        Node n = ctx.node;
        return n.hasInput(i) && !ctx.isConstant(n.input(i)) && ctx.batchValue(n.input(i)).isEmpty();
    }

    /** The node as the checks name it in messages, as a string literal. */
    static CodeBlock node(EmitContext ctx) {
        return CodeBlock.of("$S", ctx.node.describe());
    }

    /**
     * A {@code static final long[]} of v's dims as {@code ShapeChecks} reads them (-k for k times the batch), named
     * after v ({@code DATA_DIMS}).
     */
    static String dims(EmitContext ctx, Value v) {
        if (ctx.isDynamic(v)) {
            return ctx.dimsField(v);
        }
        long[] encoded = new long[v.shape().rank()];
        for (int d = 0; d < encoded.length; d++) {
            encoded[d] = encode(ctx, v.shape().dim(d));
        }
        return dims(ctx, encoded, v.name());
    }

    /**
     * The dims of v the code is compiled with, for the producer of a value whose other dims are known only at run time:
     * a {@code static final long[]} as {@link #dims(EmitContext, Value)} encodes them, with {@code ShapeChecks.UNKNOWN}
     * for those.
     */
    static String compiledDims(EmitContext ctx, Value v) {
        CodeBlock.Builder init = CodeBlock.builder().add("{");
        StringBuilder key = new StringBuilder();
        for (int d = 0; d < v.shape().rank(); d++) {
            Dim dim = v.shape().dim(d);
            init.add(d == 0 ? "" : ", ");
            if (dim.hasUnknown()) {
                init.add("$T.UNKNOWN", SHAPE_CHECKS);
                key.append("?,");
            } else {
                init.add("$LL", encode(ctx, dim));
                key.append(encode(ctx, dim)).append(',');
            }
        }
        String hint = Identifiers.camel(v.name(), "value").replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT)
                + "_COMPILED_DIMS";
        return ctx.staticField("dims:" + hint + key, LONGS, hint, init.add("}").build());
    }

    /** A {@code static final long[]} holding encoded dims, named after {@code name}, shared by equal ones. */
    static String dims(EmitContext ctx, long[] encoded, String name) {
        CodeBlock.Builder init = CodeBlock.builder().add("{");
        for (int d = 0; d < encoded.length; d++) {
            init.add(d == 0 ? "$LL" : ", $LL", encoded[d]);
        }
        String hint = Identifiers.camel(name, "value").replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT)
                + "_DIMS";
        return ctx.staticField("dims:" + hint + Arrays.toString(encoded), LONGS, hint, init.add("}").build());
    }

    /** One dim as {@code ShapeChecks} reads it: a static dim as is, k times the batch as -k. */
    static long encode(EmitContext ctx, Dim d) {
        if (d.isStatic()) {
            return d.value();
        }
        ctx.dim(d);
        return -d.coefficient();
    }

    /**
     * Input {@code i} of the node as a {@code long[]} with an offset: as it is when generated code holds it in
     * {@code long[]} (int64), else widened element by element into a scratch field first (int32 and narrower).
     */
    static TensorRef longs(EmitContext ctx, CodeBlock.Builder b, int i) {
        Value v = ctx.node.input(i);
        TensorRef ref = ctx.in(i);
        if (EmitContext.type(v).element().equals(TypeName.LONG)) {
            return ref;
        }
        int n = Math.toIntExact(v.shape().elementCount().value());
        String wide = ctx.derivedField("widened:" + ctx.node.describe() + ":" + i, LONGS, "widened",
                CodeBlock.of("new long[$L]", n));
        String k = ctx.locals.newName("k");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, n, k)
                .addStatement("this.$N[$N] = $L", wide, k, ref.at(CodeBlock.of("$N", k)))
                .endControlFlow();
        return new TensorRef("this." + wide, CodeBlock.of("0"));
    }

    /** A per-instance {@code long[length]} the node's check fills (Slice's and Pad's resolved window). */
    static String window(EmitContext ctx, int length) {
        return ctx.derivedField("window:" + ctx.node.describe(), LONGS, Identifiers.method(ctx.node) + "Window",
                CodeBlock.of("new long[$L]", length));
    }

    /** The static element count of a 1-D shape-giving input (its length). */
    static int length(EmitContext ctx, int i) {
        Value v = ctx.node.input(i);
        Dim n = v.shape().elementCount();
        if (!n.isStatic()) {
            throw ctx.unsupported(ctx.node.qualifiedOp() + " with input '" + v.name() + "' of length " + n);
        }
        return Math.toIntExact(n.value());
    }

    /** The input's name as a string literal, for messages. */
    static CodeBlock name(EmitContext ctx, int i) {
        return CodeBlock.of("$S", ctx.node.input(i).name());
    }

    /**
     * The compiled shape of {@code s} as an {@code int[]} expression, adding to {@code b} what sets it this run: a
     * static field when the shape is static, else an instance field whose batch-sized dims are set here, so nothing
     * is allocated.
     */
    static CodeBlock shapeArray(EmitContext ctx, CodeBlock.Builder b, Shape s, String key, String hint) {
        TypeName ints = ArrayTypeName.of(TypeName.INT);
        if (s.isStatic()) {
            return CodeBlock.of("$N", ctx.staticField(key, ints, hint.toUpperCase(Locale.ROOT) + "_SHAPE",
                    intArray(s.toIntArray())));
        }
        String field = "this." + ctx.derivedField(key, ints, hint + "Shape", CodeBlock.of("new int[$L]", s.rank()));
        for (int d = 0; d < s.rank(); d++) {
            Dim dim = s.dim(d);
            b.addStatement("$L[$L] = $L", field, d, ctx.dim(dim));
        }
        return CodeBlock.of("$L", field);
    }

    static CodeBlock intArray(int[] values) {
        CodeBlock.Builder c = CodeBlock.builder().add("{");
        for (int i = 0; i < values.length; i++) {
            c.add(i == 0 ? "$L" : ", $L", values[i]);
        }
        return c.add("}").build();
    }
}
