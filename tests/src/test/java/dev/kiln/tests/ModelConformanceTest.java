package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The five anchor models of ../shared/models (exported from PyTorch, opset 13), each on its three test data sets,
 * through the ONNX importer and the reference evaluator: every output within 1e-4 absolute of PyTorch's.
 */
class ModelConformanceTest {
    /** Max abs difference allowed from PyTorch's float32 outputs (summation order differs, values are O(1..10)). */
    private static final double MAX_ABS_DIFF = 1e-4;
    private static final List<String> MODELS = List.of("mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru");
    private static final int DATA_SETS = 3;

    @TestFactory
    Stream<DynamicTest> modelsMatchPyTorch() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String model : MODELS) {
            for (int ds = 0; ds < DATA_SETS; ds++) {
                int set = ds;
                for (OptLevel level : new OptLevel[] {OptLevel.O0, OptLevel.O3}) {
                    tests.add(DynamicTest.dynamicTest(model + " test_data_set_" + set + " -" + level,
                            () -> check(model, set, level)));
                }
            }
        }
        return tests.stream();
    }

    /** At -O3 every pass is also checked numerically on the data set's inputs ({@code --verify}). */
    private static void check(String model, int dataSet, OptLevel level) {
        Path dir = SharedData.model(model);
        Graph imported = OnnxImporter.load(dir.resolve("model.onnx"));
        Path ds = dir.resolve("test_data_set_" + dataSet);
        Map<String, Tensor> feeds = new java.util.LinkedHashMap<>();
        for (int i = 0; i < imported.inputs().size(); i++) {
            feeds.put(imported.inputs().get(i).name(), TensorProtos.read(ds.resolve("input_" + i + ".pb")).tensor());
        }
        Graph graph = PassManager.forLevel(level, new PassOptions(java.util.Set.of(), false, true, System.err)
                .withVerifyInputs(feeds)).run(imported);
        Map<String, Tensor> actual = ReferenceEvaluator.run(graph, feeds);
        for (int i = 0; i < graph.outputs().size(); i++) {
            Value out = graph.outputs().get(i);
            Tensor expected = TensorProtos.read(ds.resolve("output_" + i + ".pb")).tensor();
            Tensor got = actual.get(out.name());
            String what = model + " set " + dataSet + " output '" + out.name() + "'";
            assertEquals(expected.dtype(), got.dtype(), what);
            assertArrayEquals(expected.shape(), got.shape(), what);
            double maxDiff = 0;
            for (int k = 0; k < expected.size(); k++) {
                maxDiff = Math.max(maxDiff, Math.abs(expected.getDouble(k) - got.getDouble(k)));
            }
            assertTrue(maxDiff <= MAX_ABS_DIFF, what + ": max abs diff " + maxDiff + " > " + MAX_ABS_DIFF);
        }
    }
}
