package dev.kiln.runtime.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The update loop of {@link RmsProp}, in the float operations and order of PyTorch 1.13's single-tensor
 * implementation: {@code add(alpha)} (a fused multiply-add) for weight decay; {@code mul_} then {@code addcmul_}
 * ({@code v * alpha + ((1 - alpha) * g) * g}) for the square average; {@code mul_} then {@code add_(alpha)} for the
 * centered gradient average (torch 2.x writes it as {@code lerp_}, which rounds differently);
 * {@code addcmul(value=-1)}, {@code sqrt}, then {@code + eps} for the denominator; {@code addcdiv_} for the momentum
 * buffer and, without momentum, for the step. The vector loop and the scalar twin perform the same IEEE operations.
 * Kept apart from the record so that parsing a SPEC loads no Vector API class.
 */
final class RmsPropKernel {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    private RmsPropKernel() { }

    /**
     * {@code n} elements of one parameter updated; {@code buf} is its momentum buffer (null without momentum) and
     * {@code avgG} its gradient average (null unless centered); the state buffers are read from {@code so}.
     */
    static void apply(RmsProp o, float[] p, int po, float[] g, int go, int n, float[] sq, float[] buf, float[] avgG,
                      int so, boolean vector) {
        boolean negate = o.maximize();
        boolean decay = o.weightDecay() != 0;
        float wd = (float) o.weightDecay();
        float a = (float) o.alpha();
        float c = (float) (1 - o.alpha());
        float e = (float) o.eps();
        float mom = (float) o.momentum();
        float negLr = (float) -o.lr();
        int i = 0;
        if (vector) {
            FloatVector wdV = FloatVector.broadcast(S, wd);
            FloatVector cV = FloatVector.broadcast(S, c);
            FloatVector negLrV = FloatVector.broadcast(S, negLr);
            for (int bound = S.loopBound(n); i < bound; i += VL) {
                FloatVector pv = FloatVector.fromArray(S, p, po + i);
                FloatVector gv = FloatVector.fromArray(S, g, go + i);
                if (negate) {
                    gv = gv.neg();
                }
                if (decay) {
                    gv = pv.fma(wdV, gv);
                }
                FloatVector sv = FloatVector.fromArray(S, sq, so + i).mul(a).add(gv.mul(c).mul(gv));
                sv.intoArray(sq, so + i);
                FloatVector avg;
                if (avgG != null) {
                    FloatVector av = gv.fma(cV, FloatVector.fromArray(S, avgG, so + i).mul(a));
                    av.intoArray(avgG, so + i);
                    avg = sv.sub(av.mul(av)).sqrt();
                } else {
                    avg = sv.sqrt();
                }
                avg = avg.add(e);
                if (buf != null) {
                    FloatVector b = FloatVector.fromArray(S, buf, so + i).mul(mom).add(gv.div(avg));
                    b.intoArray(buf, so + i);
                    b.fma(negLrV, pv).intoArray(p, po + i);
                } else {
                    pv.add(gv.mul(negLr).div(avg)).intoArray(p, po + i);
                }
            }
        }
        for (; i < n; i++) {
            float pv = p[po + i];
            float gv = g[go + i];
            if (negate) {
                gv = -gv;
            }
            if (decay) {
                gv = Math.fma(pv, wd, gv);
            }
            float sv = sq[so + i] * a + gv * c * gv;
            sq[so + i] = sv;
            float avg;
            if (avgG != null) {
                float av = Math.fma(gv, c, avgG[so + i] * a);
                avgG[so + i] = av;
                avg = (float) Math.sqrt(sv - av * av);
            } else {
                avg = (float) Math.sqrt(sv);
            }
            avg += e;
            if (buf != null) {
                float b = buf[so + i] * mom + gv / avg;
                buf[so + i] = b;
                p[po + i] = Math.fma(b, negLr, pv);
            } else {
                p[po + i] = pv + gv * negLr / avg;
            }
        }
    }
}
