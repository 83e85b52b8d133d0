package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Finite-difference checks ({@link GradCheck}: double precision, central differences with h = 1e-5,
 * |analytic - numeric| <= 1e-6 * max(1, |numeric|)) of the {@link ReductionGrads}, {@link MovementGrads} and
 * {@link NormalizationGrads} rules; axes, pads and repeats are initializers as in exported models.
 */
class StructureGradsTest {
    private final Random random = new Random(11);

    private Tensor uniform(double lo, double hi, int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * random.nextDouble();
        }
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    private static Tensor doubles(int[] shape, double... v) {
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    private static Attributes.Builder attrs() {
        return Attributes.builder();
    }

    // ---- reductions ----

    @ParameterizedTest
    @CsvSource({
        "ReduceMax, 1", "ReduceMax, 0", "ReduceMin, 1", "ReduceMin, 0", "ReduceL1, 0", "ReduceL2, 1",
        "ReduceL2, 0", "ReduceSumSquare, 0", "ReduceSumSquare, 1", "ReduceLogSum, 0", "ReduceLogSumExp, 0",
        "ReduceLogSumExp, 1"})
    void reductions(String op, int keepdims) {
        double lo = op.equals("ReduceLogSum") ? 0.2 : -2;
        Attributes a = attrs().i("keepdims", keepdims).build();
        GradCheck.of(op, a, 1, uniform(lo, 2, 2, 3, 4), Tensor.ofInt64s(1)).constants(1).run();
        GradCheck.of(op, a, 1, uniform(lo, 2, 2, 3, 4), Tensor.ofInt64s(0, -1)).constants(1).run();
        GradCheck.of(op, a, 1, uniform(lo, 2, 2, 3, 4)).run();
    }

    @Test
    void reductionWithoutAxesAsTheIdentity() {
        Attributes noop = attrs().i("noop_with_empty_axes", 1).build();
        assertArrayEquals(new double[] {1, 1, 1},
                GradCheck.of("ReduceMax", noop, 1, doubles(new int[] {3}, 1, 1, 2)).slopes().get(0).toDoubleArray(), 0);
    }

    @Test
    void reduceMaxSplitsTiesAndReduceL2IsZeroAtZero() {
        Tensor x = doubles(new int[] {2, 3}, 1, 3, 3, 2, 2, 0);
        assertArrayEquals(new double[] {0, 0.5, 0.5, 0.5, 0.5, 0}, GradCheck.of("ReduceMax", Attributes.EMPTY, 1, x,
                Tensor.ofInt64s(1)).constants(1).slopes().get(0).toDoubleArray(), 0);
        Tensor zeros = doubles(new int[] {2, 2}, 0, 0, 3, 4);
        assertArrayEquals(new double[] {0, 0, 0.6, 0.8}, GradCheck.of("ReduceL2", Attributes.EMPTY, 1, zeros,
                Tensor.ofInt64s(1)).constants(1).slopes().get(0).toDoubleArray(), 1e-15);
    }

    // ---- copies ----

    @ParameterizedTest
    @CsvSource({"3x1;2x3x4", "1x4;3x1", "2x3;2x3", "4;2x1x4"})
    void expand(String shapes) {
        String[] s = shapes.split(";");
        long[] target = java.util.Arrays.stream(dims(s[1])).asLongStream().toArray();
        GradCheck.of("Expand", Attributes.EMPTY, 1, uniform(-1, 1, dims(s[0])), Tensor.ofInt64s(target)).constants(1)
                .run();
    }

    @ParameterizedTest
    @CsvSource({"2x3;2x3", "2x1x3;1x4x2", "4;3", "2x2;1x1"})
    void tile(String spec) {
        String[] s = spec.split(";");
        long[] reps = java.util.Arrays.stream(dims(s[1])).asLongStream().toArray();
        GradCheck.of("Tile", Attributes.EMPTY, 1, uniform(-1, 1, dims(s[0])), Tensor.ofInt64s(reps)).constants(1).run();
    }

    @Test
    void padCropsWhatWasPaddedAndZeroFillsWhatWasCropped() {
        Tensor value = doubles(new int[0], 0.5);
        GradCheck.of("Pad", Attributes.EMPTY, 1, uniform(-1, 1, 2, 3), Tensor.ofInt64s(1, 0, 2, 1), value)
                .constants(1).run();
        GradCheck.of("Pad", Attributes.EMPTY, 1, uniform(-1, 1, 3, 4), Tensor.ofInt64s(-1, 1, 0, -2)).constants(1).run();
        GradCheck.of("Pad", Attributes.EMPTY, 1, uniform(-1, 1, 2, 3, 4), Tensor.ofInt64s(2, -1), null,
                Tensor.ofInt64s(2)).constants(1, 3).run();
        // Pads given at run time: the gradient negates them in the graph.
        GradCheck.of("Pad", Attributes.EMPTY, 1, uniform(-1, 1, 2, 3), Tensor.ofInt64s(0, 1, 1, 0)).run();
    }

    // ---- Resize ----

    private static Tensor floats(double... v) {
        return Tensor.wrapDoubles(DType.FLOAT32, new int[] {v.length}, v);
    }

    @ParameterizedTest
    @CsvSource({
        "nearest, asymmetric, floor", "nearest, half_pixel, round_prefer_floor", "linear, half_pixel, floor",
        "linear, align_corners, floor", "linear, pytorch_half_pixel, floor", "cubic, half_pixel, floor",
        "nearest, half_pixel, round_prefer_ceil"})
    void resizeUpAndDownByScales(String mode, String transform, String nearest) {
        Attributes a = attrs().s("mode", mode).s("coordinate_transformation_mode", transform).s("nearest_mode", nearest)
                .build();
        Tensor x = uniform(-1, 1, 2, 2, 3, 4);
        GradCheck.of("Resize", a, 1, x, null, floats(1, 1, 2, 2)).constants(2).run();
        GradCheck.of("Resize", a, 1, x, null, floats(1, 1, 1.5, 0.5)).constants(2).run();
        GradCheck.of("Resize", a, 1, x, null, null, Tensor.ofInt64s(2, 2, 5, 3)).constants(3).run();
    }

    @Test
    void resizeVariants() {
        Tensor x = uniform(-1, 1, 1, 2, 4, 5);
        // antialiased linear downscaling, only the spatial axes named, cubic excluding outside taps
        GradCheck.of("Resize", attrs().s("mode", "linear").i("antialias", 1).ints("axes", 2, 3).build(), 1, x, null,
                floats(0.5, 0.6)).constants(2).run();
        GradCheck.of("Resize", attrs().s("mode", "cubic").i("exclude_outside", 1).build(), 1, x, null,
                floats(1, 1, 1.5, 1.25)).constants(2).run();
        // crop and resize: the extrapolated border is a constant and gets no gradient
        GradCheck.of("Resize", attrs().s("mode", "linear").s("coordinate_transformation_mode", "tf_crop_and_resize")
                .f("extrapolation_value", 3f).ints("axes", 2, 3).build(), 1, x,
                floats(-0.2, 0.1, 0.9, 1.3), null, Tensor.ofInt64s(5, 4)).constants(1, 3).run();
        // the batch axis resized too
        GradCheck.of("Resize", attrs().s("mode", "linear").build(), 1, uniform(-1, 1, 3, 4), null, floats(2, 0.75))
                .constants(2).run();
    }

    // ---- normalization ----

    @ParameterizedTest
    @CsvSource({"-1, 4", "1, 3x4", "-1, 1", "0, 1", "1, 4"})
    void rmsNormalization(int axis, String scaleShape) {
        Attributes a = attrs().i("axis", axis).f("epsilon", 0.1f).build();
        GradCheck.of("RMSNormalization", a, 1, uniform(-2, 2, 2, 3, 4), uniform(0.5, 1.5, dims(scaleShape)))
                .wrt(0, 1).run();
    }

    @ParameterizedTest
    @CsvSource({"-1, 4", "1, 3x4", "-1, 1", "2, 4"})
    void layerNormalization(int axis, String scaleShape) {
        Attributes a = attrs().i("axis", axis).i("stash_type", DType.FLOAT64.onnxCode()).build();
        int[] s = dims(scaleShape);
        Tensor x = uniform(-2, 2, 2, 3, 4);
        GradCheck.of("LayerNormalization", a, 1, x, uniform(0.5, 1.5, s), uniform(-1, 1, s)).wrt(0, 1, 2).run();
        GradCheck.of("LayerNormalization", a, 3, x, uniform(0.5, 1.5, s), uniform(-1, 1, s)).wrt(0, 1, 2)
                .loss(0, 1, 2).run();
        GradCheck.of("LayerNormalization", a, 3, x, uniform(0.5, 1.5, s)).wrt(0, 1).loss(2).run();
        GradCheck.of("LayerNormalization", a, 2, x, uniform(0.5, 1.5, s)).wrt(0).loss(1).run();
    }

    @Test
    void layerNormalizationWithDefaultEpsilonAndFloat32Stash() {
        // Statistics stashed in float32 are not used by the gradient, which recomputes them in double.
        GradCheck.of("LayerNormalization", attrs().f("epsilon", 1e-3f).build(), 1, uniform(-2, 2, 3, 5),
                uniform(0.5, 1.5, 5), uniform(-1, 1, 5)).wrt(0, 1, 2).run();
    }

    @ParameterizedTest
    @ValueSource(strings = {"2x3x5", "2x3x4x2", "1x2x3x2x2"})
    void instanceNormalization(String shape) {
        int[] s = dims(shape);
        GradCheck.of("InstanceNormalization", attrs().f("epsilon", 1e-3f).build(), 1, uniform(-2, 2, s),
                uniform(0.5, 1.5, s[1]), uniform(-1, 1, s[1])).wrt(0, 1, 2).run();
    }

    @ParameterizedTest
    @CsvSource({"2x4x3, 2", "2x6x2x2, 3", "1x4x5, 1", "2x4x2, 4"})
    void groupNormalization(String shape, int groups) {
        int[] s = dims(shape);
        GradCheck.of("GroupNormalization", attrs().i("num_groups", groups).i("stash_type", 11).build(), 1,
                uniform(-2, 2, s), uniform(0.5, 1.5, s[1]), uniform(-1, 1, s[1])).wrt(0, 1, 2).run();
    }

    private static int[] dims(String s) {
        String[] parts = s.split("x");
        int[] d = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            d[i] = Integer.parseInt(parts[i]);
        }
        return d;
    }
}
