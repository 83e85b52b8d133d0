package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The reference models compiled to Java at -O3, compiled in process and run on every test data set: the
 * generated class must reproduce PyTorch's outputs within {@link #MAX_ABS_DIFF}, and give the same bits with two
 * threads as with one.
 */
class CodegenModelsTest {
    /** float32 kernels with their own summation order against PyTorch's; outputs are O(1..10). */
    static final double MAX_ABS_DIFF = 1e-4;
    static final List<String> MODELS = List.of("mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru");

    @TestFactory
    Stream<DynamicTest> generatedClassesMatchPyTorch() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String model : MODELS) {
            tests.add(DynamicTest.dynamicTest(model, () -> check(model)));
        }
        return tests.stream();
    }

    private static void check(String model) throws Exception {
        Path dir = SharedData.model(model);
        Graph graph = PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(OnnxImporter.load(dir.resolve("model.onnx")));
        Model one = Model.compile(graph, model, 1);
        Model two = Model.compile(graph, model, 2);
        try (AutoCloseable closeTwo = (AutoCloseable) two.instance()) {
            for (int set = 0; set < 3; set++) {
                Path ds = dir.resolve("test_data_set_" + set);
                Tensor x = TensorProtos.read(ds.resolve("input_0.pb")).tensor();
                Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
                float[] actual = one.run(x);
                assertEquals(expected.size(), actual.length, model + " set " + set);
                double max = 0;
                for (int i = 0; i < actual.length; i++) {
                    max = Math.max(max, Math.abs(actual[i] - expected.getDouble(i)));
                }
                assertTrue(max <= MAX_ABS_DIFF, model + " set " + set + " (batch " + x.dim(0) + "): max abs diff " + max);
                assertArrayEquals(actual, two.run(x), model + " set " + set + ": 2 threads must give the same bits as 1");
            }
        }
    }

    /** A compiled generated class and one instance of it. */
    private record Model(Object instance, Method run) {
        static Model compile(Graph graph, String model, int threads) throws ReflectiveOperationException {
            Class<?> cls = InProcessCompiler.load(CodeGenerator.generate(graph, new CodegenOptions("models",
                    ReferenceNames.className(model) + "T" + threads, threads, model + ".onnx")));
            return new Model(cls.getMethod("load").invoke(null), cls.getMethod("run", float[].class, int.class));
        }

        float[] run(Tensor x) throws ReflectiveOperationException {
            return (float[]) run.invoke(instance, x.toFloatArray(), x.dim(0));
        }
    }
}
