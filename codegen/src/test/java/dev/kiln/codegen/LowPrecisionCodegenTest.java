package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Float8, float4, float8e8m0 and sub-byte integer tensors through generated code: data movement, Cast with saturate and
 * round_mode, and (de)quantization, each bit for bit as the reference evaluator; and the Java types of {@code run}.
 */
class LowPrecisionCodegenTest {

    private static void assertSameAsEvaluator(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            for (int i = 0; i < e.size(); i++) {
                assertEquals(Double.doubleToLongBits(e.getDouble(i)), Double.doubleToLongBits(a.getDouble(i)),
                        name + " element " + i + ": " + e.getDouble(i) + " vs " + a.getDouble(i));
            }
        });
    }

    @Test
    void movesCastsAndQuantizesLowPrecisionTensorsAsTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("lowprec");
        Value x = b.input("x", DType.FLOAT8E4M3FN, Shape.parse("2,3"));
        Value q = b.input("q", DType.INT4, Shape.parse("2,3"));
        Value wide = b.input("wide", DType.FLOAT32, Shape.parse("6"));
        Value t = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0}).outputNames("t").output();
        Value flat = b.op("Reshape").inputs(t, b.initializer("six", Tensor.ofInt64s(6))).outputNames("flat").output();
        Value bias = b.initializer("bias", Tensor.ofDoubles(DType.FLOAT8E4M3FN, new int[] {1, 3}, 0.5, -448, 0x1p-9));
        Value stacked = b.op("Concat").inputs(x, bias).attr("axis", 0L).outputNames("stacked").output();
        Value e5m2 = b.op("Cast").inputs(wide).attr("to", (long) DType.FLOAT8E5M2.onnxCode()).attr("saturate", 0L)
                .outputNames("e5m2").output();
        Value fnuz = b.op("Cast").inputs(wide).attr("to", (long) DType.FLOAT8E4M3FNUZ.onnxCode()).outputNames("fnuz")
                .output();
        Value e2m1 = b.op("Cast").inputs(flat).attr("to", (long) DType.FLOAT4E2M1.onnxCode()).outputNames("e2m1")
                .output();
        Value e8m0 = b.op("Cast").inputs(wide).attr("to", (long) DType.FLOAT8E8M0.onnxCode())
                .attr("round_mode", "nearest").outputNames("e8m0").output();
        Value i2 = b.op("Cast").inputs(q).attr("to", (long) DType.INT2.onnxCode()).outputNames("i2").output();
        Value back = b.op("DequantizeLinear").inputs(q, b.initializer("scale", Tensor.scalarFloat(0.25f)),
                b.initializer("zero", Tensor.scalarLong(DType.INT4, -1))).outputNames("back").output();
        Value f8q = b.op("QuantizeLinear").inputs(wide, b.initializer("qscale", Tensor.scalarFloat(2f)),
                b.initializer("qzero", Tensor.ofDoubles(DType.FLOAT8E5M2FNUZ, new int[0], 0)))
                .attr("saturate", 0L).outputNames("f8q").output();
        b.output(flat).output(stacked).output(e5m2).output(fnuz).output(e2m1).output(e8m0).output(i2).output(back)
                .output(f8q);
        Graph g = b.build();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("x", Tensor.ofDoubles(DType.FLOAT8E4M3FN, new int[] {2, 3}, 1, -2.5, 448, -0.0, 0x1p-9, 3.75));
        feeds.put("q", Tensor.ofLongs(DType.INT4, new int[] {2, 3}, -8, -1, 0, 1, 6, 7));
        feeds.put("wide", Tensor.ofFloats(new int[] {6}, 1e6f, Float.NEGATIVE_INFINITY, 0.3f, Float.NaN, -1e-7f, 3f));
        assertSameAsEvaluator(g, feeds);

        GeneratedModel m = CodeGenerator.generate(g, new CodegenOptions("com.acme", "LowPrec", 1, "test"));
        Class<?> cls = org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> InProcessCompiler.load(m));
        List<List<Class<?>>> runs = Arrays.stream(cls.getMethods()).filter(meth -> meth.getName().equals("run"))
                .map(meth -> List.of(meth.getParameterTypes())).toList();
        // float8 travels as float[] of its values, int4 as int[] of its values.
        assertEquals(true, runs.contains(List.of(float[].class, int[].class, float[].class, int.class)), runs.toString());
    }
}
