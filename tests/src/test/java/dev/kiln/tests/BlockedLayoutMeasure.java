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
            boolean cifar = e.getKey().equals("cifar_cnn");
            // NCHW, blocked as -O3 chooses (or forced, for cifar_cnn), blocked whole chains (resnet_tail only).
            List<Pass> layouts = new ArrayList<>();
            layouts.add(null);
            layouts.add(cifar ? BlockedLayout.forced(Nchwc.block()) : new BlockedLayout());
            if (!cifar) {
                layouts.add(BlockedLayout.wholeChains(Nchwc.block()));
            }
            List<Object[]> variants = new ArrayList<>();
            for (Pass layout : layouts) {
                List<Pass> passes = new ArrayList<>();
                for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
                    if (!p.name().equals("blocked-layout")) {
                        passes.add(p);
                    } else if (layout != null) {
                        passes.add(layout);
                    }
                }
                Graph g = new PassManager(passes, PassOptions.quiet()).run(imported);
                variants.add(load(g, e.getKey() + "V" + variants.size()));
            }
            for (int batch : new int[] {1, 64}) {
                int[] shape = imported.inputs().get(0).shape().evaluate(
                        Map.of(imported.inputs().get(0).shape().dim(0).toString(), (long) batch));
                float[] x = new float[Tensor.sizeOf(shape)];
                Random r = new Random(1);
                for (int i = 0; i < x.length; i++) {
                    x[i] = r.nextFloat();
                }
                int iters = batch == 1 ? 1000 : 20;
                long[][] t = new long[variants.size()][7];
                for (Object[] v : variants) {
                    time(mx, v, x, batch, iters * 3);
                }
                for (int round = 0; round < 7; round++) {
                    for (int v = 0; v < variants.size(); v++) {
                        t[v][round] = time(mx, variants.get(v), x, batch, iters);
                    }
                }
                StringBuilder line = new StringBuilder("MEASURE " + e.getKey() + " batch " + batch + ":");
                String[] names = cifar ? new String[] {"NCHW", "forced NCHWc"}
                        : new String[] {"NCHW", "-O3 (cost model)", "whole chains"};
                for (int v = 0; v < variants.size(); v++) {
                    java.util.Arrays.sort(t[v]);
                    line.append(String.format(" %s %.1f us", names[v], t[v][3] / 1e3 / iters));
                }
                System.out.println(line + String.format(" (median CPU time of 7 interleaved rounds; load %.1f)",
                        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
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
