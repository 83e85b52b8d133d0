package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;

/**
 * How generated code holds the elements of one ONNX element type. float32 in {@code float[]}; float16,
 * bfloat16, the float8 types, float4e2m1 and float8e8m0 also in {@code float[]}, every stored value rounded to the
 * type (as the reference evaluator rounds its results); float64 in {@code double[]}; int64, uint64 (its
 * two's-complement bits) and uint32 in {@code long[]}; int32, int16, int8, uint16, uint8 and the 4- and 2-bit
 * integers in {@code int[]}, one element per int (their values, so uint8 255 is 255); bool
 * in {@code boolean[]}; string in {@code String[]} (only emitters that declare it handle
 * strings: {@link KernelEmitter#strings}). Integers are computed in {@code long} and wrapped to their type when
 * stored, as a C cast would.
 *
 * @param dtype the ONNX element type
 * @param element the Java element type of the arrays
 * @param compute the Java type expressions over one element are computed in
 */
record ElementType(DType dtype, TypeName element, TypeName compute) {
    static final ClassName ELEMENT_MATH = ClassName.get("dev.kiln.runtime", "ElementMath");
    static final ClassName LOW_PRECISION = ClassName.get("dev.kiln.runtime", "LowPrecision");
    private static final ClassName STRING = ClassName.get(String.class);

    static ElementType of(DType t) {
        return switch (t) {
            case FLOAT32, FLOAT16, BFLOAT16, FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT4E2M1,
                 FLOAT8E8M0 -> new ElementType(t, TypeName.FLOAT, TypeName.FLOAT);
            case FLOAT64 -> new ElementType(t, TypeName.DOUBLE, TypeName.DOUBLE);
            case INT64, UINT64, UINT32 -> new ElementType(t, TypeName.LONG, TypeName.LONG);
            case INT32, INT16, INT8, UINT16, UINT8, INT4, UINT4, INT2, UINT2 ->
                    new ElementType(t, TypeName.INT, TypeName.LONG);
            case BOOL -> new ElementType(t, TypeName.BOOLEAN, TypeName.BOOLEAN);
            case STRING -> new ElementType(t, STRING, STRING);
        };
    }

    TypeName array() {
        return ArrayTypeName.of(element);
    }

    boolean isFloat32() {
        return dtype == DType.FLOAT32;
    }

    /** A word for messages and Javadoc ({@code float32}, {@code int64}). */
    String doc() {
        return dtype.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The element type's name in identifiers ({@code Float64}, {@code Int32}), e.g. of its arena. */
    String suffix() {
        String s = doc();
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    /** The Java array type as a reader writes it ({@code float[]}, {@code String[]}), for Javadoc and messages. */
    String arrayDoc() {
        return (element instanceof ClassName c ? c.simpleName() : element.toString()) + "[]";
    }

    /** Plural of the Java element type, for messages ({@code floats}, {@code longs}, {@code Strings}). */
    String javaPlural() {
        return (element instanceof ClassName c ? c.simpleName() : element.toString()) + "s";
    }

    boolean isString() {
        return dtype == DType.STRING;
    }

    /**
     * {@code expr} (of the compute type, or any narrower Java type) as a value to store in an array of this type:
     * wrapped to an integer type's range, rounded to float16/bfloat16 or to a float8 type as {@code DType.round}
     * does (without saturation, so a value of the type stays itself).
     */
    CodeBlock narrow(CodeBlock expr) {
        return switch (dtype) {
            case FLOAT16 -> CodeBlock.of("$T.toFloat16($L)", ELEMENT_MATH, expr);
            case BFLOAT16 -> CodeBlock.of("$T.toBfloat16($L)", ELEMENT_MATH, expr);
            case FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ -> toLowPrecision(expr, false, "UP");
            case FLOAT4E2M1 -> CodeBlock.of("$T.toFloat4E2M1($L)", LOW_PRECISION, expr);
            case FLOAT8E8M0 -> toLowPrecision(expr, true, "UP");
            case INT4 -> CodeBlock.of("$T.toInt4($L)", LOW_PRECISION, expr);
            case UINT4 -> CodeBlock.of("$T.toUint4($L)", LOW_PRECISION, expr);
            case INT2 -> CodeBlock.of("$T.toInt2($L)", LOW_PRECISION, expr);
            case UINT2 -> CodeBlock.of("$T.toUint2($L)", LOW_PRECISION, expr);
            // Methods rather than casts: the expression may already be an int, and javac -Xlint flags redundant casts.
            case INT32 -> CodeBlock.of("$T.toInt32($L)", ELEMENT_MATH, expr);
            case INT16 -> CodeBlock.of("$T.toInt16($L)", ELEMENT_MATH, expr);
            case INT8 -> CodeBlock.of("$T.toInt8($L)", ELEMENT_MATH, expr);
            case UINT16 -> CodeBlock.of("$T.toUint16($L)", ELEMENT_MATH, expr);
            case UINT8 -> CodeBlock.of("$T.toUint8($L)", ELEMENT_MATH, expr);
            case UINT32 -> CodeBlock.of("$T.toUint32($L)", ELEMENT_MATH, expr);
            default -> expr;
        };
    }

    /**
     * {@code expr} converted to this float8, float4 or float8e8m0 type as Cast converts with {@code saturate} and
     * (float8e8m0 only) {@code roundMode}, an {@code up}, {@code down} or {@code nearest} in any case.
     */
    CodeBlock toLowPrecision(CodeBlock expr, boolean saturate, String roundMode) {
        return switch (dtype) {
            case FLOAT8E4M3FN -> CodeBlock.of("$T.toFloat8E4M3FN($L, $L)", LOW_PRECISION, expr, saturate);
            case FLOAT8E4M3FNUZ -> CodeBlock.of("$T.toFloat8E4M3FNUZ($L, $L)", LOW_PRECISION, expr, saturate);
            case FLOAT8E5M2 -> CodeBlock.of("$T.toFloat8E5M2($L, $L)", LOW_PRECISION, expr, saturate);
            case FLOAT8E5M2FNUZ -> CodeBlock.of("$T.toFloat8E5M2FNUZ($L, $L)", LOW_PRECISION, expr, saturate);
            case FLOAT4E2M1 -> CodeBlock.of("$T.toFloat4E2M1($L)", LOW_PRECISION, expr);
            case FLOAT8E8M0 -> CodeBlock.of("$T.toFloat8E8M0($L, $L, $T.$L)", LOW_PRECISION, expr, saturate,
                    LOW_PRECISION.nestedClass("RoundMode"), roundMode.toUpperCase(java.util.Locale.ROOT));
            default -> throw new IllegalStateException(dtype + " is not a float8, float4 or float8e8m0 type");
        };
    }

    /** Element {@code i} of a constant tensor of this type as a Java literal of the compute type. */
    CodeBlock literal(Tensor t, int i) {
        return switch (dtype.kind()) {
            case FLOAT -> compute.equals(TypeName.DOUBLE) ? doubleLiteral(t.getDouble(i))
                    : ElementwiseEmitter.literal((float) t.getDouble(i));
            case INTEGER -> CodeBlock.of("$LL", t.longs()[i]);
            case BOOL -> CodeBlock.of("$L", t.bools()[i]);
            case STRING -> CodeBlock.of("$S", t.strings()[i]);
        };
    }

    /** Element {@code i} of a constant tensor of this type as a literal of the array's element type. */
    CodeBlock elementLiteral(Tensor t, int i) {
        return element.equals(TypeName.INT) ? CodeBlock.of("$L", (int) t.longs()[i]) : literal(t, i);
    }

    /** The element type's value for a number given as a double (a default such as Pad's 0), as a literal. */
    CodeBlock elementLiteral(double v) {
        return elementLiteral(Tensor.fromDoubles(dtype, new int[0], new double[] {v}), 0);
    }

    static CodeBlock doubleLiteral(double d) {
        if (Double.isNaN(d)) {
            return CodeBlock.of("$T.NaN", Double.class);
        }
        if (Double.isInfinite(d)) {
            return CodeBlock.of(d > 0 ? "$T.POSITIVE_INFINITY" : "$T.NEGATIVE_INFINITY", Double.class);
        }
        return CodeBlock.of("$L", Double.toString(d));
    }

    /** The constant's elements as the Java array the weights resource stores for this type. */
    Object toArray(Tensor t) {
        if (t.dtype() != dtype) {
            throw new IllegalArgumentException(t.type() + " is not " + dtype);
        }
        int n = t.size();
        if (element.equals(TypeName.FLOAT)) {
            return t.toFloatArray();
        }
        if (element.equals(TypeName.DOUBLE)) {
            return t.toDoubleArray();
        }
        if (element.equals(TypeName.LONG)) {
            return t.longs().clone();
        }
        if (element.equals(TypeName.INT)) {
            int[] a = new int[n];
            for (int i = 0; i < n; i++) {
                a[i] = (int) t.longs()[i];
            }
            return a;
        }
        if (element.equals(STRING)) {
            return t.strings().clone();
        }
        return t.bools().clone();
    }

    /** The {@code WeightsFile} method that reads an array of this element type. */
    String requireMethod() {
        if (element.equals(TypeName.FLOAT)) {
            return "require";
        }
        if (element.equals(TypeName.DOUBLE)) {
            return "requireDoubles";
        }
        if (element.equals(TypeName.LONG)) {
            return "requireLongs";
        }
        if (element.equals(STRING)) {
            return "requireStrings";
        }
        return element.equals(TypeName.INT) ? "requireInts" : "requireBooleans";
    }

    /** The Java element type's zero ({@code 0}, {@code false}, the empty string as the reference evaluator fills). */
    CodeBlock zero() {
        if (isString()) {
            return CodeBlock.of("$S", "");
        }
        return element.equals(TypeName.BOOLEAN) ? CodeBlock.of("false") : CodeBlock.of("0");
    }

    static int length(Object array) {
        return switch (array) {
            case float[] a -> a.length;
            case double[] a -> a.length;
            case long[] a -> a.length;
            case int[] a -> a.length;
            case boolean[] a -> a.length;
            case String[] a -> a.length;
            default -> throw new IllegalArgumentException(String.valueOf(array));
        };
    }
}
