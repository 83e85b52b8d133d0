package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.cli.CaseResult;
import dev.kiln.cli.ConformanceRunner;
import dev.kiln.cli.Tolerance;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * ONNX's own backend tests (node, simple, pytorch-operator) on the reference evaluator, with ONNX's tolerance
 * ({@link Tolerance#ONNX_BACKEND}). No case may FAIL. A case may be SKIPPED (unsupported) only when none of its
 * ops is in {@link #REQUIRED_OPS}, or when it is listed with its reason in {@code excused-skips.txt} — so a
 * required op never loses a case silently — and every listed case must still exist and still be skipped.
 */
class OnnxBackendConformanceTest {
    /** Ops Kiln commits to supporting fully: every backend case using one of them must run. */
    static final Set<String> REQUIRED_OPS = Set.of(
            "Gemm", "MatMul", "Add", "Relu", "Conv", "MaxPool", "Reshape", "Flatten", "LogSoftmax", "Constant",
            "Transpose", "Squeeze", "Unsqueeze", "Gather", "Shape", "Concat", "ConstantOfShape", "LSTM", "GRU",
            "Sub", "Mul", "Div", "Neg", "Abs", "Exp", "Log", "Sqrt", "Pow", "Sigmoid", "Tanh", "LeakyRelu", "Elu",
            "Selu", "PRelu", "Softplus", "Clip", "HardSigmoid", "Softmax", "AveragePool", "GlobalAveragePool",
            "GlobalMaxPool", "BatchNormalization", "Dropout", "Identity", "Pad", "Split", "Slice", "Sum", "Max",
            "Min", "Mean", "ReduceMean", "ReduceSum", "ReduceMax", "Cast", "Expand", "Where", "Equal", "Less",
            "Greater", "Not", "Tile", "ConvTranspose", "LRN", "Erf", "Gelu", "Attention", "RotaryEmbedding",
            "HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix", "DFT", "STFT", "GridSample",
            "AffineGrid", "SwiGLU", "TensorScatter", "LinearAttention", "CausalConvWithState", "NonMaxSuppression",
            "RoiAlign", "CenterCropPad", "Col2Im", "Det", "Unique", "StringNormalizer", "StringSplit", "StringConcat",
            "RegexFullMatch", "TfIdfVectorizer", "ai.onnx.ml.LabelEncoder", "ai.onnx.ml.Binarizer",
            "ai.onnx.ml.ArrayFeatureExtractor", "ai.onnx.ml.TreeEnsemble", "CastLike", "QuantizeLinear",
            "DequantizeLinear", "DeformConv", "Bernoulli", "RandomUniformLike", "RandomNormalLike", "RandomUniform",
            "RandomNormal", "Gradient", "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt",
            "SequenceErase", "SequenceLength", "ConcatFromSequence", "SplitToSequence", "Optional", "OptionalHasElement",
            "OptionalGetElement", "If", "Loop", "Scan");
    private static final List<String> SUITES = List.of("node", "simple", "pytorch-operator");
    private static final String EXCUSED = "/excused-skips.txt";

    private static Map<String, List<CaseResult>> resultsBySuite;
    private static Map<String, String> excused;

    @BeforeAll
    static void runSuites() throws IOException {
        ConformanceRunner runner = new ConformanceRunner(Tolerance.ONNX_BACKEND);
        resultsBySuite = new LinkedHashMap<>();
        for (String suite : SUITES) {
            resultsBySuite.put(suite, runner.runAll(List.of(SharedData.onnxSuite(suite)), r -> { }));
        }
        excused = readExcused();
    }

    @TestFactory
    Stream<DynamicNode> everyCasePassesOrIsLegitimatelySkipped() {
        List<DynamicNode> suites = new ArrayList<>();
        resultsBySuite.forEach((suite, results) -> suites.add(DynamicContainer.dynamicContainer(suite,
                results.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> check(r))))));
        return suites.stream();
    }

    private static void check(CaseResult r) {
        switch (r.status()) {
            case PASS -> { }
            case FAIL -> fail(r.line());
            case SKIP -> {
                SortedSet<String> required = new TreeSet<>(r.ops());
                required.retainAll(REQUIRED_OPS);
                if (!required.isEmpty() && !excused.containsKey(r.name())) {
                    fail(r.name() + " uses required op(s) " + required + " but was skipped: " + r.detail()
                            + " (implement it, or list the case with the reason in src/test/resources" + EXCUSED + ")");
                }
            }
        }
    }

    @Test
    void suitesAreComplete() {
        // The counts of the checked-in ONNX 1.16 backend test data; a smaller number means cases went missing.
        assertTrue(resultsBySuite.get("node").size() > 1500, "node cases: " + resultsBySuite.get("node").size());
        assertTrue(resultsBySuite.get("simple").size() >= 20, "simple cases: " + resultsBySuite.get("simple").size());
        assertTrue(resultsBySuite.get("pytorch-operator").size() >= 30,
                "pytorch-operator cases: " + resultsBySuite.get("pytorch-operator").size());
    }

    @Test
    void everyExcusedCaseIsStillSkipped() {
        Map<String, CaseResult> byName = new LinkedHashMap<>();
        resultsBySuite.values().forEach(rs -> rs.forEach(r -> byName.put(r.name(), r)));
        List<String> stale = new ArrayList<>();
        excused.forEach((name, reason) -> {
            CaseResult r = byName.get(name);
            if (r == null) {
                stale.add(name + ": no such case");
            } else if (r.status() != CaseResult.Status.SKIP) {
                stale.add(name + ": now " + r.status() + ", remove it from the list");
            }
        });
        assertEquals(List.of(), stale, "stale entries in " + EXCUSED);
    }

    /** {@code suite/case  reason} per line; blank lines and lines starting with # are comments. */
    private static Map<String, String> readExcused() throws IOException {
        Map<String, String> map = new LinkedHashMap<>();
        try (InputStream in = OnnxBackendConformanceTest.class.getResourceAsStream(EXCUSED)) {
            assertNotEquals(null, in, EXCUSED + " is missing");
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            while ((line = reader.readLine()) != null) {
                String t = line.strip();
                if (t.isEmpty() || t.startsWith("#")) {
                    continue;
                }
                String[] parts = t.split("\\s+", 2);
                assertEquals(2, parts.length, EXCUSED + ": every entry needs a reason: " + line);
                map.put(parts[0], parts[1]);
            }
        }
        return map;
    }
}
