package dev.kiln.codegen;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphVerifier;

/**
 * Generates the inference class for an optimized graph: analysis ({@link ModelPlan}) then emission
 * ({@link ClassWriter}). The graph should have been through the pass pipeline (-O1 or higher), which folds
 * the shape computations code generation does not handle.
 */
public final class CodeGenerator {
    private CodeGenerator() {}

    public static GeneratedModel generate(Graph graph, CodegenOptions options) {
        GraphVerifier.verify(graph);
        return ClassWriter.write(new ModelPlan(graph, options));
    }
}
