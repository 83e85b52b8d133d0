package dev.kiln.runtime.train;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Finding NaN and infinities, as a generated trainer checks its loss's gradients every step before the optimizer
 * may touch a weight. {@code x - x} is +0 for every finite x and NaN for an infinity or a NaN, so a block's sum of
 * those differences is non-zero exactly when the block holds one; only such a block is searched element by
 * element. The scalar loop with an early exit ran at about 2.5 floats per ns (C2 does not vectorize a loop that
 * can leave early): 10 % of mlp's 2-thread training step.
 */
public final class NonFinite {
    private static final int BLOCK = 4 * Lanes.VL;

    private NonFinite() {}

    /** The index of the first NaN or infinity in {@code a[from, from + length)}, or -1. */
    public static int firstIndex(float[] a, int from, int length) {
        Objects.checkFromIndexSize(from, length, a.length);
        int vl = Lanes.VL;
        int end = from + length;
        int i = from;
        for (int bound = from + length / BLOCK * BLOCK; i < bound; i += BLOCK) {
            FloatVector v0 = FloatVector.fromArray(Lanes.S, a, i);
            FloatVector v1 = FloatVector.fromArray(Lanes.S, a, i + vl);
            FloatVector v2 = FloatVector.fromArray(Lanes.S, a, i + 2 * vl);
            FloatVector v3 = FloatVector.fromArray(Lanes.S, a, i + 3 * vl);
            FloatVector d = v0.sub(v0).add(v1.sub(v1)).add(v2.sub(v2).add(v3.sub(v3)));
            if (d.compare(VectorOperators.NE, 0f).anyTrue()) {
                return scalar(a, i, i + BLOCK);
            }
        }
        return scalar(a, i, end);
    }

    private static int scalar(float[] a, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(a[i])) {
                return i;
            }
        }
        return -1;
    }
}
