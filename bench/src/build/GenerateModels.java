// Compiles the benchmark's models ahead of time (run by the bench build at generate-sources, as a single-file
// source program): each model's ONNX file as a resource, and each model of ../shared/models at 1 and 2 threads, as dev.kiln.bench.generated.<Model>T<n>.

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.compiler.CompileOptions;
import dev.kiln.compiler.KilnCompiler;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/** Until kiln-maven-plugin lands on main this stands in for it; both call the same {@link KilnCompiler}. */
public final class GenerateModels {
    private static final List<String> MODELS = List.of("mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru");
    private static final int[] THREADS = {1, 2};
    private static final String PACKAGE = "dev.kiln.bench.generated";

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: GenerateModels MODELS_DIR SOURCE_ROOT RESOURCE_ROOT");
            System.exit(2);
        }
        Path models = Path.of(args[0]);
        Path sources = Path.of(args[1]);
        Path resources = Path.of(args[2]);
        for (String model : MODELS) {
            Path onnx = models.resolve(model).resolve("model.onnx");
            if (!Files.isRegularFile(onnx)) {
                System.err.println("GenerateModels: " + onnx + " is missing (set kiln.shared.dir)");
                System.exit(2);
            }
            // The ONNX file goes into the jar too, so ONNX Runtime and the reference evaluator read the same bytes.
            Path copy = resources.resolve("dev/kiln/bench/models").resolve(model + ".onnx");
            Files.createDirectories(copy.getParent());
            Files.copy(onnx, copy, StandardCopyOption.REPLACE_EXISTING);
            for (int threads : THREADS) {
                String cls = CompileOptions.classNameFromFile(model) + "T" + threads;
                GeneratedModel g = KilnCompiler.compile(onnx,
                        new CompileOptions(PACKAGE, Optional.of(cls), OptLevel.O3, threads), PassOptions.quiet());
                KilnCompiler.writeWhole(g, sources, resources);
            }
        }
        System.out.println("GenerateModels: " + MODELS.size() * THREADS.length + " classes in " + sources);
    }
}
