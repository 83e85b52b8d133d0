package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Shape;

/**
 * What the emitters of value-dependent shapes (TopK, Compress, NonZero, MaxUnpool) share: the runtime classes they
 * call and a compiled shape as an {@code int[]} for the runtime's checks (a static field when the shape is static,
 * else an instance field whose batch-sized dims are set at the start of the method, so nothing is allocated).
 */
final class RunTimeShapes {
    private RunTimeShapes() {}

    static final ClassName VALUE_SHAPES = ClassName.get("dev.kiln.runtime", "ValueShapes");
    static final ClassName TOP_K_ORDER = ClassName.get("dev.kiln.runtime", "TopKOrder");

    /** The compiled shape of {@code s} as an {@code int[]} expression, adding to {@code b} what sets it this run. */
    static CodeBlock shapeArray(EmitContext ctx, CodeBlock.Builder b, Shape s, String key, String hint) {
        TypeName ints = ArrayTypeName.of(TypeName.INT);
        if (s.isStatic()) {
            return CodeBlock.of("$N", ctx.staticField(key, ints, hint.toUpperCase(java.util.Locale.ROOT) + "_SHAPE",
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
