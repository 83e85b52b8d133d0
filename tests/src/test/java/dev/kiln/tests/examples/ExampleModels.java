package dev.kiln.tests.examples;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.builder.Activation;
import dev.kiln.ir.builder.Conv2d;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.OnnxExporter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Generates the example bundled in {@code examples/digits}: a small CNN classifying 8x8 grey-level digit
 * images, defined with Kiln's builder and written to ONNX by Kiln's exporter, with a sample input.
 * {@code ExampleModelsTest} regenerates it and checks the committed files are exactly what this produces.
 *
 * <p>Regenerate (after a deliberate change to the model or the exporter) with
 * {@code mvn -q -pl tests -am test -Dtest=ExampleModelsTest -Dsurefire.failIfNoSpecifiedTests=false
 * -Dkiln.examples.regenerate=true}, or run {@link #main} with the target folder on the test classpath.
 */
public final class ExampleModels {
    /** The seed of the digits model's initial weights. */
    public static final long DIGITS_SEED = 8;

    private ExampleModels() {}

    /**
     * Input {@code image [N,1,8,8]} (intensities in [0, 1]), output {@code logits [N,10]}; 4,538 parameters,
     * about 9k multiply-adds per image, so training on a few thousand images takes seconds.
     */
    public static Graph digits() {
        ModelBuilder m = ModelBuilder.create("digits").seed(DIGITS_SEED);
        m.input("image", DType.FLOAT32, "N,1,8,8")
                .conv2d(Conv2d.of(8, 3).padding(1))          // conv1: [N,8,8,8]
                .relu()
                .maxPool2d(2)                                // [N,8,4,4]
                .flatten()                                   // [N,128]
                .dense(32, Activation.RELU)                  // fc1
                .dense(10)                                   // fc2: logits
                .output("logits");
        return m.build();
    }

    /** A "7" drawn on the 8x8 grid ({@code #} full ink, {@code +} half), as {@code [1,1,8,8]}. */
    public static Tensor digitsSampleInput() {
        String[] rows = {
            "........",
            ".######.",
            ".+...##.",
            ".....#+.",
            "....##..",
            "....#+..",
            "...##...",
            "...#....",
        };
        double[] pixels = new double[64];
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 8; c++) {
                char ch = rows[r].charAt(c);
                pixels[r * 8 + c] = ch == '#' ? 1.0 : ch == '+' ? 0.5 : 0.0;
            }
        }
        return Tensor.wrapDoubles(DType.FLOAT32, new int[] {1, 1, 8, 8}, pixels);
    }

    /** Writes {@code model.onnx} and {@code sample_input.npy} of the digits example into {@code dir}. */
    public static void writeDigits(Path dir) throws IOException {
        Files.createDirectories(dir);
        OnnxExporter.save(digits(), dir.resolve("model.onnx"));
        Npy.write(dir.resolve("sample_input.npy"), digitsSampleInput());
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "examples/digits");
        writeDigits(dir);
        System.out.println("wrote " + dir.resolve("model.onnx") + " and " + dir.resolve("sample_input.npy"));
    }
}
