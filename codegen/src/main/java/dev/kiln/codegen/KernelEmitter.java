package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;

/** Writes the body of the method that computes one node, given where its tensors live. */
@FunctionalInterface
interface KernelEmitter {
    CodeBlock emit(EmitContext ctx);
}
