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
     * True when this emitter also handles the node's string tensors ({@code String[]}): emitters that only move,
     * select or compare elements for equality, never compute with them. Implies {@link #typed}. False by default.
     */
    default boolean strings(dev.kiln.ir.Node n) {
        return false;
    }
}
