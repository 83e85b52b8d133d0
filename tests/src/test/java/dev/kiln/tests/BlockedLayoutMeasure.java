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
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Measures the generated CNNs at -O3 with and without the blocked-layout pass, single-threaded, in interleaved
 * rounds of CPU time (the machine is shared, so wall time is noise). Run with -Dkiln.measure=true.
 */
@EnabledIfSystemProperty(named = "kiln.measure", matches = "true")
class BlockedLayoutMeasure {
    @Test
    void measure() throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (String model : List.of("mnist_cnn", "cifar_cnn")) {
            Graph imported = OnnxImporter.load(SharedData.model(model).resolve("model.onnx"));
            List<Pass> with = new ArrayList<>();
            for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
                if (p.name().equals("weight-layout") && with.stream().noneMatch(q -> q.name().equals("blocked-layout"))) {
                    with.add(new BlockedLayout());
                }
                if (!p.name().equals("blocked-layout")) {
                    with.add(p);
                }
            }
            List<Pass> without = Pipeline.forLevel(OptLevel.O3).stream().filter(p -> !p.name().equals("blocked-layout")).toList();
            Graph gw = new PassManager(with, PassOptions.quiet()).run(imported);
            Graph go = new PassManager(without, PassOptions.quiet()).run(imported);
            System.out.println(gw);
            for (int batch : new int[] {1, 64}) {
                Object[] a = load(go, model + "Nchw");
                Object[] b = load(gw, model + "Nchwc");
                int[] shape = imported.inputs().get(0).shape().evaluate(java.util.Map.of(imported.inputs().get(0).shape().dim(0).toString(), (long) batch));
                float[] x = new float[Tensor.sizeOf(shape)];
                Random r = new Random(1);
                for (int i = 0; i < x.length; i++) {
                    x[i] = r.nextFloat();
                }
                int iters = batch == 1 ? 2000 : 40;
                long[] ta = new long[7];
                long[] tb = new long[7];
                for (int round = 0; round < 7; round++) {
                    ta[round] = time(mx, a, x, batch, iters);
                    tb[round] = time(mx, b, x, batch, iters);
                }
                java.util.Arrays.sort(ta);
                java.util.Arrays.sort(tb);
                System.out.printf("MEASURE %s batch %d: NCHW %.1f us, NCHWc %.1f us per run (median CPU time of 7 rounds)%n",
                        model, batch, ta[3] / 1e3 / iters, tb[3] / 1e3 / iters);
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
