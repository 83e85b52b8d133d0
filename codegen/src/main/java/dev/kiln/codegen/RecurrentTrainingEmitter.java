package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ops.NnGradOps;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Locale;

/**
 * LSTM and GRU whose weights are a trainer's parameters (fields that change every step), and their gradients
 * {@code dev.kiln.LSTMGrad} / {@code GRUGrad}, as calls of the runtime's {@code RecurrentTraining}: the forward packs
 * W and R at run time and keeps every step's gates. Where the graph holds the one gradient node of that forward (a
 * trainer's step), the gates go to an array of their own that the gradient then walks back in time; otherwise (the
 * inference class of a training compile) they go to the batch scratch. A gradient node without such a forward (one
 * whose forward ran the inference kernels, on constant weights) recomputes the forward. One direction (forward or reverse), layout 0, default activations, no clip, peepholes, input_forget
 * or sequence_lens, and GRU with linear_before_reset = 1 (PyTorch's form); others are refused here.
 */
final class RecurrentTrainingEmitter implements KernelEmitter {
    static final ClassName TRAINING = ClassName.get("dev.kiln.runtime.train", "RecurrentTraining");
    /** Input k of a gradient node is input {@code FORWARD_INPUT[k]} of its forward: X, W, R, B, initial_h, initial_c. */
    private static final int[] FORWARD_INPUT = {0, 1, 2, 3, 5, 6};

    /** The forward LSTM or GRU on weights held in fields. */
    static CodeBlock forward(EmitContext ctx) {
        Node n = ctx.node;
        boolean lstm = n.op().equals("LSTM");
        check(ctx, lstm);
        if (n.attributes().has("clip")) {
            throw ctx.unsupported(n.op() + " with clip on weights that change at run time");
        }
        if (n.hasInput(4) || (lstm && (n.hasInput(7) || ctx.intAttr("input_forget") != 0))) {
            throw ctx.unsupported(n.op() + " with sequence_lens, peepholes or input_forget");
        }
        Value x = n.input(0);
        int seq = ctx.staticDim(x, 0);
        int hidden = ctx.staticDim(n.input(2), 2);
        int perStep = (lstm ? 7 : 5) * hidden;
        CodeBlock batch = ctx.dim(x.shape().dim(1));
        CodeBlock.Builder code = CodeBlock.builder();
        String saved;
        if (gradientOf(ctx, n) != null) {
            // Kept until the gradient node reads it: a field of its own, where the batch scratch is any kernel's.
            saved = ctx.savedGates(n);
            CodeBlock length = CodeBlock.of("$T.$N($L, $L, $L)", TRAINING, lstm ? "lstmSavedLength" : "gruSavedLength",
                    hidden, seq, batch);
            code.beginControlFlow("if (this.$N.length < $L)", saved, length)
                    .addStatement("this.$N = new float[$L]", saved, length)
                    .endControlFlow();
        } else {
            saved = x.shape().dim(1).isStatic()
                    ? ctx.scratch(Math.toIntExact((long) seq * perStep * x.shape().dim(1).value()))
                    : ctx.batchScratch((long) seq * perStep);
        }
        CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", TRAINING,
                lstm ? "lstmForward" : "gruForward", ctx.staticDim(x, 2), hidden, seq, batch, reverse(ctx));
        if (!lstm) {
            call.add("true, ");
        }
        call.add(in(ctx, 0)).add(in(ctx, 1)).add(in(ctx, 2)).add(in(ctx, 3)).add(in(ctx, 5));
        if (lstm) {
            call.add(in(ctx, 6));
        }
        call.add(out(ctx, 0)).add("$L, ", CodeBlock.of("$L * $L", batch, hidden)).add(out(ctx, 1));
        if (lstm) {
            call.add(out(ctx, 2));
        }
        call.add("this.$N, 0, $L)", saved, pool(ctx));
        return code.addStatement("$L", call.build()).build();
    }

    /** LSTMGrad and GRUGrad: from the gates their forward kept when it did, else recomputing them. */
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean lstm = n.op().equals("LSTMGrad");
        check(ctx, lstm);
        Value x = n.input(0);
        int seq = ctx.staticDim(x, 0);
        int hidden = ctx.staticDim(n.input(2), 2);
        CodeBlock batch = ctx.dim(x.shape().dim(1));
        int dy = lstm ? 6 : 5;
        Node forward = forwardOf(ctx, n);
        String saved = forward == null ? null : ctx.savedGatesOf(forward);
        String method = saved != null ? (lstm ? "lstmBackward" : "gruBackward") : (lstm ? "lstmGrad" : "gruGrad");
        CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", TRAINING, method,
                ctx.staticDim(x, 2), hidden, seq, batch, reverse(ctx));
        if (!lstm) {
            call.add("true, ");
        }
        call.add(in(ctx, 0)).add(in(ctx, 1)).add(in(ctx, 2));
        if (saved == null) {
            call.add(in(ctx, 3)); // B, which only the recomputed forward reads
        }
        call.add(in(ctx, 4));
        if (lstm) {
            call.add(in(ctx, 5));
        }
        if (saved != null) {
            call.add("this.$N, 0, ", saved);
        }
        call.add(in(ctx, dy)).add("$L, ", CodeBlock.of("$L * $L", batch, hidden)).add(in(ctx, dy + 1));
        if (lstm) {
            call.add(in(ctx, dy + 2));
        }
        // dX is skipped when nothing reads it (X is data, not a parameter's path).
        call.add(n.hasOutput(0) && ctx.isRead(n.output(0)) ? out(ctx, 0) : CodeBlock.of("null, 0, ")).add("false, ");
        call.add(out(ctx, 1)).add(out(ctx, 2)).add(out(ctx, 3)).add(out(ctx, 4));
        if (lstm) {
            call.add(out(ctx, 5));
        }
        call.add("$L)", pool(ctx));
        return CodeBlock.builder().addStatement("$L", call.build()).build();
    }

    /** The one gradient node of the graph that differentiates {@code forward}, and of nothing else; or null. */
    private static Node gradientOf(EmitContext ctx, Node forward) {
        Node grad = only(ctx.graphNodes().stream().filter(g -> differentiates(g, forward)).toList());
        return grad != null && forwardOf(ctx, grad) == forward ? grad : null;
    }

    /** The one forward node of the graph that {@code grad} differentiates, or null. */
    private static Node forwardOf(EmitContext ctx, Node grad) {
        return only(ctx.graphNodes().stream().filter(f -> differentiates(grad, f)).toList());
    }

    private static Node only(List<Node> nodes) {
        return nodes.size() == 1 ? nodes.get(0) : null;
    }

    /**
     * Whether {@code grad} is the gradient node of {@code forward}: the LSTMGrad or GRUGrad the gradient rule emits
     * for it, on the same values and of the same form, so that the gates the forward computes are the ones the
     * gradient would recompute.
     */
    private static boolean differentiates(Node grad, Node forward) {
        boolean lstm = forward.qualifiedOp().equals("LSTM");
        if (!lstm && !forward.qualifiedOp().equals("GRU")) {
            return false;
        }
        if (!grad.domain().equals(OpTable.KILN_DOMAIN)
                || !grad.op().equals(lstm ? NnGradOps.LSTM_GRAD : NnGradOps.GRU_GRAD)) {
            return false;
        }
        for (int k = 0; k < (lstm ? 6 : 5); k++) {
            int i = FORWARD_INPUT[k];
            if (grad.hasInput(k) != forward.hasInput(i)
                    || grad.hasInput(k) && !grad.input(k).equals(forward.input(i))) {
                return false;
            }
        }
        OpTable ops = OpTable.get();
        return ops.stringAttr(grad, "direction").equals(ops.stringAttr(forward, "direction"))
                && ops.intAttr(grad, "layout") == ops.intAttr(forward, "layout")
                && grad.attributes().get("hidden_size").equals(forward.attributes().get("hidden_size"))
                && (lstm || ops.intAttr(grad, "linear_before_reset") == ops.intAttr(forward, "linear_before_reset"));
    }

    private static void check(EmitContext ctx, boolean lstm) {
        Node n = ctx.node;
        if (ctx.intAttr("layout") != 0) {
            throw ctx.unsupported(n.op() + " with layout=1 (batch-major) on weights that change at run time");
        }
        String direction = ctx.stringAttr("direction");
        if (!direction.equals("forward") && !direction.equals("reverse")) {
            throw ctx.unsupported(n.op() + " with direction=" + direction + " on weights that change at run time");
        }
        if (n.attributes().has("activations")) {
            List<String> acts = ((Attr.Strs) n.attributes().get("activations").orElseThrow()).values().stream()
                    .map(a -> a.toLowerCase(Locale.ROOT)).toList();
            if (!acts.equals(lstm ? List.of("sigmoid", "tanh", "tanh") : List.of("sigmoid", "tanh"))) {
                throw ctx.unsupported(n.op() + " with activations " + acts);
            }
        }
        if (!lstm && ctx.intAttr("linear_before_reset") == 0) {
            throw ctx.unsupported(n.op() + " with linear_before_reset=0 (the runtime's training GRU is PyTorch's form, 1)");
        }
    }

    private static boolean reverse(EmitContext ctx) {
        return ctx.stringAttr("direction").equals("reverse");
    }

    private static CodeBlock pool(EmitContext ctx) {
        return CodeBlock.of(ctx.threaded() ? "this.workers" : "null");
    }

    private static CodeBlock in(EmitContext ctx, int i) {
        if (!ctx.node.hasInput(i)) {
            return CodeBlock.of("null, 0, ");
        }
        TensorRef r = ctx.in(i);
        return CodeBlock.of("$N, $L, ", r.array(), r.offset());
    }

    private static CodeBlock out(EmitContext ctx, int i) {
        if (i >= ctx.node.outputs().size() || !ctx.node.hasOutput(i)) {
            return CodeBlock.of("null, 0, ");
        }
        TensorRef r = ctx.out(i);
        return CodeBlock.of("$N, $L, ", r.array(), r.offset());
    }
}
