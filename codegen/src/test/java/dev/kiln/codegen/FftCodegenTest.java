package dev.kiln.codegen;

import static dev.kiln.codegen.RunTimeValuesCodegenTest.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Generated DFTs (the runtime's FFT: radix-2 for powers of two, Bluestein otherwise) against the reference evaluator's
 * O(L^2) definition, for lengths 1, 2, 3, 5, 8, 12, 17, 64, 100 and 1024: complex forward and inverse, onesided
 * forward of a real signal, and the inverse of a half spectrum. Tolerance: |generated - reference| <= 1e-6 x the
 * largest |reference| of the output (the absolute part docs/CLI.md allows for spectra); both compute in double from
 * the same float32 input, so what differs is the double rounding of the two algorithms (~1e-13 relative), well
 * inside the float32 rounding of the result.
 */
class FftCodegenTest {
    private static final int[] LENGTHS = {1, 2, 3, 5, 8, 12, 17, 64, 100, 1024};

    @Test
    void fftMatchesTheDirectTransformOfTheEvaluator() {
        for (int length : LENGTHS) {
            int half = length / 2 + 1;
            GraphBuilder b = new GraphBuilder("fft" + length);
            Value complex = b.input("complex", DType.FLOAT32, shape(2, length, 2));
            Value real = b.input("real", DType.FLOAT32, shape(2, length, 1));
            Value spectrum = b.input("spectrum", DType.FLOAT32, shape(2, half, 2));
            Value len = b.initializer("length", Tensor.scalarLong(DType.INT64, length));
            Value forward = b.op("DFT").inputs(complex).outputNames("forward").output();
            Value inverse = b.op("DFT").inputs(complex).attr("inverse", 1L).outputNames("inverse").output();
            Value onesided = b.op("DFT").inputs(real).attr("onesided", 1L).outputNames("onesided").output();
            Value restored = b.op("DFT").inputs(spectrum, len).attr("inverse", 1L).attr("onesided", 1L)
                    .outputNames("restored").output();
            Graph g = b.output(forward).output(inverse).output(onesided).output(restored).build();
            Map<String, Tensor> feeds = Map.of("complex", GeneratedClassTest.random(length, 2, length, 2),
                    "real", GeneratedClassTest.random(length + 1, 2, length, 1),
                    "spectrum", GeneratedClassTest.random(length + 2, 2, half, 2));
            Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
            Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
            expected.forEach((name, e) -> {
                double[] want = e.toDoubleArray();
                double[] got = actual.get(name).toDoubleArray();
                assertArrayEquals(e.shape(), actual.get(name).shape(), name);
                double max = 0;
                for (double v : want) {
                    max = Math.max(max, Math.abs(v));
                }
                for (int i = 0; i < want.length; i++) {
                    double err = Math.abs(got[i] - want[i]);
                    assertTrue(err <= 1e-6 * max, "length " + length + ", " + name + "[" + i + "]: " + got[i]
                            + " but the direct transform gives " + want[i]);
                }
            });
        }
    }
}
