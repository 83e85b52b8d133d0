package dev.kiln.maven;

import com.palantir.javapoet.JavaFile;
import dev.kiln.codegen.GeneratedModel;
import dev.kiln.compiler.CompileOptions;
import dev.kiln.compiler.KilnCompiler;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compiles one model through {@link KilnCompiler} and writes its sources and weights whole or not at all. Model
 * errors are {@link dev.kiln.ir.KilnException}s naming the file, node and op.
 */
interface ModelCompiler {
    /**
     * What one model became.
     *
     * @param files every file written (sources, then the weights resource)
     * @param sourceCount how many of {@code files} are Java sources
     * @param weightBytes size of the weights resource
     */
    record Written(List<Path> files, int sourceCount, long weightBytes) {
        public Written {
            files = List.copyOf(files);
        }
    }

    Written compile(Path model, String packageName, String className, OptLevel level, int threads,
            Optional<TrainingConfig> training, Map<String, Long> dims, Path sourceRoot, Path resourceRoot);

    /** In Maven's JVM, which then needs the Vector API ({@code --add-modules jdk.incubator.vector}). */
    static ModelCompiler inProcess() {
        return (model, packageName, className, level, threads, training, dims, sourceRoot, resourceRoot) -> {
            CompileOptions options = new CompileOptions(packageName, Optional.of(className), level, threads)
                    .withDims(dims);
            if (training.isPresent()) {
                options = options.withTraining(training.get().options());
            }
            GeneratedModel generated = KilnCompiler.compile(model, options, PassOptions.quiet());
            KilnCompiler.writeWhole(generated, sourceRoot, resourceRoot);
            String pkgPath = packageName.isEmpty() ? "" : packageName.replace('.', '/') + "/";
            List<Path> files = new ArrayList<>();
            for (JavaFile source : generated.sources()) {
                files.add(sourceRoot.resolve(pkgPath + source.typeSpec().name() + ".java"));
            }
            files.add(resourceRoot.resolve(pkgPath + generated.weightsResource()));
            return new Written(files, generated.sources().size(), generated.weights().length);
        };
    }

    /** Whether this JVM can run the compiler in process: the code generator packs weights with the Vector API kernels. */
    static boolean vectorApiAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
