package dev.kiln.passes;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random feeds for a graph's inputs: floats uniform in [-1, 1), integers in [0, 3) (small enough to
 * be valid indices and repeat counts), random bools; every symbolic dim (the batch) is bound to 2.
 */
public final class RandomInputs {
    /** The value given to every symbolic dim: small, but not 1 so broadcasting bugs show. */
    public static final long SYMBOL_VALUE = 2;

    private RandomInputs() {}

    public static Map<String, Tensor> forGraph(Graph g, long seed) {
        Random r = new Random(seed);
        Map<String, Long> bindings = new HashMap<>();
        for (Value v : g.inputs()) {
            for (Dim d : v.shape().dims()) {
                d.symbols().keySet().forEach(s -> bindings.put(s, SYMBOL_VALUE));
            }
        }
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (Value v : g.inputs()) {
            int[] shape = v.shape().evaluate(bindings);
            int n = Tensor.sizeOf(shape);
            Tensor t = switch (v.dtype().kind()) {
                case FLOAT -> {
                    double[] d = new double[n];
                    for (int i = 0; i < n; i++) {
                        d[i] = r.nextDouble() * 2 - 1;
                    }
                    yield Tensor.wrapDoubles(v.dtype(), shape, d);
                }
                case INTEGER -> {
                    long[] l = new long[n];
                    for (int i = 0; i < n; i++) {
                        l[i] = r.nextInt(3);
                    }
                    yield Tensor.wrapLongs(v.dtype(), shape, l);
                }
                case BOOL -> {
                    boolean[] b = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        b[i] = r.nextBoolean();
                    }
                    yield Tensor.wrapBools(shape, b);
                }
                case STRING -> Tensor.zeros(v.dtype(), shape);
            };
            feeds.put(v.name(), t);
        }
        return feeds;
    }
}
