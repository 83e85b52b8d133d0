package dev.kiln.tests;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.BlockedLayout;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.Pass;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.Pipeline;
import dev.kiln.runtime.Nchwc;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Whole models, generated single-threaded, with the blocked-layout pass (as -O3 runs it, or forced to block every
 * chain it can) and without it, timed in interleaved rounds of CPU time (the machine is shared, so wall time is
 * noise): resnet_tail (the builder's ResNet-like tail, blocked by the cost model) and cifar_cnn (left NCHW by the
 * cost model; forced here to check that decision). Run with -Dkiln.measure=true.
 */
@EnabledIfSystemProperty(named = "kiln.measure", matches = "true")
class BlockedLayoutMeasure {
    @Test
    void measure() throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        System.out.println("MEASURE load " + ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        Map<String, Graph> models = new java.util.LinkedHashMap<>();
        models.put("resnet_tail", ResNetTail.build("N"));
        models.put("cifar_cnn", OnnxImporter.load(SharedData.model("cifar_cnn").resolve("model.onnx")));
        for (Map.Entry<String, Graph> e : models.entrySet()) {
            Graph imported = e.getValue();
            List<Pass> with = new ArrayList<>();
            List<Pass> without = new ArrayList<>();
            for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
                if (p.name().equals("blocked-layout")) {
                    with.add(e.getKey().equals("cifar_cnn") ? BlockedLayout.forced(Nchwc.block()) : p);
                } else {
                    with.add(p);
                    without.add(p);
                }
            }
            Graph gw = new PassManager(with, PassOptions.quiet()).run(imported);
            Graph go = new PassManager(without, PassOptions.quiet()).run(imported);
            Object[] a = load(go, e.getKey() + "Nchw");
            Object[] b = load(gw, e.getKey() + "Nchwc");
            for (int batch : new int[] {1, 64}) {
                int[] shape = imported.inputs().get(0).shape().evaluate(
                        Map.of(imported.inputs().get(0).shape().dim(0).toString(), (long) batch));
                float[] x = new float[Tensor.sizeOf(shape)];
                Random r = new Random(1);
                for (int i = 0; i < x.length; i++) {
                    x[i] = r.nextFloat();
                }
                int iters = batch == 1 ? 1000 : 20;
                time(mx, a, x, batch, iters * 3);
                time(mx, b, x, batch, iters * 3);
                long[] ta = new long[7];
                long[] tb = new long[7];
                for (int round = 0; round < 7; round++) {
                    ta[round] = time(mx, a, x, batch, iters);
                    tb[round] = time(mx, b, x, batch, iters);
                }
                java.util.Arrays.sort(ta);
                java.util.Arrays.sort(tb);
                System.out.printf("MEASURE %s batch %d: NCHW %.1f us, NCHWc %.1f us per run (median CPU time of 7 "
                        + "rounds; load %.1f)%n", e.getKey(), batch, ta[3] / 1e3 / iters, tb[3] / 1e3 / iters,
                        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            }
        }
    }

    private static Object[] load(Graph g, String name) throws Exception {
        Class<?> cls = InProcessCompiler.load(CodeGenerator.generate(g, new CodegenOptions("measure",
                ReferenceNames.className(name), 1, name + ".onnx")));
        return new Object[] {cls.getMethod("load").invoke(null), cls.getMethod("run", float[].class, int.class)};
    }

    private static long time(ThreadMXBean mx, Object[] m, float[] x, int batch, int iters) throws Exception {
        Method run = (Method) m[1];
        long t0 = mx.getCurrentThreadCpuTime();
        for (int i = 0; i < iters; i++) {
            run.invoke(m[0], x, batch);
        }
        return mx.getCurrentThreadCpuTime() - t0;
    }
}
