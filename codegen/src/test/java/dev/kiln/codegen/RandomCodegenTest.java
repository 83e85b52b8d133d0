package dev.kiln.codegen;

import static dev.kiln.codegen.RunTimeValuesCodegenTest.assertMatches;
import static dev.kiln.codegen.RunTimeValuesCodegenTest.shape;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Generated random ops: with a seed they give the reference evaluator's (numpy's) values on every call; without
 * one, each call draws anew from the instance's generator.
 */
class RandomCodegenTest {
    @Test
    void seededGeneratorsMatchTheEvaluator() {
        GraphBuilder b = new GraphBuilder("random");
        Value p = b.input("p", DType.FLOAT32, shape(3, 4));
        Value coin = b.op("Bernoulli").inputs(p).attr("seed", 5f).outputNames("coin").output();
        Value flag = b.op("Bernoulli").inputs(p).attr("seed", 6f).attr("dtype", (long) DType.BOOL.onnxCode())
                .outputNames("flag").output();
        Value count = b.op("Bernoulli").inputs(p).attr("seed", 7f).attr("dtype", (long) DType.INT32.onnxCode())
                .outputNames("count").output();
        Value uniform = b.op("RandomUniformLike").inputs(p).attr("seed", 1f).attr("low", -2f).attr("high", 0.5f)
                .attr("dtype", (long) DType.FLOAT64.onnxCode()).outputNames("uniform").output();
        Value normal = b.op("RandomNormal").attr("seed", 2f).attr("mean", 3f).attr("scale", 0.5f)
                .attr("shape", new long[] {2, 5}).outputNames("normal").output();
        Value normalLike = b.op("RandomNormalLike").inputs(p).attr("seed", 2f).outputNames("normalLike").output();
        Value uniformShape = b.op("RandomUniform").attr("seed", 3f).attr("shape", new long[] {7})
                .outputNames("uniformShape").output();
        Graph g = b.output(coin).output(flag).output(count).output(uniform).output(normal).output(normalLike)
                .output(uniformShape).build();
        Tensor probabilities = Tensor.ofFloats(new int[] {3, 4}, 0, 1, 0.5f, 0.25f, 0.75f, 0.1f, 0.9f, 0.3f, 0.6f,
                0.45f, 0.55f, 0.05f);
        assertMatches(g, Map.of("p", probabilities));
    }

    @Test
    void unseededGeneratorsDrawAnewOnEveryCall() {
        GraphBuilder b = new GraphBuilder("unseeded");
        Value x = b.input("x", DType.FLOAT32, shape(64));
        Value u = b.op("RandomUniformLike").inputs(x).attr("low", 2f).attr("high", 3f).outputNames("u").output();
        Graph g = b.output(u).build();
        GeneratedExecutor exec = GeneratedExecutor.compile(g, 1);
        Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new int[] {64}, new float[64]));
        float[] first = exec.run(feeds).get("u").toFloatArray();
        float[] second = exec.run(feeds).get("u").toFloatArray();
        for (float v : first) {
            assertTrue(v >= 2 && v <= 3, "draw " + v + " outside [2, 3]");
        }
        assertFalse(Arrays.equals(first, second), "two calls drew the same values");
    }
}
