package dev.kiln.runtime.train;

import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code torch.optim.SGD}: with {@code d = g + weightDecay * p}, momentum buffer {@code b = d} on the first
 * step and {@code b = momentum * b + (1 - dampening) * d} after, the step is
 * {@code p -= lr * (nesterov ? d + momentum * b : b)} ({@code p -= lr * d} without momentum).
 *
 * <p>Float operations in PyTorch's order; an {@code add} with an {@code alpha} is a fused multiply-add, as
 * ATen's vectorized CPU kernel computes it.
 */
public record Sgd(double lr, double momentum, double dampening, double weightDecay, boolean nesterov)
        implements Optimizer {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    /** Rejects what PyTorch rejects, naming the SPEC key. */
    public Sgd {
        OptimizerSpec.requireAtLeastZero("lr", lr);
        OptimizerSpec.requireAtLeastZero("momentum", momentum);
        OptimizerSpec.requireFinite("dampening", dampening);
        OptimizerSpec.requireAtLeastZero("weight_decay", weightDecay);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("nesterov momentum needs momentum > 0 and dampening = 0, got momentum="
                    + OptimizerSpec.format(momentum) + ", dampening=" + OptimizerSpec.format(dampening));
        }
    }

    @Override
    public String name() { return "sgd"; }

    @Override
    public List<String> slotNames() {
        return momentum != 0 ? List.of("momentum_buffer") : List.of();
    }

    @Override
    public String spec() {
        StringBuilder sb = new StringBuilder("sgd:lr=").append(OptimizerSpec.format(lr));
        if (momentum != 0) {
            sb.append(",momentum=").append(OptimizerSpec.format(momentum));
        }
        if (dampening != 0) {
            sb.append(",dampening=").append(OptimizerSpec.format(dampening));
        }
        if (weightDecay != 0) {
            sb.append(",weight_decay=").append(OptimizerSpec.format(weightDecay));
        }
        if (nesterov) {
            sb.append(",nesterov=true");
        }
        return sb.toString();
    }

    @Override
    public String toString() { return spec(); }

    /** One parameter's update; {@code buf} is its momentum buffer, null without momentum. */
    void apply(int step, float[] p, int po, float[] g, int go, int n, float[] buf, boolean vector) {
        boolean decay = weightDecay != 0;
        float wd = (float) weightDecay;
        float mom = (float) momentum;
        float keep = (float) (1 - dampening);
        float negLr = (float) -lr;
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
                if (decay) {
                    d = pv.fma(wdV, d);
                }
                if (buf != null) {
                    FloatVector b = first ? d : d.fma(keepV, FloatVector.fromArray(S, buf, i).mul(mom));
                    b.intoArray(buf, i);
                    d = nesterov ? b.fma(momV, d) : b;
                }
                d.fma(negLrV, pv).intoArray(p, po + i);
            }
        }
        for (; i < n; i++) {
            float pv = p[po + i];
            float d = g[go + i];
            if (decay) {
                d = Math.fma(pv, wd, d);
            }
            if (buf != null) {
                float b = first ? d : Math.fma(d, keep, buf[i] * mom);
                buf[i] = b;
                d = nesterov ? Math.fma(b, mom, d) : b;
            }
            p[po + i] = Math.fma(d, negLr, pv);
        }
    }
}
