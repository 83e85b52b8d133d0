package dev.kiln.runtime;

/**
 * The blocked activation layout NCHWc ({@code kiln.nchwc.v1}): channels in blocks of {@code block} that sit
 * innermost, [N, ceil(C/block), H, W, block], the channels past C zero; converted to and from NCHW here.
 */
public final class Nchwc {
    /** Name of the activation layout, as the IR's dev.kiln.ToBlocked/FromBlocked ops and docs/KERNELS.md call it. */
    public static final String LAYOUT = "kiln.nchwc.v1";

    private Nchwc() {}

    /** The block this runtime's blocked kernels run: one float vector of the kernels' species. */
    public static int block() {
        return GemmKernel.SPECIES.length();
    }

    /**
     * Fails, naming both widths and the remedies, when code compiled for {@code block} runs on a JVM whose kernels
     * use another vector width: blocked weights and activations are laid out for one width (docs/KERNELS.md).
     */
    public static void requireBlock(int block) {
        if (block != block()) {
            throw new IllegalStateException("this model keeps activations in NCHWc blocks of " + block
                    + " channels (" + block * 32 + "-bit vectors) but this JVM's float vectors hold " + block()
                    + " lanes: recompile the model on a machine of this vector width (or with kiln.nchwc.block="
                    + block() + "), or run with -D" + VectorWidth.PROPERTY + "=" + block * 32);
        }
    }

    /** Blocks of {@code block} channels needed for {@code c} channels. */
    public static int blocks(int c, int block) {
        return Math.ceilDiv(c, block);
    }

    /** Floats of one blocked image of c channels and h x w pixels. */
    public static int imageLength(int c, int h, int w, int block) {
        return blocks(c, block) * block * h * w;
    }

    /** Pixels per chunk of a conversion: a chunk's blocked side (CHUNK x block floats) stays in L1. */
    private static final int CHUNK = 64;

    /**
     * NCHW {@code batch x c x h x w} to NCHWc, zero-filling the channels past c. Per block and chunk of pixels, one
     * channel at a time: sequential reads, writes strided by the block within an L1-resident chunk, no test per
     * element.
     */
    public static void toBlocked(int batch, int c, int h, int w, int block, float[] in, int inOff, float[] out,
                                 int outOff) {
        int plane = h * w;
        int cb = blocks(c, block);
        for (int n = 0; n < batch; n++) {
            int src = inOff + n * c * plane;
            int dst = outOff + n * cb * block * plane;
            for (int b = 0; b < cb; b++) {
                int real = Math.min(block, c - b * block);
                int blockDst = dst + b * plane * block;
                for (int p0 = 0; p0 < plane; p0 += CHUNK) {
                    int p1 = Math.min(plane, p0 + CHUNK);
                    for (int j = 0; j < real; j++) {
                        int from = src + (b * block + j) * plane;
                        for (int p = p0; p < p1; p++) {
                            out[blockDst + p * block + j] = in[from + p];
                        }
                    }
                    if (real < block) {
                        for (int p = p0; p < p1; p++) {
                            java.util.Arrays.fill(out, blockDst + p * block + real, blockDst + (p + 1) * block, 0f);
                        }
                    }
                }
            }
        }
    }

    /** NCHWc back to NCHW {@code batch x c x h x w}, dropping the padding channels (chunked as {@link #toBlocked}). */
    public static void fromBlocked(int batch, int c, int h, int w, int block, float[] in, int inOff, float[] out,
                                   int outOff) {
        int plane = h * w;
        int cb = blocks(c, block);
        for (int n = 0; n < batch; n++) {
            int src = inOff + n * cb * block * plane;
            int dst = outOff + n * c * plane;
            for (int b = 0; b < cb; b++) {
                int real = Math.min(block, c - b * block);
                int blockSrc = src + b * plane * block;
                for (int p0 = 0; p0 < plane; p0 += CHUNK) {
                    int p1 = Math.min(plane, p0 + CHUNK);
                    for (int j = 0; j < real; j++) {
                        int to = dst + (b * block + j) * plane;
                        for (int p = p0; p < p1; p++) {
                            out[to + p] = in[blockSrc + p * block + j];
                        }
                    }
                }
            }
        }
    }

    /**
     * Copies {@code batch} NCHWc images of {@code c} channels and {@code plane} pixels from {@code in} to {@code out}
     * (the same array and offset is allowed) with the channels past c set to zero: restores the layout's invariant
     * after an elementwise op with f(0) != 0.
     */
    public static void zeroPadding(int batch, int c, int plane, int block, float[] in, int inOff, float[] out,
                                   int outOff) {
        int cb = blocks(c, block);
        int length = batch * cb * block * plane;
        if (in != out || inOff != outOff) {
            System.arraycopy(in, inOff, out, outOff, length);
        }
        int real = c - (cb - 1) * block;
        if (real == block) {
            return;
        }
        for (int n = 0; n < batch; n++) {
            int last = outOff + ((n * cb + cb - 1) * plane) * block;
            for (int p = 0; p < plane; p++) {
                java.util.Arrays.fill(out, last + p * block + real, last + (p + 1) * block, 0f);
            }
        }
    }
}
