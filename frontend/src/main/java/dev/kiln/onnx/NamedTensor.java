package dev.kiln.onnx;

import dev.kiln.ir.Tensor;
import java.util.Objects;

/**
 * A tensor with the name it carries in a TensorProto (an initializer's name, or the input/output name of an
 * ONNX test-data file; empty when the file names none).
 *
 * @param name the TensorProto's name, possibly empty
 * @param tensor the data
 */
public record NamedTensor(String name, Tensor tensor) {
    public NamedTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tensor, "tensor");
    }
}
