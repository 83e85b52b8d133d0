package dev.kiln.onnx;

import dev.kiln.ir.KilnException;

/**
 * A well-formed ONNX model that uses something Kiln does not support: an element type outside
 * {@link dev.kiln.ir.DType}, a sequence/map/optional graph input, a sparse or segmented tensor, an opset too old.
 */
public class UnsupportedModelException extends KilnException {
    public UnsupportedModelException(String message) { super(message); }
}
