package dev.kiln.maven;

import dev.kiln.passes.OptLevel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A validated plugin configuration: which models become which classes, and where the sources and weights go.
 *
 * @param models the models, in a stable order (sorted by path)
 * @param packageName package of every generated class ({@code ""} for none)
 * @param level optimization level
 * @param threads worker threads of the generated classes' large kernels
 * @param sourceRoot root of the generated sources (also holds the incremental-build state)
 * @param resourceRoot root of the generated weights resources
 * @param executionId the Maven execution this is, so two executions sharing a folder keep separate state
 * @param training present when a trainer is generated beside each inference class
 * @param dims sizes fixed for symbolic dims of every model's inputs (empty: none)
 */
record GenerationRequest(List<ModelSpec> models, String packageName, OptLevel level, int threads, Path sourceRoot,
        Path resourceRoot, String executionId, Optional<TrainingConfig> training, Map<String, Long> dims) {
    GenerationRequest {
        dims = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(dims));
        models = List.copyOf(models);
        Objects.requireNonNull(packageName);
        Objects.requireNonNull(level);
        sourceRoot = sourceRoot.toAbsolutePath().normalize();
        resourceRoot = resourceRoot.toAbsolutePath().normalize();
        Objects.requireNonNull(executionId);
        Objects.requireNonNull(training);
    }
}
