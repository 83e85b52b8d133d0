package dev.kiln.codegen;

import com.palantir.javapoet.JavaFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The output of code generation: Java sources and the weights resource that goes beside the class.
 *
 * @param sources one file per generated class
 * @param weightsResource the resource's file name, relative to the class's package folder
 * @param weights the resource's bytes ({@link dev.kiln.runtime.WeightsFile} format)
 */
public record GeneratedModel(List<JavaFile> sources, String weightsResource, byte[] weights) {
    public GeneratedModel {
        sources = List.copyOf(sources);
    }

    /** Writes sources under {@code sourceRoot} and the weights under {@code resourceRoot}, by package folder. */
    public void writeTo(Path sourceRoot, Path resourceRoot) throws IOException {
        for (JavaFile f : sources) {
            f.writeTo(sourceRoot);
        }
        String pkg = sources.get(0).packageName();
        Path dir = pkg.isEmpty() ? resourceRoot : resourceRoot.resolve(pkg.replace('.', '/'));
        Files.createDirectories(dir);
        Files.write(dir.resolve(weightsResource), weights);
    }

    /** The source text of the main class. */
    public String mainSource() {
        return sources.get(0).toString();
    }
}
