package dev.kiln.bench;

import dev.kiln.bench.generated.CifarCnnT1;
import dev.kiln.bench.generated.CifarCnnT2;
import dev.kiln.bench.generated.GruT1;
import dev.kiln.bench.generated.GruT2;
import dev.kiln.bench.generated.LstmT1;
import dev.kiln.bench.generated.LstmT2;
import dev.kiln.bench.generated.MlpT1;
import dev.kiln.bench.generated.MlpT2;
import dev.kiln.bench.generated.MnistCnnT1;
import dev.kiln.bench.generated.MnistCnnT2;

/**
 * The classes the build generated for the benchmarks ({@code <Model>T<threads>}, compiled by kiln-maven-plugin
 * in bench/pom.xml),
 * behind one interface so a benchmark serves all of them. Within one JMH fork only one class is loaded, so the
 * call through {@link Call} stays monomorphic and C2 inlines it.
 */
public final class KilnModels {
    private KilnModels() {}

    /** The zero-allocation entry point of a generated class. */
    @FunctionalInterface
    public interface Call {
        void run(float[] input, int batch, float[] output);
    }

    /** A loaded instance: its run method, and what stops its worker threads (nothing at one thread). */
    public record Instance(Call call, AutoCloseable closer) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            closer.close();
        }
    }

    /** A new instance of the class generated for {@code model} at {@code threads} (1 or 2). */
    public static Instance load(BenchModel model, int threads) {
        if (threads != 1 && threads != 2) {
            throw new IllegalArgumentException("the build generates " + model + " at 1 and 2 threads, not " + threads);
        }
        return switch (model) {
            case MLP -> threads == 1 ? single(MlpT1.load()::run) : pooled(MlpT2.load());
            case MNIST_CNN -> threads == 1 ? single(MnistCnnT1.load()::run) : pooled(MnistCnnT2.load());
            case CIFAR_CNN -> threads == 1 ? single(CifarCnnT1.load()::run) : pooled(CifarCnnT2.load());
            case LSTM -> threads == 1 ? single(LstmT1.load()::run) : pooled(LstmT2.load());
            case GRU -> threads == 1 ? single(GruT1.load()::run) : pooled(GruT2.load());
        };
    }

    private static Instance single(Call call) {
        return new Instance(call, () -> { });
    }

    private static Instance pooled(MlpT2 m) { return new Instance(m::run, m); }

    private static Instance pooled(MnistCnnT2 m) { return new Instance(m::run, m); }

    private static Instance pooled(CifarCnnT2 m) { return new Instance(m::run, m); }

    private static Instance pooled(LstmT2 m) { return new Instance(m::run, m); }

    private static Instance pooled(GruT2 m) { return new Instance(m::run, m); }
}
