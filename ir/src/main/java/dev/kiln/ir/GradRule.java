package dev.kiln.ir;

/**
 * An op's reverse-mode gradient rule: given the gradients of the forward node's outputs, emit the nodes that
 * compute the gradients of its inputs (those {@link GradContext#needsGrad} asks for) and hand them over with
 * {@link GradContext#setInputGrad}.
 */
@FunctionalInterface
public interface GradRule {
    void apply(GradContext ctx);
}
