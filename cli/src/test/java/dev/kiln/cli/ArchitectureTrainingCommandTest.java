package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.builder.Conv2d;
import dev.kiln.ir.builder.Flow;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.OnnxExporter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code kiln train} on architectures beyond the bundled digits model, generated trainer against the reference
 * trainer step by step: a residual CNN whose BatchNormalization trains (batch statistics, running averages) and a
 * pre-norm transformer block (LayerNormalization, softmax attention, GELU), under optimizers the digits test leaves
 * out (AdamW, RMSprop centered, SGD with Nesterov and weight decay).
 */
class ArchitectureTrainingCommandTest {
    private static final int SAMPLES = 24;
    private static final int BATCH = 8;
    private static final int STEPS = 5;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "residual_cnn | adamw:lr=1e-2,weight_decay=0.05",
        "residual_cnn | rmsprop:lr=1e-3,momentum=0.5,centered=true",
        "transformer | adam:lr=1e-2",
        "transformer | sgd:lr=0.05,momentum=0.9,nesterov=true,weight_decay=1e-3"})
    void generatedAndReferenceTrainersTakeTheSameSteps(String architecture, String optimizer) throws IOException {
        boolean cnn = architecture.equals("residual_cnn");
        Path model = tmp.resolve(architecture + ".onnx");
        OnnxExporter.save(cnn ? residualCnn() : transformerBlock(), model);
        int[] shape = cnn ? new int[] {SAMPLES, 2, 6, 6} : new int[] {SAMPLES, 4, 8};
        Path x = tmp.resolve("x.npy");
        Path y = tmp.resolve("y.npy");
        Random r = new Random(7);
        double[] values = new double[SAMPLES * (cnn ? 72 : 32)];
        for (int i = 0; i < values.length; i++) {
            values[i] = 2 * r.nextDouble() - 1;
        }
        Npy.write(x, Tensor.fromDoubles(DType.FLOAT32, shape, values));
        long[] labels = new long[SAMPLES];
        for (int i = 0; i < SAMPLES; i++) {
            labels[i] = r.nextInt(3);
        }
        Npy.write(y, Tensor.ofLongs(DType.INT64, new int[] {SAMPLES}, labels));
        Object[] common = {"train", model, "--x", x, "--labels", y, "--loss", "ce", "--optimizer", optimizer,
            "--batch", BATCH, "--steps", STEPS, "--no-shuffle"};
        TrainCommandTest.Result generated = TrainCommandTest.kiln(common);
        TrainCommandTest.Result reference = TrainCommandTest.kiln(TrainCommandTest.append(common, "--backend",
                "reference"));
        assertEquals(0, generated.code(), generated.err());
        assertEquals(0, reference.code(), reference.err());
        List<Double> g = generated.losses();
        List<Double> ref = reference.losses();
        assertEquals(STEPS, g.size(), generated.out());
        for (int i = 0; i < STEPS; i++) {
            // float32 kernels against the evaluator's double arithmetic, 6 printed digits (as TrainCommandTest)
            assertEquals(ref.get(i), g.get(i), 1e-5 * Math.max(1, ref.get(i)) + 2e-6, "loss of step " + (i + 1));
        }
        assertTrue(g.get(STEPS - 1) < g.get(0), "the model learns its data: " + g);
    }

    /** stem conv3x3(2->4) BN Relu; block conv BN Relu conv BN, + stem, Relu; GlobalAveragePool, Flatten, dense(3). */
    private static Graph residualCnn() {
        ModelBuilder m = ModelBuilder.create("residual_cnn").seed(3);
        Flow x = m.input("image", DType.FLOAT32, "N,2,6,6");
        Flow stem = x.conv2d(Conv2d.of(4, 3).padding(1)).batchNorm().relu();
        Flow block = stem.conv2d(Conv2d.of(4, 3).padding(1)).batchNorm().relu()
                .conv2d(Conv2d.of(4, 3).padding(1)).batchNorm();
        stem.add(block).relu().globalAvgPool().flatten().dense(3).output("logits");
        return m.build();
    }

    /** x + proj(attention(LN(x))), + mlp(LN(.)) with GELU; a linear head on the first token. x [N, 4, 8], 2 heads. */
    private static Graph transformerBlock() {
        ModelBuilder m = ModelBuilder.create("transformer_block").seed(5);
        Flow x = m.input("tokens", DType.FLOAT32, "N,4,8");
        Flow h = x.layerNorm();
        Flow q = heads(h.dense("q", 8));
        Flow k = heads(h.dense("k", 8));
        Flow v = heads(h.dense("v", 8));
        Flow attention = q.matmul(k.transpose(0, 1, 3, 2)).div(2).softmax(-1).matmul(v);
        Flow merged = attention.transpose(0, 2, 1, 3).reshape(0, 4, 8).dense("proj", 8);
        Flow res = x.add(merged);
        res.add(res.layerNorm().dense(16).gelu().dense(8)).select(1, 0).dense("head", 3).output("logits");
        return m.build();
    }

    private static Flow heads(Flow f) {
        return f.reshape(0, 4, 2, 4).transpose(0, 2, 1, 3);
    }
}
