package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.runtime.train.Optimizer;
import dev.kiln.runtime.train.OptimizerState;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer generated from a hand-written training graph (linear regression with MSE, forward and backward in
 * plain ONNX ops), compiled in process and checked against the reference evaluator plus the runtime optimizer:
 * loss, gradients, parameters after each step, the eval-mode run and the saveWeights/load round trip.
 */
class TrainerGenerationTest {
    static final int BATCH = 4;

    static Map<String, Tensor> parameters() {
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("fc.weight", GeneratedClassTest.random(1, 2, 3));
        p.put("fc.bias", GeneratedClassTest.random(2, 2));
        return p;
    }

    /** loss = mean((x W^T + b - t)^2); dW = dy^T x, db = sum_rows dy with dy = 2 (y - t) / (N * 2). */
    static Graph trainGraph() {
        GraphBuilder b = new GraphBuilder("linear_train");
        Value x = b.input("x", DType.FLOAT32, Shape.parse(BATCH + ",3"));
        Value t = b.input("labels", DType.FLOAT32, Shape.parse(BATCH + ",2"));
        Value w = b.input("fc.weight", DType.FLOAT32, Shape.parse("2,3"));
        Value bias = b.input("fc.bias", DType.FLOAT32, Shape.parse("2"));
        Value y = b.op("Gemm").name("/fc/Gemm").inputs(x, w, bias).attr("transB", 1L).outputNames("y").output();
        Value d = b.op("Sub").inputs(y, t).outputNames("d").output();
        Value sq = b.op("Mul").inputs(d, d).outputNames("sq").output();
        b.output(b.op("ReduceMean").inputs(sq).attr("keepdims", 0L).outputNames("loss").output());
        Value dy = b.op("Mul").inputs(d, b.initializer("scale", Tensor.scalarFloat(2f / (BATCH * 2))))
                .outputNames("dy").output();
        b.output(b.op("Gemm").name("/fc/Gemm_grad_w").inputs(dy, x).attr("transA", 1L).outputNames("grad.fc.weight")
                .output());
        b.output(b.op("ReduceSum").inputs(dy, b.initializer("axes0", Tensor.ofInt64s(0))).attr("keepdims", 0L)
                .outputNames("grad.fc.bias").output());
        return GeneratedClassTest.optimized(b.build());
    }

    static Graph evalGraph() {
        GraphBuilder b = new GraphBuilder("linear");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value w = b.input("fc.weight", DType.FLOAT32, Shape.parse("2,3"));
        Value bias = b.input("fc.bias", DType.FLOAT32, Shape.parse("2"));
        b.output(b.op("Gemm").name("/fc/Gemm").inputs(x, w, bias).attr("transB", 1L).outputNames("y").output());
        return GeneratedClassTest.optimized(b.build());
    }

    static GeneratedModel generate(int threads) {
        return CodeGenerator.generateTrainer(trainGraph(), evalGraph(), parameters(), Map.of(), java.util.Optional.empty(),
                new CodegenOptions("com.acme", "Linear", threads, "linear.onnx"));
    }

    /** The generated trainer of {@code model}: its class, loaded beside the inference class. */
    static Class<?> trainerClass(GeneratedModel model) throws ClassNotFoundException {
        Class<?> net = InProcessCompiler.load(model);
        return net.getClassLoader().loadClass(net.getName() + "Trainer");
    }

    @Test
    void stepsMatchTheEvaluatorAndTheRuntimeOptimizer(@TempDir Path dir) throws Exception {
        GeneratedModel model = generate(1);
        Class<?> trainerClass = trainerClass(model);
        Class<?> netClass = trainerClass.getClassLoader().loadClass("com.acme.Linear");
        Object net = netClass.getMethod("load").invoke(null);
        Optimizer sgd = Optimizer.sgd(0.1, 0.9, 0, 0, false);
        Object trainer = trainerClass.getMethod("create", netClass, Optimizer.class).invoke(null, net, sgd);
        Method step = trainerClass.getMethod("step", float[].class, float[].class, int.class);
        Method gradient = trainerClass.getMethod("gradient", String.class);
        Method parameter = trainerClass.getMethod("parameter", String.class);
        assertEquals(List.of("fc.weight", "fc.bias"), trainerClass.getMethod("parameterNames").invoke(trainer));

        Map<String, Tensor> params = parameters();
        float[][] expectedParams = params.values().stream().map(Tensor::toFloatArray).toArray(float[][]::new);
        OptimizerState state = sgd.state(expectedParams[0].length, expectedParams[1].length);
        Graph g = trainGraph();
        for (int k = 1; k <= 3; k++) {
            Tensor x = GeneratedClassTest.random(10 + k, BATCH, 3);
            Tensor t = GeneratedClassTest.random(20 + k, BATCH, 2);
            Map<String, Tensor> feeds = new LinkedHashMap<>();
            feeds.put("x", x);
            feeds.put("labels", t);
            feeds.put("fc.weight", Tensor.ofFloats(new int[] {2, 3}, expectedParams[0]));
            feeds.put("fc.bias", Tensor.ofFloats(new int[] {2}, expectedParams[1]));
            Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
            float loss = (float) step.invoke(trainer, x.toFloatArray(), t.toFloatArray(), BATCH);
            double expectedLoss = expected.get("loss").getDouble(0);
            assertEquals(expectedLoss, loss, 1e-6 * Math.abs(expectedLoss), "loss at step " + k);
            float[][] grads = {expected.get("grad.fc.weight").toFloatArray(), expected.get("grad.fc.bias").toFloatArray()};
            assertArrayEquals(grads[0], (float[]) gradient.invoke(trainer, "fc.weight"), 1e-6f, "weight grad, step " + k);
            assertArrayEquals(grads[1], (float[]) gradient.invoke(trainer, "fc.bias"), 1e-6f, "bias grad, step " + k);
            sgd.update(k, expectedParams, grads, state);
            assertArrayEquals(expectedParams[0], (float[]) parameter.invoke(trainer, "fc.weight"), 1e-6f, "weight, step " + k);
            assertArrayEquals(expectedParams[1], (float[]) parameter.invoke(trainer, "fc.bias"), 1e-6f, "bias, step " + k);
        }

        // Eval-mode run with the trained parameters, and the same numbers from the saved weights.
        float[] x = GeneratedClassTest.random(99, 5, 3).toFloatArray();
        float[] trained = (float[]) trainerClass.getMethod("run", float[].class, int.class).invoke(trainer, x, 5);
        float[] w = expectedParams[0];
        float[] bias = expectedParams[1];
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 2; j++) {
                double e = bias[j];
                for (int p = 0; p < 3; p++) {
                    e += x[i * 3 + p] * w[j * 3 + p];
                }
                assertEquals(e, trained[i * 2 + j], 1e-5, "trained output " + i + "," + j);
            }
        }
        Path saved = dir.resolve("linear.weights");
        trainerClass.getMethod("saveWeights", Path.class).invoke(trainer, saved);
        Object reloaded = netClass.getMethod("load", Path.class).invoke(null, saved);
        float[] fromFile = (float[]) netClass.getMethod("run", float[].class, int.class).invoke(reloaded, x, 5);
        assertArrayEquals(trained, fromFile, 0f);
        // The net the trainer started from keeps its weights.
        float[] original = (float[]) netClass.getMethod("run", float[].class, int.class).invoke(net, x, 5);
        assertTrue(Math.abs(original[0] - trained[0]) > 1e-4, "training changed the outputs");
        assertTrue(Files.size(saved) > 0);
    }

    @Test
    void nonFiniteLossStopsNamingTheStepAndTheTensor() throws Exception {
        Class<?> trainerClass = trainerClass(generate(1));
        Class<?> netClass = trainerClass.getClassLoader().loadClass("com.acme.Linear");
        Object trainer = trainerClass.getMethod("create", netClass, Optimizer.class)
                .invoke(null, netClass.getMethod("load").invoke(null), Optimizer.sgd(0.1));
        Method step = trainerClass.getMethod("step", float[].class, float[].class, int.class);
        float[] x = GeneratedClassTest.random(1, BATCH, 3).toFloatArray();
        float[] t = GeneratedClassTest.random(2, BATCH, 2).toFloatArray();
        step.invoke(trainer, x, t, BATCH);
        float[] before = (float[]) trainerClass.getMethod("parameter", String.class).invoke(trainer, "fc.weight");
        t[3] = Float.NaN;
        InvocationTargetException e = assertThrows(InvocationTargetException.class, () -> step.invoke(trainer, x, t, BATCH));
        assertTrue(e.getCause() instanceof IllegalStateException, e.getCause().toString());
        String message = e.getCause().getMessage();
        assertTrue(message.contains("training step 2") && message.contains("input labels"), message);
        assertArrayEquals(before, (float[]) trainerClass.getMethod("parameter", String.class).invoke(trainer, "fc.weight"));

        InvocationTargetException wrong = assertThrows(InvocationTargetException.class,
                () -> step.invoke(trainer, new float[5], t, BATCH));
        assertTrue(wrong.getCause() instanceof IllegalArgumentException, wrong.getCause().toString());
        assertTrue(wrong.getCause().getMessage().contains("[4,3]"), wrong.getCause().getMessage());
    }
}
