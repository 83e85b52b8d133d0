package dev.kiln.codegen;

import static dev.kiln.codegen.RunTimeValuesCodegenTest.assertMatches;
import static dev.kiln.codegen.RunTimeValuesCodegenTest.shape;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.DeformConvOps;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Generated code for DeformConv and its gradient op matches the reference evaluator: 2-D with mask, bias, groups,
 * offset groups, strides, pads and dilations (offsets large enough to leave the grid), and 1-D without mask or bias.
 */
class DeformConvCodegenTest {
    private static Tensor scaled(Tensor t, float factor) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= factor;
        }
        return Tensor.ofFloats(t.shape(), v);
    }

    @Test
    void forwardAndGradientsMatchTheEvaluator() {
        GraphBuilder b = new GraphBuilder("deform");
        Value x = b.input("x", DType.FLOAT32, shape(2, 4, 5, 6));
        Value w = b.input("w", DType.FLOAT32, shape(4, 2, 2, 2));
        Value offset = b.input("offset", DType.FLOAT32, shape(2, 16, 3, 5));
        Value bias = b.input("bias", DType.FLOAT32, shape(4));
        Value mask = b.input("mask", DType.FLOAT32, shape(2, 8, 3, 5));
        Value dy = b.input("dy", DType.FLOAT32, shape(2, 4, 3, 5));
        Value y = b.op("DeformConv").inputs(x, w, offset, bias, mask).attr("strides", new long[] {2, 1})
                .attr("pads", new long[] {1, 0, 1, 1}).attr("dilations", new long[] {1, 2}).attr("group", 2L)
                .attr("offset_group", 2L).outputNames("y").output();
        List<Value> grads = b.op(DeformConvOps.DEFORM_CONV_GRAD).domain(OpTable.KILN_DOMAIN)
                .inputs(dy, x, w, offset, mask).attr("strides", new long[] {2, 1}).attr("pads", new long[] {1, 0, 1, 1})
                .attr("dilations", new long[] {1, 2}).attr("group", 2L).attr("offset_group", 2L)
                .outputNames("dx", "dw", "doffset", "dmask").build();
        Value x1 = b.input("x1", DType.FLOAT32, shape(1, 2, 7));
        Value w1 = b.input("w1", DType.FLOAT32, shape(3, 2, 3));
        Value offset1 = b.input("offset1", DType.FLOAT32, shape(1, 3, 7));
        Value y1 = b.op("DeformConv").inputs(x1, w1, offset1).attr("pads", new long[] {1, 1}).outputNames("y1")
                .output();
        b.output(y).output(y1);
        grads.forEach(b::output);
        Graph g = b.build();
        Map<String, Tensor> feeds = Map.of("x", GeneratedClassTest.random(1, 2, 4, 5, 6),
                "w", GeneratedClassTest.random(2, 4, 2, 2, 2),
                "offset", scaled(GeneratedClassTest.random(3, 2, 16, 3, 5), 1.7f),
                "bias", GeneratedClassTest.random(4, 4), "mask", GeneratedClassTest.random(5, 2, 8, 3, 5),
                "dy", GeneratedClassTest.random(6, 2, 4, 3, 5), "x1", GeneratedClassTest.random(7, 1, 2, 7),
                "w1", GeneratedClassTest.random(8, 3, 2, 3),
                "offset1", scaled(GeneratedClassTest.random(9, 1, 3, 7), 2f));
        assertMatches(g, feeds);
    }
}
