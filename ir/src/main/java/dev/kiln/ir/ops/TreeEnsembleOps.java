package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tree ensembles of ai.onnx.ml: TreeEnsemble (opset 5: node arrays indexed directly, leaves apart, set membership
 * splits, integer enums) and the classic TreeEnsembleRegressor and TreeEnsembleClassifier (opsets 1 and 3: nodes
 * named by tree and node id, leaves among them, votes listed by tree and node id), which scikit-learn exports still
 * use. All three are read into a {@link TreeEnsembleModel}.
 */
public final class TreeEnsembleOps {
    private TreeEnsembleOps() {}

    private static final List<String> LEGACY_MODES = List.of("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
            "BRANCH_EQ", "BRANCH_NEQ");
    private static final List<String> AGGREGATES = List.of("AVERAGE", "SUM", "MIN", "MAX");
    private static final List<DType> INPUTS = List.of(DType.FLOAT32, DType.FLOAT64, DType.INT64, DType.INT32);

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("TreeEnsemble").domain(MlOps.DOMAIN).since(5)
                .doc("Sends each row of X [N, F] down every tree (branch nodes compare one feature with a split or "
                        + "test set membership), aggregates the reached leaves' weights per target (AVERAGE, SUM, "
                        + "MIN, MAX) and applies post_transform: Y [N, n_targets] in X's float type.")
                .inputs("X").outputs("Y")
                .attrInt("aggregate_function", 1, "0 AVERAGE, 1 SUM, 2 MIN, 3 MAX")
                .requiredAttr("leaf_targetids", AttrType.INTS, "the target of each leaf")
                .requiredAttr("leaf_weights", AttrType.TENSOR, "the weight of each leaf")
                .optionalAttr("membership_values", AttrType.TENSOR, "the sets of the BRANCH_MEMBER nodes in node "
                        + "order, each ended by a NaN")
                .optionalAttr("n_targets", AttrType.INT, "the number of targets")
                .requiredAttr("nodes_falseleafs", AttrType.INTS, "1 where the false child is a leaf")
                .requiredAttr("nodes_falsenodeids", AttrType.INTS, "the false child (a node or leaf index)")
                .requiredAttr("nodes_featureids", AttrType.INTS, "the feature each node tests")
                .optionalAttr("nodes_hitrates", AttrType.TENSOR, "popularity of each node (unused)")
                .optionalAttr("nodes_missing_value_tracks_true", AttrType.INTS, "1 where NaN takes the true branch")
                .requiredAttr("nodes_modes", AttrType.TENSOR, "uint8 per node: 0 BRANCH_LEQ, 1 BRANCH_LT, "
                        + "2 BRANCH_GTE, 3 BRANCH_GT, 4 BRANCH_EQ, 5 BRANCH_NEQ, 6 BRANCH_MEMBER")
                .requiredAttr("nodes_splits", AttrType.TENSOR, "the threshold of each node")
                .requiredAttr("nodes_trueleafs", AttrType.INTS, "1 where the true child is a leaf")
                .requiredAttr("nodes_truenodeids", AttrType.INTS, "the true child (a node or leaf index)")
                .attrInt("post_transform", 0, "0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT")
                .requiredAttr("tree_roots", AttrType.INTS, "the root node of each tree")
                .shape(ctx -> {
                    DType t = ctx.inputDtype(0);
                    if (t != DType.FLOAT32 && t != DType.FLOAT64 && t != DType.FLOAT16) {
                        throw ctx.fail("X must be float, double or float16, not " + t);
                    }
                    Dim n = rows(ctx);
                    TreeEnsembleModel m = model(ctx);
                    return List.of(new TensorType(t, Shape.of(n, Dim.of(m.targets()))));
                })
                .eval(ctx -> List.of(regress(ctx, ctx.input(0).dtype())))
                .build());

        OpDef.Builder regressor = OpDef.builder("TreeEnsembleRegressor").domain(MlOps.DOMAIN).since(3)
                .doc("The classic tree ensemble regressor: per row of X [N, F], the reached leaves' target weights "
                        + "aggregated per target plus base_values, then post_transform, as float32 [N, n_targets].")
                .inputs("X").outputs("Y")
                .attrString("aggregate_function", "SUM", "AVERAGE, SUM, MIN or MAX")
                .optionalAttr("n_targets", AttrType.INT, "the number of targets")
                .optionalAttr("target_ids", AttrType.INTS, "the target of each vote")
                .optionalAttr("target_nodeids", AttrType.INTS, "the leaf node id of each vote")
                .optionalAttr("target_treeids", AttrType.INTS, "the tree id of each vote")
                .optionalAttr("target_weights", AttrType.FLOATS, "the weight of each vote")
                .optionalAttr("target_weights_as_tensor", AttrType.TENSOR, "the weights as doubles");
        r.add(legacyNodes(regressor)
                .shape(ctx -> {
                    requireInput(ctx);
                    Dim n = rows(ctx);
                    TreeEnsembleModel m = model(ctx);
                    return List.of(new TensorType(DType.FLOAT32, Shape.of(n, Dim.of(m.targets()))));
                })
                .eval(ctx -> List.of(regress(ctx, DType.FLOAT32)))
                .build());

        OpDef.Builder classifier = OpDef.builder("TreeEnsembleClassifier").domain(MlOps.DOMAIN).since(3)
                .doc("The classic tree ensemble classifier: per row of X [N, F], the reached leaves' class weights "
                        + "summed per class plus base_values, then post_transform (Z [N, classes], float32), and the "
                        + "label of the highest score (Y). Two classes with votes for one class only score that "
                        + "class s and the other 1 - s (all weights >= 0) or -s, as ONNX Runtime does.")
                .inputs("X").outputs("Y", "Z?")
                .optionalAttr("class_ids", AttrType.INTS, "the class of each vote")
                .optionalAttr("class_nodeids", AttrType.INTS, "the leaf node id of each vote")
                .optionalAttr("class_treeids", AttrType.INTS, "the tree id of each vote")
                .optionalAttr("class_weights", AttrType.FLOATS, "the weight of each vote")
                .optionalAttr("class_weights_as_tensor", AttrType.TENSOR, "the weights as doubles")
                .optionalAttr("classlabels_int64s", AttrType.INTS, "integer class labels")
                .optionalAttr("classlabels_strings", AttrType.STRINGS, "string class labels");
        r.add(legacyNodes(classifier)
                .shape(ctx -> {
                    requireInput(ctx);
                    Dim n = rows(ctx);
                    Tensor labels = MlOps.classLabels(ctx, "classlabels_int64s", "classlabels_strings");
                    model(ctx);
                    if (binaryOneClass(ctx) && ctx.attrString("post_transform").equals("PROBIT")) {
                        throw ctx.unsupported("PROBIT for two classes with votes for one class only");
                    }
                    return List.of(new TensorType(labels.dtype(), Shape.of(n)),
                            new TensorType(DType.FLOAT32, Shape.of(n, Dim.of(labels.size()))));
                })
                .eval(TreeEnsembleOps::classify)
                .build());
    }

    /** The node attributes the classic regressor and classifier share. */
    private static OpDef.Builder legacyNodes(OpDef.Builder b) {
        return b.optionalAttr("base_values", AttrType.FLOATS, "added to each target's or class's score")
                .optionalAttr("base_values_as_tensor", AttrType.TENSOR, "the base values as doubles")
                .optionalAttr("nodes_falsenodeids", AttrType.INTS, "the node id of the false child")
                .optionalAttr("nodes_featureids", AttrType.INTS, "the feature each node tests")
                .optionalAttr("nodes_hitrates", AttrType.FLOATS, "popularity of each node (unused)")
                .optionalAttr("nodes_hitrates_as_tensor", AttrType.TENSOR, "popularity of each node (unused)")
                .optionalAttr("nodes_missing_value_tracks_true", AttrType.INTS, "1 where NaN takes the true branch")
                .optionalAttr("nodes_modes", AttrType.STRINGS, "BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, "
                        + "BRANCH_EQ, BRANCH_NEQ or LEAF")
                .optionalAttr("nodes_nodeids", AttrType.INTS, "the id of each node within its tree")
                .optionalAttr("nodes_treeids", AttrType.INTS, "the tree of each node")
                .optionalAttr("nodes_truenodeids", AttrType.INTS, "the node id of the true child")
                .optionalAttr("nodes_values", AttrType.FLOATS, "the threshold of each node")
                .optionalAttr("nodes_values_as_tensor", AttrType.TENSOR, "the thresholds as doubles")
                .attrString("post_transform", "NONE", "NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT");
    }

    private static void requireInput(ShapeContext ctx) {
        if (!INPUTS.contains(ctx.inputDtype(0))) {
            throw ctx.fail("X must be a float, double, int64 or int32 tensor, not " + ctx.inputDtype(0));
        }
    }

    private static Dim rows(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        if (x.rank() != 2) {
            throw ctx.fail("X must be [N, F] but is " + x);
        }
        return x.dim(0);
    }

    /** The post_transform of a node by name, whichever op (integer code or string) it is. */
    public static String postTransform(NodeContext ctx) {
        if (ctx.def().name().equals("TreeEnsemble")) {
            long code = ctx.attrInt("post_transform");
            if (code < 0 || code >= MlTransforms.NAMES.size()) {
                throw ctx.fail("post_transform must be 0..4, not " + code);
            }
            return MlTransforms.NAMES.get((int) code);
        }
        String name = ctx.attrString("post_transform");
        if (!MlTransforms.NAMES.contains(name)) {
            throw ctx.fail("post_transform must be one of " + MlTransforms.NAMES + ", not '" + name + "'");
        }
        return name;
    }

    /** The packed trees of a TreeEnsemble, TreeEnsembleRegressor or TreeEnsembleClassifier node. */
    public static TreeEnsembleModel model(NodeContext ctx) {
        postTransform(ctx);
        return ctx.def().name().equals("TreeEnsemble") ? unified(ctx) : legacy(ctx);
    }

    // ---- TreeEnsemble (opset 5) ----

    private static TreeEnsembleModel unified(NodeContext ctx) {
        long[] features = ctx.attrInts("nodes_featureids");
        int n = features.length;
        long[] modes = ctx.attrTensor("nodes_modes").toLongArray();
        double[] splits = ctx.attrTensor("nodes_splits").toDoubleArray();
        long[] trueIds = ctx.attrInts("nodes_truenodeids");
        long[] falseIds = ctx.attrInts("nodes_falsenodeids");
        long[] trueLeafs = ctx.attrInts("nodes_trueleafs");
        long[] falseLeafs = ctx.attrInts("nodes_falseleafs");
        long[] targets = ctx.attrInts("leaf_targetids");
        double[] weights = ctx.attrTensor("leaf_weights").toDoubleArray();
        long[] missing = ctx.isSet("nodes_missing_value_tracks_true")
                ? ctx.attrInts("nodes_missing_value_tracks_true") : new long[n];
        for (int len : new int[] {modes.length, splits.length, trueIds.length, falseIds.length, trueLeafs.length,
                falseLeafs.length, missing.length}) {
            if (len != n) {
                throw ctx.fail("the nodes_* attributes must all have one entry per node (" + n + ")");
            }
        }
        if (targets.length != weights.length) {
            throw ctx.fail(targets.length + " leaf_targetids but " + weights.length + " leaf_weights");
        }
        int nTargets = ctx.isSet("n_targets") ? Math.toIntExact(ctx.attrInt("n_targets"))
                : (int) java.util.Arrays.stream(targets).max().orElse(-1) + 1;
        double[] members = ctx.isSet("membership_values") ? ctx.attrTensor("membership_values").toDoubleArray()
                : new double[0];
        int[] setStart = new int[n + 1];
        List<Double> sets = new ArrayList<>();
        int read = 0;
        int[] mode = new int[n];
        int[] trueChild = new int[n];
        int[] falseChild = new int[n];
        boolean[] tracks = new boolean[n];
        int[] feature = new int[n];
        for (int i = 0; i < n; i++) {
            setStart[i] = sets.size();
            if (modes[i] < 0 || modes[i] > TreeEnsembleModel.MEMBER) {
                throw ctx.fail("node " + i + " has mode " + modes[i] + ", not 0..6");
            }
            mode[i] = (int) modes[i];
            if (mode[i] == TreeEnsembleModel.MEMBER) {
                while (read < members.length && !Double.isNaN(members[read])) {
                    sets.add(members[read++]);
                }
                if (read++ >= members.length) {
                    throw ctx.fail("membership_values has no NaN-ended set for BRANCH_MEMBER node " + i);
                }
            }
            feature[i] = Math.toIntExact(features[i]);
            tracks[i] = missing[i] != 0;
            trueChild[i] = child(ctx, trueIds[i], trueLeafs[i] != 0, n, weights.length);
            falseChild[i] = child(ctx, falseIds[i], falseLeafs[i] != 0, n, weights.length);
        }
        setStart[n] = sets.size();
        int[] leafStart = new int[weights.length + 1];
        int[] leafTarget = new int[weights.length];
        for (int l = 0; l < weights.length; l++) {
            leafStart[l + 1] = l + 1;
            leafTarget[l] = checkTarget(ctx, targets[l], nTargets);
        }
        long[] rootIds = ctx.attrInts("tree_roots");
        int[] roots = new int[rootIds.length];
        for (int k = 0; k < roots.length; k++) {
            int r = Math.toIntExact(rootIds[k]);
            if (r < 0 || r >= n) {
                throw ctx.fail("tree root " + r + " is not a node (there are " + n + ")");
            }
            // A tree that is a single leaf is a node whose children are the same leaf.
            roots[k] = trueChild[r] < 0 && trueChild[r] == falseChild[r] ? trueChild[r] : r;
        }
        long aggregate = ctx.attrInt("aggregate_function");
        if (aggregate < 0 || aggregate > 3) {
            throw ctx.fail("aggregate_function must be 0..3, not " + aggregate);
        }
        return new TreeEnsembleModel(feature, mode, splits, tracks, trueChild, falseChild, setStart,
                sets.stream().mapToDouble(Double::doubleValue).toArray(), leafStart, leafTarget, weights, roots,
                nTargets, (int) aggregate, false, new double[0]);
    }

    private static int child(NodeContext ctx, long id, boolean leaf, int nodes, int leaves) {
        if (id < 0 || id >= (leaf ? leaves : nodes)) {
            throw ctx.fail("child " + id + " is not a " + (leaf ? "leaf" : "node") + " index");
        }
        return leaf ? ~(int) id : (int) id;
    }

    private static int checkTarget(NodeContext ctx, long t, int targets) {
        if (t < 0 || t >= targets) {
            throw ctx.fail("target or class " + t + " is outside 0.." + (targets - 1));
        }
        return (int) t;
    }

    // ---- TreeEnsembleRegressor, TreeEnsembleClassifier (opsets 1, 3) ----

    private static double[] doubles(NodeContext ctx, String name) {
        if (ctx.isSet(name + "_as_tensor")) {
            return ctx.attrTensor(name + "_as_tensor").toDoubleArray();
        }
        if (!ctx.isSet(name)) {
            return new double[0];
        }
        float[] f = ctx.attrFloats(name);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static long[] ints(NodeContext ctx, String name) {
        return ctx.isSet(name) ? ctx.attrInts(name) : new long[0];
    }

    private static TreeEnsembleModel legacy(NodeContext ctx) {
        boolean classifier = ctx.def().name().equals("TreeEnsembleClassifier");
        String vote = classifier ? "class" : "target";
        long[] treeIds = ints(ctx, "nodes_treeids");
        long[] nodeIds = ints(ctx, "nodes_nodeids");
        List<String> modes = ctx.isSet("nodes_modes") ? ctx.attrStrings("nodes_modes") : List.of();
        long[] features = ints(ctx, "nodes_featureids");
        double[] values = doubles(ctx, "nodes_values");
        long[] trueIds = ints(ctx, "nodes_truenodeids");
        long[] falseIds = ints(ctx, "nodes_falsenodeids");
        long[] missing = ctx.isSet("nodes_missing_value_tracks_true")
                ? ctx.attrInts("nodes_missing_value_tracks_true") : new long[treeIds.length];
        int all = treeIds.length;
        for (int len : new int[] {nodeIds.length, modes.size(), features.length, values.length, trueIds.length,
                falseIds.length, missing.length}) {
            if (len != all) {
                throw ctx.fail("the nodes_* attributes must all have one entry per node (" + all + ")");
            }
        }
        // Branch nodes and leaves get their own dense indices; (tree, node id) finds either.
        Map<List<Long>, Integer> index = new HashMap<>();
        List<Integer> branches = new ArrayList<>();
        List<Integer> leaves = new ArrayList<>();
        for (int i = 0; i < all; i++) {
            boolean leaf = modes.get(i).equals("LEAF");
            if (!leaf && !LEGACY_MODES.contains(modes.get(i))) {
                throw ctx.fail("node mode '" + modes.get(i) + "' is not one of " + LEGACY_MODES + " or LEAF");
            }
            int ref = leaf ? ~leaves.size() : branches.size();
            (leaf ? leaves : branches).add(i);
            if (index.put(List.of(treeIds[i], nodeIds[i]), ref) != null) {
                throw ctx.fail("node " + nodeIds[i] + " of tree " + treeIds[i] + " is listed twice");
            }
        }
        int n = branches.size();
        int[] feature = new int[n];
        int[] mode = new int[n];
        double[] split = new double[n];
        boolean[] tracks = new boolean[n];
        int[] trueChild = new int[n];
        int[] falseChild = new int[n];
        java.util.Set<List<Long>> children = new java.util.HashSet<>();
        for (int b = 0; b < n; b++) {
            int i = branches.get(b);
            feature[b] = Math.toIntExact(features[i]);
            mode[b] = LEGACY_MODES.indexOf(modes.get(i));
            split[b] = values[i];
            tracks[b] = missing[i] != 0;
            trueChild[b] = find(ctx, index, treeIds[i], trueIds[i]);
            falseChild[b] = find(ctx, index, treeIds[i], falseIds[i]);
            children.add(List.of(treeIds[i], trueIds[i]));
            children.add(List.of(treeIds[i], falseIds[i]));
        }
        // The root of a tree is its node that is nobody's child; trees in order of first appearance.
        Map<Long, Integer> roots = new LinkedHashMap<>();
        for (int i = 0; i < all; i++) {
            if (!children.contains(List.of(treeIds[i], nodeIds[i]))) {
                roots.putIfAbsent(treeIds[i], index.get(List.of(treeIds[i], nodeIds[i])));
            }
        }
        long[] voteTrees = ints(ctx, vote + "_treeids");
        long[] voteNodes = ints(ctx, vote + "_nodeids");
        long[] voteIds = ints(ctx, vote + "_ids");
        double[] voteWeights = doubles(ctx, vote + "_weights");
        if (voteNodes.length != voteTrees.length || voteIds.length != voteTrees.length
                || voteWeights.length != voteTrees.length) {
            throw ctx.fail("the " + vote + "_* attributes must all have one entry per vote");
        }
        int targets = classifier ? MlOps.classLabels(ctx, "classlabels_int64s", "classlabels_strings").size()
                : ctx.isSet("n_targets") ? Math.toIntExact(ctx.attrInt("n_targets"))
                : (int) java.util.Arrays.stream(voteIds).max().orElse(-1) + 1;
        List<List<Integer>> votes = new ArrayList<>();
        for (int l = 0; l < leaves.size(); l++) {
            votes.add(new ArrayList<>());
        }
        for (int k = 0; k < voteTrees.length; k++) {
            int ref = find(ctx, index, voteTrees[k], voteNodes[k]);
            if (ref >= 0) {
                throw ctx.fail("a vote names node " + voteNodes[k] + " of tree " + voteTrees[k] + ", not a leaf");
            }
            checkTarget(ctx, voteIds[k], targets);
            votes.get(~ref).add(k);
        }
        int[] leafStart = new int[leaves.size() + 1];
        int[] leafTarget = new int[voteTrees.length];
        double[] leafWeight = new double[voteTrees.length];
        int at = 0;
        for (int l = 0; l < leaves.size(); l++) {
            leafStart[l] = at;
            for (int k : votes.get(l)) {
                leafTarget[at] = (int) voteIds[k];
                leafWeight[at++] = voteWeights[k];
            }
        }
        leafStart[leaves.size()] = at;
        int aggregate = classifier ? TreeEnsembleModel.SUM : AGGREGATES.indexOf(ctx.attrString("aggregate_function"));
        if (aggregate < 0) {
            throw ctx.fail("aggregate_function must be one of " + AGGREGATES + ", not '"
                    + ctx.attrString("aggregate_function") + "'");
        }
        double[] base = doubles(ctx, "base_values");
        if (base.length != 0 && base.length != targets && !(classifier && base.length == 1)) {
            throw ctx.fail(base.length + " base_values for " + targets + " " + (classifier ? "classes" : "targets"));
        }
        return new TreeEnsembleModel(feature, mode, split, tracks, trueChild, falseChild, new int[n + 1],
                new double[0], leafStart, leafTarget, leafWeight, roots.values().stream().mapToInt(i -> i).toArray(),
                targets, aggregate, true, base);
    }

    private static int find(NodeContext ctx, Map<List<Long>, Integer> index, long tree, long node) {
        Integer ref = index.get(List.of(tree, node));
        if (ref == null) {
            throw ctx.fail("tree " + tree + " has no node " + node);
        }
        return ref;
    }

    /** True for a two-class classifier whose votes all go to one class (ONNX Runtime's binary case). */
    public static boolean binaryOneClass(NodeContext ctx) {
        long[] ids = ints(ctx, "class_ids");
        return MlOps.classLabels(ctx, "classlabels_int64s", "classlabels_strings").size() == 2
                && java.util.Arrays.stream(ids).distinct().count() == 1;
    }

    /** True when no class weight is negative (then a lone class score is a probability). */
    public static boolean weightsNonNegative(NodeContext ctx) {
        return java.util.Arrays.stream(doubles(ctx, "class_weights")).allMatch(w -> w >= 0);
    }

    // ---- evaluation ----

    /**
     * The label index of a classifier row: the first highest score among classes that scored (got a vote or a base
     * value), as ONNX Runtime picks it; class 0 when none did.
     */
    private static int bestScored(double[] z, int o, boolean[] voted, int bases) {
        int best = -1;
        for (int c = 0; c < voted.length; c++) {
            if ((voted[c] || c < bases) && (best < 0 || z[o + c] > z[o + best])) {
                best = c;
            }
        }
        return Math.max(best, 0);
    }

    private static Tensor regress(EvalContext ctx, DType out) {
        TreeEnsembleModel m = model(ctx);
        String transform = postTransform(ctx);
        Tensor x = ctx.input(0);
        int n = x.dim(0);
        double[] xs = x.toDoubleArray();
        double[] y = new double[n * m.targets()];
        boolean[] voted = new boolean[m.targets()];
        for (int row = 0; row < n; row++) {
            m.aggregate(xs, row * x.dim(1), y, row * m.targets(), voted);
            MlTransforms.apply(transform, y, row * m.targets(), m.targets());
        }
        return Tensor.fromDoubles(out, new int[] {n, m.targets()}, y);
    }

    private static List<Tensor> classify(EvalContext ctx) {
        TreeEnsembleModel m = model(ctx);
        String transform = postTransform(ctx);
        Tensor labels = MlOps.classLabels(ctx, "classlabels_int64s", "classlabels_strings");
        int classes = m.targets();
        Tensor x = ctx.input(0);
        int n = x.dim(0);
        double[] xs = x.toDoubleArray();
        double[] z = new double[n * classes];
        int[] best = new int[n];
        boolean[] voted = new boolean[classes];
        boolean binary = binaryOneClass(ctx);
        boolean probabilities = weightsNonNegative(ctx);
        for (int row = 0; row < n; row++) {
            int o = row * classes;
            m.aggregate(xs, row * x.dim(1), z, o, voted);
            if (binary) {
                // One score s: with non-negative weights a probability of the second class, else a margin.
                int c = (int) ctx.attrInts("class_ids")[0];
                double s = z[o + c];
                best[row] = (probabilities ? s > 0.5 : s > 0) ? 1 : 0;
                if (probabilities) {
                    z[o] = 1 - s;
                    z[o + 1] = s;
                } else if (transform.equals("LOGISTIC")) {
                    z[o] = MlTransforms.logistic(-s);
                    z[o + 1] = MlTransforms.logistic(s);
                } else {
                    z[o] = -s;
                    z[o + 1] = s;
                }
            } else {
                best[row] = bestScored(z, o, voted, m.base().length);
                MlTransforms.apply(transform, z, o, classes);
            }
        }
        return List.of(ElementBuffer.gather(labels, new int[] {n}, best),
                Tensor.fromDoubles(DType.FLOAT32, new int[] {n, classes}, z));
    }
}
