package dev.kiln.runtime;

import java.util.Arrays;

/**
 * ONNX Resize (opset 19) for generated code whose roi, scales or sizes are read at run time: the per-axis scale and
 * roi those values give (checked against the output shape the code was compiled for), and each resized axis's
 * taps (input indices and weights per output coordinate) written into the caller's preallocated tables. The
 * arithmetic is the reference evaluator's, step for step: with scales given, the coordinate transforms use the
 * scale, not the ratio of the output and input lengths. Nothing here allocates unless it throws.
 */
public final class ResizeCoordinates {
    private ResizeCoordinates() {}

    /**
     * The node's interpolation attributes.
     *
     * @param mode nearest, linear or cubic
     * @param transform the coordinate_transformation_mode
     * @param nearestMode round_prefer_floor, round_prefer_ceil, floor or ceil
     * @param cubicA the cubic kernel's a (the float attribute, widened)
     */
    public record Mode(String mode, String transform, String nearestMode, boolean antialias, double cubicA,
                       boolean excludeOutside) {
        public Mode {
            if (!Arrays.asList("nearest", "linear", "cubic").contains(mode)) {
                throw new IllegalArgumentException("Resize mode must be nearest, linear or cubic, not '" + mode + "'");
            }
            if (!Arrays.asList("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                    "asymmetric", "tf_crop_and_resize").contains(transform)) {
                throw new IllegalArgumentException("unknown coordinate_transformation_mode '" + transform + "'");
            }
            if (!Arrays.asList("round_prefer_floor", "round_prefer_ceil", "floor", "ceil").contains(nearestMode)) {
                throw new IllegalArgumentException("unknown nearest_mode '" + nearestMode + "'");
            }
        }

        /** True when each output coordinate reads one input element (nearest without exclude_outside). */
        public boolean selects() {
            return mode.equals("nearest") && !excludeOutside;
        }

        /** The number of taps per output coordinate at this scale (1 when it {@link #selects}). */
        public int width(double scale) {
            if (selects()) {
                return 1;
            }
            if (mode.equals("nearest")) {
                return 2;
            }
            double s = antialias ? Math.min(scale, 1) : 1;
            int first = (int) Math.floor((mode.equals("linear") ? -1 : -2) / s) + 1;
            return 2 - 2 * first;
        }
    }

    /**
     * Sets {@code roiStart} and {@code roiEnd} of the listed axes from {@code roi[0 .. count)} (starts then ends, as
     * tf_crop_and_resize reads them); the other axes keep [0, 1].
     */
    public static void roi(String node, String input, int[] axes, double[] roi, int count, double[] roiStart,
                           double[] roiEnd) {
        Arrays.fill(roiStart, 0);
        Arrays.fill(roiEnd, 1);
        if (count != 2 * axes.length) {
            throw new IllegalArgumentException(node + ": input '" + input + "' has " + count + " values; tf_crop_and_resize"
                    + " needs " + 2 * axes.length);
        }
        for (int i = 0; i < axes.length; i++) {
            roiStart[axes[i]] = roi[i];
            roiEnd[axes[i]] = roi[i + axes.length];
        }
    }

    /**
     * The per-axis scales {@code scales[offset ..]} give to the listed axes (the others keep 1), checking that the
     * output lengths they give, {@code floor(in * (roiEnd - roiStart) * scale)}, are the compiled ones.
     *
     * @throws IllegalArgumentException naming the node, the input, its values and both shapes
     */
    public static void fromScales(String node, String input, int[] in, int[] axes, float[] scales, int offset,
                                  double[] roiStart, double[] roiEnd, int[] compiledOut, double[] scaleOut) {
        Arrays.fill(scaleOut, 1);
        for (int i = 0; i < axes.length; i++) {
            double s = scales[offset + i];
            if (!(s > 0)) {
                throw new IllegalArgumentException(node + ": input '" + input + "' = " + floats(scales, offset, axes.length)
                        + " has scale " + s + "; scales must be positive");
            }
            scaleOut[axes[i]] = s;
        }
        for (int a = 0; a < in.length; a++) {
            if (outLength(in, a, roiStart, roiEnd, scaleOut, axes) != compiledOut[a]) {
                int[] got = new int[in.length];
                for (int d = 0; d < in.length; d++) {
                    got[d] = outLength(in, d, roiStart, roiEnd, scaleOut, axes);
                }
                throw mismatch(node, input, floats(scales, offset, axes.length), got, compiledOut);
            }
        }
    }

    private static int outLength(int[] in, int a, double[] roiStart, double[] roiEnd, double[] scale, int[] axes) {
        for (int listed : axes) {
            if (listed == a) {
                return (int) Math.floor(in[a] * (roiEnd[a] - roiStart[a]) * scale[a]);
            }
        }
        return in[a];
    }

    /**
     * The per-axis scales {@code sizes[offset ..]} give to the listed axes under keep_aspect_ratio_policy
     * {@code policy} (stretch: size / in per axis; not_larger / not_smaller: the least / greatest of those for all
     * listed axes, output lengths rounded), checking the output lengths against the compiled ones.
     *
     * @throws IllegalArgumentException naming the node, the input, its values and both shapes
     */
    public static void fromSizes(String node, String input, int[] in, int[] axes, long[] sizes, int offset,
                                 String policy, int[] compiledOut, double[] scaleOut) {
        Arrays.fill(scaleOut, 1);
        boolean stretch = policy.equals("stretch");
        double common = policy.equals("not_larger") ? Double.POSITIVE_INFINITY : 0;
        for (int i = 0; i < axes.length; i++) {
            double s = (double) sizes[offset + i] / in[axes[i]];
            if (stretch) {
                scaleOut[axes[i]] = s;
            } else {
                common = policy.equals("not_larger") ? Math.min(common, s) : Math.max(common, s);
            }
        }
        boolean ok = true;
        for (int i = 0; i < axes.length; i++) {
            int a = axes[i];
            if (!stretch) {
                scaleOut[a] = common;
            }
            ok &= sizedLength(in, a, i, sizes, offset, stretch, common) == compiledOut[a];
        }
        for (int a = 0; a < in.length; a++) {
            ok &= listed(axes, a) || in[a] == compiledOut[a];
        }
        if (!ok) {
            int[] got = in.clone();
            for (int i = 0; i < axes.length; i++) {
                got[axes[i]] = sizedLength(in, axes[i], i, sizes, offset, stretch, common);
            }
            throw mismatch(node, input, Arrays.toString(Arrays.copyOfRange(sizes, offset, offset + axes.length)), got,
                    compiledOut);
        }
    }

    private static int sizedLength(int[] in, int a, int i, long[] sizes, int offset, boolean stretch, double common) {
        return stretch ? (int) sizes[offset + i] : (int) Math.rint(common * in[a]);
    }

    private static boolean listed(int[] axes, int a) {
        for (int listed : axes) {
            if (listed == a) {
                return true;
            }
        }
        return false;
    }

    /**
     * Writes the taps of every output coordinate {@code o} of one axis into {@code index[o * width ..]} and
     * {@code weight[o * width ..]} (unused slots index 0, weight 0; with {@link Mode#selects} one index and no
     * weight), and into {@code outside[o]} whether tf_crop_and_resize maps it outside the input (its taps are then
     * unused). {@code outside} may be empty when the transform is not tf_crop_and_resize.
     *
     * @throws IllegalArgumentException when the scale needs more taps than {@code width}
     */
    public static void taps(String node, Mode m, int inLen, int outLen, double scale, double roiStart, double roiEnd,
                            int width, int[] index, double[] weight, boolean[] outside) {
        int n = m.selects() ? 2 : m.width(scale);
        if (m.width(scale) > width) {
            throw new IllegalArgumentException(node + ": scale " + scale + " needs " + m.width(scale)
                    + " taps per output element; the code was compiled for at most " + width);
        }
        boolean crop = m.transform().equals("tf_crop_and_resize");
        for (int o = 0; o < outLen; o++) {
            double c = sourceCoordinate(m, o, inLen, outLen, scale, roiStart, roiEnd);
            int at = o * width;
            if (crop) {
                outside[o] = Double.isNaN(c);
            }
            Arrays.fill(index, at, at + width, 0);
            if (!m.selects()) {
                Arrays.fill(weight, at, at + width, 0);
            }
            if (Double.isNaN(c)) {
                continue;
            }
            // The left neighbour and the fraction past it, in (0, 1]: an exact integer counts as 1 past c - 1.
            double floor = Math.floor(c);
            long base = c == floor ? (long) floor - 1 : (long) floor;
            double ratio = c - base;
            int first;
            boolean right = false;
            if (m.mode().equals("nearest")) {
                first = 0;
                right = ratio == 1 || switch (m.nearestMode()) {
                    case "round_prefer_floor" -> ratio > 0.5;
                    case "round_prefer_ceil" -> ratio >= 0.5;
                    case "floor" -> false;
                    default -> true;
                };
                if (!m.selects()) {
                    weight[at] = right ? 0 : 1;
                    weight[at + 1] = right ? 1 : 0;
                }
            } else {
                double s = m.antialias() ? Math.min(scale, 1) : 1;
                boolean linear = m.mode().equals("linear");
                first = (int) Math.floor((linear ? -1 : -2) / s) + 1;
                for (int k = 0; k < n; k++) {
                    double x = Math.abs((first + k - ratio) * s);
                    weight[at + k] = linear ? Math.max(0, 1 - x) : cubic(x, m.cubicA());
                }
                normalize(weight, at, n);
            }
            // The window is kept within the edge padding of n/2 elements on each side, as numpy's edge pad would.
            long pad = (n + 1) / 2;
            long start = Math.max(-pad, Math.min(inLen + pad - n, base + first));
            if (m.selects()) {
                index[at] = clamp(start + (right ? 1 : 0), inLen);
                continue;
            }
            for (int k = 0; k < n; k++) {
                long i = start + k;
                if (m.excludeOutside() && (i < 0 || i >= inLen)) {
                    weight[at + k] = 0;
                }
                index[at + k] = clamp(i, inLen);
            }
            if (m.excludeOutside()) {
                normalize(weight, at, n);
            }
        }
    }

    private static int clamp(long i, int inLen) {
        return (int) Math.max(0, Math.min(inLen - 1, i));
    }

    /** The input coordinate output coordinate o maps to; NaN when tf_crop_and_resize puts it outside the input. */
    static double sourceCoordinate(Mode m, int o, int inLen, int outLen, double scale, double roiStart, double roiEnd) {
        // The transforms use the real-valued output length scale * inLen, as the ONNX reference does.
        double outWidth = scale * inLen;
        return switch (m.transform()) {
            case "half_pixel" -> (o + 0.5) / scale - 0.5;
            case "half_pixel_symmetric" -> {
                double adjustment = outLen / outWidth;
                double offset = inLen / 2.0 * (1 - adjustment);
                yield offset + (o + 0.5) / scale - 0.5;
            }
            case "pytorch_half_pixel" -> outWidth == 1 ? 0 : (o + 0.5) / scale - 0.5;
            case "align_corners" -> outWidth == 1 ? 0 : o * (inLen - 1) / (outWidth - 1);
            case "asymmetric" -> o / scale;
            default -> {
                double c = outWidth == 1 ? (roiEnd - roiStart) * (inLen - 1) / 2
                        : o * (roiEnd - roiStart) * (inLen - 1) / (outWidth - 1);
                c += roiStart * (inLen - 1);
                yield c < 0 || c > inLen - 1 ? Double.NaN : c;
            }
        };
    }

    /** Keys' cubic convolution kernel with parameter a at distance x >= 0. */
    private static double cubic(double x, double a) {
        if (x <= 1) {
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        }
        if (x < 2) {
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        }
        return 0;
    }

    private static void normalize(double[] w, int at, int n) {
        double sum = 0;
        for (int k = 0; k < n; k++) {
            sum += w[at + k];
        }
        if (sum != 0) {
            for (int k = 0; k < n; k++) {
                w[at + k] /= sum;
            }
        }
    }

    private static IllegalArgumentException mismatch(String node, String input, String values, int[] got, int[] compiled) {
        return new IllegalArgumentException(node + ": input '" + input + "' = " + values + " gives output shape "
                + Arrays.toString(got) + ", but the code was compiled for " + Arrays.toString(compiled));
    }

    private static String floats(float[] a, int offset, int count) {
        return Arrays.toString(Arrays.copyOfRange(a, offset, offset + count));
    }
}
