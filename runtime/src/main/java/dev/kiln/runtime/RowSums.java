package dev.kiln.runtime;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums over a contiguous run of floats in double, for the Reduce ops of generated code (ReduceSum and ReduceMean,
 * ReduceSumSquare and ReduceL2, ReduceL1 and ReduceLogSum over the input's last axes; a convolution's bias
 * gradient). The scalar fold they replace adds one element at a time into one double, a chain of dependent adds
 * (mnist_cnn's two bias gradients: 7 % of its training step); here each float is widened exactly and added into
 * one of four vectors of double partial sums, whose lanes are then added in a fixed order. Every operation is an
 * IEEE add or multiply in a fixed order, so a given vector width gives the same bits in every JIT tier and thread;
 * the result differs from the one-by-one sum only in the rounding of double additions.
 */
public final class RowSums {

    private static final VectorSpecies<Float> F = VectorWidth.FLOAT;
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());
    private static final int VL = F.length();

    private static final int PLAIN = 0;
    private static final int SQUARES = 1;
    private static final int ABSOLUTES = 2;

    private RowSums() { }

    /** {@code x[off] + ... + x[off + len - 1]} in double. */
    public static double sum(float[] x, int off, int len) {
        return fold(x, off, len, PLAIN);
    }

    /** The sum of the squares of {@code x[off .. off + len)}, each squared in double. */
    public static double sumOfSquares(float[] x, int off, int len) {
        return fold(x, off, len, SQUARES);
    }

    /** The sum of the absolute values of {@code x[off .. off + len)} in double. */
    public static double sumOfAbsolutes(float[] x, int off, int len) {
        return fold(x, off, len, ABSOLUTES);
    }

    private static double fold(float[] x, int off, int len, int kind) {
        java.util.Objects.checkFromIndexSize(off, len, x.length);
        DoubleVector a0 = DoubleVector.zero(D);
        DoubleVector a1 = a0;
        DoubleVector a2 = a0;
        DoubleVector a3 = a0;
        int j = 0;
        // Two float vectors an iteration: four independent chains of double adds keep the adder busy.
        for (int bound = len - 2 * VL; j <= bound; j += 2 * VL) {
            FloatVector v = FloatVector.fromArray(F, x, off + j);
            FloatVector w = FloatVector.fromArray(F, x, off + j + VL);
            a0 = a0.add(term((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0), kind));
            a1 = a1.add(term((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1), kind));
            a2 = a2.add(term((DoubleVector) w.convertShape(VectorOperators.F2D, D, 0), kind));
            a3 = a3.add(term((DoubleVector) w.convertShape(VectorOperators.F2D, D, 1), kind));
        }
        DoubleVector all = a0.add(a1).add(a2.add(a3));
        double sum = all.lane(0); // lanes in order, no call (reduceLanes' order differs between tiers)
        for (int l = 1; l < D.length(); l++) {
            sum += all.lane(l);
        }
        for (; j < len; j++) {
            double v = x[off + j];
            sum += kind == SQUARES ? v * v : kind == ABSOLUTES ? Math.abs(v) : v;
        }
        return sum;
    }

    private static DoubleVector term(DoubleVector v, int kind) {
        return kind == SQUARES ? v.mul(v) : kind == ABSOLUTES ? v.abs() : v;
    }
}
