package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.passes.BlockedLayout;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.Pass;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.Pipeline;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * cifar_cnn at -O3 with the blocked-layout pass before weight-layout (as -Dkiln.blockedLayout=true runs it):
 * verified pass by pass against the reference evaluator, then generated and run on the test data sets.
 */
class BlockedLayoutModelsTest {
    @Test
    void cifarCnnWithBlockedActivationsMatchesPyTorch() throws Exception {
        Path dir = SharedData.model("cifar_cnn");
        List<Pass> passes = new ArrayList<>();
        for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
            if (p.name().equals("weight-layout") && passes.stream().noneMatch(q -> q.name().equals("blocked-layout"))) {
                passes.add(new BlockedLayout());
            }
            if (!p.name().equals("blocked-layout")) {
                passes.add(p);
            }
        }
        PassOptions verify = new PassOptions(java.util.Set.of(), false, true, System.err);
        Graph graph = new PassManager(passes, verify).run(OnnxImporter.load(dir.resolve("model.onnx")));
        assertTrue(graph.nodes().stream().anyMatch(n -> n.op().equals("BlockedConv")), graph.toString());
        Class<?> cls = InProcessCompiler.load(CodeGenerator.generate(graph, new CodegenOptions("models",
                "CifarCnnNchwc", 1, "cifar_cnn.onnx")));
        Object model = cls.getMethod("load").invoke(null);
        for (int set = 0; set < 3; set++) {
            Path ds = dir.resolve("test_data_set_" + set);
            Tensor x = TensorProtos.read(ds.resolve("input_0.pb")).tensor();
            Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
            float[] actual = (float[]) cls.getMethod("run", float[].class, int.class).invoke(model, x.toFloatArray(), x.dim(0));
            assertEquals(expected.size(), actual.length);
            double max = 0;
            for (int i = 0; i < actual.length; i++) {
                max = Math.max(max, Math.abs(actual[i] - expected.getDouble(i)));
            }
            assertTrue(max <= CodegenModelsTest.MAX_ABS_DIFF, "set " + set + ": max abs diff " + max);
        }
    }
}
