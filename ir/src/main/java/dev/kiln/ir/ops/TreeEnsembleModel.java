package dev.kiln.ir.ops;

import java.util.Arrays;

/**
 * A tree ensemble in packed arrays, the one form the reference evaluator and generated code walk, whichever op it
 * came from (TreeEnsemble of ai.onnx.ml opset 5, or the TreeEnsembleRegressor/Classifier of opsets 1 and 3).
 * A child or root reference {@code c >= 0} is branch node {@code c}; {@code c < 0} is leaf {@code ~c}. Leaf {@code l}
 * votes {@code leafWeight[k]} for target {@code leafTarget[k]}, {@code k} in {@code [leafStart[l], leafStart[l+1])}.
 * A BRANCH_MEMBER node {@code i} tests membership in {@code setValues[setStart[i], setStart[i+1])}.
 *
 * @param mode per node: 0 LEQ, 1 LT, 2 GTE, 3 GT, 4 EQ, 5 NEQ, 6 MEMBER (x compared with the split: x <= split...)
 * @param aggregate 0 AVERAGE, 1 SUM, 2 MIN, 3 MAX over the trees' votes per target
 * @param emptyIsZero for MIN and MAX: a target no leaf voted for is 0 (the classic ops), not the float extreme
 * @param base added to each target's aggregate (length 0: none)
 */
public record TreeEnsembleModel(int[] feature, int[] mode, double[] split, boolean[] missingTracksTrue,
                                int[] trueChild, int[] falseChild, int[] setStart, double[] setValues,
                                int[] leafStart, int[] leafTarget, double[] leafWeight, int[] roots, int targets,
                                int aggregate, boolean emptyIsZero, double[] base) {
    public static final int LEQ = 0;
    public static final int LT = 1;
    public static final int GTE = 2;
    public static final int GT = 3;
    public static final int EQ = 4;
    public static final int NEQ = 5;
    public static final int MEMBER = 6;
    public static final int AVERAGE = 0;
    public static final int SUM = 1;
    public static final int MIN = 2;
    public static final int MAX = 3;

    /** The leaf (its index) the tree with root {@code root} sends {@code x[offset..]} to. */
    public int leaf(int root, double[] x, int offset) {
        int at = root;
        while (at >= 0) {
            double v = x[offset + feature[at]];
            at = test(at, v) ? trueChild[at] : falseChild[at];
        }
        return ~at;
    }

    private boolean test(int node, double v) {
        if (Double.isNaN(v) && missingTracksTrue[node]) {
            return true;
        }
        double s = split[node];
        return switch (mode[node]) {
            case LEQ -> v <= s;
            case LT -> v < s;
            case GTE -> v >= s;
            case GT -> v > s;
            case EQ -> v == s;
            case NEQ -> v != s;
            default -> {
                boolean in = false;
                for (int k = setStart[node]; k < setStart[node + 1] && !in; k++) {
                    in = setValues[k] == v;
                }
                yield in;
            }
        };
    }

    /**
     * The aggregated votes (plus base values) of every tree for one row {@code x[offset..]}, written to
     * {@code out[outOffset..outOffset + targets)}; {@code voted} (length targets) says which targets got a vote.
     */
    public void aggregate(double[] x, int offset, double[] out, int outOffset, boolean[] voted) {
        Arrays.fill(voted, false);
        double init = switch (aggregate) {
            case MIN -> Double.MAX_VALUE;
            case MAX -> -Double.MAX_VALUE;
            default -> 0;
        };
        Arrays.fill(out, outOffset, outOffset + targets, init);
        for (int root : roots) {
            int l = leaf(root, x, offset);
            for (int k = leafStart[l]; k < leafStart[l + 1]; k++) {
                int t = outOffset + leafTarget[k];
                double w = leafWeight[k];
                out[t] = switch (aggregate) {
                    case MIN -> Math.min(out[t], w);
                    case MAX -> Math.max(out[t], w);
                    case AVERAGE -> out[t] + w / roots.length;
                    default -> out[t] + w;
                };
                voted[leafTarget[k]] = true;
            }
        }
        for (int t = 0; t < targets; t++) {
            if (!voted[t] && emptyIsZero && (aggregate == MIN || aggregate == MAX)) {
                out[outOffset + t] = 0;
            }
            if (t < base.length) {
                out[outOffset + t] += base[t];
            }
        }
    }
}
