package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reductions over axes (ReduceSum ... ReduceSumSquare, in their opset 18 form with axes as an optional
 * input) and ArgMax/ArgMin. Floats are accumulated in double and rounded once; integers stay exact
 * (functions like log or sqrt of an integer sum are computed in double and truncated).
 */
public final class ReductionOps {
    private ReductionOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(reduce("ReduceSum", 13, "Sum over axes (0 for an empty set).", false, new Reduction.Kernel() {
            public double floats(double[] v) { return sum(v); }

            public long integers(DType t, long[] v) { return sum(v); }
        }).symbolic(ReductionOps::symbolicProduct).grad(DenseGrads::reduceSum).build());
        r.add(reduce("ReduceMean", 18, "Mean over axes (NaN for an empty set).", false, new Reduction.Kernel() {
            public double floats(double[] v) { return sum(v) / v.length; }

            public long integers(DType t, long[] v) { return IntegerMath.div(t, sum(v), v.length); }
        }).grad(DenseGrads::reduceMean).build());
        r.add(reduce("ReduceProd", 18, "Product over axes (1 for an empty set).", false, new Reduction.Kernel() {
            public double floats(double[] v) {
                double p = 1;
                for (double x : v) {
                    p *= x;
                }
                return p;
            }

            public long integers(DType t, long[] v) {
                long p = 1;
                for (long x : v) {
                    p *= x;
                }
                return p;
            }
        }).symbolic(ReductionOps::symbolicProduct).build());
        r.add(reduce("ReduceMax", 20, "Maximum over axes (NaN propagates; the type's lowest value, -inf or false, "
                + "for an empty set).", true, new Reduction.Kernel() {
                    public double floats(double[] v) {
                        double m = Double.NEGATIVE_INFINITY;
                        for (double x : v) {
                            m = Math.max(m, x);
                        }
                        return m;
                    }

                    public long integers(DType t, long[] v) {
                        long m = IntegerMath.minValue(t);
                        for (long x : v) {
                            m = IntegerMath.max(t, m, x);
                        }
                        return m;
                    }

                    public boolean bools(boolean[] v) {
                        for (boolean x : v) {
                            if (x) {
                                return true;
                            }
                        }
                        return false;
                    }
                }).grad(ReductionGrads::extremum).build());
        r.add(reduce("ReduceMin", 20, "Minimum over axes (NaN propagates; the type's highest value, +inf or true, "
                + "for an empty set).", true, new Reduction.Kernel() {
                    public double floats(double[] v) {
                        double m = Double.POSITIVE_INFINITY;
                        for (double x : v) {
                            m = Math.min(m, x);
                        }
                        return m;
                    }

                    public long integers(DType t, long[] v) {
                        long m = IntegerMath.maxValue(t);
                        for (long x : v) {
                            m = IntegerMath.min(t, m, x);
                        }
                        return m;
                    }

                    public boolean bools(boolean[] v) {
                        for (boolean x : v) {
                            if (!x) {
                                return false;
                            }
                        }
                        return true;
                    }
                }).grad(ReductionGrads::extremum).build());
        r.add(reduce("ReduceL1", 18, "Sum of absolute values over axes (0 for an empty set).", false,
                new Reduction.Kernel() {
                    public double floats(double[] v) {
                        double s = 0;
                        for (double x : v) {
                            s += Math.abs(x);
                        }
                        return s;
                    }

                    public long integers(DType t, long[] v) {
                        long s = 0;
                        for (long x : v) {
                            s += IntegerMath.abs(t, x);
                        }
                        return s;
                    }
                }).grad(ReductionGrads::l1).build());
        r.add(reduce("ReduceL2", 18, "Euclidean norm over axes (0 for an empty set).", false, new Reduction.Kernel() {
            public double floats(double[] v) { return Math.sqrt(sumSquares(v)); }

            public long integers(DType t, long[] v) { return (long) Math.sqrt(sumSquares(asDoubles(t, v))); }
        }).grad(ReductionGrads::l2).build());
        r.add(reduce("ReduceSumSquare", 18, "Sum of squares over axes (0 for an empty set).", false,
                new Reduction.Kernel() {
                    public double floats(double[] v) { return sumSquares(v); }

                    public long integers(DType t, long[] v) {
                        long s = 0;
                        for (long x : v) {
                            s += x * x;
                        }
                        return s;
                    }
                }).grad(ReductionGrads::sumSquare).build());
        r.add(reduce("ReduceLogSum", 18, "log of the sum over axes (-inf for an empty set).", false,
                new Reduction.Kernel() {
                    public double floats(double[] v) { return Math.log(sum(v)); }

                    public long integers(DType t, long[] v) { return (long) Math.log(sum(asDoubles(t, v))); }
                }).grad(ReductionGrads::logSum).build());
        r.add(reduce("ReduceLogSumExp", 18, "log of the sum of exponentials over axes (-inf for an empty set).",
                false, new Reduction.Kernel() {
                    public double floats(double[] v) { return logSumExp(v); }

                    public long integers(DType t, long[] v) { return (long) logSumExp(asDoubles(t, v)); }
                }).grad(ReductionGrads::logSumExp).build());

        r.add(argReduce("ArgMax", "Index of the maximum along axis (a NaN counts as the maximum).", 1));
        r.add(argReduce("ArgMin", "Index of the minimum along axis (a NaN counts as the minimum).", -1));
    }

    // ---- the reductions over a set of axes ----

    private static OpDef.Builder reduce(String name, int since, String doc, boolean acceptsBool, Reduction.Kernel k) {
        return OpDef.builder(name).since(since).doc(doc)
                .inputs("data", "axes?").outputs("reduced")
                .attrInt("keepdims", 1, "1: keep reduced axes as dims of size 1; 0: drop them")
                .attrInt("noop_with_empty_axes", 0, "with no axes: 0 reduces over all axes, 1 returns the input")
                .properties(OpProperty.REDUCTION)
                .shape(ctx -> {
                    Pointwise.require(ctx, 0, t -> t.isNumeric() || acceptsBool && t == DType.BOOL,
                            acceptsBool ? "a numeric type or bool" : "a numeric type");
                    if (ctx.hasInput(1)) {
                        Pointwise.require(ctx, 1, t -> t == DType.INT64, "int64");
                    }
                    return List.of(reducedType(ctx));
                })
                .eval(ctx -> List.of(evalReduce(ctx, k)));
    }

    /** The output type; axes must be constant unless keepdims keeps the rank known. */
    private static TensorType reducedType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        Optional<long[]> axes = ctx.hasInput(1) ? knownAxes(ctx) : Optional.of(new long[0]);
        boolean keepdims = ctx.attrInt("keepdims") != 0;
        if (axes.isEmpty()) {
            return unknownAxesType(ctx, in, keepdims);
        }
        boolean[] reduced = reducedAxes(ctx, in.rank(), axes.get());
        List<Dim> dims = new ArrayList<>();
        for (int d = 0; d < in.rank(); d++) {
            if (!reduced[d]) {
                dims.add(in.dim(d));
            } else if (keepdims) {
                dims.add(Dim.of(1));
            }
        }
        return new TensorType(ctx.inputDtype(0), new Shape(dims));
    }

    /**
     * The output type when the axes are only known at run time. With keepdims the rank stays and only dims of
     * 1 are certain; without it the rank drops by the axes' count (axes may not repeat), which the axes
     * tensor's static length gives; the surviving dims are unknown.
     */
    private static TensorType unknownAxesType(ShapeContext ctx, Shape in, boolean keepdims) {
        List<Dim> dims = new ArrayList<>();
        if (keepdims) {
            for (Dim d : in.dims()) {
                dims.add(d.isStatic() && d.value() == 1 ? d : Dim.unknown());
            }
            return new TensorType(ctx.inputDtype(0), new Shape(dims));
        }
        Shape axesShape = ctx.inputShape(1);
        if (axesShape.rank() != 1 || !axesShape.dim(0).isStatic()) {
            throw ctx.unsupported("keepdims=0 with non-constant axes of unknown count (the output rank is unknown)");
        }
        long count = axesShape.dim(0).value();
        if (count > in.rank()) {
            throw ctx.fail(count + " axes for rank " + in.rank());
        }
        for (long i = count; i < in.rank(); i++) {
            dims.add(Dim.unknown());
        }
        return new TensorType(ctx.inputDtype(0), new Shape(dims));
    }

    /** The axes input's value if constant, or known to be empty from its static shape [0]. */
    private static Optional<long[]> knownAxes(ShapeContext ctx) {
        Optional<long[]> c = ctx.constantLongs(1);
        if (c.isPresent()) {
            return c;
        }
        Shape s = ctx.inputShape(1);
        if (s.rank() == 1 && s.dim(0).isStatic() && s.dim(0).value() == 0) {
            return Optional.of(new long[0]);
        }
        return Optional.empty();
    }

    /**
     * Which axes are reduced: the listed ones, or with none listed all of them, or (noop_with_empty_axes)
     * none at all. Fails on an axis out of [-rank, rank) or listed twice.
     */
    private static boolean[] reducedAxes(NodeContext ctx, int rank, long[] axes) {
        boolean[] reduced = new boolean[rank];
        if (axes.length == 0) {
            Arrays.fill(reduced, ctx.attrInt("noop_with_empty_axes") == 0);
            return reduced;
        }
        for (long a : axes) {
            if (a < -rank || a >= rank) {
                throw ctx.fail("axis " + a + " is out of range for rank " + rank);
            }
            int d = (int) (a < 0 ? a + rank : a);
            if (reduced[d]) {
                throw ctx.fail("axis " + a + " is listed twice in " + Arrays.toString(axes));
            }
            reduced[d] = true;
        }
        return reduced;
    }

    private static Tensor evalReduce(EvalContext ctx, Reduction.Kernel k) {
        Tensor x = ctx.input(0);
        long[] axes = ctx.hasInput(1) ? ctx.input(1).toLongArray() : new long[0];
        boolean[] reduced = reducedAxes(ctx, x.rank(), axes);
        return Reduction.reduce(x, reduced, ctx.attrInt("keepdims") != 0, k);
    }

    /**
     * ReduceSum/ReduceProd of a 1-D shape tensor over its only axis, as a dim: how exporters compute
     * {@code N*C*H*W} for a Flatten-like Reshape. A sum is kept only when it is a monomial.
     */
    private static Optional<List<Dim>> symbolicProduct(ShapeContext ctx) {
        Optional<List<Dim>> dims = ctx.dimsValue(0);
        if (dims.isEmpty() || ctx.inputShape(0).rank() != 1 || !ctx.inputDtype(0).isInteger()) {
            return Optional.empty();
        }
        Optional<long[]> axes = ctx.hasInput(1) ? knownAxes(ctx) : Optional.of(new long[0]);
        if (axes.isEmpty() || !reducedAxes(ctx, 1, axes.get())[0]) {
            return Optional.empty();
        }
        boolean product = ctx.def().name().equals("ReduceProd");
        Optional<Dim> acc = Optional.of(Dim.of(product ? 1 : 0));
        for (Dim d : dims.get()) {
            acc = product ? acc.map(a -> a.times(d)) : acc.flatMap(a -> a.plus(d));
        }
        return acc.map(List::of);
    }

    static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }

    static long sum(long[] v) {
        long s = 0;
        for (long x : v) {
            s += x;
        }
        return s;
    }

    private static double sumSquares(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return s;
    }

    private static double[] asDoubles(DType t, long[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = Reduction.toDouble(t, v[i]);
        }
        return d;
    }

    /** log Σ e^x, shifted by the maximum to avoid overflow when that maximum is finite. */
    private static double logSumExp(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            m = Math.max(m, x);
        }
        double shift = Double.isFinite(m) ? m : 0;
        double s = 0;
        for (double x : v) {
            s += Math.exp(x - shift);
        }
        return shift + Math.log(s);
    }

    // ---- ArgMax / ArgMin ----

    /** {@code direction} 1 finds the maximum, -1 the minimum. */
    private static OpDef argReduce(String name, String doc, int direction) {
        return OpDef.builder(name).since(13).doc(doc)
                .inputs("data").outputs("reduced")
                .attrInt("axis", 0, "the axis to search along, in [-rank, rank)")
                .attrInt("keepdims", 1, "1: keep the axis as a dim of size 1; 0: drop it")
                .attrInt("select_last_index", 0, "1: the last index among equal extremes; 0: the first")
                .properties(OpProperty.REDUCTION)
                .shape(ctx -> {
                    Pointwise.requireNumeric(ctx, 0);
                    Shape in = ctx.inputShape(0);
                    int axis = argAxis(ctx, in.rank());
                    List<Dim> dims = new ArrayList<>(in.dims());
                    if (ctx.attrInt("keepdims") != 0) {
                        dims.set(axis, Dim.of(1));
                    } else {
                        dims.remove(axis);
                    }
                    return List.of(new TensorType(DType.INT64, new Shape(dims)));
                })
                .eval(ctx -> List.of(evalArg(ctx, direction)))
                .build();
    }

    private static int argAxis(NodeContext ctx, int rank) {
        long axis = ctx.attrInt("axis");
        if (axis < -rank || axis >= rank) {
            throw ctx.fail("axis " + axis + " is out of range for rank " + rank);
        }
        return (int) (axis < 0 ? axis + rank : axis);
    }

    private static Tensor evalArg(EvalContext ctx, int direction) {
        Tensor x = ctx.input(0);
        int axis = argAxis(ctx, x.rank());
        boolean last = ctx.attrInt("select_last_index") != 0;
        AxisLayout layout = AxisLayout.of(x.shape(), axis);
        int n = layout.axisLength();
        if (n == 0) {
            throw ctx.fail("cannot search an empty axis " + axis);
        }
        long[] out = new long[layout.outer() * layout.inner()];
        for (int o = 0; o < layout.outer(); o++) {
            for (int i = 0; i < layout.inner(); i++) {
                int best = last ? n - 1 : 0;
                // Walk from the preferred end and move only on a strict improvement, so ties keep that end.
                for (int step = 1; step < n && !isNaN(x, layout.index(o, best, i)); step++) {
                    int k = last ? n - 1 - step : step;
                    if (isNaN(x, layout.index(o, k, i))
                            || better(x, layout.index(o, k, i), layout.index(o, best, i), direction)) {
                        best = k;
                    }
                }
                out[o * layout.inner() + i] = best;
            }
        }
        int[] shape = x.shape();
        int[] outShape;
        if (ctx.attrInt("keepdims") != 0) {
            outShape = shape.clone();
            outShape[axis] = 1;
        } else {
            outShape = new int[shape.length - 1];
            for (int d = 0, j = 0; d < shape.length; d++) {
                if (d != axis) {
                    outShape[j++] = shape[d];
                }
            }
        }
        return Tensor.wrapLongs(DType.INT64, outShape, out);
    }

    private static boolean isNaN(Tensor x, int i) {
        return x.dtype().isFloat() && Double.isNaN(x.doubles()[i]);
    }

    /** Numeric order of non-NaN doubles, with -0.0 equal to 0.0 (unlike {@link Double#compare}). */
    private static int compareNumbers(double a, double b) {
        return a > b ? 1 : a < b ? -1 : 0;
    }

    /** Whether element a is strictly beyond element b in the search direction. */
    private static boolean better(Tensor x, int a, int b, int direction) {
        int order = x.dtype().isFloat()
                ? compareNumbers(x.doubles()[a], x.doubles()[b])
                : IntegerMath.compare(x.dtype(), x.longs()[a], x.longs()[b]);
        return order * direction > 0;
    }
}
