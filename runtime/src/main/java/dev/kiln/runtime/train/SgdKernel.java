package dev.kiln.runtime.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The update loop of {@link Sgd}, in PyTorch's float operations and order; the vector loop and the scalar tail
 * perform the same IEEE operations, so they agree bit for bit. Kept apart from the record (as {@link AdamKernel} is
 * from {@link Adam}) so that parsing a SPEC loads no Vector API class.
 */
final class SgdKernel {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    private SgdKernel() { }

    /**
     * {@code n} elements of one parameter updated under {@code sgd}; {@code buf} is its momentum buffer (null without
     * momentum), read from {@code so}.
     */
    static void apply(Sgd sgd, int step, float[] p, int po, float[] g, int go, int n, float[] buf, int so,
                      boolean vector) {
        boolean negate = sgd.maximize();
        boolean decay = sgd.weightDecay() != 0;
        boolean nesterov = sgd.nesterov();
        float wd = (float) sgd.weightDecay();
        float mom = (float) sgd.momentum();
        float keep = (float) (1 - sgd.dampening());
        float negLr = (float) -sgd.lr();
        boolean first = step == 1;
        int i = 0;
        if (vector) {
            FloatVector wdV = FloatVector.broadcast(S, wd);
            FloatVector momV = FloatVector.broadcast(S, mom);
            FloatVector keepV = FloatVector.broadcast(S, keep);
            FloatVector negLrV = FloatVector.broadcast(S, negLr);
            for (int bound = S.loopBound(n); i < bound; i += VL) {
                FloatVector pv = FloatVector.fromArray(S, p, po + i);
                FloatVector d = FloatVector.fromArray(S, g, go + i);
                if (negate) {
                    d = d.neg();
                }
                if (decay) {
                    d = pv.fma(wdV, d);
                }
                if (buf != null) {
                    FloatVector b = first ? d : d.fma(keepV, FloatVector.fromArray(S, buf, so + i).mul(mom));
                    b.intoArray(buf, so + i);
                    d = nesterov ? b.fma(momV, d) : b;
                }
                d.fma(negLrV, pv).intoArray(p, po + i);
            }
        }
        for (; i < n; i++) {
            float pv = p[po + i];
            float d = g[go + i];
            if (negate) {
                d = -d;
            }
            if (decay) {
                d = Math.fma(pv, wd, d);
            }
            if (buf != null) {
                float b = first ? d : Math.fma(d, keep, buf[so + i] * mom);
                buf[so + i] = b;
                d = nesterov ? Math.fma(b, mom, d) : b;
            }
            p[po + i] = Math.fma(d, negLr, pv);
        }
    }
}
