package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongBinaryOperator;

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
        if (!ctx.inputDtype(i).isFloat()) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be a floating type");
        }
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
}
