package dev.kiln.passes;

import dev.kiln.ir.DType;
import dev.kiln.ir.Value;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every intermediate tensor lives: an offset (in elements) into one arena per element type. Offsets
 * and arena sizes are linear in the batch, {@code constant + perBatch * N}, so one plan serves every batch.
 *
 * @param batchSymbol the symbol the plan is linear in ({@code N}); empty when the graph is fully static
 * @param placements value -> its arena and offset; views and in-place results share their source's offset
 * @param arenaSizes element type -> arena size in elements
 * @param naiveSizes element type -> the sum of all intermediate sizes (what allocating each tensor would take)
 * @param unplanned values whose size is not linear in the batch (unknown dims): allocated on their own
 * @param aliases value -> the value whose storage it shares (views, in-place elementwise results)
 */
public record MemoryPlan(String batchSymbol, Map<Value, Placement> placements, Map<DType, Linear> arenaSizes,
                         Map<DType, Linear> naiveSizes, List<Value> unplanned, Map<Value, Value> aliases) {

    public MemoryPlan {
        placements = Collections.unmodifiableMap(new IdentityHashMap<>(placements));
        arenaSizes = Map.copyOf(arenaSizes);
        naiveSizes = Map.copyOf(naiveSizes);
        unplanned = List.copyOf(unplanned);
        aliases = Collections.unmodifiableMap(new IdentityHashMap<>(aliases));
    }

    /** {@code constant + perBatch * N}, in elements or bytes. */
    public record Linear(long constant, long perBatch) {
        public static final Linear ZERO = new Linear(0, 0);

        public long at(long batch) { return constant + perBatch * batch; }

        public Linear plus(Linear o) { return new Linear(constant + o.constant, perBatch + o.perBatch); }

        public Linear times(long k) { return new Linear(constant * k, perBatch * k); }

        @Override
        public String toString() {
            if (perBatch == 0) {
                return Long.toString(constant);
            }
            return (constant == 0 ? "" : constant + " + ") + perBatch + "*N";
        }
    }

    /**
     * @param dtype the arena
     * @param offset first element
     * @param size number of elements
     */
    public record Placement(DType dtype, Linear offset, Linear size) {}

    /** Peak arena bytes over all element types at the given batch. */
    public long arenaBytes(long batch) {
        return arenaSizes.entrySet().stream().mapToLong(e -> e.getValue().at(batch) * bytes(e.getKey())).sum();
    }

    /** Bytes the intermediates would take if each had its own buffer. */
    public long naiveBytes(long batch) {
        return naiveSizes.entrySet().stream().mapToLong(e -> e.getValue().at(batch) * bytes(e.getKey())).sum();
    }

    private static long bytes(DType t) {
        return Math.max(1, t.byteSize());
    }
}
