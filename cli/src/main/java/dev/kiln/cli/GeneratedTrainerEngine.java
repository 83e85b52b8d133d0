package dev.kiln.cli;

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.compiler.CompileOptions;
import dev.kiln.compiler.KilnCompiler;
import dev.kiln.compiler.TrainOptions;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.WeightsFile;
import dev.kiln.runtime.train.Optimizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The generated trainer: {@link KilnCompiler} generates {@code Net} and {@code NetTrainer} for the model with
 * training on, they are compiled in memory ({@link InProcessCompiler}, as {@code kiln run --backend codegen}
 * does) and driven through their public API: {@code NetTrainer.create(Net.load(), optimizer)}, {@code step},
 * {@code run}, {@code saveWeights}.
 */
final class GeneratedTrainerEngine implements TrainEngine {
    private static final String PACKAGE = "kiln.train";

    private final Object trainer;
    private final Method step;
    private final Method run;
    private final List<String> parameterNames;
    private final Method saveWeights;
    private final ModelSignature signature;

    GeneratedTrainerEngine(Graph graph, String sourceName, TrainingSpec spec, Optimizer optimizer, int threads) {
        this.signature = ModelSignature.of(graph, sourceName);
        CompileOptions options = new CompileOptions(PACKAGE, Optional.of("Net"), OptLevel.O3, threads)
                .withTraining(TrainOptions.of(spec));
        GeneratedModel generated = KilnCompiler.compile(graph, sourceName, options, PassOptions.quiet());
        try {
            Class<?> net = InProcessCompiler.load(generated);
            Class<?> trainerClass = net.getClassLoader().loadClass(PACKAGE + ".NetTrainer");
            Object loaded = net.getMethod("load").invoke(null);
            trainer = trainerClass.getMethod("create", net, Optimizer.class).invoke(null, loaded, optimizer);
            Class<?> labelType = spec.loss().classLabels() ? int[].class : float[].class;
            Class<?> inputType = signature.inputArray(new float[0]).getClass();
            step = trainerClass.getMethod("step", inputType, labelType, int.class);
            run = trainerClass.getMethod("run", inputType, int.class);
            saveWeights = trainerClass.getMethod("saveWeights", Path.class);
            @SuppressWarnings("unchecked")
            List<String> names = (List<String>) trainerClass.getMethod("parameterNames").invoke(trainer);
            parameterNames = List.copyOf(names);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("the generated trainer lacks its documented API: " + e, e);
        }
    }

    @Override
    public float step(float[] x, int[] labels, float[] targets, int batch) {
        return (float) call(step, signature.inputArray(x), labels != null ? labels : targets, batch);
    }

    @Override
    public float[] predict(float[] x, int batch) {
        return (float[]) call(run, signature.inputArray(x), batch);
    }

    @Override
    public List<String> parameterNames() { return parameterNames; }

    @Override
    public Map<String, float[]> weights() {
        try {
            Path file = Files.createTempFile("kiln-trained-", ".weights");
            try {
                call(saveWeights, file);
                return WeightsFile.read(file);
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Invokes the trainer; its refusals of the data (a label out of range, a non-finite loss naming the step and
     * the first non-finite tensor) become one-line user errors.
     */
    private Object call(Method m, Object... args) {
        try {
            return m.invoke(trainer, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IllegalArgumentException
                    || cause instanceof IllegalStateException && String.valueOf(cause.getMessage()).startsWith("training step")) {
                throw new KilnException(cause.getMessage(), cause);
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof IOException io) {
                throw new UncheckedIOException(io);
            }
            throw new IllegalStateException(cause);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
