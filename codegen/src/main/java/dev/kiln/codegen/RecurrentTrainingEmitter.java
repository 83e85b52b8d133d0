package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Locale;

/**
 * LSTM and GRU whose weights are a trainer's parameters (fields that change every step), and their gradients
 * {@code dev.kiln.LSTMGrad} / {@code GRUGrad}, as calls of the runtime's {@code RecurrentTraining}: the forward packs
 * W and R at run time and keeps every step's gates in the batch scratch, the gradient recomputes that forward and
 * walks it back in time. One direction (forward or reverse), layout 0, default activations, no clip, peepholes,
 * input_forget or sequence_lens, and GRU with linear_before_reset = 1 (PyTorch's form); others are refused here.
 */
final class RecurrentTrainingEmitter implements KernelEmitter {
    static final ClassName TRAINING = ClassName.get("dev.kiln.runtime.train", "RecurrentTraining");

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
        String saved = x.shape().dim(1).isStatic()
                ? ctx.scratch(Math.toIntExact((long) seq * perStep * x.shape().dim(1).value()))
                : ctx.batchScratch((long) seq * perStep);
        CodeBlock batch = ctx.dim(x.shape().dim(1));
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
        return CodeBlock.builder().addStatement("$L", call.build()).build();
    }

    /** LSTMGrad and GRUGrad. */
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
        CodeBlock.Builder call = CodeBlock.builder().add("$T.$N($L, $L, $L, $L, $L, ", TRAINING,
                lstm ? "lstmGrad" : "gruGrad", ctx.staticDim(x, 2), hidden, seq, batch, reverse(ctx));
        if (!lstm) {
            call.add("true, ");
        }
        call.add(in(ctx, 0)).add(in(ctx, 1)).add(in(ctx, 2)).add(in(ctx, 3)).add(in(ctx, 4));
        if (lstm) {
            call.add(in(ctx, 5));
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
