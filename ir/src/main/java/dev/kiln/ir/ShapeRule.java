package dev.kiln.ir;

import java.util.List;

/** Infers the output types of a node from its input types, attributes and any constant inputs. */
@FunctionalInterface
public interface ShapeRule {
    /** One type per output the node has (including absent trailing ones; they are ignored). */
    List<TensorType> infer(ShapeContext ctx);
}
