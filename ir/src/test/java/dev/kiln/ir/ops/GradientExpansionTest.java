package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * ONNX Gradient's expansion: the gradient of the sum of a non-scalar y through a value used twice, zs held constant,
 * and zeros for an x that y does not depend on.
 */
class GradientExpansionTest {
    @Test
    void gradientOfTheSumOfYWithConstantsAndAnUnusedX() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT64, Shape.of(3));
        Value w = b.input("w", DType.FLOAT64, Shape.of(3));
        Value z = b.input("z", DType.FLOAT64, Shape.of(3));
        Value unused = b.input("unused", DType.FLOAT64, Shape.of(2));
        // y = tanh(x) * w + x * z: x is used twice, so its gradient sums two contributions.
        Value t = b.op("Tanh").inputs(x).output();
        Value y = b.op("Add").inputs(b.op("Mul").inputs(t, w).output(), b.op("Mul").inputs(x, z).output()).output();
        List<Value> grads = GradientExpansion.expand(b, "Gradient node", List.of(x, w, unused), Set.of(z), y);
        grads.forEach(b::output);
        double[] xs = {0.3, -1.2, 2};
        double[] ws = {1.5, -0.5, 2};
        double[] zs = {4, 5, 6};
        Map<String, Tensor> out = ReferenceEvaluator.run(b.build(), Map.of(
                "x", Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, xs),
                "w", Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, ws),
                "z", Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, zs),
                "unused", Tensor.wrapDoubles(DType.FLOAT64, new int[] {2}, new double[] {7, 8})));
        double[] dx = new double[3];
        double[] dw = new double[3];
        for (int i = 0; i < 3; i++) {
            double th = Math.tanh(xs[i]);
            dx[i] = (1 - th * th) * ws[i] + zs[i];
            dw[i] = th;
        }
        assertArrayEquals(dx, out.get(grads.get(0).name()).toDoubleArray(), 1e-12);
        assertArrayEquals(dw, out.get(grads.get(1).name()).toDoubleArray(), 1e-12);
        assertArrayEquals(new double[] {0, 0}, out.get(grads.get(2).name()).toDoubleArray(), 0);
        assertEquals(DType.FLOAT64, grads.get(2).dtype());
    }

    @Test
    void integerXsAreRejectedNamingTheNode() {
        GraphBuilder b = new GraphBuilder("g");
        Value i = b.input("i", DType.INT64, Shape.of(2));
        Value y = b.op("Cast").inputs(i).attr("to", (long) DType.FLOAT32.onnxCode()).output();
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> GradientExpansion.expand(b, "Gradient node 'g1'", List.of(i), Set.of(), y));
        assertEquals("Gradient node 'g1': xs entry 'i' is i64[2]; only floating tensors have gradients", e.getMessage());
    }
}
