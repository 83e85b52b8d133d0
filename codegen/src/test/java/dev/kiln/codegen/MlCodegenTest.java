package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.MlOps;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The ai.onnx.ml ops and string ops that ONNX's backend tests do not cover, in generated code, each output compared
 * with the reference evaluator: a scikit-learn-like pipeline (Imputer, Scaler, Normalizer, OneHotEncoder,
 * LinearRegressor, LinearClassifier, tree ensembles) and a text one (StringNormalizer, StringSplit, LabelEncoder).
 */
class MlCodegenTest {
    private static GraphBuilder.NodeSpec ml(GraphBuilder b, String op, Attributes a, Value... in) {
        return b.op(op).domain(MlOps.DOMAIN).inputs(in).attrs(a);
    }

    private static Attributes.Builder attrs() {
        return Attributes.builder();
    }

    private static Graph pipeline() {
        GraphBuilder b = new GraphBuilder("pipeline");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("4,3"));
        Value cat = b.input("cat", DType.STRING, Shape.parse("4"));
        Value filled = ml(b, "Imputer", attrs().floats("imputed_value_floats", 1, 2, 3)
                .f("replaced_value_float", Float.NaN).build(), x).outputNames("filled").output();
        Value scaled = ml(b, "Scaler", attrs().floats("offset", 0.5f).floats("scale", 2, 1, 0.5f).build(), filled)
                .outputNames("scaled").output();
        Value l2 = ml(b, "Normalizer", attrs().s("norm", "L2").build(), scaled).outputNames("l2").output();
        Value hot = ml(b, "OneHotEncoder", attrs().set("cats_strings", new Attr.Strs(List.of("a", "b"))).build(), cat)
                .outputNames("hot").output();
        Value reg = ml(b, "LinearRegressor", attrs().floats("coefficients", 1, -2, 0.5f, 3, 0, 1)
                .floats("intercepts", 0.25f, -1).i("targets", 2).s("post_transform", "LOGISTIC").build(), l2)
                .outputNames("reg").output();
        List<Value> cls = ml(b, "LinearClassifier", attrs().floats("coefficients", 1, -2, 0.5f, 3, 0, 1, -1, -1, -1)
                .ints("classlabels_ints", 7, 8, 9).s("post_transform", "SOFTMAX").build(), scaled)
                .outputNames("label", "proba").build();
        List<Value> trees = ml(b, "TreeEnsembleClassifier", attrs().s("post_transform", "SOFTMAX_ZERO")
                .ints("nodes_treeids", 0, 0, 0, 1, 1, 1).ints("nodes_nodeids", 0, 1, 2, 0, 1, 2)
                .set("nodes_modes", new Attr.Strs(List.of("BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_GTE", "LEAF", "LEAF")))
                .ints("nodes_featureids", 0, 0, 0, 2, 0, 0).floats("nodes_values", 0.5f, 0, 0, 1, 0, 0)
                .ints("nodes_truenodeids", 1, 0, 0, 1, 0, 0).ints("nodes_falsenodeids", 2, 0, 0, 2, 0, 0)
                .ints("nodes_missing_value_tracks_true", 1, 0, 0, 0, 0, 0)
                .ints("class_treeids", 0, 0, 1, 1).ints("class_nodeids", 1, 2, 1, 2).ints("class_ids", 0, 1, 1, 2)
                .floats("class_weights", 0.5f, 1, 0.25f, 2)
                .set("classlabels_strings", new Attr.Strs(List.of("low", "mid", "high"))).build(), x)
                .outputNames("tree_label", "tree_scores").build();
        Value forest = ml(b, "TreeEnsembleRegressor", attrs().s("aggregate_function", "AVERAGE").i("n_targets", 1)
                .ints("nodes_treeids", 0, 0, 0).ints("nodes_nodeids", 0, 1, 2)
                .set("nodes_modes", new Attr.Strs(List.of("BRANCH_LT", "LEAF", "LEAF")))
                .ints("nodes_featureids", 1, 0, 0).floats("nodes_values", 0, 0, 0)
                .ints("nodes_truenodeids", 1, 0, 0).ints("nodes_falsenodeids", 2, 0, 0)
                .ints("target_treeids", 0, 0).ints("target_nodeids", 1, 2).ints("target_ids", 0, 0)
                .floats("target_weights", -3, 4).floats("base_values", 0.5f).build(), x)
                .outputNames("forest").output();
        Value bin = ml(b, "Binarizer", attrs().f("threshold", 0.5f).build(), x).outputNames("bin").output();
        b.output(l2).output(hot).output(reg).output(cls.get(0)).output(cls.get(1)).output(trees.get(0))
                .output(trees.get(1)).output(forest).output(bin);
        return b.build();
    }

    private static Graph text() {
        GraphBuilder b = new GraphBuilder("text");
        Value words = b.input("words", DType.STRING, Shape.parse("4"));
        Value kept = b.op("StringNormalizer").inputs(words).attrs(attrs().s("case_change_action", "LOWER")
                .set("stopwords", new Attr.Strs(List.of("THE"))).build()).outputNames("kept").output();
        List<Value> parts = b.op("StringSplit").inputs(kept).attrs(attrs().s("delimiter", "-").build())
                .outputNames("parts", "counts").build();
        Value ids = ml(b, "LabelEncoder", attrs().set("keys_strings", new Attr.Strs(List.of("a", "b", "c")))
                .ints("values_int64s", 1, 2, 3).build(), parts.get(0)).outputNames("ids").output();
        b.output(parts.get(1)).output(ids);
        return b.build();
    }

    private static void assertMatches(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            switch (e.dtype().kind()) {
                case STRING -> assertArrayEquals(e.strings(), a.strings(), name);
                case FLOAT -> assertArrayEquals(e.toDoubleArray(), a.toDoubleArray(), 1e-6, name);
                default -> assertArrayEquals(e.toLongArray(), a.toLongArray(), name);
            }
        });
    }

    @Test
    void mlPipelineMatchesTheEvaluator() {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("x", Tensor.ofDoubles(DType.FLOAT32, new int[] {4, 3}, 0.25, Double.NaN, 2, 1, -1, 0, Double.NaN,
                3, 1.5, 0.5, 0, -2));
        feeds.put("cat", Tensor.wrapStrings(new int[] {4}, new String[] {"b", "a", "z", "b"}));
        assertMatches(pipeline(), feeds);
    }

    @Test
    void textPipelineMatchesTheEvaluator() {
        Map<String, Tensor> feeds = Map.of("words", Tensor.wrapStrings(new int[] {4},
                new String[] {"A-b", "the", "C-A-x", "B"}));
        Graph g = text();
        // The model declares what the data gives: 3 words kept, split into at most 3 parts.
        assertMatches(declared(g, feeds), feeds);
    }

    /** The graph with its data-dependent dims fixed to what the evaluator computes for {@code feeds}. */
    private static Graph declared(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        GraphBuilder b = new GraphBuilder("text");
        Value words = b.input("words", DType.STRING, Shape.parse("4"));
        b.declareShape("kept", Shape.of(3));
        b.declareShape("parts", Shape.of(expected.get("ids").shape()[0], expected.get("ids").shape()[1]));
        Value kept = b.op("StringNormalizer").inputs(words).attrs(attrs().s("case_change_action", "LOWER")
                .set("stopwords", new Attr.Strs(List.of("THE"))).build()).outputNames("kept").output();
        List<Value> parts = b.op("StringSplit").inputs(kept).attrs(attrs().s("delimiter", "-").build())
                .outputNames("parts", "counts").build();
        Value ids = ml(b, "LabelEncoder", attrs().set("keys_strings", new Attr.Strs(List.of("a", "b", "c")))
                .ints("values_int64s", 1, 2, 3).build(), parts.get(0)).outputNames("ids").output();
        return b.output(parts.get(1)).output(ids).build();
    }

    @Test
    void undeclaredDataDependentCountsAreRefusedNamingTheNode() {
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> GeneratedExecutor.compile(text(), 1));
        assertTrue(e.getMessage().contains("StringNormalizer") && e.getMessage().contains("static dims"), e.getMessage());
    }
}
