package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.assertTensor;
import static dev.kiln.ir.ops.OpHarness.f32;
import static dev.kiln.ir.ops.OpHarness.shape;
import static dev.kiln.ir.ops.OpHarness.type;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The ai.onnx.ml ops on small cases worked out by hand from the spec (and ONNX Runtime where the spec is silent). */
class MlOpsTest {
    private static final double TOL = 1e-6;

    /** Evaluates ml-domain {@code op} on graph inputs bound to {@code inputs}; checks inferred against actual types. */
    private static List<Tensor> run(String op, Attributes attrs, int outputs, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder("test");
        java.util.Map<String, Tensor> feeds = new java.util.LinkedHashMap<>();
        java.util.List<dev.kiln.ir.Value> in = new java.util.ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            in.add(b.input("in" + i, inputs[i].dtype(), inputs[i].type().shape()));
            feeds.put("in" + i, inputs[i]);
        }
        List<dev.kiln.ir.Value> out = b.op(op).domain(MlOps.DOMAIN).inputs(in).attrs(attrs).outputCount(outputs)
                .build();
        out.forEach(b::output);
        java.util.Map<String, Tensor> result = dev.kiln.ir.ReferenceEvaluator.run(b.build(), feeds);
        List<Tensor> values = List.copyOf(result.values());
        for (int i = 0; i < out.size(); i++) {
            assertEquals(out.get(i).dtype(), values.get(i).dtype(), "dtype of output " + i);
            assertEquals(out.get(i).type().rank(), values.get(i).rank(), "rank of output " + i);
        }
        return values;
    }

    private static Tensor run1(String op, Attributes attrs, Tensor... inputs) {
        return run(op, attrs, 1, inputs).get(0);
    }

    /** Infers the types of ml-domain {@code op}; shape rules fail here. */
    private static void infer(String op, Attributes attrs, int outputs, dev.kiln.ir.TensorType input) {
        GraphBuilder b = new GraphBuilder("test");
        b.op(op).domain(MlOps.DOMAIN).inputs(b.input("x", input.dtype(), input.shape())).attrs(attrs)
                .outputCount(outputs).build();
    }

    private static Tensor strings(String... s) {
        return Tensor.wrapStrings(new int[] {s.length}, s);
    }

    private static Attributes.Builder attrs() {
        return Attributes.builder();
    }

    private static Attributes strs(Attributes.Builder b, String name, String... v) {
        return b.set(name, new Attr.Strs(List.of(v))).build();
    }

    /**
     * Two trees over x = [x0, x1], three classes labelled 10, 20, 30, base values [0, 0.1, 0]:
     * tree 0 splits x0 <= 0.5 into a leaf voting (class 0: 0.5, class 1: 0.25) and one voting (class 2: 1);
     * tree 1 splits x1 < 2 into a leaf voting (class 1: 0.5) and one voting (class 0: -1).
     */
    private static Attributes.Builder twoTreeClassifier(String postTransform) {
        return attrs().s("post_transform", postTransform)
                .ints("nodes_treeids", 0, 0, 0, 1, 1, 1).ints("nodes_nodeids", 0, 1, 2, 0, 1, 2)
                .set("nodes_modes", new Attr.Strs(List.of("BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF")))
                .ints("nodes_featureids", 0, 0, 0, 1, 0, 0).floats("nodes_values", 0.5f, 0, 0, 2, 0, 0)
                .ints("nodes_truenodeids", 1, 0, 0, 1, 0, 0).ints("nodes_falsenodeids", 2, 0, 0, 2, 0, 0)
                .ints("class_treeids", 0, 0, 0, 1, 1).ints("class_nodeids", 1, 1, 2, 1, 2)
                .ints("class_ids", 0, 1, 2, 1, 0).floats("class_weights", 0.5f, 0.25f, 1, 0.5f, -1)
                .ints("classlabels_int64s", 10, 20, 30).floats("base_values", 0, 0.1f, 0);
    }

    @Test
    void treeEnsembleClassifierSumsVotesThenTransforms() {
        // Row [0, 1]: scores [0.5, 0.25 + 0.5 + 0.1, 0] -> label 20; row [1, 3]: [-1, 0.1, 1] -> label 30.
        Tensor x = f32(shape(2, 2), 0, 1, 1, 3);
        List<Tensor> logistic = run("TreeEnsembleClassifier", twoTreeClassifier("LOGISTIC").build(), 2, x);
        assertArrayEquals(new long[] {20, 30}, logistic.get(0).longs());
        assertTensor(shape(2, 3), new double[] {0.62245933, 0.70056714, 0.5, 0.26894142, 0.52497919, 0.73105858},
                logistic.get(1), TOL);
        // SOFTMAX_ZERO keeps the zero score of class 2 in row 0 at 0.
        List<Tensor> softmaxZero = run("TreeEnsembleClassifier", twoTreeClassifier("SOFTMAX_ZERO").build(), 2,
                x);
        assertTensor(shape(2, 3), new double[] {0.41338242, 0.58661758, 0, 0.08777148, 0.26368011, 0.64854841},
                softmaxZero.get(1), TOL);
    }

    @Test
    void classifierLabelIsTheBestOfTheClassesThatScored() {
        // A single-leaf tree voting -2 for class 0 only: classes 1 and 2 have no score, so the label is class 0's.
        Attributes a = attrs().ints("nodes_treeids", 0).ints("nodes_nodeids", 0)
                .set("nodes_modes", new Attr.Strs(List.of("LEAF"))).ints("nodes_featureids", 0).floats("nodes_values", 0)
                .ints("nodes_truenodeids", 0).ints("nodes_falsenodeids", 0).ints("class_treeids", 0)
                .ints("class_nodeids", 0).ints("class_ids", 0).floats("class_weights", -2)
                .ints("classlabels_int64s", 1, 2, 3).build();
        List<Tensor> out = run("TreeEnsembleClassifier", a, 2, f32(shape(1, 1), 7));
        assertArrayEquals(new long[] {1}, out.get(0).longs());
        assertTensor(shape(1, 3), new double[] {-2, 0, 0}, out.get(1), 0);
    }

    @Test
    void binaryClassifierWithVotesForOneClassScoresBothAsOnnxRuntime() {
        // One tree x0 <= 0 ? +0.8 : -0.4, all votes for class 1: mixed signs, LOGISTIC -> [σ(-s), σ(s)].
        Attributes a = attrs().s("post_transform", "LOGISTIC").ints("nodes_treeids", 0, 0, 0)
                .ints("nodes_nodeids", 0, 1, 2).set("nodes_modes", new Attr.Strs(List.of("BRANCH_LEQ", "LEAF", "LEAF")))
                .ints("nodes_featureids", 0, 0, 0).floats("nodes_values", 0, 0, 0).ints("nodes_truenodeids", 1, 0, 0)
                .ints("nodes_falsenodeids", 2, 0, 0).ints("class_treeids", 0, 0).ints("class_nodeids", 1, 2)
                .ints("class_ids", 1, 1).floats("class_weights", 0.8f, -0.4f)
                .set("classlabels_strings", new Attr.Strs(List.of("no", "yes"))).build();
        List<Tensor> out = run("TreeEnsembleClassifier", a, 2, f32(shape(2, 1), -1, 1));
        assertArrayEquals(new String[] {"yes", "no"}, out.get(0).strings());
        assertTensor(shape(2, 2), new double[] {0.31002552, 0.68997448, 0.59868766, 0.40131234}, out.get(1), TOL);
    }

    /** Two one-split trees voting for two targets, base values [1, 2]. */
    private static Attributes.Builder twoTreeRegressor(String aggregate) {
        return attrs().s("aggregate_function", aggregate).i("n_targets", 2)
                .ints("nodes_treeids", 0, 0, 0, 1, 1, 1).ints("nodes_nodeids", 0, 1, 2, 0, 1, 2)
                .set("nodes_modes", new Attr.Strs(List.of("BRANCH_GT", "LEAF", "LEAF", "BRANCH_EQ", "LEAF", "LEAF")))
                .ints("nodes_featureids", 0, 0, 0, 0, 0, 0).floats("nodes_values", 1, 0, 0, 3, 0, 0)
                .ints("nodes_truenodeids", 1, 0, 0, 1, 0, 0).ints("nodes_falsenodeids", 2, 0, 0, 2, 0, 0)
                .ints("nodes_missing_value_tracks_true", 1, 0, 0, 0, 0, 0)
                .ints("target_treeids", 0, 0, 1, 1).ints("target_nodeids", 1, 2, 1, 2).ints("target_ids", 0, 0, 0, 1)
                .floats("target_weights", 4, -2, 6, 10).floats("base_values", 1, 2);
    }

    @Test
    void treeEnsembleRegressorAggregatesPerTarget() {
        // x = 3: tree 0 (3 > 1) votes 4 for target 0, tree 1 (3 == 3) votes 6 for target 0.
        // x = NaN: tree 0 takes its true branch (missing tracks true), tree 1 its false one (10 for target 1).
        Tensor x = f32(shape(2, 1), 3, Double.NaN);
        assertTensor(shape(2, 2), new double[] {11, 2, 5, 12},
                run1("TreeEnsembleRegressor", twoTreeRegressor("SUM").build(), x), TOL);
        assertTensor(shape(2, 2), new double[] {6, 2, 3, 7},
                run1("TreeEnsembleRegressor", twoTreeRegressor("AVERAGE").build(), x), TOL);
        // MIN over the votes a target got; a target nobody voted for is 0 (plus its base value).
        assertTensor(shape(2, 2), new double[] {5, 2, 5, 12},
                run1("TreeEnsembleRegressor", twoTreeRegressor("MIN").build(), x), TOL);
    }

    @Test
    void treeEnsembleSetMembershipAndSingleLeafTrees() {
        // Tree 0: x0 in {1, 4} ? leaf 0 (w 1) : leaf 1 (w 2); tree 1 is leaf 2 alone (w 100, target 1).
        Attributes a = attrs().i("n_targets", 2).ints("tree_roots", 0, 1)
                .tensor("nodes_modes", Tensor.ofLongs(DType.UINT8, shape(2), 6, 0))
                .ints("nodes_featureids", 0, 0).tensor("nodes_splits", f32(shape(2), Double.NaN, 0))
                .ints("nodes_truenodeids", 0, 2).ints("nodes_trueleafs", 1, 1)
                .ints("nodes_falsenodeids", 1, 2).ints("nodes_falseleafs", 1, 1)
                .tensor("membership_values", f32(shape(3), 1, 4, Double.NaN))
                .ints("leaf_targetids", 0, 0, 1).tensor("leaf_weights", f32(shape(3), 1, 2, 100)).build();
        assertTensor(shape(3, 2), new double[] {1, 100, 2, 100, 1, 100},
                run1("TreeEnsemble", a, f32(shape(3, 1), 4, 2, 1)), TOL);
        ShapeException e = assertThrows(ShapeException.class, () -> infer("TreeEnsemble",
                attrs().i("n_targets", 2).ints("tree_roots", 0)
                        .tensor("nodes_modes", Tensor.ofLongs(DType.UINT8, shape(1), 6)).ints("nodes_featureids", 0)
                        .tensor("nodes_splits", f32(shape(1), 0)).ints("nodes_truenodeids", 0)
                        .ints("nodes_trueleafs", 1).ints("nodes_falsenodeids", 0).ints("nodes_falseleafs", 1)
                        .ints("leaf_targetids", 0).tensor("leaf_weights", f32(shape(1), 1)).build(), 1,
                type("f32[2,1]")));
        assertTrue(e.getMessage().contains("membership_values"), e.getMessage());
    }

    @Test
    void linearModelsScoreRowsAgainstCoefficientRows() {
        // [[1, 2], [3, 4]] against rows [0.5, -1] and [2, 0.25] plus [0.1, -0.2]: [[-1.4, 2.3], [-2.4, 6.8]].
        Tensor x = f32(shape(2, 2), 1, 2, 3, 4);
        Attributes.Builder coefficients = attrs().floats("coefficients", 0.5f, -1, 2, 0.25f)
                .floats("intercepts", 0.1f, -0.2f);
        assertTensor(shape(2, 2), new double[] {-1.4, 2.3, -2.4, 6.8},
                run1("LinearRegressor", coefficients.i("targets", 2).build(), x), 1e-6);
        List<Tensor> c = run("LinearClassifier", attrs().floats("coefficients", 0.5f, -1, 2, 0.25f)
                .floats("intercepts", 0.1f, -0.2f).s("post_transform", "SOFTMAX")
                .set("classlabels_strings", new Attr.Strs(List.of("a", "b"))).build(), 2, x);
        assertArrayEquals(new String[] {"b", "b"}, c.get(0).strings());
        assertTensor(shape(2, 2), new double[] {0.0241270214, 0.975872979, 1.01029194e-4, 0.999898971}, c.get(1), TOL);
    }

    @Test
    void normalizerScalerImputerBinarizer() {
        Tensor x = f32(shape(2, 3), 3, -4, 0, 0, 0, 0);
        // L1 divides by 7, L2 by 5, MAX by 3; the zero row stays.
        assertTensor(shape(2, 3), new double[] {3 / 7.0, -4 / 7.0, 0, 0, 0, 0},
                run1("Normalizer", attrs().s("norm", "L1").build(), x), TOL);
        assertTensor(shape(2, 3), new double[] {0.6, -0.8, 0, 0, 0, 0},
                run1("Normalizer", attrs().s("norm", "L2").build(), x), TOL);
        assertTensor(shape(2, 3), new double[] {1, -4 / 3.0, 0, 0, 0, 0},
                run1("Normalizer", Attributes.EMPTY, x), TOL);
        assertTensor(shape(2, 3), new double[] {4, -10, 0, -2, -2, 0},
                run1("Scaler", attrs().floats("offset", 1, 1, 0).floats("scale", 2, 2, 1).build(), x), TOL);
        Tensor missing = f32(shape(2, 2), Double.NaN, 1, 2, Double.NaN);
        assertTensor(shape(2, 2), new double[] {-1, 1, 2, -2}, run1("Imputer", attrs()
                .floats("imputed_value_floats", -1, -2).f("replaced_value_float", Float.NaN).build(), missing), TOL);
        Tensor ints = Tensor.ofLongs(DType.INT64, shape(3), 0, 5, 0);
        assertArrayEquals(new long[] {9, 5, 9}, run1("Imputer", attrs().ints("imputed_value_int64s", 9).build(),
                ints).longs());
        assertArrayEquals(new long[] {0, 1, 0}, run1("Binarizer", attrs().f("threshold", 4).build(), ints).longs());
    }

    @Test
    void oneHotEncoderAndArrayFeatureExtractor() {
        Tensor y = run1("OneHotEncoder", strs(attrs(), "cats_strings", "a", "b", "c"), strings("c", "z", "a"));
        assertTensor(shape(3, 3), new double[] {0, 0, 1, 0, 0, 0, 1, 0, 0}, y, 0);
        // Floats are truncated to integer categories.
        assertTensor(shape(2, 2), new double[] {0, 1, 1, 0},
                run1("OneHotEncoder", attrs().ints("cats_int64s", 1, 2).build(), f32(shape(2), 2.7, 1.2)), 0);
        assertThrows(dev.kiln.ir.InputException.class, () -> run1("OneHotEncoder",
                strs(attrs().i("zeros", 0), "cats_strings", "a"), strings("b")));
        // 1-D X gives [1, count].
        Tensor z = run1("ArrayFeatureExtractor", Attributes.EMPTY, strings("p", "q", "r"),
                Tensor.ofInt64s(2, 0));
        assertArrayEquals(new int[] {1, 2}, z.shape());
        assertArrayEquals(new String[] {"r", "p"}, z.strings());
    }

    @Test
    void labelEncoderMatchesNanKeysAndKeepsTheLastOfRepeatedKeys() {
        Attributes a = attrs().floats("keys_floats", Float.NaN, 1, 1).floats("values_floats", 7, 8, 9)
                .f("default_float", -5).build();
        assertTensor(shape(4), new double[] {7, 9, -5, -5},
                run1("LabelEncoder", a, f32(shape(4), Double.NaN, 1, 2, -0.0)), 0);
        // values_tensor without default_tensor: the type's default, -1 for integers.
        Attributes t = attrs().set("keys_strings", new Attr.Strs(List.of("x")))
                .tensor("values_tensor", Tensor.ofLongs(DType.INT32, shape(1), 3)).build();
        Tensor y = run1("LabelEncoder", t, strings("x", "y"));
        assertEquals(DType.INT32, y.dtype());
        assertArrayEquals(new long[] {3, -1}, y.longs());
        ShapeException e = assertThrows(ShapeException.class, () -> infer("LabelEncoder",
                attrs().ints("keys_int64s", 1).floats("values_floats", 1, 2).build(), 1, type("i64[2]")));
        assertTrue(e.getMessage().contains("1 keys but 2 values"), e.getMessage());
    }

    @Test
    void linearClassifierWithOneScoreColumnForTwoClassesIsRefused() {
        GraphBuilder b = new GraphBuilder("g");
        var x = b.input("x", DType.FLOAT32, dev.kiln.ir.Shape.of(2, 2));
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class, () -> b.op("LinearClassifier")
                .domain(MlOps.DOMAIN).inputs(x).attrs(attrs().floats("coefficients", 1, 2).ints("classlabels_ints", 0, 1).build())
                .outputCount(2).build());
        assertTrue(e.getMessage().contains("single score column"), e.getMessage());
    }
}
