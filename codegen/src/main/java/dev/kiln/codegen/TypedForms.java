package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.UnsupportedOpException;
import java.util.List;
import java.util.Set;

/**
 * Scalar forms of elementwise ops on any element type, for the loops {@link ElementwiseEmitter} writes when a
 * chain is not all float32: arguments and results are expressions of their {@link ElementType}'s compute type
 * ({@code float} for float32/16 and bfloat16, {@code double}, {@code long} for integers, {@code boolean},
 * {@code String}, which only Equal, Where, Identity and StringConcat take); the
 * caller narrows each result to its element type. Ops on float-like values only reuse {@link PointwiseForms}.
 * Integer semantics follow the reference evaluator (division truncates, a zero divisor gives 0, uint64 divides
 * and compares unsigned).
 */
final class TypedForms {
    private static final Set<String> OPS = Set.of("Cast", "CastLike", "BitCast", "Where", "Equal", "Less", "Greater", "LessOrEqual",
            "GreaterOrEqual", "Not", "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot",
            "IsNaN", "IsInf", "Mod", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Neg", "Abs", "Sign",
            "Identity", "Clip", "Relu", "Sqrt", "Exp", "Log", "Tanh", "Sin", "Cos", "Floor", "Ceil", "Round",
            "Reciprocal", "Sigmoid", "StringConcat");
    /** The types held in {@code float}s, whose ops compute in float and round the result to the type. */
    private static final Set<DType> FLOAT_LIKE = Set.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16,
            DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ, DType.FLOAT4E2M1,
            DType.FLOAT8E8M0);

    private TypedForms() {}

    /** The ops with a typed form (in the default domain). */
    static Set<String> supportedOps() {
        return OPS;
    }

    static boolean supports(Node n) {
        return n.domain().isEmpty() && (OPS.contains(n.op()) || PointwiseForms.supports(n));
    }

    /**
     * True when the op has a form for the strings it reads or writes: Equal (string equality), Where and Identity
     * (which pass references on), StringConcat (Java's {@code +}), Cast and CastLike from string (the string's number,
     * parsed as ONNX says); every op
     * without string operands trivially. Cast to string is not among them: the reference evaluator's number format
     * ({@code Float.toString}) is not the plain decimal ONNX asks for, and generated code does not copy it.
     */
    static boolean handlesStrings(Node n) {
        boolean touches = n.outputs().stream().anyMatch(v -> !v.isAbsent() && v.dtype() == DType.STRING)
                || n.inputs().stream().anyMatch(v -> !v.isAbsent() && v.dtype() == DType.STRING);
        if (!touches || !n.domain().isEmpty()) {
            return !touches;
        }
        if (n.op().equals("Cast") || n.op().equals("CastLike")) {
            return n.output(0).dtype() != DType.STRING || n.input(0).dtype() == DType.STRING;
        }
        return Set.of("Equal", "Where", "Identity", "StringConcat").contains(n.op());
    }

    /** True when the op reads and writes float-like values only, so {@link PointwiseForms}' float forms apply. */
    private static boolean floatLike(Node n) {
        for (int i = 0; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && !FLOAT_LIKE.contains(n.input(i).dtype())) {
                return false;
            }
        }
        return FLOAT_LIKE.contains(n.output(0).dtype());
    }

    /** The op applied to {@code a} (expressions of the inputs' compute types; null for absent inputs). */
    static CodeBlock scalar(Node n, List<CodeBlock> a) {
        String op = n.op();
        DType x = n.hasInput(0) ? n.input(0).dtype() : n.output(0).dtype();
        switch (op) {
            case "Cast", "CastLike" -> {
                DType to = n.output(0).dtype();
                if (to.isLowPrecisionFloat() && x != DType.STRING) {
                    return toLowPrecision(n, a.get(0), x, to);
                }
                return cast(a.get(0), x, to);
            }
            case "BitCast" -> {
                return bitCast(a.get(0), x, n.output(0).dtype());
            }
            case "Where" -> {
                return CodeBlock.of("($L ? $L : $L)", a.get(0), a.get(1), a.get(2));
            }
            case "StringConcat" -> {
                return CodeBlock.of("($L + $L)", a.get(0), a.get(1));
            }
            case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual" -> {
                return compare(op, a.get(0), a.get(1), x);
            }
            case "Not" -> {
                return CodeBlock.of("!$L", a.get(0));
            }
            case "And" -> {
                return CodeBlock.of("($L & $L)", a.get(0), a.get(1));
            }
            case "Or" -> {
                return CodeBlock.of("($L | $L)", a.get(0), a.get(1));
            }
            case "Xor" -> {
                return CodeBlock.of("($L ^ $L)", a.get(0), a.get(1));
            }
            case "IsNaN" -> {
                return CodeBlock.of("$T.isNaN($L)", x == DType.FLOAT64 ? Double.class : Float.class, a.get(0));
            }
            case "IsInf" -> {
                Class<?> box = x == DType.FLOAT64 ? Double.class : Float.class;
                boolean pos = OpTable.get().intAttr(n, "detect_positive") != 0;
                boolean neg = OpTable.get().intAttr(n, "detect_negative") != 0;
                CodeBlock p = CodeBlock.of("$L == $T.POSITIVE_INFINITY", a.get(0), box);
                CodeBlock m = CodeBlock.of("$L == $T.NEGATIVE_INFINITY", a.get(0), box);
                return pos && neg ? CodeBlock.of("($L || $L)", p, m) : pos ? CodeBlock.of("($L)", p)
                        : neg ? CodeBlock.of("($L)", m) : CodeBlock.of("false");
            }
            default -> { }
        }
        if (floatLike(n) && PointwiseForms.supports(n)) {
            return PointwiseForms.of(n, a).scalar();
        }
        if (x.isInteger()) {
            return integer(n, a, x);
        }
        if (x == DType.FLOAT64 || FLOAT_LIKE.contains(x)) {
            return floating(n, a, x);
        }
        throw unsupported(n);
    }

    private static UnsupportedOpException unsupported(Node n) {
        StringBuilder types = new StringBuilder();
        for (int i = 0; i < n.inputs().size(); i++) {
            if (n.hasInput(i)) {
                types.append(types.isEmpty() ? "" : ", ").append(n.input(i).type());
            }
        }
        return new UnsupportedOpException(n.describe() + ": " + n.op() + " on " + types + " is not supported by code "
                + "generation yet");
    }

    /** The bits of {@code a} (of type {@code from}) as a value of {@code to}, as the reference's BitCast reads them. */
    private static CodeBlock bitCast(CodeBlock a, DType from, DType to) {
        CodeBlock bits = switch (from) {
            case FLOAT32 -> CodeBlock.of("(long) $T.floatToRawIntBits($L)", Float.class, a);
            case FLOAT64 -> CodeBlock.of("$T.doubleToRawLongBits($L)", Double.class, a);
            case FLOAT16 -> CodeBlock.of("(long) $T.floatToFloat16($L)", Float.class, a);
            case BFLOAT16 -> CodeBlock.of("(long) ($T.floatToRawIntBits($L) >>> 16)", Float.class, a);
            case BOOL -> CodeBlock.of("($L ? 1L : 0L)", a);
            default -> a;
        };
        return switch (to) {
            // Methods rather than casts: an int32 element is already an int, and javac -Xlint flags redundant casts.
            case FLOAT32 -> CodeBlock.of("$T.intBitsToFloat($T.toInt32($L))", Float.class, ElementType.ELEMENT_MATH, bits);
            case FLOAT64 -> CodeBlock.of("$T.longBitsToDouble($L)", Double.class, bits);
            case FLOAT16 -> CodeBlock.of("$T.float16ToFloat((short) $T.toInt16($L))", Float.class, ElementType.ELEMENT_MATH,
                    bits);
            case BFLOAT16 -> CodeBlock.of("$T.intBitsToFloat($T.toInt32($L) << 16)", Float.class, ElementType.ELEMENT_MATH,
                    bits);
            case BOOL -> CodeBlock.of("(($L & 0xFF) != 0)", bits);
            default -> bits;
        };
    }

    /**
     * True when {@link #scalar}'s form already is a value of the output's element type, so the caller must not
     * round it again: Cast to a float8, float4 or float8e8m0 type, whose rounding depends on the node's saturate
     * and round_mode.
     */
    static boolean producesOutputType(Node n) {
        return n.domain().isEmpty() && (n.op().equals("Cast") || n.op().equals("CastLike"))
                && n.output(0).dtype().isLowPrecisionFloat() && n.input(0).dtype() != DType.STRING;
    }

    /** Cast of {@code a} (of type {@code from}) to a float8, float4 or float8e8m0 type with the node's attributes. */
    private static CodeBlock toLowPrecision(Node n, CodeBlock a, DType from, DType to) {
        if (from == to) {
            return a;
        }
        CodeBlock value = from == DType.BOOL ? CodeBlock.of("($L ? 1 : 0)", a)
                : from == DType.UINT64 ? CodeBlock.of("$T.unsignedToDouble($L)", ElementType.ELEMENT_MATH, a) : a;
        boolean saturate = OpTable.get().intAttr(n, "saturate") != 0;
        return ElementType.of(to).toLowPrecision(value, saturate, OpTable.get().stringAttr(n, "round_mode"));
    }

    private static CodeBlock cast(CodeBlock a, DType from, DType to) {
        if (from == DType.STRING && to == DType.STRING) {
            return a;
        }
        if (to == DType.STRING) {
            throw new UnsupportedOpException("code generation does not handle string tensors (Cast from " + from + " to "
                    + to + ")");
        }
        if (from == DType.STRING) {
            // As the evaluator: the string's number as a double, then that double cast like a float64.
            return cast(CodeBlock.of("$T.parseNumber($L)", ElementType.ELEMENT_MATH, a), DType.FLOAT64, to);
        }
        if (to == DType.BOOL) {
            return from == DType.BOOL ? a : CodeBlock.of("($L != 0)", a);
        }
        if (from == DType.BOOL) {
            return to.isFloat() ? CodeBlock.of("($L ? 1 : 0)", a) : CodeBlock.of("($L ? 1L : 0L)", a);
        }
        // The reference converts through double: integer -> double -> float32 rounds the same way here.
        CodeBlock asDouble = from == DType.UINT64 ? CodeBlock.of("$T.unsignedToDouble($L)", ElementType.ELEMENT_MATH, a)
                : from == DType.FLOAT64 ? a : CodeBlock.of("(double) $L", a);
        if (FLOAT_LIKE.contains(to)) {
            return FLOAT_LIKE.contains(from) ? a : CodeBlock.of("(float) $L", asDouble);
        }
        if (to == DType.FLOAT64) {
            return asDouble;
        }
        if (from.isFloat()) {
            return to == DType.UINT64 ? CodeBlock.of("$T.toLong($L)", ElementType.ELEMENT_MATH, a)
                    : CodeBlock.of("(long) $L", a);
        }
        return a;
    }

    private static CodeBlock compare(String op, CodeBlock a, CodeBlock b, DType t) {
        String sym = switch (op) {
            case "Equal" -> "==";
            case "Less" -> "<";
            case "Greater" -> ">";
            case "LessOrEqual" -> "<=";
            default -> ">=";
        };
        if (t == DType.UINT64) {
            return CodeBlock.of("($T.compareUnsigned($L, $L) $L 0)", Long.class, a, b, sym);
        }
        if (t == DType.BOOL) {
            return CodeBlock.of("($T.compare($L, $L) $L 0)", Boolean.class, a, b, sym);
        }
        if (t == DType.STRING) {
            if (!op.equals("Equal")) {
                throw new UnsupportedOpException(op + " on strings (ONNX orders numbers only)");
            }
            return CodeBlock.of("$L.equals($L)", a, b);
        }
        return CodeBlock.of("($L $L $L)", a, sym, b);
    }

    private static CodeBlock integer(Node n, List<CodeBlock> a, DType t) {
        boolean u64 = t == DType.UINT64;
        boolean unsigned = t.isUnsigned();
        CodeBlock math = CodeBlock.of("$T", ElementType.ELEMENT_MATH);
        return switch (n.op()) {
            case "Add" -> CodeBlock.of("($L + $L)", a.get(0), a.get(1));
            case "Sub" -> CodeBlock.of("($L - $L)", a.get(0), a.get(1));
            case "Mul" -> CodeBlock.of("($L * $L)", a.get(0), a.get(1));
            case "Div" -> CodeBlock.of("$L.$N($L, $L)", math, u64 ? "divUnsigned" : "div", a.get(0), a.get(1));
            case "Mod" -> u64 ? CodeBlock.of("$L.modUnsigned($L, $L)", math, a.get(0), a.get(1))
                    : CodeBlock.of("$L.mod($L, $L, $L)", math, a.get(0), a.get(1),
                            OpTable.get().intAttr(n, "fmod") != 0);
            case "Max", "Min" -> {
                boolean max = n.op().equals("Max");
                CodeBlock acc = a.get(0);
                for (int i = 1; i < a.size(); i++) {
                    acc = u64 ? CodeBlock.of("($T.compareUnsigned($L, $L) $L 0 ? $L : $L)", Long.class, acc, a.get(i),
                            max ? ">=" : "<=", acc, a.get(i))
                            : CodeBlock.of("$T.$N($L, $L)", Math.class, max ? "max" : "min", acc, a.get(i));
                }
                yield acc;
            }
            case "Neg" -> CodeBlock.of("-$L", a.get(0));
            case "Abs" -> unsigned ? a.get(0) : CodeBlock.of("$T.abs($L)", Math.class, a.get(0));
            case "Sign" -> unsigned ? CodeBlock.of("($L == 0 ? 0L : 1L)", a.get(0))
                    : CodeBlock.of("$T.signum($L)", Long.class, a.get(0));
            case "Identity" -> a.get(0);
            case "Relu" -> CodeBlock.of("$T.max($L, 0L)", Math.class, a.get(0));
            case "Clip" -> {
                CodeBlock v = a.get(0);
                if (a.size() > 1 && a.get(1) != null) {
                    v = CodeBlock.of("$T.max($L, $L)", Math.class, v, a.get(1));
                }
                if (a.size() > 2 && a.get(2) != null) {
                    v = CodeBlock.of("$T.min($L, $L)", Math.class, v, a.get(2));
                }
                yield v;
            }
            case "BitwiseAnd" -> CodeBlock.of("($L & $L)", a.get(0), a.get(1));
            case "BitwiseOr" -> CodeBlock.of("($L | $L)", a.get(0), a.get(1));
            case "BitwiseXor" -> CodeBlock.of("($L ^ $L)", a.get(0), a.get(1));
            case "BitwiseNot" -> CodeBlock.of("~$L", a.get(0));
            case "BitShift" -> CodeBlock.of("$L.shift($L, $L, $L, $L)", math, a.get(0), a.get(1), t.byteSize() * 8,
                    OpTable.get().stringAttr(n, "direction").equals("LEFT"));
            case "Pow" -> {
                DType e = n.input(1).dtype();
                if (e.isInteger()) {
                    yield CodeBlock.of("$L.$N($L, $L)", math, e == DType.UINT64 ? "powUnsigned" : "pow", a.get(0), a.get(1));
                }
                yield CodeBlock.of("(long) $T.pow($L, $L)", Math.class, a.get(0), a.get(1));
            }
            default -> throw unsupported(n);
        };
    }

    /** float64, or a float-like op mixed with other types (Pow with an integer exponent). */
    private static CodeBlock floating(Node n, List<CodeBlock> a, DType t) {
        boolean dbl = t == DType.FLOAT64;
        String cast = dbl ? "" : "(float) ";
        return switch (n.op()) {
            case "Add", "Sum" -> fold(a, "($L + $L)");
            case "Sub" -> CodeBlock.of("($L - $L)", a.get(0), a.get(1));
            case "Mul" -> CodeBlock.of("($L * $L)", a.get(0), a.get(1));
            case "Div" -> CodeBlock.of("($L / $L)", a.get(0), a.get(1));
            case "Mean" -> CodeBlock.of("($L / $L)", fold(a, "($L + $L)"), a.size());
            case "Max", "Min" -> {
                CodeBlock acc = a.get(0);
                for (int i = 1; i < a.size(); i++) {
                    acc = CodeBlock.of("$T.$N($L, $L)", Math.class, n.op().equals("Max") ? "max" : "min", acc, a.get(i));
                }
                yield acc;
            }
            case "Mod" -> CodeBlock.of("$L$T.mod($L, $L, $L)", cast, ElementType.ELEMENT_MATH, a.get(0), a.get(1),
                    OpTable.get().intAttr(n, "fmod") != 0);
            case "Pow" -> {
                CodeBlock e = n.input(1).dtype() == DType.UINT64
                        ? CodeBlock.of("$T.unsignedToDouble($L)", ElementType.ELEMENT_MATH, a.get(1)) : a.get(1);
                yield CodeBlock.of("$L$T.pow($L, $L)", cast, Math.class, a.get(0), e);
            }
            case "Neg" -> CodeBlock.of("-$L", a.get(0));
            case "Abs" -> CodeBlock.of("$T.abs($L)", Math.class, a.get(0));
            case "Identity" -> a.get(0);
            case "Relu" -> CodeBlock.of("$T.max($L, 0.0)", Math.class, a.get(0));
            case "Sign" -> CodeBlock.of("$T.signum($L)", Math.class, a.get(0));
            case "Reciprocal" -> CodeBlock.of("(1.0 / $L)", a.get(0));
            case "Sigmoid" -> CodeBlock.of("(1.0 / (1.0 + $T.exp(-$L)))", Math.class, a.get(0));
            case "Round" -> CodeBlock.of("$T.rint($L)", Math.class, a.get(0));
            case "Sqrt", "Exp", "Log", "Tanh", "Sin", "Cos", "Floor", "Ceil" ->
                    CodeBlock.of("$T.$N($L)", Math.class, n.op().toLowerCase(java.util.Locale.ROOT), a.get(0));
            case "Clip" -> {
                CodeBlock v = a.get(0);
                if (a.size() > 1 && a.get(1) != null) {
                    v = CodeBlock.of("$T.max($L, $L)", Math.class, v, a.get(1));
                }
                if (a.size() > 2 && a.get(2) != null) {
                    v = CodeBlock.of("$T.min($L, $L)", Math.class, v, a.get(2));
                }
                yield v;
            }
            default -> throw unsupported(n);
        };
    }

    private static CodeBlock fold(List<CodeBlock> a, String format) {
        CodeBlock acc = a.get(0);
        for (int i = 1; i < a.size(); i++) {
            acc = CodeBlock.of(format, acc, a.get(i));
        }
        return acc;
    }
}
