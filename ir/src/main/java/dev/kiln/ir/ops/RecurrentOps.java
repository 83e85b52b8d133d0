package dev.kiln.ir.ops;

import dev.kiln.ir.Attr;
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
import dev.kiln.ir.ops.RecurrentLoop.Cell;
import dev.kiln.ir.ops.RecurrentLoop.Setup;
import dev.kiln.ir.ops.RecurrentLoop.Weights;
import java.util.ArrayList;
import java.util.List;

/** The one-layer recurrent ops LSTM, GRU and simple RNN (forward, reverse or bidirectional, either layout). */
public final class RecurrentOps {
    private RecurrentOps() {}

    private static final int X = 0;
    private static final int W = 1;
    private static final int R = 2;
    private static final int B = 3;
    private static final int SEQUENCE_LENS = 4;
    private static final int INITIAL_H = 5;
    private static final int INITIAL_C = 6;
    private static final int P = 7;

    public static void register(OpTable.Registrar r) {
        r.add(common(OpDef.builder("LSTM").since(14)
                .doc("One-layer LSTM: gates i,o,f,c with optional peepholes, Ct = ft*Ct-1 + it*ct, Ht = ot*h(Ct).")
                .inputs("X", "W", "R", "B?", "sequence_lens?", "initial_h?", "initial_c?", "P?")
                .outputs("Y?", "Y_h?", "Y_c?")
                .optionalAttr("activations", AttrType.STRINGS,
                        "3 (or 6 if bidirectional) activations f, g, h; default Sigmoid, Tanh, Tanh")
                .attrInt("input_forget", 0, "couple the input and forget gates (ft = 1 - it) if 1"))
                .shape(ctx -> inferShapes(ctx, 4, 2))
                .eval(RecurrentOps::evalLstm)
                .grad(NnGradRules::lstm)
                .build());
        r.add(common(OpDef.builder("GRU").since(14)
                .doc("One-layer GRU: gates z,r,h; Ht = (1-zt)*ht + zt*Ht-1.")
                .inputs("X", "W", "R", "B?", "sequence_lens?", "initial_h?")
                .outputs("Y?", "Y_h?")
                .optionalAttr("activations", AttrType.STRINGS,
                        "2 (or 4 if bidirectional) activations f, g; default Sigmoid, Tanh")
                .attrInt("linear_before_reset", 0,
                        "apply the recurrent linear transformation (with Rbh) before multiplying by the reset gate"))
                .shape(ctx -> inferShapes(ctx, 3, 1))
                .eval(RecurrentOps::evalGru)
                .grad(NnGradRules::gru)
                .build());
        r.add(common(OpDef.builder("RNN").since(14)
                .doc("One-layer simple RNN: Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi).")
                .inputs("X", "W", "R", "B?", "sequence_lens?", "initial_h?")
                .outputs("Y?", "Y_h?")
                .attr("activations", AttrType.STRINGS, new Attr.Strs(List.of("Tanh", "Tanh")),
                        "1 (or 2 if bidirectional) activation f"))
                .shape(ctx -> inferShapes(ctx, 1, 1))
                .eval(RecurrentOps::evalRnn)
                .grad(NnGradRules::rnn)
                .build());
    }

    /** The attributes all three ops share. */
    private static OpDef.Builder common(OpDef.Builder b) {
        return b.optionalAttr("activation_alpha", AttrType.FLOATS,
                        "alphas of the activations that take one, consumed in the order of the activations")
                .optionalAttr("activation_beta", AttrType.FLOATS,
                        "betas of the activations that take one, consumed in the order of the activations")
                .optionalAttr("clip", AttrType.FLOAT,
                        "bound the argument of every gate activation to [-clip, clip]; no clip when absent")
                .attrString("direction", "forward", "forward, reverse or bidirectional")
                .optionalAttr("hidden_size", AttrType.INT, "number of hidden units; taken from R when absent")
                .attrInt("layout", 0, "0: X [seq, batch, input], Y [seq, dirs, batch, hidden], states "
                        + "[dirs, batch, hidden]; 1: X [batch, seq, input], Y [batch, seq, dirs, hidden], "
                        + "states [batch, dirs, hidden]");
    }

    // ---- shape rules ----

    /**
     * Types of Y, Y_h (and Y_c when {@code states} is 2) from X, checking every given input against the
     * shapes the spec requires; seq and batch come from X, so a symbolic batch stays symbolic.
     */
    private static List<TensorType> inferShapes(ShapeContext ctx, int gates, int states) {
        boolean batchFirst = RecurrentLoop.layout(ctx);
        Dim dirs = Dim.of(RecurrentLoop.numDirections(ctx));
        TensorType x = ctx.inputType(X);
        if (x.rank() != 3) {
            throw ctx.fail("X must have rank 3 but has rank " + x.rank());
        }
        DType t = x.dtype();
        if (!t.isFloat()) {
            throw ctx.fail("X must be a floating type");
        }
        for (int i = 1; i < ctx.inputCount(); i++) {
            if (i != SEQUENCE_LENS && ctx.hasInput(i) && ctx.inputDtype(i) != t) {
                throw ctx.fail("input " + ctx.def().inputName(i) + " must have X's element type " + t);
            }
        }
        Dim seq = x.shape().dim(batchFirst ? 1 : 0);
        Dim batch = x.shape().dim(batchFirst ? 0 : 1);
        Dim input = x.shape().dim(2);
        Shape r = ctx.inputShape(R);
        if (r.rank() != 3) {
            throw ctx.fail("R must have rank 3 but has rank " + r.rank());
        }
        Dim hidden = hiddenSize(ctx, r.dim(2));
        expect(ctx, W, Shape.of(dirs, hidden.times(gates), input));
        expect(ctx, R, Shape.of(dirs, hidden.times(gates), hidden));
        if (ctx.hasInput(B)) {
            expect(ctx, B, Shape.of(dirs, hidden.times(2L * gates)));
        }
        if (ctx.hasInput(SEQUENCE_LENS)) {
            if (!ctx.inputDtype(SEQUENCE_LENS).isInteger()) {
                throw ctx.fail("sequence_lens must be an integer tensor");
            }
            expect(ctx, SEQUENCE_LENS, Shape.of(batch));
        }
        Shape stateShape = batchFirst ? Shape.of(batch, dirs, hidden) : Shape.of(dirs, batch, hidden);
        for (int k = 0; k < states; k++) {
            if (ctx.hasInput(INITIAL_H + k)) {
                expect(ctx, INITIAL_H + k, stateShape);
            }
        }
        if (states == 2 && ctx.hasInput(P)) {
            expect(ctx, P, Shape.of(dirs, hidden.times(3)));
        }
        List<TensorType> out = new ArrayList<>();
        out.add(new TensorType(t, batchFirst ? Shape.of(batch, seq, dirs, hidden) : Shape.of(seq, dirs, batch, hidden)));
        for (int k = 0; k < states; k++) {
            out.add(new TensorType(t, stateShape));
        }
        return out;
    }

    private static Dim hiddenSize(NodeContext ctx, Dim fromR) {
        if (!ctx.isSet("hidden_size")) {
            return fromR;
        }
        long h = ctx.attrInt("hidden_size");
        if (h <= 0) {
            throw ctx.fail("hidden_size must be positive but is " + h);
        }
        return Dim.of(h);
    }

    /** Fails unless input i has the expected rank and no dim that provably differs from the expected one. */
    private static void expect(ShapeContext ctx, int i, Shape expected) {
        Shape actual = ctx.inputShape(i);
        boolean ok = actual.rank() == expected.rank();
        for (int k = 0; ok && k < actual.rank(); k++) {
            Dim a = actual.dim(k);
            Dim e = expected.dim(k);
            ok = a.equals(e) || !a.isStatic() || !e.isStatic();
        }
        if (!ok) {
            throw ctx.fail(ctx.def().inputName(i) + " must have shape " + expected + " but has " + actual);
        }
    }

    // ---- reference semantics ----

    private static List<Tensor> evalLstm(EvalContext ctx) {
        int dirs = RecurrentLoop.numDirections(ctx);
        int hidden = hiddenSize(ctx);
        Setup s = RecurrentLoop.setup(ctx, hidden, dirs);
        List<RnnActivation> acts = RnnActivation.forNode(ctx, List.of("Sigmoid", "Tanh", "Tanh"), dirs);
        double clip = clip(ctx);
        boolean inputForget = ctx.attrInt("input_forget") != 0;
        Cell[] cells = new Cell[dirs];
        for (int d = 0; d < dirs; d++) {
            Weights w = Weights.read(ctx, d, 4, hidden, dirs);
            double[] peephole = new double[3 * hidden];
            if (ctx.hasInput(P)) {
                Tensor p = ctx.input(P);
                RecurrentLoop.requireShape(ctx, p, "P", dirs, 3 * hidden);
                System.arraycopy(p.doubles(), d * 3 * hidden, peephole, 0, 3 * hidden);
            }
            cells[d] = RecurrentCells.lstm(w, peephole, acts.get(3 * d), acts.get(3 * d + 1), acts.get(3 * d + 2),
                    clip, inputForget);
        }
        Tensor[] initial = {initialState(ctx, INITIAL_H, "initial_h", s), initialState(ctx, INITIAL_C, "initial_c", s)};
        return outputs(ctx, RecurrentLoop.run(ctx, s, ctx.input(X).dtype(), cells, initial));
    }

    private static List<Tensor> evalGru(EvalContext ctx) {
        int dirs = RecurrentLoop.numDirections(ctx);
        int hidden = hiddenSize(ctx);
        Setup s = RecurrentLoop.setup(ctx, hidden, dirs);
        List<RnnActivation> acts = RnnActivation.forNode(ctx, List.of("Sigmoid", "Tanh"), dirs);
        double clip = clip(ctx);
        boolean linearBeforeReset = ctx.attrInt("linear_before_reset") != 0;
        Cell[] cells = new Cell[dirs];
        for (int d = 0; d < dirs; d++) {
            Weights w = Weights.read(ctx, d, 3, hidden, dirs);
            cells[d] = RecurrentCells.gru(w, acts.get(2 * d), acts.get(2 * d + 1), clip, linearBeforeReset);
        }
        Tensor[] initial = {initialState(ctx, INITIAL_H, "initial_h", s)};
        return outputs(ctx, RecurrentLoop.run(ctx, s, ctx.input(X).dtype(), cells, initial));
    }

    private static List<Tensor> evalRnn(EvalContext ctx) {
        int dirs = RecurrentLoop.numDirections(ctx);
        int hidden = hiddenSize(ctx);
        Setup s = RecurrentLoop.setup(ctx, hidden, dirs);
        List<RnnActivation> acts = RnnActivation.forNode(ctx, List.of("Tanh"), dirs);
        double clip = clip(ctx);
        Cell[] cells = new Cell[dirs];
        for (int d = 0; d < dirs; d++) {
            cells[d] = RecurrentCells.rnn(Weights.read(ctx, d, 1, hidden, dirs), acts.get(d), clip);
        }
        Tensor[] initial = {initialState(ctx, INITIAL_H, "initial_h", s)};
        return outputs(ctx, RecurrentLoop.run(ctx, s, ctx.input(X).dtype(), cells, initial));
    }

    private static int hiddenSize(EvalContext ctx) {
        return Math.toIntExact(hiddenSize(ctx, Dim.of(ctx.input(R).dim(ctx.input(R).rank() - 1))).value());
    }

    private static double clip(NodeContext ctx) {
        return ctx.isSet("clip") ? ctx.attrFloat("clip") : Double.POSITIVE_INFINITY;
    }

    /** Input i as an initial state of the node's layout, or {@code null} (zeros) when absent. */
    private static Tensor initialState(EvalContext ctx, int i, String name, Setup s) {
        if (!ctx.hasInput(i)) {
            return null;
        }
        Tensor t = ctx.input(i);
        if (s.batchFirst()) {
            RecurrentLoop.requireShape(ctx, t, name, s.batch(), s.numDirections(), s.hidden());
        } else {
            RecurrentLoop.requireShape(ctx, t, name, s.numDirections(), s.batch(), s.hidden());
        }
        return t;
    }

    private static List<Tensor> outputs(EvalContext ctx, List<Tensor> all) {
        return List.copyOf(all.subList(0, ctx.outputCount()));
    }
}
