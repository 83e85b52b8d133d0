package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Shared by gradient-rule tests: seeded random FLOAT64 tensors, tiny graphs, and the finite-difference check of
 * every parameter's gradient ({@link GradientCheck}, default step 1e-6 and tolerance 1e-6 scaled).
 */
public final class GradTesting {
    /** Symbolic dims of data inputs (the batch {@code N}) are fed with this size. */
    public static final int BATCH = 3;

    private GradTesting() {}

    /** Uniform values in [lo, hi), FLOAT64. */
    public static Tensor random(long seed, double lo, double hi, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * r.nextDouble();
        }
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    /** A graph whose body {@code build} returns the (first) output. */
    public static Graph graph(Function<GraphBuilder, Value> build) {
        GraphBuilder b = new GraphBuilder("g");
        b.output(build.apply(b));
        return b.build();
    }

    /** Random feeds for the graph's data inputs (float in [-1, 1), integers in [0, 3)); symbolic dims are {@link #BATCH}. */
    public static Map<String, Tensor> feeds(Graph g, long seed) {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        long s = seed;
        for (Value v : g.inputs()) {
            int[] shape = new int[v.shape().rank()];
            for (int k = 0; k < shape.length; k++) {
                Dim d = v.shape().dim(k);
                shape[k] = d.isStatic() ? (int) d.value() : BATCH;
            }
            if (v.dtype().isFloat()) {
                Tensor t = random(s++, -1, 1, shape);
                feeds.put(v.name(), Tensor.wrapDoubles(v.dtype(), shape, t.toDoubleArray()));
            } else {
                Random r = new Random(s++);
                long[] l = new long[Tensor.sizeOf(shape)];
                for (int i = 0; i < l.length; i++) {
                    l[i] = r.nextInt(3);
                }
                feeds.put(v.name(), Tensor.wrapLongs(v.dtype(), shape, l));
            }
        }
        return feeds;
    }

    /** Checks every parameter gradient of {@code model} under an MSE loss against random targets. */
    public static GradientCheck.Report assertGradients(Graph model) {
        Map<String, Tensor> in = feeds(model, 101);
        Tensor out = ReferenceEvaluator.run(model, in).values().iterator().next();
        Tensor target = random(202, -1, 1, out.shape());
        return assertGradients(model, TrainingSpec.of(Loss.MSE), in, target);
    }

    /** Checks every parameter gradient of {@code model} under {@code spec} on the given batch. */
    public static GradientCheck.Report assertGradients(Graph model, TrainingSpec spec, Map<String, Tensor> inputs,
                                                       Tensor labels) {
        GradientCheck.Report r = GradientCheck.check(model, spec, inputs, labels);
        assertTrue(r.passed(), r.toString());
        return r;
    }
}
