package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.runtime.NumpyRandom;
import java.util.List;
import java.util.function.DoubleSupplier;

/**
 * The random generators: RandomUniform, RandomNormal (of a shape given by an attribute), RandomUniformLike,
 * RandomNormalLike (of their input's shape) and Bernoulli (one draw per element of a probability tensor). A node
 * that sets {@code seed} reproduces ONNX's reference implementation exactly: a numpy {@code RandomState(seed)} made
 * afresh for each evaluation ({@link NumpyRandom}), drawn in row-major order ({@code rand}, {@code randn},
 * {@code binomial(1, p)}), then scaled and shifted. Without a seed the draws come from the evaluation's source.
 */
public final class RandomOps {
    private RandomOps() {}

    private enum Distribution { UNIFORM, NORMAL }

    public static void register(OpTable.Registrar r) {
        r.add(distribution(OpDef.builder("RandomUniform"), Distribution.UNIFORM, false)
                .doc("A tensor of the shape attribute's shape drawn uniformly from [low, high).")
                .inputs().outputs("output")
                .build());
        r.add(distribution(OpDef.builder("RandomNormal"), Distribution.NORMAL, false)
                .doc("A tensor of the shape attribute's shape drawn from the normal distribution N(mean, scale^2).")
                .inputs().outputs("output")
                .build());
        r.add(distribution(OpDef.builder("RandomUniformLike"), Distribution.UNIFORM, true)
                .doc("A tensor of the input's shape drawn uniformly from [low, high).")
                .inputs("input").outputs("output")
                .build());
        r.add(distribution(OpDef.builder("RandomNormalLike"), Distribution.NORMAL, true)
                .doc("A tensor of the input's shape drawn from the normal distribution N(mean, scale^2).")
                .inputs("input").outputs("output")
                .build());
        r.add(OpDef.builder("Bernoulli").since(22)
                .doc("One Bernoulli draw per element: 1 with the input's probability, else 0, as dtype.")
                .inputs("input").outputs("output")
                .optionalAttr("dtype", AttrType.INT, "ONNX element type of the output (default: the input's)")
                .optionalAttr("seed", AttrType.FLOAT, "seed of the generator; default: nondeterministic")
                .properties(OpProperty.NONDETERMINISTIC)
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    seed(ctx);
                    DType t = outputType(ctx, ctx.inputDtype(0));
                    if (t == DType.STRING) {
                        throw ctx.fail("dtype must be a numeric or bool type, not string");
                    }
                    return List.of(new TensorType(t, ctx.inputShape(0)));
                })
                .eval(RandomOps::bernoulli)
                .build());
    }

    /** The attributes, shape rule and evaluation shared by the four uniform and normal generators. */
    private static OpDef.Builder distribution(OpDef.Builder b, Distribution kind, boolean like) {
        b.since(22).properties(OpProperty.NONDETERMINISTIC);
        if (like) {
            b.optionalAttr("dtype", AttrType.INT, "ONNX element type of the output (default: the input's)");
        } else {
            b.attrInt("dtype", DType.FLOAT32.onnxCode(), "ONNX element type of the output (default float32)");
            b.requiredAttr("shape", AttrType.INTS, "the output's shape");
        }
        if (kind == Distribution.UNIFORM) {
            b.attrFloat("high", 1, "upper bound (exclusive) of the distribution");
            b.attrFloat("low", 0, "lower bound of the distribution");
        } else {
            b.attrFloat("mean", 0, "mean of the distribution");
            b.attrFloat("scale", 1, "standard deviation of the distribution");
        }
        b.optionalAttr("seed", AttrType.FLOAT, "seed of the generator; default: nondeterministic");
        b.shape(ctx -> {
            seed(ctx);
            DType t = like ? outputType(ctx, ctx.inputDtype(0)) : outputType(ctx, DType.FLOAT32);
            if (!t.isFloat()) {
                throw ctx.fail("dtype must be a floating type, not " + t);
            }
            return List.of(new TensorType(t, like ? ctx.inputShape(0) : Shape.of(shapeAttribute(ctx))));
        });
        b.eval(ctx -> {
            DType t = like ? outputType(ctx, ctx.input(0).dtype()) : outputType(ctx, DType.FLOAT32);
            int[] shape = like ? ctx.input(0).shape() : shapeAttribute(ctx);
            return List.of(draw(ctx, kind, t, shape));
        });
        return b;
    }

    /** The {@code dtype} attribute's type, or {@code fallback} when it is not set. */
    private static DType outputType(NodeContext ctx, DType fallback) {
        if (!ctx.isSet("dtype")) {
            return fallback;
        }
        long code = ctx.attrInt("dtype");
        try {
            return DType.fromOnnx(Math.toIntExact(code));
        } catch (dev.kiln.ir.KilnException | ArithmeticException e) {
            throw ctx.unsupported("dtype " + code + " (an element type Kiln does not have)");
        }
    }

    private static int[] shapeAttribute(NodeContext ctx) {
        long[] dims = ctx.attrInts("shape");
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw ctx.fail("shape " + java.util.Arrays.toString(dims) + " must not be negative");
            }
            out[i] = Math.toIntExact(dims[i]);
        }
        return out;
    }

    /** The node's seed as numpy takes it ({@code RandomState(int(seed))}), or -1 when it has none. */
    private static long seed(NodeContext ctx) {
        if (!ctx.isSet("seed")) {
            return -1;
        }
        float seed = ctx.attrFloat("seed");
        long s = (long) seed;
        if (!(seed >= 0) || s > 0xFFFF_FFFFL) {
            throw ctx.fail("seed " + seed + " is outside numpy's seeds [0, 2^32)");
        }
        return s;
    }

    private static Tensor draw(EvalContext ctx, Distribution kind, DType t, int[] shape) {
        long seed = seed(ctx);
        NumpyRandom numpy = seed >= 0 ? new NumpyRandom(seed) : null;
        DoubleSupplier next = kind == Distribution.UNIFORM
                ? (numpy != null ? numpy::nextDouble : ctx.random()::nextDouble)
                : (numpy != null ? numpy::nextGaussian : ctx.random()::nextGaussian);
        double scale = kind == Distribution.UNIFORM ? (double) ctx.attrFloat("high") - ctx.attrFloat("low")
                : ctx.attrFloat("scale");
        double shift = kind == Distribution.UNIFORM ? ctx.attrFloat("low") : ctx.attrFloat("mean");
        double[] out = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < out.length; i++) {
            out[i] = next.getAsDouble() * scale + shift;
        }
        return Tensor.wrapDoubles(t, shape, out);
    }

    private static List<Tensor> bernoulli(EvalContext ctx) {
        Tensor p = ctx.input(0);
        long seed = seed(ctx);
        NumpyRandom numpy = seed >= 0 ? new NumpyRandom(seed) : null;
        double[] probabilities = p.doubles();
        double[] out = new double[probabilities.length];
        for (int i = 0; i < out.length; i++) {
            double q = probabilities[i];
            if (!(q >= 0 && q <= 1)) {
                throw ctx.fail("element " + i + " of the input is " + q + ", not a probability in [0, 1]");
            }
            out[i] = numpy != null ? numpy.nextBernoulli(q) : ctx.random().nextDouble() < q ? 1 : 0;
        }
        return List.of(Tensor.fromDoubles(outputType(ctx, p.dtype()), p.shape(), out));
    }
}
