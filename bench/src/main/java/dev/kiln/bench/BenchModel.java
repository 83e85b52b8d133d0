package dev.kiln.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * The five reference models of {@code ../shared/models} as the benchmarks see them: per-sample input shape,
 * output width, FLOPs per sample (multiply-add = 2, as {@code models.json} counts them; a test checks these
 * against that file) and the ONNX file, which the build copies into the benchmarks jar so the jar runs alone.
 */
public enum BenchModel {
    MLP("mlp", new int[] {784}, 10, 1_070_080),
    MNIST_CNN("mnist_cnn", new int[] {1, 28, 28}, 10, 961_000),
    CIFAR_CNN("cifar_cnn", new int[] {3, 32, 32}, 10, 9_097_216),
    LSTM("lstm", new int[] {28, 28}, 10, 4_475_392),
    GRU("gru", new int[] {28, 28}, 10, 3_357_184);

    /** Class-path folder of the ONNX files ({@code <id>/model.onnx}, copied there from ../shared/models by the build). */
    public static final String RESOURCE_DIR = "/dev/kiln/bench/models/";

    private final String id;
    private final int[] sampleShape;
    private final int outputsPerSample;
    private final long flopsPerSample;

    BenchModel(String id, int[] sampleShape, int outputsPerSample, long flopsPerSample) {
        this.id = id;
        this.sampleShape = sampleShape;
        this.outputsPerSample = outputsPerSample;
        this.flopsPerSample = flopsPerSample;
    }

    /** The model's folder name in ../shared/models, also the JMH parameter value. */
    public String id() { return id; }

    /** Input dims after the batch dim. */
    public int[] sampleShape() { return sampleShape.clone(); }

    public int inputsPerSample() { return Arrays.stream(sampleShape).reduce(1, (a, b) -> a * b); }

    public int outputsPerSample() { return outputsPerSample; }

    public long flopsPerSample() { return flopsPerSample; }

    /** The full input shape for {@code batch} samples, as ONNX Runtime wants it. */
    public long[] inputShape(int batch) {
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = batch;
        for (int i = 0; i < sampleShape.length; i++) {
            shape[i + 1] = sampleShape[i];
        }
        return shape;
    }

    /** Deterministic input in [0, 1) (the range of the models' normalized images) for {@code batch} samples. */
    public float[] input(int batch) {
        Random r = new Random(42);
        float[] x = new float[batch * inputsPerSample()];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat();
        }
        return x;
    }

    /** The ONNX file's bytes, from the benchmarks' class path. */
    public byte[] onnxBytes() {
        String name = RESOURCE_DIR + id + "/model.onnx";
        try (InputStream in = BenchModel.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing: build the bench module with Maven");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + name, e);
        }
    }

    /** The model named {@code id} ({@code mnist_cnn}), as JMH passes it. */
    public static BenchModel of(String id) {
        for (BenchModel m : values()) {
            if (m.id.equals(id)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown model '" + id + "', expected one of "
                + Arrays.toString(Arrays.stream(values()).map(BenchModel::id).toArray()));
    }

    @Override
    public String toString() { return id.toLowerCase(Locale.ROOT); }
}
