package dev.kiln.maven;

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxExporter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small ONNX models written with Kiln's builder and exporter, so the plugin tests need no external files. */
final class TestModels {
    private TestModels() {}

    /** {@code y = tanh(x * scale + 1)} over {@code [N, 4]}: a model codegen supports; {@code scale} varies its bytes. */
    static Path affine(Path file, float scale) throws Exception {
        GraphBuilder b = new GraphBuilder("affine");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value s = b.initializer("scale", Tensor.scalarFloat(scale));
        Value one = b.initializer("one", Tensor.scalarFloat(1));
        Value t = b.op("Mul").inputs(x, s).outputNames("t").output();
        Value u = b.op("Add").inputs(t, one).outputNames("u").output();
        b.output(b.op("Tanh").inputs(u).outputNames("y").output());
        return save(b, file);
    }

    /** {@code logits = x W^T + b} over {@code [N, 4]} to 3 classes: a model the generated trainer supports. */
    static Path dense(Path file) throws Exception {
        GraphBuilder b = new GraphBuilder("dense");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value w = b.initializer("fc.weight", Tensor.ofFloats(new int[] {3, 4}, 0.1f, -0.2f, 0.3f, 0.0f, 0.2f, 0.1f,
                -0.1f, 0.4f, -0.3f, 0.2f, 0.1f, -0.2f));
        Value bias = b.initializer("fc.bias", Tensor.ofFloats(new int[] {3}, 0f, 0.1f, -0.1f));
        b.output(b.op("Gemm").inputs(x, w, bias).attr("transB", 1L).outputNames("logits").output());
        return save(b, file);
    }

    /** {@code y = relu(Flatten(x))} over {@code [N, S, 4]}: a second symbolic dim, which {@code <dims>} fixes. */
    static Path sequence(Path file) throws Exception {
        GraphBuilder b = new GraphBuilder("sequence");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,S,4"));
        Value flat = b.op("Flatten").inputs(x).attr("axis", 1L).outputNames("flat").output();
        b.output(b.op("Relu").inputs(flat).outputNames("y").output());
        return save(b, file);
    }

    /**
     * A model whose node {@code to_text} casts numbers to strings, a conversion generated code refuses (the reference
     * evaluator runs it; generated code holds strings but computes nothing from them).
     */
    static Path uncompilable(Path file) throws Exception {
        GraphBuilder b = new GraphBuilder("text");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,8"));
        b.output(b.op("Cast").name("to_text").inputs(x).attr("to", (long) DType.STRING.onnxCode()).outputNames("text")
                .output());
        return save(b, file);
    }

    private static Path save(GraphBuilder b, Path file) throws Exception {
        Files.createDirectories(file.getParent());
        OnnxExporter.save(b.build(), file);
        return file;
    }
}
