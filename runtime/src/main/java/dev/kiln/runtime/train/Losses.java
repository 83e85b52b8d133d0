package dev.kiln.runtime.train;

import dev.kiln.runtime.Softmax;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Loss functions over a batch, forward and backward in one call, as PyTorch defines them: softmax cross-entropy
 * on logits and NLL on log-probabilities with integer class labels over {@code (N, C)}, and mean squared error.
 * Each returns the loss and writes {@code dLoss/dInput} (for an upstream gradient of 1). Per-sample terms are
 * summed in double.
 */
public final class Losses {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;
    /** Elements summed in float vector lanes before the partial sum joins the double total. */
    private static final int MSE_BLOCK = 1024;

    private Losses() { }

    /**
     * Softmax cross-entropy on logits: {@code loss_i = logsumexp(x_i) - x_i[label_i]}, reduced over the N samples;
     * {@code grad = (softmax(x) - onehot(label)) * s} with s = 1/N (mean) or 1 (sum).
     *
     * <p>The loss comes from the stable log-softmax ({@code x - max - log sum exp(x - max)}), which stays finite
     * when a probability underflows; the probabilities of the gradient are the softmax of that log-softmax. Both
     * are {@link Softmax}'s vector kernels, whose bits do not depend on the JIT tier.
     *
     * @param logits {@code n x c} row-major from {@code logitsOff}
     * @param labels n class indices in {@code [0, c)} from {@code labelsOff}
     * @param grad receives the {@code n x c} gradient from {@code gradOff}; also the working space of the
     *     log-softmax, so it is required even when only the loss is wanted; may be the logits themselves
     * @throws IllegalArgumentException for a label outside {@code [0, c)} (naming the sample), before any write
     */
    public static float softmaxCrossEntropy(int n, int c, float[] logits, int logitsOff, int[] labels, int labelsOff,
                                            Reduction reduction, float[] grad, int gradOff) {
        check("softmaxCrossEntropy", n, c, logits, logitsOff, labels, labelsOff, reduction);
        DenseGrad.span("softmaxCrossEntropy", "grad", grad, gradOff, (long) n * c);
        float scale = scale(reduction, n);
        FloatVector scaleV = FloatVector.broadcast(S, scale);
        double total = 0;
        for (int r = 0; r < n; r++) {
            int go = gradOff + r * c;
            int label = labels[labelsOff + r];
            Softmax.logSoftmax(1, c, logits, logitsOff + r * c, grad, go);
            total -= grad[go + label];
            Softmax.softmax(1, c, grad, go, grad, go);
            int j = 0;
            for (int bound = S.loopBound(c); j < bound; j += VL) {
                FloatVector.fromArray(S, grad, go + j).mul(scaleV).intoArray(grad, go + j);
            }
            for (; j < c; j++) {
                grad[go + j] *= scale;
            }
            grad[go + label] -= scale;
        }
        return reduce(total, reduction, n);
    }

    /** The scalar twin of {@link #softmaxCrossEntropy}: double arithmetic and {@link Math#exp} throughout. */
    public static float softmaxCrossEntropyScalar(int n, int c, float[] logits, int logitsOff, int[] labels,
                                                  int labelsOff, Reduction reduction, float[] grad, int gradOff) {
        check("softmaxCrossEntropy", n, c, logits, logitsOff, labels, labelsOff, reduction);
        DenseGrad.span("softmaxCrossEntropy", "grad", grad, gradOff, (long) n * c);
        double scale = reduction == Reduction.MEAN ? 1.0 / n : 1.0;
        double total = 0;
        double[] row = new double[c];
        for (int r = 0; r < n; r++) {
            int xo = logitsOff + r * c;
            int label = labels[labelsOff + r];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) {
                max = Math.max(max, logits[xo + j]);
            }
            double sum = 0;
            for (int j = 0; j < c; j++) {
                row[j] = Math.exp(logits[xo + j] - max);
                sum += row[j];
            }
            total += max + Math.log(sum) - logits[xo + label];
            for (int j = 0; j < c; j++) {
                grad[gradOff + r * c + j] = (float) ((row[j] / sum - (j == label ? 1 : 0)) * scale);
            }
        }
        return reduce(total, reduction, n);
    }

    /**
     * Negative log-likelihood on log-probabilities: {@code loss_i = -logp_i[label_i]}, reduced over the N samples;
     * {@code grad} is {@code -s} at each sample's label and 0 elsewhere (s = 1/N for mean, 1 for sum). A
     * scatter with nothing to vectorize but the zero fill, so there is no separate scalar twin.
     *
     * @param grad receives the {@code n x c} gradient from {@code gradOff}, or null for the loss alone
     * @throws IllegalArgumentException for a label outside {@code [0, c)} (naming the sample), before any write
     */
    public static float nll(int n, int c, float[] logProbs, int logProbsOff, int[] labels, int labelsOff,
                            Reduction reduction, float[] grad, int gradOff) {
        check("nll", n, c, logProbs, logProbsOff, labels, labelsOff, reduction);
        if (grad != null) {
            DenseGrad.span("nll", "grad", grad, gradOff, (long) n * c);
        }
        float scale = scale(reduction, n);
        double total = 0;
        for (int r = 0; r < n; r++) {
            total -= logProbs[logProbsOff + r * c + labels[labelsOff + r]];
        }
        if (grad != null) {
            Arrays.fill(grad, gradOff, gradOff + n * c, 0f);
            for (int r = 0; r < n; r++) {
                grad[gradOff + r * c + labels[labelsOff + r]] = -scale;
            }
        }
        return reduce(total, reduction, n);
    }

    /**
     * Mean squared error over {@code count} elements: {@code loss = sum (y - t)^2} divided by count for mean;
     * {@code grad = 2 (y - t) * s} with s = 1/count (mean) or 1 (sum), as PyTorch's {@code MSELoss}.
     *
     * @param grad receives the gradient from {@code gradOff}, or null for the loss alone; may be y itself
     */
    public static float mse(int count, float[] y, int yOff, float[] target, int targetOff, Reduction reduction,
                            float[] grad, int gradOff) {
        checkMse(count, y, yOff, target, targetOff, reduction, grad, gradOff);
        float norm = 2 * scale(reduction, count);
        FloatVector normV = FloatVector.broadcast(S, norm);
        double total = 0;
        int i = 0;
        int bound = S.loopBound(count);
        while (i < bound) {
            int end = Math.min(bound, i + MSE_BLOCK);
            FloatVector acc = FloatVector.zero(S);
            for (; i < end; i += VL) {
                FloatVector d = FloatVector.fromArray(S, y, yOff + i).sub(FloatVector.fromArray(S, target, targetOff + i));
                acc = d.fma(d, acc);
                if (grad != null) {
                    d.mul(normV).intoArray(grad, gradOff + i);
                }
            }
            float lanes = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
            for (int l = 1; l < VL; l++) {
                lanes += acc.lane(l);
            }
            total += lanes;
        }
        for (; i < count; i++) {
            float d = y[yOff + i] - target[targetOff + i];
            total += d * d;
            if (grad != null) {
                grad[gradOff + i] = d * norm;
            }
        }
        return reduce(total, reduction, count);
    }

    /** The scalar twin of {@link #mse}: the sum in double. */
    public static float mseScalar(int count, float[] y, int yOff, float[] target, int targetOff, Reduction reduction,
                                  float[] grad, int gradOff) {
        checkMse(count, y, yOff, target, targetOff, reduction, grad, gradOff);
        float norm = 2 * scale(reduction, count);
        double total = 0;
        for (int i = 0; i < count; i++) {
            float d = y[yOff + i] - target[targetOff + i];
            total += (double) d * d;
            if (grad != null) {
                grad[gradOff + i] = d * norm;
            }
        }
        return reduce(total, reduction, count);
    }

    /** The gradient's factor: 1/n for a mean, 1 for a sum (for n = 0 it is unused: there is no element to write). */
    private static float scale(Reduction reduction, int n) {
        return reduction == Reduction.MEAN ? 1f / n : 1f;
    }

    /** Mean of an empty batch is NaN, as in PyTorch. */
    private static float reduce(double total, Reduction reduction, int n) {
        return (float) (reduction == Reduction.MEAN ? total / n : total);
    }

    private static void check(String what, int n, int c, float[] x, int xOff, int[] labels, int labelsOff,
                              Reduction reduction) {
        Objects.requireNonNull(reduction, "reduction");
        if (n < 0 || c <= 0) {
            throw new IllegalArgumentException(what + ": bad shape (" + n + ", " + c + "), needs n >= 0 and c >= 1");
        }
        DenseGrad.span(what, "input", x, xOff, (long) n * c);
        Objects.requireNonNull(labels, "labels");
        if (labelsOff < 0 || (long) labelsOff + n > labels.length) {
            throw new IllegalArgumentException(what + ": labels at offset " + labelsOff + " needs " + n
                    + " ints, array has " + labels.length);
        }
        for (int r = 0; r < n; r++) {
            int label = labels[labelsOff + r];
            if (label < 0 || label >= c) {
                throw new IllegalArgumentException(what + ": label " + label + " of sample " + r + " is outside [0, "
                        + c + ")");
            }
        }
    }

    private static void checkMse(int count, float[] y, int yOff, float[] target, int targetOff, Reduction reduction,
                                 float[] grad, int gradOff) {
        Objects.requireNonNull(reduction, "reduction");
        if (count < 0) {
            throw new IllegalArgumentException("mse: negative count " + count);
        }
        DenseGrad.span("mse", "y", y, yOff, count);
        DenseGrad.span("mse", "target", target, targetOff, count);
        if (grad != null) {
            DenseGrad.span("mse", "grad", grad, gradOff, count);
        }
    }
}
