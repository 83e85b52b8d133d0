package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.runtime.Recurrent;
import java.util.List;

/**
 * LSTM and GRU (float32, constant weights, layout 0, default activations, no peepholes) as one call of the
 * runtime's {@code Recurrent} per direction: the input projection of all steps is one GEMM, each step one recurrent
 * GEMM and the gate math, on weights packed at generation time. Every other form, and RNN, is
 * {@link ScalarRecurrentEmitter}'s scalar loops.
 */
final class RecurrentEmitter implements KernelEmitter {
    static final ClassName RECURRENT = ClassName.get("dev.kiln.runtime", "Recurrent");
    static final ClassName PACKED = ClassName.get("dev.kiln.runtime", "PackedMatrix");
    private static final TypeName FLOATS = ArrayTypeName.of(TypeName.FLOAT);

    /** Any element type: forms the packed float32 kernel does not take go to {@link ScalarRecurrentEmitter}. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (cellForm(ctx, n) && !constantWeights(ctx, n)) {
            // A trainer's parameters, or the inference class compiled for training: packed at run time, each
            // direction of a bidirectional node a call of its own. The training kernels take no clip.
            if (!n.attributes().has("clip")) {
                return RecurrentTrainingEmitter.forward(ctx);
            }
        }
        if (!cellForm(ctx, n) || !constantWeights(ctx, n)) {
            return ScalarRecurrentEmitter.emit(ctx);
        }
        boolean lstm = n.op().equals("LSTM");
        String direction = ctx.stringAttr("direction");
        boolean both = direction.equals("bidirectional");
        Value x = n.input(0);
        int seq = ctx.staticDim(x, 0);
        int hidden = (int) ctx.intAttr("hidden_size");
        float clip = n.attributes().has("clip") ? ctx.floatAttr("clip") : Float.POSITIVE_INFINITY;
        long perRow = lstm ? (seq * 4L + 2) * hidden : (seq * 3L + 2) * hidden;
        dev.kiln.ir.Dim rows = x.shape().dim(1);
        // One scratch serves both directions of a bidirectional node: they run one after the other.
        String scratch = rows.isStatic() ? ctx.scratch(Math.toIntExact(perRow * rows.value())) : ctx.batchScratch(perRow);
        // A bidirectional node is two calls, direction d on W[d], R[d], B[d] and the d-th [batch, H] block of every
        // state and of each step of Y [seq, 2, batch, H].
        CodeBlock block = ctx.dim(rows.times(hidden));
        CodeBlock.Builder code = CodeBlock.builder();
        for (int d = 0; d < (both ? 2 : 1); d++) {
            CodeBlock weights = packedWeights(ctx, n, lstm, d);
            boolean reverse = both ? d == 1 : direction.equals("reverse");
            // The rows of X's batch dim: the run's batch, or a static count when the model has no dynamic dim.
            CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", RECURRENT, lstm ? "lstm" : "gru",
                    weights, seq, ctx.dim(rows), reverse, ElementwiseEmitter.literal(clip));
            TensorRef in = ctx.in(0);
            call.add("$N, $L, ", in.array(), in.offset());
            call.add(optional(ctx, n, 5, d, block));
            if (lstm) {
                call.add(optional(ctx, n, 6, d, block));
            }
            call.add(output(ctx, n, 0, d, block));
            if (both) {
                call.add("2 * $L, ", block);
            }
            call.add(output(ctx, n, 1, d, block));
            if (lstm) {
                call.add(output(ctx, n, 2, d, block));
            }
            call.add("this.$N, $L)", scratch, ctx.threaded() ? "this.workers" : "null");
            code.addStatement("$L", call.build());
        }
        return code.build();
    }

    /** Direction {@code d}'s W, R and B packed at generation time, as the runtime's weights object. */
    private static CodeBlock packedWeights(EmitContext ctx, Node n, boolean lstm, int d) {
        Value x = n.input(0);
        int input = ctx.staticDim(x, 2);
        int hidden = (int) ctx.intAttr("hidden_size");
        int gates = (lstm ? 4 : 3) * hidden;
        float[] w = slice(ctx.constant(n.input(1)).toFloatArray(), d, gates * input);
        float[] r = slice(ctx.constant(n.input(2)).toFloatArray(), d, gates * hidden);
        float[] b = n.hasInput(3) ? slice(ctx.constant(n.input(3)).toFloatArray(), d, 2 * gates) : null;
        String base = Identifiers.camel(n.input(1).name(), "rnn") + (d == 0 ? "" : "Reverse");
        String key = n.input(1).name() + "|" + n.input(2).name() + "|" + (n.hasInput(3) ? n.input(3).name() : "")
                + (d == 0 ? "" : "#" + d);
        if (lstm) {
            Recurrent.LstmWeights p = Recurrent.packLstm(w, r, b, input, hidden);
            String wf = ctx.weight(key + "@lstm.w", p.w().data(), PACKED, base + "W", "$2T.wrap($1L, $3L, $4L)", PACKED,
                    input, 4 * hidden);
            String rf = ctx.weight(key + "@lstm.r", p.r().data(), PACKED, base + "R", "$2T.wrap($1L, $3L, $4L)", PACKED,
                    hidden, 4 * hidden);
            String bf = ctx.weight(key + "@lstm.bias", p.bias(), FLOATS, base + "Bias", "$1L");
            ClassName type = RECURRENT.nestedClass("LstmWeights");
            return CodeBlock.of("this.$N", ctx.derivedField(key, type, Identifiers.method(n) + (d == 0 ? "" : "Reverse")
                    + "Weights", CodeBlock.of("new $T($L, $L, $N, $N, $N)", type, input, hidden, wf, rf, bf)));
        }
        boolean lbr = ctx.intAttr("linear_before_reset") != 0;
        Recurrent.GruWeights p = Recurrent.packGru(w, r, b, input, hidden, lbr);
        String wf = ctx.weight(key + "@gru.w", p.w().data(), PACKED, base + "W", "$2T.wrap($1L, $3L, $4L)", PACKED,
                input, 3 * hidden);
        String rg = ctx.weight(key + "@gru.rgates", p.rGates().data(), PACKED, base + "RGates",
                "$2T.wrap($1L, $3L, $4L)", PACKED, hidden, 2 * hidden);
        String rh = ctx.weight(key + "@gru.rhidden", p.rHidden().data(), PACKED, base + "RHidden",
                "$2T.wrap($1L, $3L, $4L)", PACKED, hidden, hidden);
        String bf = ctx.weight(key + "@gru.bias", p.bias(), FLOATS, base + "Bias", "$1L");
        String hb = ctx.weight(key + "@gru.hiddenbias", p.hiddenBias(), FLOATS, base + "HiddenBias", "$1L");
        ClassName type = RECURRENT.nestedClass("GruWeights");
        return CodeBlock.of("this.$N", ctx.derivedField(key, type, Identifiers.method(n) + (d == 0 ? "" : "Reverse")
                + "Weights", CodeBlock.of("new $T($L, $L, $L, $N, $N, $N, $N, $N)", type, input, hidden, lbr, wf, rg, rh,
                bf, hb)));
    }

    /** Direction {@code d}'s block of {@code length} values of a [directions, ...] tensor. */
    private static float[] slice(float[] all, int d, int length) {
        return java.util.Arrays.copyOfRange(all, d * length, (d + 1) * length);
    }

    /** W, R and B known at generation time, so the packed kernel's weights are packed once. */
    private static boolean constantWeights(EmitContext ctx, Node n) {
        for (int i = 1; i <= 3; i++) {
            if (n.hasInput(i) && !ctx.isConstant(n.input(i))) {
                return false;
            }
        }
        return true;
    }

    /**
     * LSTM or GRU on float32, layout 0, default activations and no sequence_lens, peepholes or input_forget: the cell
     * the vectorized kernels compute, in any direction (a bidirectional node is two calls of them).
     */
    private static boolean cellForm(EmitContext ctx, Node n) {
        if (n.op().equals("RNN")) {
            return false;
        }
        boolean lstm = n.op().equals("LSTM");
        for (int i = 0; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && i != 4 && n.input(i).dtype() != dev.kiln.ir.DType.FLOAT32) {
                return false;
            }
        }
        return ctx.intAttr("layout") == 0
                && (!n.attributes().has("activations") || defaultActivations(n, lstm))
                && !n.attributes().has("activation_alpha") && !n.attributes().has("activation_beta")
                && !n.hasInput(4) && !(lstm && (n.hasInput(7) || ctx.intAttr("input_forget") != 0));
    }

    /** Whether the node's activations are the defaults, once per direction (f, g, h for LSTM; f, g for GRU). */
    static boolean defaultActivations(Node n, boolean lstm) {
        List<String> acts = ((Attr.Strs) n.attributes().get("activations").orElseThrow()).values();
        List<String> expected = lstm ? List.of("sigmoid", "tanh", "tanh") : List.of("sigmoid", "tanh");
        int dirs = dev.kiln.ir.OpTable.get().stringAttr(n, "direction").equals("bidirectional") ? 2 : 1;
        if (acts.size() != dirs * expected.size()) {
            return false;
        }
        for (int i = 0; i < acts.size(); i++) {
            if (!acts.get(i).toLowerCase(java.util.Locale.ROOT).equals(expected.get(i % expected.size()))) {
                return false;
            }
        }
        return true;
    }

    /** An optional input, at direction {@code d}'s [batch, H] block (initial_h and initial_c are [dirs, batch, H]). */
    private static CodeBlock optional(EmitContext ctx, Node n, int input, int d, CodeBlock block) {
        if (!n.hasInput(input)) {
            return CodeBlock.of("null, 0, ");
        }
        TensorRef r = ctx.in(input);
        return CodeBlock.of("$N, $L, ", r.array(), d == 0 ? r.offset() : r.plus(block));
    }

    /**
     * An output at direction {@code d}'s block (Y's first step, Y_h, Y_c); one the graph never reads is not written:
     * Y alone is seq x batch x hidden floats per call.
     */
    private static CodeBlock output(EmitContext ctx, Node n, int output, int d, CodeBlock block) {
        if (!n.hasOutput(output) || !ctx.isRead(n.output(output))) {
            return CodeBlock.of("null, 0, ");
        }
        TensorRef r = ctx.out(output);
        return CodeBlock.of("$N, $L, ", r.array(), d == 0 ? r.offset() : r.plus(block));
    }
}
