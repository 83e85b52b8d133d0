package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;

/** Writes the body of the method that computes one node, given where its tensors live. */
interface KernelEmitter {
    CodeBlock emit(EmitContext ctx);

    /**
     * True when this emitter handles the node's tensors whatever their numeric or bool element types (through
     * {@link ElementType}); false (the default) when it is written for float32 tensors only.
     */
    default boolean typed(dev.kiln.ir.Node n) {
        return false;
    }

    /**
     * True when this emitter also handles the node's string tensors ({@code String[]}): emitters that move, select or
     * compare elements, and those of the string and ai.onnx.ml ops. Implies {@link #typed}. False by default.
     */
    default boolean strings(dev.kiln.ir.Node n) {
        return false;
    }

    /**
     * For {@link #typed} of emitters whose integer operands (sizes, steps, axes, lengths) may be of any integer type
     * but whose floating tensors are all float32: true when every present input and output is one of those, so any
     * other float type gets the float32-only rule's message naming the tensor.
     */
    static boolean integersOrFloat32(dev.kiln.ir.Node n) {
        for (int i = 0; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && !integerOrFloat32(n.input(i))) {
                return false;
            }
        }
        return n.outputs().stream().allMatch(v -> v.isAbsent() || integerOrFloat32(v));
    }

    private static boolean integerOrFloat32(dev.kiln.ir.Value v) {
        return v.dtype().isInteger() || v.dtype() == dev.kiln.ir.DType.FLOAT32;
    }
}
