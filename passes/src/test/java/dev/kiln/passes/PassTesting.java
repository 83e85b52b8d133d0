package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import java.util.Map;

/** Shared checks for pass tests: golden IR text after the pass, IR invariants, and numeric equivalence. */
final class PassTesting {
    private PassTesting() {}

    /** Applies the pass, checks the printed result and that outputs match the original within float tolerance. */
    static Graph check(Pass pass, Graph before, String expectedAfter) {
        Graph after = pass.apply(before);
        GraphVerifier.verify(after);
        assertEquals(expectedAfter, GraphPrinter.print(after), "graph after " + pass.name());
        assertEquivalent(before, after);
        return after;
    }

    /** Same outputs on seeded random inputs (batch 2), within the tolerance of --verify. */
    static void assertEquivalent(Graph before, Graph after) {
        Map<String, Tensor> feeds = RandomInputs.forGraph(before, 11);
        Map<String, Tensor> a = ReferenceEvaluator.run(before, feeds);
        Map<String, Tensor> b = ReferenceEvaluator.run(after, feeds);
        assertEquals(a.keySet(), b.keySet(), "output names");
        for (String k : a.keySet()) {
            assertTrue(NumericCheck.close(a.get(k), b.get(k)), "output " + k + ": " + a.get(k) + " vs " + b.get(k));
        }
    }
}
