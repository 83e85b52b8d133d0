package dev.kiln.runtime;

import java.util.Arrays;

/**
 * A tree ensemble for generated code, in the packed arrays the compiler derives from any of ONNX's three tree ops
 * (the reference evaluator's {@code TreeEnsembleModel}): branch nodes compare a feature with a split (or test set
 * membership); a child {@code c >= 0} is node {@code c}, {@code c < 0} leaf {@code ~c}, whose votes are
 * {@code (leafTarget[k], leafWeight[k])} for {@code k} in {@code [leafStart[l], leafStart[l + 1])}.
 */
public final class TreeEnsemble {
    private static final int LEQ = 0;
    private static final int LT = 1;
    private static final int GTE = 2;
    private static final int GT = 3;
    private static final int EQ = 4;
    private static final int NEQ = 5;
    private static final int MIN = 2;
    private static final int MAX = 3;
    private static final int AVERAGE = 0;

    /** The packed nodes: per branch node, its feature, mode (0 LEQ .. 6 MEMBER), split and NaN direction. */
    public record Nodes(int[] feature, int[] mode, double[] split, boolean[] missingTracksTrue, int[] trueChild,
                        int[] falseChild, int[] setStart, double[] setValues) {}

    /** The packed leaves and how their votes combine. */
    public record Votes(int[] leafStart, int[] leafTarget, double[] leafWeight, int[] roots, int targets,
                        int aggregate, boolean emptyIsZero, double[] base) {}

    private final Nodes nodes;
    private final Votes votes;
    /** Scratch of one row's features and scores (an instance belongs to one model instance, used by one thread). */
    private double[] row = new double[0];
    private final double[] out;
    private final boolean[] voted;

    public TreeEnsemble(Nodes nodes, Votes votes) {
        this.nodes = nodes;
        this.votes = votes;
        this.out = new double[votes.targets()];
        this.voted = new boolean[votes.targets()];
    }

    private double[] row(int features) {
        if (row.length != features) {
            row = new double[features];
        }
        return row;
    }

    public int targets() {
        return votes.targets();
    }

    private int leaf(int root, double[] x) {
        int at = root;
        while (at >= 0) {
            at = test(at, x[nodes.feature()[at]]) ? nodes.trueChild()[at] : nodes.falseChild()[at];
        }
        return ~at;
    }

    private boolean test(int node, double v) {
        if (Double.isNaN(v) && nodes.missingTracksTrue()[node]) {
            return true;
        }
        double s = nodes.split()[node];
        return switch (nodes.mode()[node]) {
            case LEQ -> v <= s;
            case LT -> v < s;
            case GTE -> v >= s;
            case GT -> v > s;
            case EQ -> v == s;
            case NEQ -> v != s;
            default -> {
                boolean in = false;
                for (int k = nodes.setStart()[node]; k < nodes.setStart()[node + 1] && !in; k++) {
                    in = nodes.setValues()[k] == v;
                }
                yield in;
            }
        };
    }

    /** The aggregated votes plus base values for one row {@code x}, into {@code out[0, targets)}. */
    public void aggregate(double[] x, double[] out, boolean[] voted) {
        int targets = votes.targets();
        int aggregate = votes.aggregate();
        Arrays.fill(voted, false);
        Arrays.fill(out, 0, targets, aggregate == MIN ? Double.MAX_VALUE : aggregate == MAX ? -Double.MAX_VALUE : 0);
        int[] roots = votes.roots();
        for (int root : roots) {
            int l = leaf(root, x);
            for (int k = votes.leafStart()[l]; k < votes.leafStart()[l + 1]; k++) {
                int t = votes.leafTarget()[k];
                double w = votes.leafWeight()[k];
                out[t] = switch (aggregate) {
                    case MIN -> Math.min(out[t], w);
                    case MAX -> Math.max(out[t], w);
                    case AVERAGE -> out[t] + w / roots.length;
                    default -> out[t] + w;
                };
                voted[t] = true;
            }
        }
        double[] base = votes.base();
        for (int t = 0; t < targets; t++) {
            if (!voted[t] && votes.emptyIsZero() && (aggregate == MIN || aggregate == MAX)) {
                out[t] = 0;
            }
            if (t < base.length) {
                out[t] += base[t];
            }
        }
    }

    /** The first highest score among the classes that scored (a vote or a base value); 0 when none did. */
    private int bestScored() {
        int best = -1;
        for (int c = 0; c < voted.length; c++) {
            if ((voted[c] || c < votes.base().length) && (best < 0 || out[c] > out[best])) {
                best = c;
            }
        }
        return Math.max(best, 0);
    }

    /**
     * Regression: for each of {@code rows} rows of {@code features} values of {@code x} (any numeric array), the
     * transformed aggregate into {@code y} [rows, targets] ({@code float[]} or {@code double[]}).
     */
    public void regress(Object x, int xOffset, int rows, int features, MlScores.Transform transform, Object y,
                        int yOffset) {
        double[] row = row(features);
        for (int r = 0; r < rows; r++) {
            for (int f = 0; f < features; f++) {
                row[f] = MlScores.at(x, xOffset + r * features + f);
            }
            aggregate(row, out, voted);
            MlScores.apply(transform, out, 0, targets());
            for (int t = 0; t < targets(); t++) {
                MlScores.store(y, yOffset + r * targets() + t, out[t]);
            }
        }
    }

    /**
     * Classification: per row, the class scores (transformed) into {@code z} [rows, classes] (may be null) and the
     * label of the highest raw score among the classes that scored into {@code y}. With {@code oneClassOfTwo} (two classes, votes for class
     * {@code votedClass} only) the lone score s decides as ONNX Runtime does: label 1 when s > 0.5 (non-negative
     * weights) or s > 0, scores [1 - s, s], or [-s, s] ([logistic(-s), logistic(s)] for LOGISTIC).
     */
    public void classify(Object x, int xOffset, int rows, int features, MlScores.Transform transform,
                         boolean oneClassOfTwo, int votedClass, boolean nonNegative, Object labels, Object y,
                         int yOffset, float[] z, int zOffset) {
        int classes = targets();
        double[] row = row(features);
        for (int r = 0; r < rows; r++) {
            for (int f = 0; f < features; f++) {
                row[f] = MlScores.at(x, xOffset + r * features + f);
            }
            aggregate(row, out, voted);
            int best;
            if (oneClassOfTwo) {
                double s = out[votedClass];
                best = (nonNegative ? s > 0.5 : s > 0) ? 1 : 0;
                boolean logistic = !nonNegative && transform == MlScores.Transform.LOGISTIC;
                out[0] = nonNegative ? 1 - s : logistic ? MlScores.logistic(-s) : -s;
                out[1] = logistic ? MlScores.logistic(s) : s;
            } else {
                best = bestScored();
                MlScores.apply(transform, out, 0, classes);
            }
            switch (y) {
                case long[] a -> a[yOffset + r] = ((long[]) labels)[best];
                case String[] a -> a[yOffset + r] = ((String[]) labels)[best];
                default -> throw new IllegalArgumentException("labels are long or String, not " + y);
            }
            for (int c = 0; z != null && c < classes; c++) {
                z[zOffset + r * classes + c] = (float) out[c];
            }
        }
    }
}
