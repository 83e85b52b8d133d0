package dev.kiln.cli;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;

/**
 * The one data input and the first output of a model to train, with their per-sample shapes (the batch
 * dimension, which stays symbolic, removed), and the input's element type: float32, or int64/int32 (token ids,
 * read from the data files as numbers and checked to be whole).
 */
record ModelSignature(String input, DType inputType, int[] sampleShape, String output, int[] outputShape) {

    static ModelSignature of(Graph graph, String modelName) {
        if (graph.inputs().size() != 1) {
            throw new KilnException("kiln train takes models with one data input; " + modelName + " has "
                    + graph.inputs().size() + ": " + graph.inputs().stream().map(Value::name).toList());
        }
        Value in = graph.inputs().get(0);
        if (in.dtype() != DType.FLOAT32 && in.dtype() != DType.INT64 && in.dtype() != DType.INT32) {
            throw new KilnException("kiln train feeds float32, int64 or int32 inputs; " + modelName + "'s '" + in.name()
                    + "' is " + in.type());
        }
        Value out = graph.outputs().get(0);
        return new ModelSignature(in.name(), in.dtype(), perSample(in, modelName), out.name(),
                perSample(out, modelName));
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

    /** The model's input from a batch of values read as floats: as they are, or as whole numbers of its type. */
    Object inputArray(float[] x) {
        return switch (inputType) {
            case INT64 -> {
                long[] out = new long[x.length];
                for (int i = 0; i < x.length; i++) {
                    out[i] = (long) x[i];
                }
                yield out;
            }
            case INT32 -> {
                int[] out = new int[x.length];
                for (int i = 0; i < x.length; i++) {
                    out[i] = (int) x[i];
                }
                yield out;
            }
            default -> x;
        };
    }

    /** The input as a tensor of its type (for the reference trainer). */
    Tensor inputTensor(float[] x, int batch) {
        int[] shape = batched(batch, sampleShape);
        return switch (inputType) {
            case INT64, INT32 -> Tensor.ofLongs(inputType, shape, java.util.stream.IntStream.range(0, x.length)
                    .mapToLong(i -> (long) x[i]).toArray());
            default -> Tensor.ofFloats(shape, x);
        };
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
