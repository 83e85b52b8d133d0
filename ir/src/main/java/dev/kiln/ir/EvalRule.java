package dev.kiln.ir;

import java.util.List;

/** The reference semantics of an op: plain, obviously correct computation on concrete tensors. */
@FunctionalInterface
public interface EvalRule {
    /** One tensor per output of the node ({@link EvalContext#outputCount()}). */
    List<Tensor> evaluate(EvalContext ctx);
}
