package dev.kiln.cli;

import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.Npy;
import dev.kiln.runtime.data.Idx;
import dev.kiln.runtime.data.IdxTensor;
import dev.kiln.runtime.data.IdxType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * A labelled set of samples read from files, checked against the model: inputs as row-major floats, {@code
 * sampleSize} per sample, and either integer class labels or float targets of {@code targetSize} per sample.
 * Images in IDX files of unsigned bytes are scaled by 1/255 into [0, 1], as is usual for MNIST-like data; every
 * other element type is taken as it is.
 *
 * @param x the inputs, {@code count * sampleSize} floats
 * @param classes the class labels (empty for float targets)
 * @param targets the float targets (empty for class labels)
 */
record TrainingData(String name, float[] x, int count, int sampleSize, int[] classes, float[] targets) {

    /**
     * This data as the input of a model taking {@code type}: float32 as read; an integer type (token ids) needs every
     * value whole and within the int32 range floats hold exactly (|v| < 2^24), else an error naming the sample.
     */
    TrainingData checkedFor(dev.kiln.ir.DType type, String input, Path file) {
        if (type == dev.kiln.ir.DType.FLOAT32) {
            return this;
        }
        for (int i = 0; i < x.length; i++) {
            float v = x[i];
            if (v != Math.rint(v) || Math.abs(v) >= 1 << 24) {
                throw new KilnException(name + " inputs '" + file + "': sample " + i / sampleSize + " holds " + v
                        + ", but the model's input '" + input + "' is " + type.name().toLowerCase(java.util.Locale.ROOT)
                        + " (whole numbers below 2^24 in magnitude)");
            }
        }
        return this;
    }

    /** The label of sample {@code i}'s class. */
    int label(int i) { return classes[i]; }

    boolean hasClasses() { return classes.length > 0; }

    int targetSize() { return targets.length / count; }

    /**
     * Reads inputs and labels and checks them against each other and the model.
     *
     * @param what "training" or "test", for messages
     * @param sampleSize the model's elements per sample (its input shape without the batch dimension)
     * @param classes the number of classes when the loss takes class labels, else 0
     * @param targetSize the model's output elements per sample when the loss takes float targets, else 0
     */
    static TrainingData load(String what, Path xFile, Path labelFile, int sampleSize, int classes, int targetSize) {
        Samples x = readSamples(xFile);
        if (x.sampleSize() != sampleSize) {
            throw new KilnException(what + " inputs '" + xFile + "' hold " + x.count() + " samples of shape "
                    + Arrays.toString(x.sampleShape()) + " (" + x.sampleSize() + " values each), but the model takes "
                    + sampleSize + " values per sample");
        }
        if (classes > 0) {
            int[] labels = readClassLabels(labelFile);
            checkCount(what, xFile, x.count(), labelFile, labels.length);
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0 || labels[i] >= classes) {
                    throw new KilnException(what + " label " + i + " in '" + labelFile + "' is " + labels[i]
                            + ", outside the model's " + classes + " classes [0, " + classes + ")");
                }
            }
            return new TrainingData(what, x.values(), x.count(), sampleSize, labels, new float[0]);
        }
        Samples t = readSamples(labelFile);
        checkCount(what, xFile, x.count(), labelFile, t.count());
        if (t.sampleSize() != targetSize) {
            throw new KilnException(what + " targets '" + labelFile + "' have " + t.sampleSize()
                    + " values per sample, but the model's output has " + targetSize);
        }
        return new TrainingData(what, x.values(), x.count(), sampleSize, new int[0], t.values());
    }

    private static void checkCount(String what, Path xFile, int xCount, Path labelFile, int labelCount) {
        if (xCount != labelCount) {
            throw new KilnException(what + " inputs '" + xFile + "' hold " + xCount + " samples but the labels '"
                    + labelFile + "' hold " + labelCount);
        }
    }

    /** Samples of one file: the first dimension counts them. */
    private record Samples(float[] values, int count, int[] sampleShape) {
        int sampleSize() { return count == 0 ? Tensor.sizeOf(sampleShape) : values.length / count; }
    }

    private static Samples readSamples(Path file) {
        if (isIdx(file)) {
            IdxTensor t = readIdx(file);
            int[] dims = t.dims();
            float[] values = t.floats();
            if (t.type() == IdxType.UBYTE) {
                for (int i = 0; i < values.length; i++) {
                    values[i] /= 255f;
                }
            }
            return new Samples(values, dims[0], Arrays.copyOfRange(dims, 1, dims.length));
        }
        Tensor t = readNpy(file);
        if (t.rank() == 0) {
            throw new KilnException("'" + file + "' holds a scalar; expected one row per sample");
        }
        if (!t.dtype().isFloat() && !t.dtype().isInteger()) {
            throw new KilnException("'" + file + "' holds " + t.dtype() + " values; expected numbers");
        }
        int[] shape = t.shape();
        return new Samples(t.toFloatArray(), shape[0], Arrays.copyOfRange(shape, 1, shape.length));
    }

    private static int[] readClassLabels(Path file) {
        int[] labels;
        if (isIdx(file)) {
            IdxTensor t = readIdx(file);
            if (t.dims().length != 1 || !t.type().isInteger()) {
                throw new KilnException("labels '" + file + "' must be one integer per sample, found IDX "
                        + t.type().name().toLowerCase(Locale.ROOT) + " " + Arrays.toString(t.dims()));
            }
            labels = t.ints();
        } else {
            Tensor t = readNpy(file);
            if (t.rank() != 1 || !t.dtype().isInteger()) {
                throw new KilnException("labels '" + file + "' must be one integer class per sample, found "
                        + t.type());
            }
            labels = t.toIntArray();
        }
        return labels;
    }

    private static boolean isIdx(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".idx") || n.endsWith(".idx.gz") || n.contains("-idx");
    }

    private static IdxTensor readIdx(Path file) {
        requireFile(file);
        try {
            return Idx.read(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Tensor readNpy(Path file) {
        requireFile(file);
        if (!file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
            throw new KilnException("'" + file + "' must be a NumPy .npy or an IDX (.idx, .idx.gz) file");
        }
        return Npy.read(file);
    }

    private static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new KilnException("data file '" + file + "' " + (Files.exists(file) ? "is not a file" : "does not exist"));
        }
    }
}
