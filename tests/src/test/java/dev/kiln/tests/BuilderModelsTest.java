package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.onnx.TensorProtos;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reference models written with the builder ({@link ReferenceModels}), loaded with the weights of the
 * PyTorch exports in {@code ../shared/models}, are the same graphs as the imports of those exports: same ops
 * in the same order with the same attributes, names and types. Evaluated on every test data set, they give
 * bit-identical outputs to the imported graphs (the reference evaluator runs the same nodes on the same
 * numbers), and match PyTorch's recorded outputs within 1e-5.
 */
class BuilderModelsTest {
    private static final Path MODELS = Path.of(System.getProperty("kiln.shared.dir"), "models");

    /** PyTorch computes in float32 with its own summation order; the evaluator in double, rounded per op. */
    private static final double TORCH_TOLERANCE = 1e-5;

    static Stream<Arguments> dataSets() {
        List<Arguments> cases = new ArrayList<>();
        for (String model : List.of("mlp", "mnist_cnn", "lstm", "gru")) {
            for (int set = 0; set < 3; set++) {
                cases.add(Arguments.of(model, set));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} test_data_set_{1}")
    @MethodSource("dataSets")
    void builderModelComputesExactlyWhatTheImportComputes(String model, int set) {
        Graph imported = OnnxImporter.load(MODELS.resolve(model).resolve("model.onnx"));
        Graph built = build(model, imported);
        Path dir = MODELS.resolve(model).resolve("test_data_set_" + set);
        Tensor x = TensorProtos.read(dir.resolve("input_0.pb")).tensor();
        Tensor expected = TensorProtos.read(dir.resolve("output_0.pb")).tensor();

        Tensor fromImport = ReferenceEvaluator.run(imported, Map.of(imported.inputs().get(0).name(), x)).get("output");
        Tensor fromBuilder = ReferenceEvaluator.run(built, Map.of("input", x)).get("output");

        assertEquals(fromImport, fromBuilder, "op-for-op identical graphs must give identical outputs");
        double err = maxAbsDiff(fromBuilder, expected);
        assertTrue(err <= TORCH_TOLERANCE, model + " set " + set + ": max |builder - PyTorch| = " + err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "mnist_cnn", "lstm", "gru"})
    void builderGraphIsOpForOpTheImportedGraph(String model) {
        Graph imported = OnnxImporter.load(MODELS.resolve(model).resolve("model.onnx"));
        Graph built = build(model, imported);
        assertEquals(describe(imported, model), describe(built, model));
    }

    /**
     * The PyTorch state dicts of the training references ({@code train_ref/<run>/params_*}, one TensorProto
     * per parameter named as in {@code model.state_dict()}) load into the builder's models by name, and give
     * the losses PyTorch recorded before steps 1 and 2 (mean cross-entropy of the batch {@code x.pb} against
     * {@code target.pb}).
     */
    @ParameterizedTest
    @ValueSource(strings = {"mlp_adam/params_init:0", "mlp_adam/params_step1:1", "mnist_cnn_sgd/params_init:0",
            "mnist_cnn_sgd/params_step1:1"})
    void pyTorchStateDictsLoadByNameAndReproduceTheRecordedLoss(String spec) throws IOException {
        String[] parts = spec.split(":");
        Path params = MODELS.resolve("train_ref").resolve(parts[0]);
        Path run = params.getParent();
        Map<String, Tensor> stateDict = new HashMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(params, "*.pb")) {
            for (Path f : files) {
                stateDict.put(f.getFileName().toString().replaceFirst("\\.pb$", ""), TensorProtos.read(f).tensor());
            }
        }
        boolean mlp = run.getFileName().toString().startsWith("mlp");
        ModelBuilder m = ModelBuilder.withWeights("ref", stateDict);
        Graph g = mlp ? ReferenceModels.mlp(m, "N") : ReferenceModels.mnistCnn(m, "N");
        Tensor x = TensorProtos.read(run.resolve("x.pb")).tensor();
        Tensor target = TensorProtos.read(run.resolve("target.pb")).tensor();
        Tensor y = ReferenceEvaluator.run(g, Map.of("input", x)).get("output");

        double loss = 0;
        int classes = y.dim(1);
        for (int r = 0; r < y.dim(0); r++) {
            // MLP gives logits (the reference trains it with cross_entropy); the CNN log-probabilities (nll_loss).
            double logSumExp = 0;
            if (mlp) {
                for (int c = 0; c < classes; c++) {
                    logSumExp += Math.exp(y.getDouble(r * classes + c));
                }
                logSumExp = Math.log(logSumExp);
            }
            loss += logSumExp - y.getDouble(r * classes + (int) target.getLong(r));
        }
        loss /= y.dim(0);
        double recorded = recordedLoss(run.resolve("losses.json"), Integer.parseInt(parts[1]));
        assertEquals(recorded, loss, 1e-5, spec);
    }

    private static double recordedLoss(Path lossesJson, int step) throws IOException {
        Matcher list = Pattern.compile("\"loss_before_step\"\\s*:\\s*\\[([^\\]]*)]")
                .matcher(Files.readString(lossesJson));
        assertTrue(list.find(), "no loss_before_step in " + lossesJson);
        return Double.parseDouble(list.group(1).split(",")[step].strip());
    }

    /** The builder's version of {@code model}, with the import's initializers as its weights. */
    private static Graph build(String model, Graph imported) {
        String batch = imported.inputs().get(0).shape().dim(0).toString();
        ModelBuilder m = ModelBuilder.withWeights("torch_jit", weights(model, imported));
        return switch (model) {
            case "mlp" -> ReferenceModels.mlp(m, batch);
            case "mnist_cnn" -> ReferenceModels.mnistCnn(m, batch);
            case "lstm" -> ReferenceModels.rnnClassifier(m, batch, true);
            case "gru" -> ReferenceModels.rnnClassifier(m, batch, false);
            default -> throw new IllegalArgumentException(model);
        };
    }

    /**
     * The import's initializers by name. PyTorch names the Linear and Conv parameters as the builder does
     * ({@code fc1.weight}); the recurrent ones get exporter names ({@code onnx::LSTM_109}), which are mapped to
     * the builder's {@code rnn.W/R/B} by the LSTM/GRU input they feed.
     */
    private static Map<String, Tensor> weights(String model, Graph imported) {
        Map<String, Tensor> byName = new HashMap<>();
        imported.initializers().forEach((v, t) -> byName.put(v.name(), t));
        for (Node n : imported.nodes()) {
            if (n.op().equals("LSTM") || n.op().equals("GRU")) {
                String[] roles = {"rnn.W", "rnn.R", "rnn.B"};
                for (int i = 0; i < roles.length; i++) {
                    byName.put(roles[i], byName.remove(n.input(i + 1).name()));
                }
            }
        }
        return byName;
    }

    /**
     * One line per node: op, attributes, input and output types, and the input names of parameters; node and
     * value names only where PyTorch's names are reproducible (the recurrent models' exporter-generated
     * {@code onnx::*} names are not).
     */
    private static List<String> describe(Graph g, String model) {
        boolean exactNames = !model.equals("lstm") && !model.equals("gru");
        List<String> lines = new ArrayList<>();
        lines.add("inputs " + g.inputs().stream().map(Value::toString).toList());
        lines.add("outputs " + g.outputs().stream().map(Value::toString).toList());
        if (exactNames) {
            lines.add("initializers " + g.initializers().keySet().stream().map(Value::toString).toList());
        }
        for (Node n : g.nodes()) {
            StringBuilder sb = new StringBuilder(n.op()).append(' ').append(n.attributes().asMap());
            for (Value in : n.inputs()) {
                sb.append(" in:").append(in.isAbsent() ? "_" : in.type());
                if (g.isInitializer(in) && exactNames) {
                    sb.append('=').append(in.name());
                }
            }
            for (Value out : n.outputs()) {
                sb.append(" out:").append(out.isAbsent() ? "_" : (exactNames ? out.name() + ":" : "") + out.type());
            }
            if (exactNames) {
                sb.append(" # ").append(n.name());
            }
            lines.add(sb.toString());
        }
        return lines;
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        assertEquals(a.type(), b.type());
        double max = 0;
        for (int i = 0; i < a.size(); i++) {
            max = Math.max(max, Math.abs(a.getDouble(i) - b.getDouble(i)));
        }
        return max;
    }
}
