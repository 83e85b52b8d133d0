package dev.kiln.ir.ops;

/**
 * The packed layouts of convolution weights that the runtime's {@code Conv2d} kernels read, as the reference
 * semantics read them (docs/KERNELS.md): {@code kiln.conv.rowmajor.v1} is the ONNX tensor [M, C/g, kh, kw]
 * unchanged; {@code kiln.conv.direct4.v1} stores, per group, blocks of 4 output channels tap by tap
 * ({@code [g][M/g/4 blocks][C/g*kh*kw taps][4]}, zeros past M/g). {@code Conv2d.packWeights} writes them; a test
 * in {@code passes} checks the two agree.
 */
public final class ConvWeightLayout {
    public static final String ROW_MAJOR = "kiln.conv.rowmajor.v1";
    public static final String DIRECT4 = "kiln.conv.direct4.v1";
    static final int BLOCK = 4;

    private ConvWeightLayout() {}

    /** Floats the packed weights of a conv with these sizes take. */
    public static long length(String layout, long m, long cPerGroup, long taps, long group) {
        long kv = cPerGroup * taps;
        return switch (layout) {
            case ROW_MAJOR -> m * kv;
            case DIRECT4 -> group * ((m / group + BLOCK - 1) / BLOCK) * kv * BLOCK;
            default -> throw new IllegalArgumentException("unknown conv weight layout " + layout);
        };
    }

    /** The packed index of weight (output channel {@code out}, tap {@code k} of its C/g*kh*kw taps). */
    public static int index(String layout, int m, int kv, int group, int out, int k) {
        if (layout.equals(ROW_MAJOR)) {
            return out * kv + k;
        }
        int mg = m / group;
        int blocks = (mg + BLOCK - 1) / BLOCK;
        int g = out / mg;
        int within = out % mg;
        return ((g * blocks + within / BLOCK) * kv + k) * BLOCK + within % BLOCK;
    }
}
