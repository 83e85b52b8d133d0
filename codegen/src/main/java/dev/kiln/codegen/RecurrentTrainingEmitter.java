package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ops.NnGradOps;
import dev.kiln.ir.Value;
import java.util.List;

/**
 * LSTM and GRU whose weights are a trainer's parameters (fields that change every step), and their gradients
 * {@code dev.kiln.LSTMGrad} / {@code GRUGrad}, as calls of the runtime's {@code RecurrentTraining}: the forward packs
 * W and R at run time and keeps every step's gates. Where the graph holds the one gradient node of that forward (a
 * trainer's step), the gates go to an array of their own that the gradient then walks back in time; otherwise (the
 * inference class of a training compile) they go to the batch scratch. A gradient node without such a forward (one
 * whose forward ran the inference kernels, on constant weights) recomputes the forward. Any direction (the two of
 * a bidirectional node are independent recurrences, so each is a call of the one-direction kernels on its slices),
 * layout 0 (training graphs have batch-major nodes made sequence-major between Transposes before they get here:
 * {@code SequenceMajorRecurrence}), default activations, no clip, peepholes, input_forget or sequence_lens; others
 * are refused here.
 */
final class RecurrentTrainingEmitter implements KernelEmitter {
    static final ClassName TRAINING = ClassName.get("dev.kiln.runtime.train", "RecurrentTraining");
    /** Input k of a gradient node is input {@code FORWARD_INPUT[k]} of its forward: X, W, R, B, initial_h, initial_c. */
    private static final int[] FORWARD_INPUT = {0, 1, 2, 3, 5, 6};

    /** The forward LSTM or GRU on weights held in fields: one call per direction. */
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
        Layout l = new Layout(ctx, lstm);
        CodeBlock.Builder code = CodeBlock.builder();
        String saved;
        if (gradientOf(ctx, n) != null) {
            // Kept until the gradient node reads it: a field of its own, where the batch scratch is any kernel's.
            saved = ctx.savedGates(n);
            CodeBlock length = CodeBlock.of("$T.$N($L, $L, $L)", TRAINING, lstm ? "lstmSavedLength" : "gruSavedLength",
                    l.hidden, l.seq, l.batch);
            if (l.dirs > 1) {
                length = CodeBlock.of("$T.multiplyExact($L, $L)", Math.class, l.dirs, length);
            }
            code.beginControlFlow("if (this.$N.length < $L)", saved, length)
                    .addStatement("this.$N = new float[$L]", saved, length)
                    .endControlFlow();
        } else {
            long perBatch = (long) l.dirs * l.seq * l.perStep;
            saved = l.x.shape().dim(1).isStatic()
                    ? ctx.scratch(Math.toIntExact(perBatch * l.x.shape().dim(1).value()))
                    : ctx.batchScratch(perBatch);
        }
        for (int d = 0; d < l.dirs; d++) {
            CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", TRAINING,
                    lstm ? "lstmForward" : "gruForward", l.input, l.hidden, l.seq, l.batch, l.reverse(ctx, d));
            if (!lstm) {
                call.add("$L, ", ctx.intAttr("linear_before_reset") != 0);
            }
            call.add(in(ctx, 0, null)).add(in(ctx, 1, l.weights(d))).add(in(ctx, 2, l.recurrent(d)))
                    .add(in(ctx, 3, l.biases(d))).add(in(ctx, 5, l.state(d)));
            if (lstm) {
                call.add(in(ctx, 6, l.state(d)));
            }
            call.add(out(ctx, 0, l.state(d))).add("$L, ", l.yStep()).add(out(ctx, 1, l.state(d)));
            if (lstm) {
                call.add(out(ctx, 2, l.state(d)));
            }
            call.add("this.$N, $L, $L)", saved, l.saved(d), pool(ctx));
            code.addStatement("$L", call.build());
        }
        return code.build();
    }

    /** LSTMGrad and GRUGrad: from the gates their forward kept when it did, else recomputing them; per direction. */
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean lstm = n.op().equals("LSTMGrad");
        check(ctx, lstm);
        Layout l = new Layout(ctx, lstm);
        int dy = lstm ? 6 : 5;
        Node forward = forwardOf(ctx, n);
        String saved = forward == null ? null : ctx.savedGatesOf(forward);
        String method = saved != null ? (lstm ? "lstmBackward" : "gruBackward") : (lstm ? "lstmGrad" : "gruGrad");
        // dX is skipped when nothing reads it (X is data, not a parameter's path).
        boolean dx = n.hasOutput(0) && ctx.isRead(n.output(0));
        CodeBlock.Builder code = CodeBlock.builder();
        for (int d = 0; d < l.dirs; d++) {
            CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", TRAINING, method, l.input,
                    l.hidden, l.seq, l.batch, l.reverse(ctx, d));
            if (!lstm) {
                call.add("$L, ", ctx.intAttr("linear_before_reset") != 0);
            }
            call.add(in(ctx, 0, null)).add(in(ctx, 1, l.weights(d))).add(in(ctx, 2, l.recurrent(d)));
            if (saved == null) {
                call.add(in(ctx, 3, l.biases(d))); // B, which only the recomputed forward reads
            }
            call.add(in(ctx, 4, l.state(d)));
            if (lstm) {
                call.add(in(ctx, 5, l.state(d)));
            }
            if (saved != null) {
                call.add("this.$N, $L, ", saved, l.saved(d));
            }
            call.add(in(ctx, dy, l.state(d))).add("$L, ", l.yStep()).add(in(ctx, dy + 1, l.state(d)));
            if (lstm) {
                call.add(in(ctx, dy + 2, l.state(d)));
            }
            // Both directions read the same X: the second adds its dX to the first's.
            call.add(dx ? out(ctx, 0, null) : CodeBlock.of("null, 0, ")).add("$L, ", d > 0);
            call.add(out(ctx, 1, l.weights(d))).add(out(ctx, 2, l.recurrent(d))).add(out(ctx, 3, l.biases(d)))
                    .add(out(ctx, 4, l.state(d)));
            if (lstm) {
                call.add(out(ctx, 5, l.state(d)));
            }
            call.add("$L)", pool(ctx));
            code.addStatement("$L", call.build());
        }
        return code.build();
    }

    /**
     * Sizes of a node and where direction d's slices start in its tensors (layout 0): W, R and B (and their
     * gradients) are [dirs, ...] with one direction's block after the other; the states [dirs, batch, H]; Y and dY
     * [seq, dirs, batch, H], so a direction's step t is {@code t * yStep} from its first row; the saved gates one
     * direction's buffer after the other.
     */
    private static final class Layout {
        final Value x;
        final int dirs;
        final int seq;
        final int input;
        final int hidden;
        final int gates;
        final int perStep;
        final CodeBlock batch;

        Layout(EmitContext ctx, boolean lstm) {
            x = ctx.node.input(0);
            dirs = ctx.stringAttr("direction").equals("bidirectional") ? 2 : 1;
            seq = ctx.staticDim(x, 0);
            input = ctx.staticDim(x, 2);
            hidden = ctx.staticDim(ctx.node.input(2), 2);
            gates = lstm ? 4 : 3;
            perStep = (lstm ? 7 : 5) * hidden;
            batch = ctx.dim(x.shape().dim(1));
        }

        /** A reverse node walks time backwards, and so does the second direction of a bidirectional one. */
        boolean reverse(EmitContext ctx, int d) {
            return d == 1 || ctx.stringAttr("direction").equals("reverse");
        }

        CodeBlock weights(int d) {
            return constant((long) d * gates * hidden * input);
        }

        CodeBlock recurrent(int d) {
            return constant((long) d * gates * hidden * hidden);
        }

        CodeBlock biases(int d) {
            return constant((long) d * 2 * gates * hidden);
        }

        /** Direction d's [batch, H] block of a state (and of Y's and dY's steps). */
        CodeBlock state(int d) {
            return d == 0 ? null : CodeBlock.of("$L * $L", batch, (long) d * hidden);
        }

        CodeBlock yStep() {
            return CodeBlock.of("$L * $L", batch, (long) dirs * hidden);
        }

        /** Where direction d's gates start in the saved buffer: after d directions' seq x batch x perStep floats. */
        CodeBlock saved(int d) {
            return d == 0 ? CodeBlock.of("0") : CodeBlock.of("$L * $L", batch, (long) d * seq * perStep);
        }

        private static CodeBlock constant(long offset) {
            return offset == 0 ? null : CodeBlock.of("$L", Math.toIntExact(offset));
        }
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
        if (n.attributes().has("activations") && !RecurrentEmitter.defaultActivations(n, lstm)) {
            throw ctx.unsupported(n.op() + " with activations "
                    + ((Attr.Strs) n.attributes().get("activations").orElseThrow()).values());
        }
    }

    private static CodeBlock pool(EmitContext ctx) {
        return CodeBlock.of(ctx.threaded() ? "this.workers" : "null");
    }

    /** Input i as {@code array, offset, } with {@code extra} (or nothing, when null) added to its offset. */
    private static CodeBlock in(EmitContext ctx, int i, CodeBlock extra) {
        return ctx.node.hasInput(i) ? ref(ctx.in(i), extra) : CodeBlock.of("null, 0, ");
    }

    private static CodeBlock out(EmitContext ctx, int i, CodeBlock extra) {
        if (i >= ctx.node.outputs().size() || !ctx.node.hasOutput(i)) {
            return CodeBlock.of("null, 0, ");
        }
        return ref(ctx.out(i), extra);
    }

    private static CodeBlock ref(TensorRef r, CodeBlock extra) {
        return CodeBlock.of("$N, $L, ", r.array(), extra == null ? r.offset() : r.plus(extra));
    }
}
