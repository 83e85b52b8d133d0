package dev.kiln.runtime;

import java.util.HashMap;
import java.util.Map;

/**
 * LabelEncoder's key lookup for generated code: the position of a key among the node's keys (of equal keys, the
 * last), or -1. Float keys match by value, every NaN matching NaN and -0.0 matching 0.0.
 */
public final class LabelIndex {
    private final Map<Object, Integer> positions = new HashMap<>();

    /** @param keys {@code String[]}, {@code long[]}, {@code int[]}, {@code float[]} or {@code double[]} */
    public LabelIndex(Object keys) {
        int n = java.lang.reflect.Array.getLength(keys);
        for (int i = 0; i < n; i++) {
            positions.put(key(java.lang.reflect.Array.get(keys, i)), i);
        }
    }

    private static Object key(Object v) {
        return switch (v) {
            case Integer i -> (long) i;
            case Float f -> canonical(f);
            case Double d -> canonical(d);
            default -> v;
        };
    }

    private static Double canonical(double d) {
        return Double.isNaN(d) ? Double.NaN : d + 0.0;
    }

    public int find(String key) {
        return positions.getOrDefault(key, -1);
    }

    public int find(long key) {
        return positions.getOrDefault(key, -1);
    }

    public int find(double key) {
        return positions.getOrDefault(canonical(key), -1);
    }
}
