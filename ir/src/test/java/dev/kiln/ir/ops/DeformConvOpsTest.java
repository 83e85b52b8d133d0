package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * DeformConv's reference semantics (zero offsets and a mask of ones give Conv; a whole-pixel offset shifts the
 * input; a half-pixel one averages neighbours, zero outside) and finite-difference checks of its gradients with
 * respect to X, W, offset, B and mask ({@link GradCheck}: h = 1e-5, |analytic - numeric| <= 1e-6 * max(1, |numeric|)).
 */
class DeformConvOpsTest {
    private final Random random = new Random(7);

    private Tensor rand(int... shape) {
        return GradCheck.random(random, shape);
    }

    private static Tensor run(String op, Attributes a, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder(op);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        List<Value> in = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) {
                in.add(Value.ABSENT);
                continue;
            }
            in.add(b.input("in" + i, inputs[i].dtype(), Shape.of(inputs[i].shape())));
            feeds.put("in" + i, inputs[i]);
        }
        Value y = b.op(op).inputs(in).attrs(a).output();
        b.output(y);
        Tensor out = ReferenceEvaluator.run(b.build(), feeds).get(y.name());
        assertEquals(y.type().shape(), Shape.of(out.shape()), op + ": inferred and evaluated shapes differ");
        return out;
    }

    private static Tensor constant(double v, int... shape) {
        double[] d = new double[Tensor.sizeOf(shape)];
        java.util.Arrays.fill(d, v);
        return Tensor.wrapDoubles(DType.FLOAT64, shape, d);
    }

    @Test
    void zeroOffsetsAndUnitMaskAreAConv() {
        Attributes a = Attributes.builder().ints("strides", 2, 1).ints("pads", 1, 0, 2, 1).ints("dilations", 1, 2)
                .i("group", 2).build();
        Tensor x = rand(2, 4, 7, 6);
        Tensor w = rand(6, 2, 3, 2);
        Tensor bias = rand(6);
        Tensor conv = run("Conv", a, x, w, bias);
        int[] out = conv.shape();
        Tensor offset = constant(0, 2, 2 * 6 * 2, out[2], out[3]);
        Tensor mask = constant(1, 2, 2 * 6, out[2], out[3]);
        Tensor deform = run("DeformConv", a.with("offset_group", new dev.kiln.ir.Attr.Int(2)), x, w, offset, bias, mask);
        assertArrayEquals(conv.toDoubleArray(), deform.toDoubleArray(), 1e-12);
    }

    @Test
    void offsetsMoveTheSamplesBilinearlyWithZerosOutside() {
        // One 1x1 tap over a 1x3 row [1, 2, 4]: cell 0 offset by (0, +1) reads its right neighbour, cell 1 by
        // (0, +0.5) the mean of 2 and 4, and cell 2 by (0, +0.5) half of 4 and half of the zero beyond the row.
        Tensor x = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 1, 3}, new double[] {1, 2, 4});
        Tensor w = constant(1, 1, 1, 1, 1);
        Tensor offset = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 2, 1, 3}, new double[] {0, 0, 0, 1, 0.5, 0.5});
        Tensor y = run("DeformConv", Attributes.EMPTY, x, w, offset);
        assertArrayEquals(new double[] {2, 3, 2}, y.toDoubleArray(), 1e-12);
    }

    @Test
    void gradientsWithMaskGroupsOffsetGroupsStridesPadsAndDilations() {
        Attributes a = Attributes.builder().ints("strides", 2, 1).ints("pads", 1, 0, 1, 1).ints("dilations", 1, 2)
                .i("group", 2).i("offset_group", 2).build();
        // X [2,4,5,6], W [4,2,2,2] -> Y [2,4,3,5]; offsets scaled up so that samples leave the grid too.
        Tensor offset = scaled(rand(2, 2 * 4 * 2, 3, 5), 1.7);
        GradCheck.of("DeformConv", a, 1, rand(2, 4, 5, 6), rand(4, 2, 2, 2), offset, rand(4), rand(2, 2 * 4, 3, 5))
                .wrt(0, 1, 2, 3, 4).run();
    }

    @Test
    void gradientsWithoutMaskOrBiasInOneAndThreeDimensions() {
        GradCheck.of("DeformConv", Attributes.builder().ints("pads", 1, 1).build(), 1, rand(1, 2, 6), rand(3, 2, 3),
                scaled(rand(1, 3, 6), 2)).wrt(0, 1, 2).run();
        GradCheck.of("DeformConv", Attributes.EMPTY, 1, rand(1, 1, 3, 3, 4), rand(2, 1, 2, 2, 2),
                scaled(rand(1, 8 * 3, 2, 2, 3), 1.3)).wrt(0, 1, 2).run();
    }

    @Test
    void offsetOfTheWrongShapeIsRejectedNamingIt() {
        ShapeException e = assertThrows(ShapeException.class, () -> run("DeformConv", Attributes.EMPTY,
                rand(1, 1, 4, 4), rand(1, 1, 2, 2), rand(1, 6, 3, 3)));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("offset must be [1, 8,"), e.getMessage());
    }

    private static Tensor scaled(Tensor t, double factor) {
        double[] v = t.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= factor;
        }
        return Tensor.wrapDoubles(t.dtype(), t.shape(), v);
    }
}
