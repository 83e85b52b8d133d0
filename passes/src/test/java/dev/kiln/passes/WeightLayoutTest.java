package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.PanelLayout;
import dev.kiln.runtime.PackedMatrix;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WeightLayoutTest {
    /** The IR's reading of kiln.panel16.v1 is exactly the runtime kernel's packing, for awkward sizes too. */
    @Test
    void irLayoutAgreesWithTheKernelsPacking() {
        Random r = new Random(3);
        for (int[] kn : new int[][] {{1, 1}, {3, 16}, {5, 17}, {33, 40}, {7, 100}}) {
            int k = kn[0];
            int n = kn[1];
            float[] b = new float[k * n];
            for (int i = 0; i < b.length; i++) {
                b[i] = r.nextFloat();
            }
            float[] packed = PackedMatrix.pack(b, 0, k, n, false).data();
            assertEquals(PanelLayout.length(k, n), packed.length);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < n; j++) {
                    assertEquals(b[i * n + j], packed[PanelLayout.index(k, i, j)], "k=" + k + " n=" + n + " (" + i + "," + j + ")");
                }
            }
        }
    }

    @Test
    void gemmsBecomePackedGemmsWithFoldedAlphaAndBeta() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,5,6"));
        Value h = b.op("MatMul").inputs(x, b.initializer("w1", FusionTest.random(1, 6, 20))).outputNames("h").output();
        Value f = b.op("Flatten").inputs(h).attr("axis", 1L).outputNames("f").output();
        Value y = b.op("Gemm").name("fc").inputs(f, b.initializer("w2", FusionTest.random(2, 3, 100)),
                        b.initializer("c", FusionTest.random(3, 1, 3)))
                .attr("transB", 1L).attr("alpha", 0.5f).attr("beta", 2f).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        Graph packed = new DeadCodeElimination().apply(new WeightLayout().apply(g));
        assertEquals(List.of(
                        "%h: f32[N,5,20] = dev.kiln.PackedGemm(%x, %w1_panels) {k=6, n=20}",
                        "%f: f32[N,100] = Flatten(%h) {axis=1}",
                        "%y: f32[N,3] = dev.kiln.PackedGemm(%f, %w2_panels, %c_columns) {k=100, n=3}  # fc"),
                packed.nodes().stream().map(GraphPrinter::printNode).toList());
        assertEquals(List.of("w1_panels: f32[192]", "w2_panels: f32[1600]", "c_columns: f32[3]"),
                packed.initializers().keySet().stream().map(v -> v.name() + ": " + v.type()).toList());
        PassTesting.assertEquivalent(g, packed);
    }
}
