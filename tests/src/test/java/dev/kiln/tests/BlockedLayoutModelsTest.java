package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.Graph;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.passes.BlockedLayout;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.Pass;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.Pipeline;
import dev.kiln.runtime.Nchwc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The blocked-layout pass on whole models: the reference CNNs, which its cost model leaves NCHW (their direct and
 * Winograd kernels are estimated faster), and the builder's ResNet-like tail and cifar_cnn forced through the
 * blocked kernels (the tail's 1x1 and stride-2 layers run within a few per cent of NCHW im2col, so whether the cost
 * model blocks it is a close call the tests do not pin). Each is verified pass by pass against the reference evaluator, then
 * generated and run.
 */
class BlockedLayoutModelsTest {
    private static final PassOptions VERIFY = new PassOptions(java.util.Set.of(), false, true, System.err);

    @Test
    void resnetTailForcedBlockedMatchesTheEvaluator() throws Exception {
        Graph g = ResNetTail.build("N");
        Graph o3 = new PassManager(forcedBlocked(), VERIFY).run(g);
        // Every convolution, the residual Adds, the Relus and the pool run blocked: one conversion in, one out.
        assertEquals(7, count(o3, "BlockedConv"), o3.toString());
        assertEquals(1, count(o3, "ToBlocked"), o3.toString());
        assertEquals(1, count(o3, "FromBlocked"), o3.toString());
        assertEquals(1, count(o3, "BlockedGlobalAveragePool"), o3.toString());
        Class<?> one = load(o3, "ResNetTail", 1);
        Class<?> two = load(o3, "ResNetTail2", 2);
        for (int batch : new int[] {1, 3}) {
            int[] shape = g.inputs().get(0).shape().evaluate(Map.of("N", (long) batch));
            float[] x = new float[Tensor.sizeOf(shape)];
            Random r = new Random(batch);
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextFloat() * 2 - 1;
            }
            Tensor expected = ReferenceEvaluator.run(g, Map.of("input", Tensor.ofFloats(shape, x))).get("logits");
            float[] a = run(one, x, batch);
            assertEquals(expected.size(), a.length);
            double max = 0;
            for (int i = 0; i < a.length; i++) {
                max = Math.max(max, Math.abs(a[i] - expected.getDouble(i)));
            }
            assertTrue(max <= CodegenModelsTest.MAX_ABS_DIFF, "batch " + batch + ": max abs diff " + max);
            assertArrayEquals(a, run(two, x, batch), "threads 1 and 2, batch " + batch);
        }
    }

    /** The (forced) blocked generated class allocates nothing per steady-state run, with one thread and with two. */
    @Test
    void resnetTailRunAllocatesNothing() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null);
        Graph o3 = new PassManager(forcedBlocked(), PassOptions.quiet()).run(ResNetTail.build("N"));
        var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int threads : new int[] {1, 2}) {
            Class<?> cls = load(o3, "ResNetTailAlloc" + threads, threads);
            Object model = cls.getMethod("load").invoke(null);
            java.lang.reflect.Method run = cls.getMethod("run", float[].class, int.class, float[].class);
            float[] x = new float[2 * 64 * 14 * 14];
            float[] y = new float[2 * 10];
            Object[] args = {x, 2, y};
            long least = Long.MAX_VALUE;
            // The least over rounds: until C2 has compiled the kernels, interpreted vector code boxes.
            for (int round = 0; round < 20 && least > 0; round++) {
                for (int i = 0; i < (round == 0 ? 300 : 50); i++) {
                    run.invoke(model, args);
                }
                long before = bean.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 20; i++) {
                    run.invoke(model, args);
                }
                least = Math.min(least, (bean.getCurrentThreadAllocatedBytes() - before) / 20);
            }
            // A boxed vector or a scratch array made per call would cost KBs per run.
            assertTrue(least < 64, threads + " threads: " + least + " bytes per run");
        }
    }

    @Test
    void referenceCnnsStayNchwAtO3() throws Exception {
        for (String model : List.of("mnist_cnn", "cifar_cnn")) {
            Graph o3 = PassManager.forLevel(OptLevel.O3, PassOptions.quiet())
                    .run(OnnxImporter.load(SharedData.model(model).resolve("model.onnx")));
            assertEquals(0, o3.nodes().stream().filter(n -> n.domain().equals("dev.kiln")
                    && n.op().startsWith("Blocked")).count(), o3.toString());
        }
    }

    @Test
    void cifarCnnForcedBlockedMatchesPyTorch() throws Exception {
        Path dir = SharedData.model("cifar_cnn");
        Graph graph = new PassManager(forcedBlocked(), VERIFY).run(OnnxImporter.load(dir.resolve("model.onnx")));
        assertTrue(count(graph, "BlockedConv") > 0, graph.toString());
        Class<?> cls = load(graph, "CifarCnnNchwc", 1);
        Object model = cls.getMethod("load").invoke(null);
        for (int set = 0; set < 3; set++) {
            Path ds = dir.resolve("test_data_set_" + set);
            Tensor x = TensorProtos.read(ds.resolve("input_0.pb")).tensor();
            Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
            float[] actual = (float[]) cls.getMethod("run", float[].class, int.class).invoke(model, x.toFloatArray(), x.dim(0));
            assertEquals(expected.size(), actual.length);
            double max = 0;
            for (int i = 0; i < actual.length; i++) {
                max = Math.max(max, Math.abs(actual[i] - expected.getDouble(i)));
            }
            assertTrue(max <= CodegenModelsTest.MAX_ABS_DIFF, "set " + set + ": max abs diff " + max);
        }
    }

    /** The -O3 pipeline with blocked-layout blocking every chain it can. */
    private static List<Pass> forcedBlocked() {
        List<Pass> passes = new ArrayList<>();
        for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
            passes.add(p.name().equals("blocked-layout") ? BlockedLayout.forced(Nchwc.block()) : p);
        }
        return passes;
    }

    private static long count(Graph g, String op) {
        return g.nodes().stream().filter(n -> n.op().equals(op)).count();
    }

    private static Class<?> load(Graph g, String name, int threads) {
        return InProcessCompiler.load(CodeGenerator.generate(g, new CodegenOptions("models", name, threads,
                name + ".onnx")));
    }

    private static float[] run(Class<?> cls, float[] x, int batch) throws Exception {
        Object model = cls.getMethod("load").invoke(null);
        return (float[]) cls.getMethod("run", float[].class, int.class).invoke(model, x, batch);
    }
}
