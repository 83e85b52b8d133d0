package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The benchmarks compare like with like: each generated class gives the same bits at 1 and 2 threads and
 * agrees with ONNX Runtime on the same input (so neither side skips work), and the FLOP counts the report
 * divides by are those of ../shared/models/models.json.
 */
class ModelAgreementTest {
    /** Float32 kernels in different summation orders: agreement to 1e-4 absolute + 1e-4 relative. */
    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @EnumSource(BenchModel.class)
    void generatedClassesAgreeWithEachOtherAndWithOnnxRuntime(BenchModel model) throws Exception {
        int batch = 3;
        float[] x = model.input(batch);
        float[] one = new float[batch * model.outputsPerSample()];
        float[] two = new float[one.length];
        try (KilnModels.Instance t1 = KilnModels.load(model, 1); KilnModels.Instance t2 = KilnModels.load(model, 2)) {
            t1.call().run(x, batch, one);
            t2.call().run(x, batch, two);
        }
        assertArrayEquals(one, two, model + ": 1 and 2 threads must give identical results");
        float[] ort = onnxRuntime(model, x, batch);
        assertEquals(ort.length, one.length);
        for (int i = 0; i < ort.length; i++) {
            double diff = Math.abs(ort[i] - one[i]);
            assertTrue(diff <= TOLERANCE + TOLERANCE * Math.abs(ort[i]),
                    model + " output " + i + ": Kiln " + one[i] + ", ONNX Runtime " + ort[i]);
        }
    }

    @Test
    void flopsAndShapesMatchModelsJson() throws IOException {
        Path json = Path.of(System.getProperty("kiln.shared.dir", "../../shared"), "models", "models.json");
        String text = Files.readString(json);
        for (BenchModel model : BenchModel.values()) {
            Matcher m = Pattern.compile("\"name\":\\s*\"" + model.id() + "\".*?\"input_shape\":\\s*\\[([^]]*)]"
                    + ".*?\"flops_per_sample\":\\s*(\\d+)", Pattern.DOTALL).matcher(text);
            assertTrue(m.find(), model + " is missing from " + json);
            assertEquals(Long.parseLong(m.group(2)), model.flopsPerSample(), model + " FLOPs per sample");
            String dims = m.group(1).replaceAll("\\s", "").replaceFirst("^\"batch\",", "");
            StringBuilder expected = new StringBuilder();
            for (int d : model.sampleShape()) {
                expected.append(expected.isEmpty() ? "" : ",").append(d);
            }
            assertEquals(dims, expected.toString(), model + " input shape after the batch dim");
        }
    }

    private static float[] onnxRuntime(BenchModel model, float[] x, int batch) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(model.onnxBytes(), OrtModelBench.options(1));
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), model.inputShape(batch));
             OrtSession.Result r = session.run(Map.of(session.getInputNames().iterator().next(), in))) {
            FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
            float[] y = new float[out.remaining()];
            out.get(y);
            return y;
        }
    }
}
