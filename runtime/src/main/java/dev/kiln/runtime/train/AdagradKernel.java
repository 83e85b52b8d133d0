package dev.kiln.runtime.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The update loop of {@link Adagrad}, in the float operations and order of PyTorch's single-tensor
 * implementation: {@code add(alpha)} (a fused multiply-add) for weight decay, {@code addcmul_} ({@code s + g * g})
 * for the sum, {@code sqrt} then {@code + eps}, and {@code addcdiv_} ({@code p + (-clr * g) / std}) for the step;
 * the decayed rate {@code clr} in double, as PyTorch's Python code computes it. The vector loop and the scalar twin
 * perform the same IEEE operations. Kept apart from the record so that parsing a SPEC loads no Vector API class.
 */
final class AdagradKernel {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    private AdagradKernel() { }

    /** {@code n} elements of one parameter at step {@code step}; {@code sum} is its accumulator, from {@code so}. */
    static void apply(Adagrad o, int step, float[] p, int po, float[] g, int go, int n, float[] sum, int so,
                      boolean vector) {
        boolean negate = o.maximize();
        boolean decay = o.weightDecay() != 0;
        float wd = (float) o.weightDecay();
        float e = (float) o.eps();
        float negClr = (float) -(o.lr() / (1 + (step - 1) * o.lrDecay()));
        int i = 0;
        if (vector) {
            FloatVector wdV = FloatVector.broadcast(S, wd);
            for (int bound = S.loopBound(n); i < bound; i += VL) {
                FloatVector pv = FloatVector.fromArray(S, p, po + i);
                FloatVector gv = FloatVector.fromArray(S, g, go + i);
                if (negate) {
                    gv = gv.neg();
                }
                if (decay) {
                    gv = pv.fma(wdV, gv);
                }
                FloatVector sv = FloatVector.fromArray(S, sum, so + i).add(gv.mul(gv));
                sv.intoArray(sum, so + i);
                pv.add(gv.mul(negClr).div(sv.sqrt().add(e))).intoArray(p, po + i);
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
            float sv = sum[so + i] + gv * gv;
            sum[so + i] = sv;
            p[po + i] = pv + gv * negClr / ((float) Math.sqrt(sv) + e);
        }
    }
}
