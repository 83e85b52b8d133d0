package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Conv2d}'s direct kernel with a following 2x2, stride-2, unpadded, floor-mode max pool fused in: only the
 * pooled planes [M, outH / 2, outW / 2] are written, and the conv rows and columns no window reads (the last one of
 * an odd size) are not computed.
 *
 * <p>Where the conv row pairs span at least a vector and the activation is none or Relu, {@link Conv2d}'s 5 x 2
 * register block computes one tile (VL conv pixels) in each of the two rows of a window row for {@link Conv2d#MB}
 * output channels, with bias and activation, into a few vectors of scratch; per channel the two rows are maxed,
 * then the even and odd lanes, and the VL / 2 pooled pixels are stored. A tile starts at an even column, so it
 * holds whole windows. Otherwise (narrow planes, other activations) the two conv rows of each window row are
 * computed into scratch, activated as in their planes, and pooled from there.
 *
 * <p>Either way each output is {@code max} over its window of {@code ep(conv + bias)}, the conv sums being the
 * unfused kernel's FMA chains: equal bit for bit to {@link Conv2d#conv} followed by {@link Pooling#maxPool}.
 */
final class DirectMaxPool {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();
    private static final int MB = Conv2d.MB;

    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> (2 * i) % VL);
    private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(S, i -> (2 * i + 1) % VL);

    private DirectMaxPool() {}

    /**
     * Floats of scratch needed after the padded image: two conv rows of MB channels and a vector of up to 16 lanes
     * past them (a row's last, partial vector is activated whole, {@code Conv2d.activateRow}), or the register
     * paths' tile pairs and pooled vector (at most 15 vectors of up to 16 lanes, see {@link #poolTile}).
     */
    static int rowsLength(ConvShape s) {
        // two tile pairs of MB channels (the 5 x 4 block) and a vector for poolTile, at up to 16 lanes
        return Math.max(MB * 2 * s.outW() + 16, (4 * MB + 1) * 16);
    }

    /**
     * Units {@code [u0, u1)} (blocks of MB output channels) of one image read from {@code x} (planes of {@code
     * plane} floats, rows of {@code wp}, from {@code xOff}), pooled into {@code out} from {@code oo}; {@code
     * rows} from {@code rowsOff} holds {@link #rowsLength} floats of this thread's own.
     */
    static void image(ConvShape s, float[] w, float[] bias, float[] out, int oo, float[] x, int xOff, int wp, int plane,
                      Epilogue ep, int u0, int u1, float[] rows, int rowsOff) {
        int blocks = Math.ceilDiv(s.mg(), MB);
        int kv = s.kernelVolume();
        int ph = s.outH() / 2;
        int pw = s.outW() / 2;
        int np = ph * pw;
        int rowStep = s.strideH() * wp;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean registers = 2 * pw >= VL && (ep.isNone() || relu);
        int[] offs = Conv2d.tapOffsets(s, wp, plane); // once per call: the row loops below only read it
        int tiles = Math.ceilDiv(2 * pw, VL);
        int tmp = rowsOff + 4 * MB * VL; // past the tile pairs: where poolTile stores a row's last vector
        for (int u = u0; u < u1; u++) {
            int g = u / blocks;
            int m0 = g * s.mg() + (u % blocks) * MB;
            int mCount = Math.min(MB, s.mg() - (u % blocks) * MB);
            int wOff = u * kv * MB;
            int gOff = xOff + g * s.cg() * plane;
            int base = oo + m0 * np;
            boolean wide = Conv2d.BLOCK_TILES == 4 && mCount > 2 && tiles % 2 == 0;
            for (int py = 0; py < ph; py++) {
                int top = gOff + 2 * py * rowStep;
                if (registers && (wide || mCount <= 2)) {
                    // Two tiles of both window rows at once: in the 5 x 4 block where there are registers for it,
                    // and in the 2 x 4 block for a last block of one or two channels, as Conv2d does.
                    int r1 = rowsOff + (wide ? 2 * MB : 4) * VL;
                    for (int t = 0; t < tiles; t += 2) {
                        int x0 = Math.min(t * VL, 2 * pw - VL);
                        int x1 = Math.min((t + 1) * VL, 2 * pw - VL);
                        if (wide) {
                            Conv2d.block5x4(offs, kv, w, wOff, x, top + x0, top + rowStep + x0, top + x1,
                                    top + rowStep + x1, bias, m0, mCount, rows, rowsOff, rowsOff + VL, r1, r1 + VL,
                                    2 * VL, relu);
                        } else {
                            Conv2d.block2x4(offs, kv, w, wOff, x, top + x0, top + rowStep + x0, top + x1,
                                    top + rowStep + x1, bias, m0, mCount, rows, rowsOff, rowsOff + VL, r1, r1 + VL,
                                    2 * VL, relu);
                        }
                        poolTile(rows, rowsOff, mCount, out, base + py * pw + x0 / 2, np,
                                whole(t, tiles, x0, pw, py, ph), tmp);
                        poolTile(rows, r1, mCount, out, base + py * pw + x1 / 2, np,
                                whole(t + 1, tiles, x1, pw, py, ph), tmp);
                    }
                } else if (registers) {
                    for (int t = 0; t < tiles; t++) {
                        int x0 = Math.min(t * VL, 2 * pw - VL);
                        Conv2d.block5x2(offs, kv, w, wOff, x, top + x0, top + rowStep + x0, bias, m0, mCount, rows,
                                rowsOff, rowsOff + VL, 2 * VL, relu);
                        poolTile(rows, rowsOff, mCount, out, base + py * pw + x0 / 2, np,
                                whole(t, tiles, x0, pw, py, ph), tmp);
                    }
                } else {
                    Conv2d.directRows(s, offs, w, wOff, x, top, 2 * py, wp, plane, bias, m0, mCount, ep, rows, rowsOff);
                    poolRows(s, rows, rowsOff, mCount, out, base + py * pw, np);
                }
            }
        }
    }

    /**
     * Whether tile t (from column x0) of pooled row py may store a whole vector of pooled pixels, VL / 2 of them
     * followed by VL / 2 lanes of filler: every lane the filler lands on is written again later. In the row, the
     * row's later tiles (which reach the row's end without gaps, starting at or before the filler) overwrite it;
     * past the row's end it lands at the start of row py + 1 of the same plane, which this thread writes next. Only
     * the plane's last row, whose filler would land in the next plane (written before), or in whatever follows the
     * tensor, goes through scratch unless the vector ends inside the row.
     */
    private static boolean whole(int t, int tiles, int x0, int pw, int py, int ph) {
        return py + 1 < ph || (t + 1 < tiles && x0 / 2 + VL <= pw);
    }

    /** The windows of one window row from its two conv rows in {@code rows} ([mCount][2][outW]). */
    private static void poolRows(ConvShape s, float[] rows, int r, int mCount, float[] out, int o, int np) {
        int outW = s.outW();
        for (int j = 0; j < mCount; j++) {
            int r0 = r + j * 2 * outW;
            int r1 = r0 + outW;
            for (int px = 0; px < outW / 2; px++) {
                out[o + j * np + px] = Math.max(Math.max(rows[r0 + 2 * px], rows[r0 + 2 * px + 1]),
                        Math.max(rows[r1 + 2 * px], rows[r1 + 2 * px + 1]));
            }
        }
    }

    /**
     * The windows of one tile pair in {@code rows} ([mCount][2 rows][VL], as {@link Conv2d#block5x2} left them,
     * bias and activation applied): per channel the rows' maximum, then that of even and odd lanes, VL / 2 pooled
     * pixels stored at {@code o} (a row's last vector through {@code rows[tmp..]}, past every tile pair). Kept out of
     * the FMA block: pooling there left C2 short of registers, and it spilled half the accumulators inside the tap
     * loop (2x slower).
     */
    private static void poolTile(float[] rows, int r, int mCount, float[] out, int o, int np, boolean whole,
                                 int tmp) {
        for (int j = 0; j < mCount; j++) {
            int at = r + 2 * j * VL;
            FloatVector p = FloatVector.fromArray(S, rows, at).max(FloatVector.fromArray(S, rows, at + VL));
            FloatVector pooled = p.rearrange(EVEN).max(p.rearrange(ODD));
            if (whole) {
                // A whole vector: its upper half is overwritten later (see whole()).
                pooled.intoArray(out, o + j * np);
                continue;
            }
            // The row's last tiles leave through scratch: a masked store (vmaskmovps) made cifar_cnn 10 % slower on
            // this AMD machine, and a reinterpretShape to a half-width species was left unexpanded by C2 in about one
            // JVM run in five, boxing two objects per channel and tile (2.7 MB a call for mnist_cnn at batch 64).
            pooled.intoArray(rows, tmp);
            for (int i = 0; i < VL / 2; i++) {
                out[o + j * np + i] = rows[tmp + i];
            }
        }
    }
}
