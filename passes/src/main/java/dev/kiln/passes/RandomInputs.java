package dev.kiln.passes;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random feeds for a graph's inputs: floats uniform in [-1, 1), integers in [0, 3) (small enough to
 * be valid indices and repeat counts), random bools; every symbolic dim (the batch) is bound to 2. A sequence input
 * gets two tensors, an optional one.
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
            feeds.put(v.name(), random(v.type(), bindings, r));
        }
        return feeds;
    }

    /**
     * A random value of type t: a tensor of its shape; a sequence of two such tensors (of shape [2] when their rank
     * is unknown); an optional holding one.
     */
    private static Tensor random(TensorType t, Map<String, Long> bindings, Random r) {
        if (!t.isTensor()) {
            TensorType element = t.ranked() ? new TensorType(t.dtype(), t.shape()) : TensorType.of(t.dtype(), SYMBOL_VALUE);
            Tensor sequence = Tensor.sequence(t.dtype(), List.of(random(element, bindings, r), random(element, bindings, r)));
            return switch (t.kind()) {
                case SEQUENCE -> sequence;
                case OPTIONAL_SEQUENCE -> Tensor.optionalOf(sequence);
                default -> Tensor.optionalOf(random(element, bindings, r));
            };
        }
        int[] shape = t.shape().evaluate(bindings);
        int n = Tensor.sizeOf(shape);
        return switch (t.dtype().kind()) {
            case FLOAT -> {
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = r.nextDouble() * 2 - 1;
                }
                yield Tensor.wrapDoubles(t.dtype(), shape, d);
            }
            case INTEGER -> {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = r.nextInt(3);
                }
                yield Tensor.wrapLongs(t.dtype(), shape, l);
            }
            case BOOL -> {
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = r.nextBoolean();
                }
                yield Tensor.wrapBools(shape, b);
            }
            case STRING -> Tensor.zeros(t.dtype(), shape);
        };
    }
}
