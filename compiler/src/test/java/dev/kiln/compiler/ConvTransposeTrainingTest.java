package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.compiler.TrainerModelsTest.Compiled;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.lang.reflect.Method;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers of models whose parameters reach the loss through ConvTranspose (decoder halves of
 * autoencoders and U-Nets): its input gradient runs as a Conv and its weight gradient as ConvGradWeight, both on
 * weights that change every step. Three Adam steps agree with the reference trainer ({@link TrainerModelsTest#agree}:
 * loss 1e-5 relative, parameters 1e-4 max abs).
 */
class ConvTransposeTrainingTest {
    private static final TrainingSpec CE = TrainingSpec.of(Loss.CROSS_ENTROPY);

    private static Tensor g(long seed, int... shape) {
        return TrainerLayersTest.weight(seed, shape);
    }

    private static Value image(GraphBuilder b, int c, int h, int w) {
        return b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(c), Dim.of(h), Dim.of(w)));
    }

    /** Flatten, then a Gemm to 10 classes (the labels agree draws). */
    private static void classify(GraphBuilder b, Value features, int size) {
        Value f = b.op("Flatten").inputs(features).output();
        b.output(b.op("Gemm").inputs(f, b.initializer("fcW", g(6, 10, size)), b.initializer("fcB", g(7, 10)))
                .attr("transB", 1).output());
    }

    /** Conv stride 2 down to 4x4, LeakyRelu, ConvTranspose stride 2 back up to 8x8, MaxPool, Gemm. */
    static Graph encoderDecoder() {
        GraphBuilder b = new GraphBuilder("ct");
        Value x = image(b, 2, 8, 8);
        Value c = b.op("Conv").inputs(x, b.initializer("cW", g(1, 4, 2, 3, 3)), b.initializer("cB", g(2, 4)))
                .attr("strides", new long[] {2, 2}).attr("pads", new long[] {1, 1, 1, 1}).output();
        Value r = b.op("LeakyRelu").inputs(c).output();
        Value ct = b.op("ConvTranspose").inputs(r, b.initializer("tW", g(3, 4, 3, 2, 2)), b.initializer("tB", g(4, 3)))
                .attr("strides", new long[] {2, 2}).output();
        Value mp = b.op("MaxPool").inputs(ct).attr("kernel_shape", new long[] {2, 2}).attr("strides", new long[] {2, 2})
                .output();
        classify(b, mp, 48);
        return b.build();
    }

    @Test
    void encoderDecoderTrains(@TempDir Path dir) throws Exception {
        TrainerModelsTest.agree(TrainerModelsTest.compile(encoderDecoder(), "ct", CE, 1), "ct", Optimizer.adam(1e-2),
                Optimizer.adam(1e-2), dir);
    }

    /**
     * A Conv, then a grouped ConvTranspose (group 2, stride 2, asymmetric pads, output_padding 1) and a dilated one
     * without bias whose output_shape asks for a cell past its full result (a negative end pad: dY is cropped for
     * the gradients), average pooling, Gemm.
     */
    @Test
    void groupedPaddedAndDilatedConvTransposesTrain(@TempDir Path dir) throws Exception {
        GraphBuilder b = new GraphBuilder("ct_group");
        Value x = image(b, 3, 5, 5);
        Value c = b.op("Conv").inputs(x, b.initializer("cW", g(1, 4, 3, 3, 3))).attr("pads", new long[] {1, 1, 1, 1})
                .output();
        Value ct1 = b.op("ConvTranspose").inputs(c, b.initializer("t1W", g(2, 4, 3, 3, 3)), b.initializer("t1B", g(3, 6)))
                .attr("group", 2L).attr("strides", new long[] {2, 2}).attr("pads", new long[] {1, 0, 1, 1})
                .attr("output_padding", new long[] {1, 1}).output(); // [N, 6, 10, 11]
        Value h = b.op("Relu").inputs(ct1).output();
        Value ct2 = b.op("ConvTranspose").inputs(h, b.initializer("t2W", g(4, 6, 2, 2, 2)))
                .attr("dilations", new long[] {2, 1}).attr("output_shape", new long[] {13, 12}).output(); // full 12 x 12
        Value pool = b.op("AveragePool").inputs(ct2).attr("kernel_shape", new long[] {3, 2})
                .attr("strides", new long[] {3, 2}).output(); // [N, 2, 4, 6]
        classify(b, pool, 48);
        Graph graph = b.build();
        TrainerModelsTest.agree(TrainerModelsTest.compile(graph, "ct_group", CE, 1), "ct_group", Optimizer.adam(1e-2),
                Optimizer.adam(1e-2), dir);
    }

    /** The encoder-decoder on two threads: it agrees with the reference trainer, and with one thread to the bit. */
    @Test
    void twoThreadsAgree(@TempDir Path dir) throws Exception {
        Graph graph = encoderDecoder();
        Compiled two = TrainerModelsTest.compile(graph, "ct_two", CE, 2);
        TrainerModelsTest.agree(two, "ct_two", Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        Compiled one = TrainerModelsTest.compile(graph, "ct_one", CE, 1);
        Object t1 = TrainerModelsTest.trainer(one, Optimizer.adam(1e-2));
        Object t2 = TrainerModelsTest.trainer(two, Optimizer.adam(1e-2));
        int batch = 6;
        float[] x = TrainerModelsTest.randomInput(one, batch, 11).toFloatArray();
        int[] labels = TrainerModelsTest.randomLabels(batch, 10, 12);
        Method step1 = one.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method step2 = two.trainer().getMethod("step", float[].class, int[].class, int.class);
        try {
            for (int k = 1; k <= 3; k++) {
                float l1 = (float) step1.invoke(t1, x, labels, batch);
                float l2 = (float) step2.invoke(t2, x, labels, batch);
                assertEquals(Float.floatToIntBits(l1), Float.floatToIntBits(l2), "loss at step " + k);
            }
            Method p1 = one.trainer().getMethod("parameter", String.class);
            Method p2 = two.trainer().getMethod("parameter", String.class);
            for (String p : one.training().parameters().keySet()) {
                assertArrayEquals((float[]) p1.invoke(t1, p), (float[]) p2.invoke(t2, p), 0f, p);
            }
            assertTrue(one.training().parameters().containsKey("tW"));
        } finally {
            ((AutoCloseable) t2).close();
        }
    }
}
