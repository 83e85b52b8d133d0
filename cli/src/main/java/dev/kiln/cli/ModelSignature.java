package dev.kiln.cli;

import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.Arrays;

/**
 * The one data input and the first output of a model to train, with their per-sample shapes (the batch
 * dimension, which stays symbolic, removed).
 */
record ModelSignature(String input, int[] sampleShape, String output, int[] outputShape) {

    static ModelSignature of(Graph graph, String modelName) {
        if (graph.inputs().size() != 1) {
            throw new KilnException("kiln train takes models with one data input; " + modelName + " has "
                    + graph.inputs().size() + ": " + graph.inputs().stream().map(Value::name).toList());
        }
        Value in = graph.inputs().get(0);
        if (in.dtype() != dev.kiln.ir.DType.FLOAT32) {
            throw new KilnException("kiln train feeds float32 inputs; " + modelName + "'s '" + in.name() + "' is "
                    + in.type() + " (train such a model from Java: the generated trainer's step takes it as its Java "
                    + "array, long[] for int64 token ids)");
        }
        Value out = graph.outputs().get(0);
        return new ModelSignature(in.name(), perSample(in, modelName), out.name(), perSample(out, modelName));
    }

    private static int[] perSample(Value v, String modelName) {
        Shape s = v.type().shape();
        if (s.rank() < 1) {
            throw new KilnException(modelName + ": '" + v.name() + "' is a scalar; training needs a batch dimension");
        }
        int[] dims = new int[s.rank() - 1];
        for (int i = 1; i < s.rank(); i++) {
            if (!s.dim(i).isStatic()) {
                throw new KilnException(modelName + ": '" + v.name() + "' has shape " + s + "; only its first (batch)"
                        + " dimension may be symbolic for training");
            }
            dims[i - 1] = Math.toIntExact(s.dim(i).value());
        }
        return dims;
    }

    int sampleSize() { return Arrays.stream(sampleShape).reduce(1, (a, b) -> a * b); }

    int outputSize() { return Arrays.stream(outputShape).reduce(1, (a, b) -> a * b); }

    /** The classes a class-label loss chooses among: the output's second dimension (N, C, ...). */
    int classes() { return outputShape.length == 0 ? 1 : outputShape[0]; }

    /** {@code shape} with a leading batch dimension. */
    static int[] batched(int batch, int[] shape) {
        int[] out = new int[shape.length + 1];
        out[0] = batch;
        System.arraycopy(shape, 0, out, 1, shape.length);
        return out;
    }
}
