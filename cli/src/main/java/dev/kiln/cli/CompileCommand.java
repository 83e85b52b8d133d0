package dev.kiln.cli;

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.compiler.CompileOptions;
import dev.kiln.compiler.KilnCompiler;
import dev.kiln.compiler.TrainOptions;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code kiln compile}: writes the inference class for a model (and with {@code --train} its trainer) and the
 * weights resource, whole or not at all.
 */
@Command(name = "compile", mixinStandardHelpOptions = true,
        description = {"Compiles MODEL.onnx ahead of time into a Java class (DIR/<package path>/<Class>.java) and its "
                + "weights resource (<Class>.weights beside it). Nothing is written unless everything succeeds.",
            "The class needs only the JDK (25, with --add-modules jdk.incubator.vector) and kiln-runtime."},
        footer = {"", "Exit codes: 0 success, 1 internal error, 2 bad input or usage."})
public final class CompileCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model to compile.")
    private Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Root folder for sources and weights.")
    private Path out;

    @Option(names = "--package", paramLabel = "P", defaultValue = "", description = "Package of the class (default: none).")
    private String packageName;

    @Option(names = "--class", paramLabel = "C",
            description = "Class name (default: the file name in UpperCamelCase, mnist_cnn.onnx -> MnistCnn).")
    private String className;

    @Option(names = "-O", paramLabel = "LEVEL", defaultValue = "3", description = "Optimization level -O0..-O3 (default -O3).")
    private String level;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "Worker threads the large kernels split across (default 1).")
    private int threads;

    @Option(names = "--dim", paramLabel = "NAME=SIZE",
            description = "Fixes a symbolic dim of the model's inputs (e.g. --dim seq=128); repeat for each. Generated"
                    + " code takes one dynamic dim, the batch (the first symbolic dim of the first input that has one).")
    private Map<String, Long> dims = new LinkedHashMap<>();

    @Option(names = "--print-after", split = ",", paramLabel = "PASS|all",
            description = "Print the graph after the named passes (or all).")
    private List<String> printAfter = List.of();

    @Option(names = "--train", description = "Also generate <Class>Trainer (forward, loss, backward, optimizer step); "
            + "the inference class then keeps its parameters raw so the trainer's saveWeights loads into it.")
    private boolean train;

    @Option(names = "--loss", paramLabel = "ce|nll|mse", description = "With --train: the loss (ce: softmax cross-entropy "
            + "on logits, nll: on log-probabilities, mse), averaged over the batch.")
    private String loss;

    @Option(names = "--optimizer", paramLabel = "SPEC", description = "With --train: the optimizer <Class>Trainer.create(net)"
            + " uses, e.g. adam:lr=1e-3 (without it, only create(net, optimizer) exists).")
    private String optimizer;

    @Option(names = "--freeze", split = ",", paramLabel = "NAME",
            description = "With --train: initializers (by ONNX name) the trainer reads but never trains, e.g. a "
                    + "pretrained backbone's weights; comma-separated or repeated.")
    private List<String> freeze = List.of();

    @Option(names = {"-v", "--verbose"}, description = "Print pass timings and stack traces of errors.")
    private boolean verbose;

    @Override
    public Integer call() {
        CompileOptions options;
        try {
            options = new CompileOptions(packageName, Optional.ofNullable(className), dev.kiln.passes.OptLevel.parse(level),
                    threads).withDims(dims);
            options = withTraining(options);
            new dev.kiln.codegen.CodegenOptions(packageName, options.classNameFor(model.getFileName().toString()),
                    threads, "check");
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        PassOptions passes = new PassOptions(new LinkedHashSet<>(printAfter), verbose, false,
                new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true));
        GeneratedModel generated = KilnCompiler.compileTo(model, out, options, passes);
        String pkgPath = packageName.isEmpty() ? "" : packageName.replace('.', '/') + "/";
        List<String> written = new java.util.ArrayList<>();
        generated.sources().forEach(f -> written.add(out.resolve(pkgPath + f.typeSpec().name() + ".java").toString()));
        spec.commandLine().getOut().println("wrote " + String.join(", ", written) + " and "
                + out.resolve(pkgPath + generated.weightsResource()) + " (" + generated.weights().length + " bytes)");
        return Kiln.OK;
    }

    /** {@code options} with the trainer requested by --train, --loss and --optimizer; usage errors otherwise. */
    private CompileOptions withTraining(CompileOptions options) {
        if (!train) {
            if (loss != null || optimizer != null || !freeze.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "--loss, --optimizer and --freeze apply only with --train");
            }
            return options;
        }
        if (loss == null) {
            throw new ParameterException(spec.commandLine(), "--train needs --loss ce|nll|mse");
        }
        Loss lossKind;
        try {
            lossKind = Loss.parse(loss);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--loss: " + e.getMessage());
        }
        try {
            return options.withTraining(new TrainOptions(TrainingSpec.of(lossKind).withFrozen(Set.copyOf(freeze)),
                    Optional.ofNullable(optimizer)));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--optimizer: " + e.getMessage());
        }
    }
}
