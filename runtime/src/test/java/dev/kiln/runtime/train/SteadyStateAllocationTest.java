package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.Epilogue;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * What a generated training step calls on every step allocates nothing once warm: the argument checks of the
 * optimizer update and of the run-time-packed GEMM build their messages only when they throw (they used to build a
 * SPEC or a shape string on every call, a few hundred bytes per step). Measured on the scalar twins, which run the
 * same checks and, unlike vector code outside C2, box nothing; by this thread's allocation counter.
 */
class SteadyStateAllocationTest {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final int CALLS = 200;
    /**
     * Calls before the measured ones: with 200, a one-time 136-240 B between calls 200 and 400 (JIT warm-up: a
     * probe loop shows 0 B from then on) failed the test on a slow machine.
     */
    private static final int WARM_UP = 10 * CALLS;

    @Test
    void optimizerUpdatesAllocateNothing() {
        for (Optimizer opt : new Optimizer[] {Optimizer.sgd(0.01, 0.5, 0, 0, false), Optimizer.adam(1e-3),
            Optimizer.adamW(1e-3)}) {
            float[][] params = {new float[24], new float[5]};
            float[][] grads = {new float[24], new float[5]};
            OptimizerState state = opt.state(new int[] {24, 5});
            int step = 0;
            for (int i = 0; i < WARM_UP; i++) {
                opt.updateScalar(++step, params, grads, state);
            }
            long before = MX.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < CALLS; i++) {
                opt.updateScalar(++step, params, grads, state);
            }
            assertEquals(0, MX.getCurrentThreadAllocatedBytes() - before, opt + ": bytes over " + CALLS + " updates");
        }
    }

    @Test
    void gemmArgumentChecksAllocateNothing() {
        float[] a = new float[6 * 4];
        float[] b = new float[4 * 5];
        float[] c = new float[6 * 5];
        for (int i = 0; i < WARM_UP; i++) {
            UnpackedGemm.gemmScalar(false, true, 6, 5, 4, a, 0, b, 0, null, c, 0, false, Epilogue.none());
        }
        long before = MX.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < CALLS; i++) {
            UnpackedGemm.gemmScalar(false, true, 6, 5, 4, a, 0, b, 0, null, c, 0, false, Epilogue.none());
        }
        assertEquals(0, MX.getCurrentThreadAllocatedBytes() - before, "bytes over " + CALLS + " products");
    }
}
