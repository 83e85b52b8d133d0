package dev.kiln.runtime;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The activation a kernel applies to its results while they are still in registers (the activations
 * {@code dev.kiln.FusedGemm} / {@code FusedConv} carry), with ONNX semantics.
 *
 * <p>{@code alpha} and {@code beta} are the ONNX attributes: LeakyRelu and Elu use alpha; HardSigmoid uses
 * alpha and beta; Clip uses alpha as its minimum and beta as its maximum (±Infinity for an absent bound).
 * The kind is an enum switched on once per stored vector, outside any reduction loop, so the call site in a
 * kernel stays monomorphic.
 *
 * @param kind which activation; the names match {@code dev.kiln.ir.ops.Activation}
 * @param alpha first parameter, 0 when the kind has none
 * @param beta second parameter, 0 when the kind has none
 */
public record Epilogue(Kind kind, float alpha, float beta) {

    /** The activations an epilogue can apply. */
    public enum Kind { NONE, RELU, LEAKY_RELU, SIGMOID, TANH, HARD_SIGMOID, CLIP, ELU }

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();
    private static final Epilogue NONE = new Epilogue(Kind.NONE, 0, 0);
    private static final Epilogue RELU = new Epilogue(Kind.RELU, 0, 0);
    private static final Epilogue SIGMOID = new Epilogue(Kind.SIGMOID, 0, 0);
    private static final Epilogue TANH = new Epilogue(Kind.TANH, 0, 0);

    public Epilogue {
        Objects.requireNonNull(kind, "kind");
        if (Float.isNaN(alpha) || Float.isNaN(beta)) {
            throw new IllegalArgumentException(kind + " epilogue with NaN parameter: " + alpha + ", " + beta);
        }
    }

    /** Identity. */
    public static Epilogue none() { return NONE; }

    /** {@code max(x, 0)}. */
    public static Epilogue relu() { return RELU; }

    /** {@code x >= 0 ? x : alpha * x}. */
    public static Epilogue leakyRelu(float alpha) { return new Epilogue(Kind.LEAKY_RELU, alpha, 0); }

    /** {@code 1 / (1 + exp(-x))}. */
    public static Epilogue sigmoid() { return SIGMOID; }

    /** {@code tanh(x)}. */
    public static Epilogue tanh() { return TANH; }

    /** {@code max(0, min(1, alpha * x + beta))}. */
    public static Epilogue hardSigmoid(float alpha, float beta) { return new Epilogue(Kind.HARD_SIGMOID, alpha, beta); }

    /** {@code min(max(x, min), max)}; pass ±Infinity for an absent bound. */
    public static Epilogue clip(float min, float max) { return new Epilogue(Kind.CLIP, min, max); }

    /** {@code x > 0 ? x : alpha * (exp(x) - 1)}. */
    public static Epilogue elu(float alpha) { return new Epilogue(Kind.ELU, alpha, 0); }

    /** True for the identity, so kernels can skip the epilogue entirely. */
    public boolean isNone() { return kind == Kind.NONE; }

    /**
     * Applies the activation to every lane of {@code x}. Bit-reproducible on every JIT tier and thread (see
     * {@link VectorMath}); within a few ulp of {@link #apply(float)}.
     */
    public FloatVector apply(FloatVector x) {
        // Kept below C2's always-inline size (35 bytes): where C2 judges a kernel's call site cold it compiles a
        // larger callee on its own, and then every vector passed to it is boxed (~1 MB per cifar_cnn call at
        // batch 64, docs/BENCHMARKS.md). Relu and none, the common epilogues, stay inline at every site.
        if (kind == Kind.RELU) {
            return x.max(0f);
        }
        if (kind == Kind.NONE) {
            return x;
        }
        return applyOther(x);
    }

    private FloatVector applyOther(FloatVector x) {
        return switch (kind) {
            case NONE -> x;
            case RELU -> x.max(0f);
            case LEAKY_RELU -> x.blend(x.mul(alpha), x.lt(0f));
            case SIGMOID -> x.broadcast(1f).div(VectorMath.exp(x.neg()).add(1f));
            case TANH -> VectorMath.tanh(x);
            case HARD_SIGMOID -> x.fma(alpha, beta).max(0f).min(1f);
            case CLIP -> x.max(alpha).min(beta);
            case ELU -> x.blend(VectorMath.expm1(x).mul(alpha), x.compare(VectorOperators.LE, 0f));
        };
    }

    /** Applies the activation in place to {@code vectors} whole vectors from {@code a[off]}; see {@link #applyRows}. */
    public void applyVectors(float[] a, int off, int vectors) {
        applyRows(a, off, 0, 1, vectors);
    }

    /**
     * Applies the activation in place to {@code vectors} whole vectors of the runtime's species at the start of
     * each of {@code rows} rows, the first at {@code a[off]}, the next {@code stride} floats on: the same lane
     * arithmetic as {@link #apply(FloatVector)}, so the same bits.
     *
     * <p>Loads, activation and stores are in one loop nest per kind, so no vector crosses a call that C2 may leave
     * out of line ({@link #apply(FloatVector)} hands its vector to {@code applyOther}, inlined only where C2 finds
     * the call site hot, and a Sigmoid GEMM run once per 50 Relu GEMMs boxed every vector). Sigmoid, Tanh and Elu
     * are {@link VectorMath}'s row forms, the math written out in the loop: they call nothing of ours with a vector
     * either, so nothing boxes whichever of them C2 compiles together (docs/KERNELS.md).
     */
    public void applyRows(float[] a, int off, int stride, int rows, int vectors) {
        int width = vectors * VL;
        switch (kind) {
            case NONE -> { }
            case RELU -> {
                for (int row = off, r = 0; r < rows; r++, row += stride) {
                    for (int i = row; i < row + width; i += VL) {
                        FloatVector.fromArray(S, a, i).max(0f).intoArray(a, i);
                    }
                }
            }
            case LEAKY_RELU -> {
                for (int row = off, r = 0; r < rows; r++, row += stride) {
                    for (int i = row; i < row + width; i += VL) {
                        FloatVector x = FloatVector.fromArray(S, a, i);
                        x.blend(x.mul(alpha), x.lt(0f)).intoArray(a, i);
                    }
                }
            }
            case SIGMOID -> VectorMath.sigmoidRows(a, off, stride, rows, width);
            case TANH -> VectorMath.tanhRows(a, off, stride, rows, width);
            case HARD_SIGMOID -> {
                for (int row = off, r = 0; r < rows; r++, row += stride) {
                    for (int i = row; i < row + width; i += VL) {
                        FloatVector.fromArray(S, a, i).fma(alpha, beta).max(0f).min(1f).intoArray(a, i);
                    }
                }
            }
            case CLIP -> {
                for (int row = off, r = 0; r < rows; r++, row += stride) {
                    for (int i = row; i < row + width; i += VL) {
                        FloatVector.fromArray(S, a, i).max(alpha).min(beta).intoArray(a, i);
                    }
                }
            }
            case ELU -> VectorMath.eluRows(a, off, stride, rows, width, alpha);
        }
    }

    /** Applies the activation to one value; the scalar twin of {@link #apply(FloatVector)}. */
    public float apply(float x) {
        return switch (kind) {
            case NONE -> x;
            case RELU -> Math.max(x, 0f);
            case LEAKY_RELU -> x < 0f ? alpha * x : x;
            case SIGMOID -> (float) (1.0 / (1.0 + Math.exp(-x)));
            case TANH -> (float) Math.tanh(x);
            case HARD_SIGMOID -> Math.min(Math.max(alpha * x + beta, 0f), 1f);
            case CLIP -> Math.min(Math.max(x, alpha), beta);
            case ELU -> x > 0f ? x : (float) (alpha * Math.expm1(x));
        };
    }
}
