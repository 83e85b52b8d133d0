package dev.kiln.ir.ops;

import dev.kiln.ir.NodeContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One activation function named in the {@code activations} attribute of LSTM, GRU or RNN, with its alpha and
 * beta bound, as the ONNX recurrent-op spec defines them.
 *
 * @param function which function
 * @param alpha its alpha (unused by functions that take none)
 * @param beta its beta (unused by functions that take none)
 */
public record RnnActivation(Function function, double alpha, double beta) {

    /**
     * The functions the spec lists, with the alpha/beta each takes and their defaults: those "of the
     * corresponding ONNX operators" (LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1, ThresholdedRelu 1, the
     * retired Affine 1/0 and ScaledTanh 1/1).
     */
    public enum Function {
        RELU("Relu", false, false, 0, 0),
        TANH("Tanh", false, false, 0, 0),
        SIGMOID("Sigmoid", false, false, 0, 0),
        AFFINE("Affine", true, true, 1, 0),
        LEAKY_RELU("LeakyRelu", true, false, 0.01, 0),
        THRESHOLDED_RELU("ThresholdedRelu", true, false, 1, 0),
        SCALED_TANH("ScaledTanh", true, true, 1, 1),
        HARD_SIGMOID("HardSigmoid", true, true, 0.2, 0.5),
        ELU("Elu", true, false, 1, 0),
        SOFTSIGN("Softsign", false, false, 0, 0),
        SOFTPLUS("Softplus", false, false, 0, 0);

        private final String onnxName;
        private final boolean takesAlpha;
        private final boolean takesBeta;
        private final double defaultAlpha;
        private final double defaultBeta;

        Function(String onnxName, boolean takesAlpha, boolean takesBeta, double defaultAlpha, double defaultBeta) {
            this.onnxName = onnxName;
            this.takesAlpha = takesAlpha;
            this.takesBeta = takesBeta;
            this.defaultAlpha = defaultAlpha;
            this.defaultBeta = defaultBeta;
        }

        public String onnxName() { return onnxName; }

        public boolean takesAlpha() { return takesAlpha; }

        public boolean takesBeta() { return takesBeta; }

        /** The function spelled {@code name} (case-insensitive, as ONNX Runtime accepts it), if any. */
        static Optional<Function> named(String name) {
            for (Function f : values()) {
                if (f.onnxName.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
                    return Optional.of(f);
                }
            }
            return Optional.empty();
        }
    }

    /** The function applied to x, in double. */
    public double apply(double x) {
        return switch (function) {
            case RELU -> x > 0 ? x : x == 0 || Double.isNaN(x) ? x : 0;
            case TANH -> Math.tanh(x);
            case SIGMOID -> sigmoid(x);
            case AFFINE -> alpha * x + beta;
            case LEAKY_RELU -> x >= 0 ? x : alpha * x;
            // The recurrent-op spec says "x if x >= alpha" (the standalone ThresholdedRelu op uses x > alpha).
            case THRESHOLDED_RELU -> x >= alpha ? x : Double.isNaN(x) ? x : 0;
            case SCALED_TANH -> alpha * Math.tanh(beta * x);
            case HARD_SIGMOID -> Math.min(Math.max(alpha * x + beta, 0), 1);
            case ELU -> x >= 0 ? x : alpha * (Math.exp(x) - 1);
            case SOFTSIGN -> x / (1 + Math.abs(x));
            case SOFTPLUS -> softplus(x);
        };
    }

    /** 1/(1+e^-x), written so that neither branch overflows. */
    static double sigmoid(double x) {
        if (x >= 0) {
            return 1 / (1 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1 + e);
    }

    /** log(1+e^x) without overflow for large x. */
    private static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    /**
     * The activations of a recurrent node, {@code perDirection} for each of {@code numDirections} directions:
     * element {@code d * perDirection + j} is function j of direction d.
     *
     * <p>Names come from the {@code activations} attribute when set, else from {@code defaults} (one
     * direction's list, repeated). Alphas and betas are consumed in the order of the listed functions, each
     * function taking the next value only if it uses one, and falling back to its default when the list has run
     * out. A list of one direction's functions on a bidirectional node is used for both directions; a longer
     * list than needed (RNN's default {@code [Tanh, Tanh]} on a one-direction node) is read from its start.
     */
    public static List<RnnActivation> forNode(NodeContext ctx, List<String> defaults, int numDirections) {
        int perDirection = defaults.size();
        List<String> names = new ArrayList<>();
        if (ctx.isSet("activations")) {
            names.addAll(ctx.attrStrings("activations"));
        } else {
            for (int d = 0; d < numDirections; d++) {
                names.addAll(defaults);
            }
        }
        float[] alphas = ctx.isSet("activation_alpha") ? ctx.attrFloats("activation_alpha") : new float[0];
        float[] betas = ctx.isSet("activation_beta") ? ctx.attrFloats("activation_beta") : new float[0];
        List<RnnActivation> listed = new ArrayList<>();
        int nextAlpha = 0;
        int nextBeta = 0;
        for (String name : names) {
            Function f = Function.named(name).orElseThrow(() -> ctx.fail("unknown activation '" + name
                    + "' (known: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid,"
                    + " Elu, Softsign, Softplus)"));
            double alpha = f.defaultAlpha;
            double beta = f.defaultBeta;
            if (f.takesAlpha && nextAlpha < alphas.length) {
                alpha = alphas[nextAlpha++];
            }
            if (f.takesBeta && nextBeta < betas.length) {
                beta = betas[nextBeta++];
            }
            listed.add(new RnnActivation(f, alpha, beta));
        }
        int needed = perDirection * numDirections;
        if (listed.size() >= needed) {
            return List.copyOf(listed.subList(0, needed));
        }
        if (listed.size() == perDirection) {
            List<RnnActivation> both = new ArrayList<>(listed);
            both.addAll(listed);
            return List.copyOf(both);
        }
        throw ctx.fail("activations lists " + listed.size() + " functions but " + needed + " are needed ("
                + perDirection + " per direction, " + numDirections + " direction(s))");
    }
}
