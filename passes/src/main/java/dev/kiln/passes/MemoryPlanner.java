package dev.kiln.passes;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Value;
import dev.kiln.passes.MemoryPlan.Linear;
import dev.kiln.passes.MemoryPlan.Placement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Assigns every intermediate tensor an offset in one arena per element type, from liveness: two tensors
 * share memory when their lifetimes do not overlap. Greedy by size with best fit (largest tensors first,
 * each into the tightest gap among the tensors it overlaps), as TFLite's planner does.
 *
 * <p>Sizes are linear in the batch. The arena has a per-sample region (offsets {@code b*N}) followed by a
 * static region (offsets {@code B*N + a}); a tensor of size {@code p + q*N} with both parts is placed in the
 * per-sample region with {@code p+q} elements per sample, which bounds it for every batch ≥ 1.
 * Views (ops marked {@link OpProperty#VIEW}) and elementwise results whose same-sized input dies at that
 * node share their input's storage. Graph inputs and initializers are not in the arena.
 */
public final class MemoryPlanner {
    /** Offsets are multiples of this many elements (a 64-byte line of floats), so vector loops start aligned. */
    static final long ALIGN = 16;

    private MemoryPlanner() {}

    private record Interval(Value value, DType dtype, long perBatch, long constant, int start, int end) {}

    public static MemoryPlan plan(Graph g) {
        String batch = batchSymbol(g);
        Map<Value, Integer> def = new IdentityHashMap<>();
        Map<Value, Integer> lastUse = new IdentityHashMap<>();
        List<Node> nodes = g.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            for (Value v : nodes.get(i).inputs()) {
                if (!v.isAbsent()) {
                    lastUse.put(v, i);
                }
            }
            for (Value v : nodes.get(i).outputs()) {
                if (!v.isAbsent()) {
                    def.put(v, i);
                    lastUse.putIfAbsent(v, i);
                }
            }
        }
        for (Value v : g.outputs()) {
            lastUse.put(v, nodes.size());
        }
        Map<Value, Value> aliases = aliases(g, def, lastUse);
        // A storage root lives from its own definition to the last use of anything aliasing it.
        Map<Value, Integer> rootEnd = new IdentityHashMap<>();
        for (Value v : def.keySet()) {
            Value root = root(v, aliases);
            rootEnd.merge(root, lastUse.get(v), Math::max);
        }
        List<Interval> intervals = new ArrayList<>();
        List<Value> unplanned = new ArrayList<>();
        Map<DType, Linear> naive = new HashMap<>();
        for (Node n : nodes) {
            for (Value v : n.outputs()) {
                if (v.isAbsent()) {
                    continue;
                }
                Linear size = size(v, batch);
                if (size == null) {
                    unplanned.add(v);
                    continue;
                }
                naive.merge(v.dtype(), size, Linear::plus);
                if (aliases.containsKey(v)) {
                    continue;
                }
                long perBatch = size.perBatch() == 0 ? 0 : size.perBatch() + size.constant();
                long constant = size.perBatch() == 0 ? size.constant() : 0;
                intervals.add(new Interval(v, v.dtype(), align(perBatch), align(constant), def.get(v), rootEnd.get(v)));
            }
        }
        Map<Value, Placement> placements = new IdentityHashMap<>();
        Map<DType, Linear> arenas = new HashMap<>();
        Set<DType> dtypes = new TreeSet<>();
        intervals.forEach(iv -> dtypes.add(iv.dtype()));
        for (DType t : dtypes) {
            List<Interval> perBatch = intervals.stream().filter(iv -> iv.dtype() == t && iv.perBatch() > 0).toList();
            List<Interval> fixed = intervals.stream().filter(iv -> iv.dtype() == t && iv.perBatch() == 0).toList();
            Map<Value, Long> b = greedyBySize(perBatch, Interval::perBatch);
            Map<Value, Long> a = greedyBySize(fixed, Interval::constant);
            long batchRegion = end(perBatch, b, Interval::perBatch);
            long staticRegion = end(fixed, a, Interval::constant);
            for (Interval iv : perBatch) {
                placements.put(iv.value(), new Placement(t, new Linear(0, b.get(iv.value())), size(iv.value(), batch)));
            }
            for (Interval iv : fixed) {
                placements.put(iv.value(), new Placement(t, new Linear(a.get(iv.value()), batchRegion),
                        size(iv.value(), batch)));
            }
            arenas.put(t, new Linear(staticRegion, batchRegion));
        }
        for (Value v : aliases.keySet()) {
            Placement p = placements.get(root(v, aliases));
            if (p != null) {
                placements.put(v, new Placement(p.dtype(), p.offset(), size(v, batch)));
            }
        }
        return new MemoryPlan(batch == null ? "" : batch, placements, arenas, naive, unplanned, aliases);
    }

    /** Views and legal in-place results, each mapped to the value whose storage it reuses. */
    private static Map<Value, Value> aliases(Graph g, Map<Value, Integer> def, Map<Value, Integer> lastUse) {
        Map<Value, Value> aliases = new IdentityHashMap<>();
        Set<Value> outputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        outputs.addAll(g.outputs());
        for (int i = 0; i < g.nodes().size(); i++) {
            Node n = g.nodes().get(i);
            if (!n.hasOutput(0) || !n.hasInput(0)) {
                continue;
            }
            OpDef op = OpTable.get().find(n.domain(), n.op()).orElse(null);
            if (op == null) {
                continue;
            }
            Value out = n.output(0);
            if (op.has(OpProperty.VIEW) && storageOwned(n.input(0), g, def)) {
                aliases.put(out, n.input(0));
                continue;
            }
            if (op.has(OpProperty.ELEMENTWISE) && n.outputs().size() == 1) {
                for (Value in : n.inputs()) {
                    if (!in.isAbsent() && storageOwned(in, g, def) && in.type().equals(out.type())
                            && lastUse.get(root(in, aliases)) != null && lastUseOfFamily(in, aliases, lastUse) == i
                            && !outputs.contains(in)) {
                        aliases.put(out, in);
                        break;
                    }
                }
            }
        }
        return aliases;
    }

    /** The last use of a value and of every value sharing its storage. */
    private static int lastUseOfFamily(Value v, Map<Value, Value> aliases, Map<Value, Integer> lastUse) {
        Value root = root(v, aliases);
        int last = lastUse.getOrDefault(root, -1);
        for (Map.Entry<Value, Value> e : aliases.entrySet()) {
            if (root(e.getKey(), aliases) == root) {
                last = Math.max(last, lastUse.getOrDefault(e.getKey(), -1));
            }
        }
        return last;
    }

    /** True for intermediates: values produced by nodes (inputs and weights belong to others). */
    private static boolean storageOwned(Value v, Graph g, Map<Value, Integer> def) {
        return def.containsKey(v) && !g.isInitializer(v);
    }

    private static Value root(Value v, Map<Value, Value> aliases) {
        Value r = v;
        while (aliases.containsKey(r)) {
            r = aliases.get(r);
        }
        return r;
    }

    /** Size in elements as constant + perBatch*N; null when not linear in the batch. */
    static Linear size(Value v, String batch) {
        Dim n = v.shape().elementCount();
        if (n.isStatic()) {
            return new Linear(n.value(), 0);
        }
        if (batch != null && n.symbols().size() == 1 && n.symbols().containsKey(batch) && n.symbols().get(batch) == 1) {
            return new Linear(0, n.coefficient());
        }
        return null;
    }

    /** The graph inputs' symbol (the batch), or null when the inputs are static. */
    private static String batchSymbol(Graph g) {
        return dev.kiln.ir.DimBinding.batchSymbol(g).orElse(null);
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    private interface SizeOf {
        long of(Interval iv);
    }

    /** Largest first; each goes to the lowest-waste gap between the placed intervals it overlaps in time. */
    private static Map<Value, Long> greedyBySize(List<Interval> items, SizeOf sizeOf) {
        List<Interval> order = new ArrayList<>(items);
        order.sort(Comparator.comparingLong((Interval iv) -> -sizeOf.of(iv)).thenComparingInt(Interval::start));
        Map<Value, Long> offsets = new IdentityHashMap<>();
        List<Interval> placed = new ArrayList<>();
        for (Interval iv : order) {
            long size = sizeOf.of(iv);
            List<Interval> overlapping = placed.stream()
                    .filter(p -> p.start() <= iv.end() && iv.start() <= p.end())
                    .sorted(Comparator.comparingLong(p -> offsets.get(p.value())))
                    .toList();
            long best = -1;
            long bestWaste = Long.MAX_VALUE;
            long cursor = 0;
            for (Interval p : overlapping) {
                long off = offsets.get(p.value());
                long gap = off - cursor;
                if (gap >= size && gap - size < bestWaste) {
                    best = cursor;
                    bestWaste = gap - size;
                }
                cursor = Math.max(cursor, off + sizeOf.of(p));
            }
            offsets.put(iv.value(), best >= 0 ? best : cursor);
            placed.add(iv);
        }
        return offsets;
    }

    private static long end(List<Interval> items, Map<Value, Long> offsets, SizeOf sizeOf) {
        long end = 0;
        for (Interval iv : items) {
            end = Math.max(end, offsets.get(iv.value()) + sizeOf.of(iv));
        }
        return end;
    }
}
