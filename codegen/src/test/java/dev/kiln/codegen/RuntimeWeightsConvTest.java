package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Conv whose weights are computed at run time (a trainer's parameters, graph inputs) runs on the packed kernel,
 * which packs them on each call; only a bias computed into scratch space falls back to the scalar loops. Both
 * against the reference evaluator.
 */
class RuntimeWeightsConvTest {
    /** x [N,3,9,9], w [4,3,3,3] and b [4] as graph inputs; Conv stride 2, pad 1; the bias through {@code biasOp}. */
    private static Graph conv(String biasOp) {
        GraphBuilder g = new GraphBuilder("runtime_weights");
        Value x = g.input("x", DType.FLOAT32, Shape.parse("N,3,9,9"));
        Value w = g.input("w", DType.FLOAT32, Shape.parse("4,3,3,3"));
        Value b = g.input("b", DType.FLOAT32, Shape.parse("4"));
        Value bias = biasOp == null ? b : g.op(biasOp).inputs(b).output();
        g.output(g.op("Conv").inputs(x, w, bias).attr("strides", new long[] {2, 2})
                .attr("pads", new long[] {1, 1, 1, 1}).output());
        return g.build();
    }

    private static void assertMatches(Graph g, String cls, boolean packed) throws Exception {
        String source = CodeGenerator.generate(g, new CodegenOptions("com.acme", cls, 1, "test")).mainSource();
        assertEquals(packed, source.contains("Conv2d.packWeights("), source);
        assertEquals(!packed, source.contains("double acc"), source);
        int batch = 2;
        Tensor x = GeneratedClassTest.random(1, batch, 3, 9, 9);
        Tensor w = GeneratedClassTest.random(2, 4, 3, 3, 3);
        Tensor b = GeneratedClassTest.random(3, 4);
        float[] expected = ReferenceEvaluator.run(g, Map.of("x", x, "w", w, "b", b)).values().iterator().next()
                .toFloatArray();
        Class<?> c = GeneratedClassTest.compile(g, cls);
        Object model = c.getMethod("load").invoke(null);
        float[] actual = (float[]) c.getMethod("run", float[].class, float[].class, float[].class, int.class)
                .invoke(model, x.toFloatArray(), w.toFloatArray(), b.toFloatArray(), batch);
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], GeneratedClassTest.TOLERANCE * 10, "element " + i);
        }
    }

    @Test
    void weightsAndBiasFromInputsTakeThePackedKernel() throws Exception {
        assertMatches(conv(null), "InputWeights", true);
    }

    @Test
    void aBiasComputedIntoScratchTakesTheScalarLoops() throws Exception {
        assertMatches(conv("Neg"), "ScratchBias", false);
    }
}
