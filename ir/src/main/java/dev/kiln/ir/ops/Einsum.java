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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Einsum: parses an equation like {@code "bij,bjk->bik"} (or implicit {@code "ij,jk"}, with {@code ...} for
 * broadcast dims) into labels per operand axis, and evaluates it as the plain sum over all label values of the
 * product of the operands.
 */
final class Einsum {
    private Einsum() {}

    /** Labels of the ellipsis dims are chars from here up, numbered from the outermost broadcast dim. */
    private static final char ELLIPSIS_BASE = '\u0100';

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Einsum").since(12)
                .doc("Sum of products of the operands over the labels the equation does not keep, as numpy.einsum.")
                .inputs("Inputs...").outputs("Output")
                .requiredAttr("equation", AttrType.STRING, "e.g. \"bij,bjk->bik\"; ... marks broadcast dims")
                .shape(Einsum::shape)
                .eval(ctx -> List.of(evaluate(ctx)))
                .build());
    }

    /**
     * An equation resolved against operand ranks.
     *
     * @param inputs labels of each operand's axes, ellipsis dims already expanded
     * @param output labels of the output's axes
     */
    private record Plan(List<List<Character>> inputs, List<Character> output) {
        /** Output labels first, then the summed ones in first-seen order. */
        List<Character> allLabels() {
            List<Character> all = new ArrayList<>(output);
            for (List<Character> in : inputs) {
                for (char c : in) {
                    if (!all.contains(c)) {
                        all.add(c);
                    }
                }
            }
            return all;
        }
    }

    private static Plan plan(NodeContext ctx, int[] ranks) {
        String eq = ctx.attrString("equation").replace(" ", "");
        int arrow = eq.indexOf("->");
        String lhs = arrow < 0 ? eq : eq.substring(0, arrow);
        String[] terms = lhs.split(",", -1);
        if (terms.length != ranks.length) {
            throw ctx.fail("equation '" + eq + "' has " + terms.length + " operands but the node has " + ranks.length);
        }
        int ellipsisRank = 0;
        int[] own = new int[terms.length];
        for (int t = 0; t < terms.length; t++) {
            int letters = letters(ctx, eq, terms[t]).size();
            boolean dots = terms[t].contains("...");
            own[t] = ranks[t] - letters;
            if (own[t] < 0 || (!dots && own[t] != 0)) {
                throw ctx.fail("operand " + t + " has rank " + ranks[t] + " but its term '" + terms[t] + "' has "
                        + letters + " labels" + (dots ? " and ..." : ""));
            }
            ellipsisRank = Math.max(ellipsisRank, own[t]);
        }
        List<List<Character>> inputs = new ArrayList<>();
        Map<Character, Integer> counts = new LinkedHashMap<>();
        for (int t = 0; t < terms.length; t++) {
            List<Character> labels = expand(terms[t], own[t], ellipsisRank);
            for (char c : labels) {
                counts.merge(c, 1, Integer::sum);
            }
            inputs.add(labels);
        }
        List<Character> output;
        if (arrow >= 0) {
            String out = eq.substring(arrow + 2);
            letters(ctx, eq, out);
            output = expand(out, out.contains("...") ? ellipsisRank : 0, ellipsisRank);
            for (char c : output) {
                if (!counts.containsKey(c) && c < ELLIPSIS_BASE) {
                    throw ctx.fail("output label '" + c + "' of '" + eq + "' is not in any operand");
                }
                if (output.indexOf(c) != output.lastIndexOf(c)) {
                    throw ctx.fail("output label '" + c + "' of '" + eq + "' repeats");
                }
            }
        } else {
            // Implicit mode: broadcast dims, then the letters used exactly once, alphabetically.
            output = expand("...", ellipsisRank, ellipsisRank);
            TreeSet<Character> once = new TreeSet<>();
            counts.forEach((c, n) -> {
                if (n == 1 && c < ELLIPSIS_BASE) {
                    once.add(c);
                }
            });
            output.addAll(once);
        }
        return new Plan(inputs, output);
    }

    private static List<Character> letters(NodeContext ctx, String eq, String term) {
        String rest = term.replaceFirst("\\.\\.\\.", "");
        List<Character> out = new ArrayList<>();
        for (char c : rest.toCharArray()) {
            if (!Character.isLetter(c) || c >= 128) {
                throw ctx.fail("equation '" + eq + "' has '" + c + "' where a letter or ... belongs");
            }
            out.add(c);
        }
        return out;
    }

    /** The term's labels with its ellipsis replaced by the labels of its (right-aligned) broadcast dims. */
    private static List<Character> expand(String term, int own, int ellipsisRank) {
        List<Character> out = new ArrayList<>();
        int dots = term.indexOf("...");
        String before = dots < 0 ? term : term.substring(0, dots);
        for (char c : before.toCharArray()) {
            out.add(c);
        }
        if (dots >= 0) {
            for (int k = ellipsisRank - own; k < ellipsisRank; k++) {
                out.add((char) (ELLIPSIS_BASE + k));
            }
            for (char c : term.substring(dots + 3).toCharArray()) {
                out.add(c);
            }
        }
        return out;
    }

    private static List<TensorType> shape(ShapeContext ctx) {
        int n = ctx.inputCount();
        int[] ranks = new int[n];
        DType t = ctx.inputDtype(0);
        if (!t.isNumeric()) {
            throw ctx.fail("operands must be numeric but are " + t);
        }
        for (int i = 0; i < n; i++) {
            ranks[i] = ctx.inputShape(i).rank();
            if (ctx.inputDtype(i) != t) {
                throw ctx.fail("operands must share one element type");
            }
        }
        Plan p = plan(ctx, ranks);
        Map<Character, Dim> sizes = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            List<Character> labels = p.inputs().get(i);
            for (int a = 0; a < labels.size(); a++) {
                char c = labels.get(a);
                Dim d = ctx.inputShape(i).dim(a);
                Dim prev = sizes.get(c);
                if (prev == null || (prev.isStatic() && prev.value() == 1 && c >= ELLIPSIS_BASE)) {
                    sizes.put(c, d);
                } else if (prev.isStatic() && d.isStatic() && prev.value() != d.value()
                        && !(c >= ELLIPSIS_BASE && d.value() == 1)) {
                    throw ctx.fail("label '" + (c >= ELLIPSIS_BASE ? "..." : c) + "' is " + prev + " in one operand and "
                            + d + " in operand " + i);
                }
            }
        }
        List<Dim> out = new ArrayList<>();
        for (char c : p.output()) {
            out.add(sizes.get(c));
        }
        return List.of(new TensorType(t, new Shape(out)));
    }

    private static Tensor evaluate(EvalContext ctx) {
        int n = ctx.inputCount();
        int[] ranks = new int[n];
        for (int i = 0; i < n; i++) {
            ranks[i] = ctx.input(i).rank();
        }
        Plan p = plan(ctx, ranks);
        List<Character> all = p.allLabels();
        int[] size = new int[all.size()];
        Arrays.fill(size, -1);
        for (int i = 0; i < n; i++) {
            List<Character> labels = p.inputs().get(i);
            for (int a = 0; a < labels.size(); a++) {
                char c = labels.get(a);
                int l = all.indexOf(c);
                int d = ctx.input(i).dim(a);
                if (size[l] < 0) {
                    size[l] = d;
                } else if (size[l] != d) {
                    if (c < ELLIPSIS_BASE || (d != 1 && size[l] != 1)) {
                        throw ctx.fail("label '" + (c >= ELLIPSIS_BASE ? "..." : c) + "' has sizes " + size[l]
                                + " and " + d + " (operand " + i + ")");
                    }
                    size[l] = Math.max(size[l], d);
                }
            }
        }
        // For operand i, axis a: which label indexes it, and its stride (0 where a size-1 dim broadcasts).
        int[][] labelOf = new int[n][];
        int[][] strides = new int[n][];
        for (int i = 0; i < n; i++) {
            int[] shape = ctx.input(i).shape();
            labelOf[i] = new int[shape.length];
            strides[i] = new int[shape.length];
            int stride = 1;
            for (int a = shape.length - 1; a >= 0; a--) {
                labelOf[i][a] = all.indexOf(p.inputs().get(i).get(a));
                strides[i][a] = shape[a] == 1 ? 0 : stride;
                stride *= shape[a];
            }
        }
        int outRank = p.output().size();
        int[] outShape = Arrays.copyOf(size, outRank);
        int outSize = Tensor.sizeOf(outShape);
        boolean integer = ctx.input(0).dtype().isInteger();
        double[] yd = new double[outSize];
        long[] yl = new long[outSize];
        int total = Tensor.sizeOf(size);
        int[] idx = new int[size.length];
        for (int flat = 0; flat < total; flat++) {
            WindowTaps.unflatten(flat, size, idx);
            int out = 0;
            for (int l = 0; l < outRank; l++) {
                out = out * size[l] + idx[l];
            }
            double pd = 1;
            long pl = 1;
            for (int i = 0; i < n; i++) {
                int off = 0;
                for (int a = 0; a < labelOf[i].length; a++) {
                    off += idx[labelOf[i][a]] * strides[i][a];
                }
                if (integer) {
                    pl *= ctx.input(i).longs()[off];
                } else {
                    pd *= ctx.input(i).doubles()[off];
                }
            }
            yd[out] += pd;
            yl[out] += pl;
        }
        DType t = ctx.input(0).dtype();
        return integer ? Tensor.wrapLongs(t, outShape, yl) : Tensor.wrapDoubles(t, outShape, yd);
    }
}
