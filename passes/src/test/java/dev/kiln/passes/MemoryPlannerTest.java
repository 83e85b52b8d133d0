package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.MemoryPlan.Linear;
import dev.kiln.passes.MemoryPlan.Placement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryPlannerTest {
    /** x -> a = x+b -> c = Relu(a) (in place) -> d = c+b -> e = Relu(d) ... with a side branch kept alive. */
    @Test
    void reusesDeadBuffersAndRunsElementwiseOpsInPlace() {
        GraphBuilder gb = new GraphBuilder("chain");
        Value x = gb.input("x", DType.FLOAT32, Shape.parse("N,64"));
        Value b = gb.initializer("b", Tensor.ofFloats(new int[] {64}, new float[64]));
        Value a = gb.op("Add").inputs(x, b).outputNames("a").output();
        Value c = gb.op("Relu").inputs(a).outputNames("c").output();
        Value d = gb.op("Add").inputs(c, b).outputNames("d").output();
        Value keep = gb.op("Relu").inputs(d).outputNames("keep").output();
        Value e = gb.op("Add").inputs(keep, b).outputNames("e").output();
        Value f = gb.op("Add").inputs(e, keep).outputNames("f").output();
        gb.output(f);
        Graph g = gb.build();

        MemoryPlan plan = MemoryPlanner.plan(g);
        assertEquals("N", plan.batchSymbol());
        // c = Relu(a) and a dies there: c reuses a's storage; likewise keep = Relu(d).
        assertSame(a, plan.aliases().get(c));
        assertSame(d, plan.aliases().get(keep));
        assertEquals(plan.placements().get(a).offset(), plan.placements().get(c).offset());
        // keep is still needed by f when e is computed, so e cannot share keep's storage.
        assertNotEquals(plan.placements().get(keep).offset(), plan.placements().get(e).offset());
        // Naive: 6 tensors of 64*N floats. Planned: never more than two alive at once.
        assertEquals(new Linear(0, 6 * 64), plan.naiveSizes().get(DType.FLOAT32));
        assertEquals(new Linear(0, 2 * 64), plan.arenaSizes().get(DType.FLOAT32));
        assertEquals(2 * 64 * 4 * 8, plan.arenaBytes(8));
        assertNoLiveOverlap(g, plan, 5);
    }

    @Test
    void staticTensorsFollowThePerSampleRegion() {
        GraphBuilder gb = new GraphBuilder("mixed");
        Value x = gb.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value w = gb.initializer("w", Tensor.ofFloats(new int[] {4}, 1, 2, 3, 4));
        Value s = gb.op("Add").inputs(w, w).outputNames("s").output(); // static [4], not folded at -O0
        Value y = gb.op("Add").inputs(x, s).outputNames("y").output();
        gb.output(y);
        Graph g = gb.build();
        MemoryPlan plan = MemoryPlanner.plan(g);
        Placement ps = plan.placements().get(s);
        Placement py = plan.placements().get(y);
        assertEquals(Linear.ZERO, py.offset(), "the only per-sample tensor starts the arena");
        assertEquals(new Linear(0, 4), py.size());
        assertEquals(16, ps.offset().perBatch(), "static tensors start after the per-sample region");
        assertEquals(0, ps.offset().constant());
        assertTrue(plan.arenaBytes(3) >= (3 * 4 + 4) * 4);
        assertNoLiveOverlap(g, plan, 7);
    }

    /** At a concrete batch, tensors alive at the same time never overlap unless one aliases the other. */
    private static void assertNoLiveOverlap(Graph g, MemoryPlan plan, long batch) {
        List<Value> values = new ArrayList<>(plan.placements().keySet());
        for (int i = 0; i < g.nodes().size(); i++) {
            List<Value> live = new ArrayList<>();
            for (Value v : values) {
                if (alive(g, v, i)) {
                    live.add(v);
                }
            }
            for (Value p : live) {
                for (Value q : live) {
                    if (p == q || root(plan, p) == root(plan, q)) {
                        continue;
                    }
                    long p0 = plan.placements().get(p).offset().at(batch);
                    long p1 = p0 + plan.placements().get(p).size().at(batch);
                    long q0 = plan.placements().get(q).offset().at(batch);
                    long q1 = q0 + plan.placements().get(q).size().at(batch);
                    assertTrue(p1 <= q0 || q1 <= p0, p.name() + " overlaps " + q.name() + " at node " + i);
                }
            }
        }
    }

    private static Value root(MemoryPlan plan, Value v) {
        Value r = v;
        while (plan.aliases().containsKey(r)) {
            r = plan.aliases().get(r);
        }
        return r;
    }

    private static boolean alive(Graph g, Value v, int at) {
        int def = -1;
        int last = -1;
        for (int i = 0; i < g.nodes().size(); i++) {
            if (g.nodes().get(i).outputs().contains(v)) {
                def = i;
            }
            if (g.nodes().get(i).inputs().contains(v)) {
                last = i;
            }
        }
        if (g.outputs().contains(v)) {
            last = g.nodes().size();
        }
        return def <= at && at <= Math.max(def, last);
    }
}
