package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoublePredicate;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongBinaryOperator;
import java.util.function.LongUnaryOperator;
import java.util.function.Predicate;

/** Reference-evaluator building blocks for elementwise ops: apply a scalar function with broadcasting. */
public final class Pointwise {
    private Pointwise() {}

    /** Shape rule: output has input 0's type. */
    public static List<TensorType> sameAsInput(ShapeContext ctx) {
        return List.of(ctx.inputType(0));
    }

    /** Shape rule: inputs must share a dtype; output is their broadcast with that dtype. */
    public static List<TensorType> broadcastSameType(ShapeContext ctx) {
        DType t = ctx.inputDtype(0);
        for (int i = 1; i < ctx.inputCount(); i++) {
            if (ctx.hasInput(i) && ctx.inputDtype(i) != t) {
                throw ctx.fail("inputs must have the same element type");
            }
        }
        return List.of(new TensorType(t, Broadcasting.inputs(ctx)));
    }

    /** Fails unless input i is of a floating type (for ops that ONNX defines on floats only). */
    public static void requireFloat(ShapeContext ctx, int i) {
        require(ctx, i, DType::isFloat, "a floating type");
    }

    /** Fails unless input i is a number (integer or floating, not BOOL or STRING). */
    public static void requireNumeric(ShapeContext ctx, int i) {
        require(ctx, i, DType::isNumeric, "a numeric type");
    }

    /** Fails unless input i is floating or a signed integer (ops undefined on unsigned types, like Neg). */
    public static void requireSigned(ShapeContext ctx, int i) {
        require(ctx, i, t -> t.isFloat() || t.isInteger() && !t.isUnsigned(), "a floating or signed integer type");
    }

    /** Fails unless input i is of an integer type. */
    public static void requireInteger(ShapeContext ctx, int i) {
        require(ctx, i, DType::isInteger, "an integer type");
    }

    /** Fails unless input i is BOOL. */
    public static void requireBool(ShapeContext ctx, int i) {
        require(ctx, i, t -> t == DType.BOOL, "bool");
    }

    /** Fails unless input i (when present) has a dtype accepted by {@code ok}, described as {@code what}. */
    public static void require(ShapeContext ctx, int i, Predicate<DType> ok, String what) {
        if (ctx.hasInput(i) && !ok.test(ctx.inputDtype(i))) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be " + what + ", not " + ctx.inputDtype(i));
        }
    }

    /** Shape rule of a unary op on floats: same type as the input. */
    public static List<TensorType> floatUnary(ShapeContext ctx) {
        requireFloat(ctx, 0);
        return sameAsInput(ctx);
    }

    /** Shape rule of an op on numbers of one dtype with broadcasting (Add, Max...): all present inputs checked. */
    public static List<TensorType> numericBroadcast(ShapeContext ctx) {
        for (int i = 0; i < ctx.inputCount(); i++) {
            requireNumeric(ctx, i);
        }
        return broadcastSameType(ctx);
    }

    /** Shape rule of a variadic op on floats of one dtype with broadcasting (Sum, Mean). */
    public static List<TensorType> floatBroadcast(ShapeContext ctx) {
        for (int i = 0; i < ctx.inputCount(); i++) {
            requireFloat(ctx, i);
        }
        return broadcastSameType(ctx);
    }

    /** Shape rule: inputs must share a dtype accepted by {@code ok}; the output is their BOOL broadcast. */
    public static List<TensorType> predicateBroadcast(ShapeContext ctx, Predicate<DType> ok, String what) {
        for (int i = 0; i < ctx.inputCount(); i++) {
            require(ctx, i, ok, what);
        }
        return List.of(new TensorType(DType.BOOL, broadcastSameType(ctx).get(0).shape()));
    }

    /** f applied to each element of a floating input 0, result of the same dtype (rounded to it). */
    public static Tensor unary(EvalContext ctx, DoubleUnaryOperator f) {
        Tensor x = ctx.input(0);
        double[] in = x.doubles();
        double[] out = new double[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = f.applyAsDouble(in[i]);
        }
        return Tensor.wrapDoubles(x.dtype(), x.shape(), out);
    }

    /**
     * f or g applied elementwise to the broadcast of inputs a and b: {@code fd} on floating tensors,
     * {@code fl} on integer tensors (wrapped to the dtype), so integer arithmetic stays exact.
     */
    public static Tensor binary(Tensor a, Tensor b, DoubleBinaryOperator fd, LongBinaryOperator fl) {
        int[] shape = Broadcasting.shape(a.shape(), b.shape());
        int[] ia = Broadcasting.indexMap(shape, a.shape());
        int[] ib = Broadcasting.indexMap(shape, b.shape());
        DType t = a.dtype();
        if (t.isFloat()) {
            double[] x = a.doubles();
            double[] y = b.doubles();
            double[] out = new double[ia.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = fd.applyAsDouble(x[ia[i]], y[ib[i]]);
            }
            return Tensor.wrapDoubles(t, shape, out);
        }
        if (t.isInteger()) {
            long[] x = a.longs();
            long[] y = b.longs();
            long[] out = new long[ia.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = fl.applyAsLong(x[ia[i]], y[ib[i]]);
            }
            return Tensor.wrapLongs(t, shape, out);
        }
        throw new IllegalArgumentException("arithmetic on " + t);
    }

    /** A predicate on the broadcast of a and b (numbers compared as doubles, or exactly as longs for integers). */
    public static Tensor compare(Tensor a, Tensor b, DoubleBinaryOperator test) {
        int[] shape = Broadcasting.shape(a.shape(), b.shape());
        int[] ia = Broadcasting.indexMap(shape, a.shape());
        int[] ib = Broadcasting.indexMap(shape, b.shape());
        boolean[] out = new boolean[ia.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = test.applyAsDouble(a.getDouble(ia[i]), b.getDouble(ib[i])) != 0;
        }
        return Tensor.wrapBools(shape, out);
    }

    /**
     * Each element of x mapped by {@code fd} (floating dtypes, computed in double and rounded once) or
     * {@code fl} (integer dtypes, exact and wrapped to the dtype); the result has x's dtype.
     */
    public static Tensor unary(Tensor x, DoubleUnaryOperator fd, LongUnaryOperator fl) {
        if (x.dtype().isFloat()) {
            double[] in = x.doubles();
            double[] out = new double[in.length];
            for (int i = 0; i < in.length; i++) {
                out[i] = fd.applyAsDouble(in[i]);
            }
            return Tensor.wrapDoubles(x.dtype(), x.shape(), out);
        }
        if (x.dtype().isInteger()) {
            long[] in = x.longs();
            long[] out = new long[in.length];
            for (int i = 0; i < in.length; i++) {
                out[i] = fl.applyAsLong(in[i]);
            }
            return Tensor.wrapLongs(x.dtype(), x.shape(), out);
        }
        throw new IllegalArgumentException("arithmetic on " + x.dtype());
    }

    /** A BOOL tensor of x's shape holding {@code test} of each (numeric) element. */
    public static Tensor test(Tensor x, DoublePredicate test) {
        boolean[] out = new boolean[x.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = test.test(x.getDouble(i));
        }
        return Tensor.wrapBools(x.shape(), out);
    }

    /**
     * A left fold of {@code fd} (floating) or {@code fl} (integer) over the broadcast of several tensors of
     * one dtype, then {@code finish} on floating results; floats are accumulated in double and rounded once.
     */
    public static Tensor fold(List<Tensor> xs, DoubleBinaryOperator fd, LongBinaryOperator fl,
                              DoubleUnaryOperator finish) {
        int[][] shapes = xs.stream().map(Tensor::shape).toArray(int[][]::new);
        int[] shape = Broadcasting.shape(shapes);
        int[][] maps = new int[xs.size()][];
        for (int k = 0; k < maps.length; k++) {
            maps[k] = Broadcasting.indexMap(shape, shapes[k]);
        }
        int n = Tensor.sizeOf(shape);
        DType t = xs.get(0).dtype();
        if (t.isFloat()) {
            double[] out = new double[n];
            for (int i = 0; i < n; i++) {
                double acc = xs.get(0).doubles()[maps[0][i]];
                for (int k = 1; k < maps.length; k++) {
                    acc = fd.applyAsDouble(acc, xs.get(k).doubles()[maps[k][i]]);
                }
                out[i] = finish.applyAsDouble(acc);
            }
            return Tensor.wrapDoubles(t, shape, out);
        }
        if (t.isInteger()) {
            long[] out = new long[n];
            for (int i = 0; i < n; i++) {
                long acc = xs.get(0).longs()[maps[0][i]];
                for (int k = 1; k < maps.length; k++) {
                    acc = fl.applyAsLong(acc, xs.get(k).longs()[maps[k][i]]);
                }
                out[i] = acc;
            }
            return Tensor.wrapLongs(t, shape, out);
        }
        throw new IllegalArgumentException("arithmetic on " + t);
    }

    /** The six comparisons, with IEEE semantics on floats (every comparison with NaN is false but NE). */
    public enum Comparison { EQUAL, LESS, LESS_OR_EQUAL, GREATER, GREATER_OR_EQUAL }

    /**
     * {@code a c b} elementwise on the broadcast of two tensors of one dtype: floats compared as doubles,
     * integers exactly (unsigned for UINT64), BOOL as false < true, STRING by equality only.
     */
    public static Tensor compare(Tensor a, Tensor b, Comparison c) {
        int[] shape = Broadcasting.shape(a.shape(), b.shape());
        int[] ia = Broadcasting.indexMap(shape, a.shape());
        int[] ib = Broadcasting.indexMap(shape, b.shape());
        DType t = a.dtype();
        boolean[] out = new boolean[ia.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.kind()) {
                case FLOAT -> compareDoubles(a.doubles()[ia[i]], b.doubles()[ib[i]], c);
                case INTEGER -> holds(IntegerMath.compare(t, a.longs()[ia[i]], b.longs()[ib[i]]), c);
                case BOOL -> holds(Boolean.compare(a.bools()[ia[i]], b.bools()[ib[i]]), c);
                case STRING -> {
                    if (c != Comparison.EQUAL) {
                        throw new IllegalArgumentException(c + " on strings");
                    }
                    yield a.strings()[ia[i]].equals(b.strings()[ib[i]]);
                }
            };
        }
        return Tensor.wrapBools(shape, out);
    }

    private static boolean compareDoubles(double x, double y, Comparison c) {
        return switch (c) {
            case EQUAL -> x == y;
            case LESS -> x < y;
            case LESS_OR_EQUAL -> x <= y;
            case GREATER -> x > y;
            case GREATER_OR_EQUAL -> x >= y;
        };
    }

    private static boolean holds(int order, Comparison c) {
        return switch (c) {
            case EQUAL -> order == 0;
            case LESS -> order < 0;
            case LESS_OR_EQUAL -> order <= 0;
            case GREATER -> order > 0;
            case GREATER_OR_EQUAL -> order >= 0;
        };
    }

    /** A boolean function of two booleans. */
    @FunctionalInterface
    public interface BoolBinaryOperator {
        boolean apply(boolean a, boolean b);
    }

    /** f elementwise on the broadcast of two BOOL tensors. */
    public static Tensor logical(Tensor a, Tensor b, BoolBinaryOperator f) {
        int[] shape = Broadcasting.shape(a.shape(), b.shape());
        int[] ia = Broadcasting.indexMap(shape, a.shape());
        int[] ib = Broadcasting.indexMap(shape, b.shape());
        boolean[] out = new boolean[ia.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.apply(a.bools()[ia[i]], b.bools()[ib[i]]);
        }
        return Tensor.wrapBools(shape, out);
    }

    /** Elementwise {@code cond ? x : y} on the broadcast of all three; x and y share a dtype of any kind. */
    public static Tensor select(Tensor cond, Tensor x, Tensor y) {
        int[] shape = Broadcasting.shape(cond.shape(), x.shape(), y.shape());
        int[] ic = Broadcasting.indexMap(shape, cond.shape());
        int[] ix = Broadcasting.indexMap(shape, x.shape());
        int[] iy = Broadcasting.indexMap(shape, y.shape());
        int n = ic.length;
        boolean[] c = cond.bools();
        return switch (x.dtype().kind()) {
            case FLOAT -> {
                double[] out = new double[n];
                for (int i = 0; i < n; i++) {
                    out[i] = c[ic[i]] ? x.doubles()[ix[i]] : y.doubles()[iy[i]];
                }
                yield Tensor.wrapDoubles(x.dtype(), shape, out);
            }
            case INTEGER -> {
                long[] out = new long[n];
                for (int i = 0; i < n; i++) {
                    out[i] = c[ic[i]] ? x.longs()[ix[i]] : y.longs()[iy[i]];
                }
                yield Tensor.wrapLongs(x.dtype(), shape, out);
            }
            case BOOL -> {
                boolean[] out = new boolean[n];
                for (int i = 0; i < n; i++) {
                    out[i] = c[ic[i]] ? x.bools()[ix[i]] : y.bools()[iy[i]];
                }
                yield Tensor.wrapBools(shape, out);
            }
            case STRING -> {
                String[] out = new String[n];
                for (int i = 0; i < n; i++) {
                    out[i] = c[ic[i]] ? x.strings()[ix[i]] : y.strings()[iy[i]];
                }
                yield Tensor.wrapStrings(shape, out);
            }
        };
    }

    /** f elementwise on the broadcast of two tensors of one integer dtype (bitwise ops). */
    public static Tensor integers(Tensor a, Tensor b, LongBinaryOperator f) {
        if (!a.dtype().isInteger()) {
            throw new IllegalArgumentException("integer operation on " + a.dtype());
        }
        return binary(a, b, (x, y) -> {
            throw new IllegalStateException("unreachable: floating operand of an integer operation");
        }, f);
    }
}
