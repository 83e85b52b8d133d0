package dev.kiln.runtime.train;

import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The update loop shared by {@link Adam} and {@link AdamW}, in the float operations and order of PyTorch's
 * single-tensor implementation: {@code mul_} then {@code add_(alpha)} (a fused multiply-add) for the first
 * moment, {@code addcmul_} ({@code v + (c * g) * g}) for the second, {@code torch.maximum} into the amsgrad maximum,
 * {@code addcdiv_} ({@code p + (c * m) / denom}) for the step. The vector loop and the scalar twin perform the same
 * IEEE operations, so they agree bit for bit.
 */
final class AdamKernel {

    static final List<String> SLOTS = List.of("exp_avg", "exp_avg_sq");
    static final List<String> AMSGRAD_SLOTS = List.of("exp_avg", "exp_avg_sq", "max_exp_avg_sq");

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    private AdamKernel() { }

    /** PyTorch's state names, in its order; the same list each call, as an update compares them every step. */
    static List<String> slots(boolean amsgrad) {
        return amsgrad ? AMSGRAD_SLOTS : SLOTS;
    }

    /**
     * {@code n} elements of one parameter at step {@code step}; exactly one of {@code l2Decay} (Adam) and
     * {@code decoupledDecay} (AdamW) may be non-zero; {@code vmax} is the amsgrad maximum of {@code v}, null without
     * amsgrad; the state buffers are read from {@code so}.
     */
    static void apply(double lr, double beta1, double beta2, double eps, double l2Decay, double decoupledDecay,
                      boolean maximize, int step, float[] p, int po, float[] g, int go, float[] m, float[] v,
                      float[] vmax, int n, int so, boolean vector) {
        // Scalars in double as PyTorch's Python code computes them, rounded to float where the tensor op takes them.
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        float negStep = (float) -(lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        boolean l2 = l2Decay != 0;
        float wd = (float) l2Decay;
        boolean decoupled = decoupledDecay != 0;
        float keep = (float) (1 - lr * decoupledDecay);
        float b1 = (float) beta1;
        float c1 = (float) (1 - beta1);
        float b2 = (float) beta2;
        float c2 = (float) (1 - beta2);
        float e = (float) eps;
        boolean amsgrad = vmax != null;
        int i = 0;
        if (vector) {
            FloatVector wdV = FloatVector.broadcast(S, wd);
            FloatVector c1V = FloatVector.broadcast(S, c1);
            for (int bound = S.loopBound(n); i < bound; i += VL) {
                FloatVector pv = FloatVector.fromArray(S, p, po + i);
                FloatVector gv = FloatVector.fromArray(S, g, go + i);
                if (maximize) {
                    gv = gv.neg();
                }
                if (decoupled) {
                    pv = pv.mul(keep);
                }
                if (l2) {
                    gv = pv.fma(wdV, gv);
                }
                FloatVector mv = gv.fma(c1V, FloatVector.fromArray(S, m, so + i).mul(b1));
                FloatVector vv = FloatVector.fromArray(S, v, so + i).mul(b2).add(gv.mul(c2).mul(gv));
                mv.intoArray(m, so + i);
                vv.intoArray(v, so + i);
                if (amsgrad) {
                    vv = FloatVector.fromArray(S, vmax, so + i).max(vv);
                    vv.intoArray(vmax, so + i);
                }
                FloatVector denom = vv.sqrt().div(bc2Sqrt).add(e);
                pv.add(mv.mul(negStep).div(denom)).intoArray(p, po + i);
            }
        }
        for (; i < n; i++) {
            float pv = p[po + i];
            float gv = g[go + i];
            if (maximize) {
                gv = -gv;
            }
            if (decoupled) {
                pv = pv * keep;
            }
            if (l2) {
                gv = Math.fma(pv, wd, gv);
            }
            float mv = Math.fma(gv, c1, m[so + i] * b1);
            float vv = v[so + i] * b2 + gv * c2 * gv;
            m[so + i] = mv;
            v[so + i] = vv;
            if (amsgrad) {
                vv = Math.max(vmax[so + i], vv);
                vmax[so + i] = vv;
            }
            float denom = (float) Math.sqrt(vv) / bc2Sqrt + e;
            p[po + i] = pv + mv * negStep / denom;
        }
    }
}
