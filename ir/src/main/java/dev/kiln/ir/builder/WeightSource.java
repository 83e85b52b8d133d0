package dev.kiln.ir.builder;

import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Where a layer's parameters come from: freshly initialized, or taken by name from given tensors (an
 * imported model's initializers, a checkpoint). Given tensors must match exactly: a missing name, a wrong
 * shape or dtype, or a tensor no layer asked for is an error, so a typo cannot silently leave a layer random.
 */
final class WeightSource {
    private final Map<String, Tensor> given;
    private final Set<String> taken = new LinkedHashSet<>();

    private WeightSource(Map<String, Tensor> given) {
        this.given = given;
    }

    /** Every parameter freshly initialized. */
    static WeightSource initialized() {
        return new WeightSource(null);
    }

    /** Every parameter taken from {@code weights} by name. */
    static WeightSource fromMap(Map<String, Tensor> weights) {
        return new WeightSource(new LinkedHashMap<>(weights));
    }

    boolean isGiven() { return given != null; }

    /**
     * The tensor for parameter {@code name} of {@code layer}: the given one, checked against the expected
     * dtype and shape, or {@code init}'s.
     */
    Tensor take(String name, String layer, DType dtype, int[] shape, Supplier<Tensor> init) {
        if (given == null) {
            return init.get();
        }
        Tensor t = given.get(name);
        if (t == null) {
            throw new WeightException("no weight named '" + name + "' for layer " + layer + " (expected "
                    + dtype.shortName() + Arrays.toString(shape).replace(" ", "") + "); given weights: "
                    + new TreeSet<>(given.keySet()));
        }
        if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
            throw new WeightException("weight '" + name + "' is " + t.type() + " but layer " + layer + " needs "
                    + dtype.shortName() + Arrays.toString(shape).replace(" ", ""));
        }
        taken.add(name);
        return t;
    }

    /** Fails if some given tensor was never asked for (a misspelt or extra name). */
    void requireAllUsed(String model) {
        if (given == null) {
            return;
        }
        Set<String> unused = new TreeSet<>(given.keySet());
        unused.removeAll(taken);
        if (!unused.isEmpty()) {
            throw new WeightException("model '" + model + "': given weights not used by any layer: " + unused
                    + " (layer parameters: " + taken + ")");
        }
    }
}
