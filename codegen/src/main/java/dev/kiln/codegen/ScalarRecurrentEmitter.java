package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import java.util.List;
import java.util.Locale;

/**
 * RNN, and the LSTM and GRU forms the runtime's packed {@code Recurrent} kernel does not take (weights computed at
 * run time, layout 1, sequence_lens, bidirectional, peepholes, input_forget, Relu activations, float16): the
 * spec's equations as scalar loops reading W, R and B in place, one batch row and direction at a time. Each gate
 * is computed in double; the states between steps live in a float scratch (float32 and narrower inputs only).
 * Steps at or past a row's sequence length give zeros in Y, and its final state is the one after its last
 * valid step (zeros for length 0), as in the reference evaluator.
 */
final class ScalarRecurrentEmitter {
    private ScalarRecurrentEmitter() {}

    /** Gate counts and the op's default activations, in the spec's gate order (LSTM i o f c; GRU z r h). */
    private static int gates(String op) {
        return switch (op) {
            case "LSTM" -> 4;
            case "GRU" -> 3;
            default -> 1;
        };
    }

    private static List<String> defaults(String op) {
        return switch (op) {
            case "LSTM" -> List.of("Sigmoid", "Tanh", "Tanh");
            case "GRU" -> List.of("Sigmoid", "Tanh");
            default -> List.of("Tanh");
        };
    }

    static CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        String op = n.op();
        DType dtype = n.input(0).dtype();
        if (dtype == DType.FLOAT64) {
            throw ctx.unsupported(op + " on float64 tensors");
        }
        int gates = gates(op);
        String direction = ctx.stringAttr("direction");
        int dirs = direction.equals("bidirectional") ? 2 : 1;
        boolean batchFirst = ctx.intAttr("layout") != 0;
        int hidden = ctx.staticDim(n.input(2), 2);
        int input = ctx.staticDim(n.input(0), 2);
        CodeBlock seq = ctx.dim(n.input(0).shape().dim(batchFirst ? 1 : 0));
        CodeBlock batch = ctx.dim(n.input(0).shape().dim(batchFirst ? 0 : 1));
        List<String> acts = activations(ctx, n, dirs);
        boolean lstm = op.equals("LSTM");
        boolean gru = op.equals("GRU");
        boolean lbr = gru && ctx.intAttr("linear_before_reset") != 0;
        boolean inputForget = lstm && ctx.intAttr("input_forget") != 0;
        Double clip = n.attributes().has("clip") ? (double) ctx.floatAttr("clip") : null;
        int states = lstm ? 2 : 1;

        // Scratch regions of H floats: h, c, next h, next c, z, r, r (.) h.
        String s = ctx.scratch(7 * hidden);
        int h0 = 0;
        int c0 = hidden;
        int nh = 2 * hidden;
        int nc = 3 * hidden;
        int zr = 4 * hidden;
        int rr = 5 * hidden;
        int rh = 6 * hidden;

        TensorRef x = ctx.in(0);
        TensorRef w = ctx.in(1);
        TensorRef r = ctx.in(2);
        CodeBlock.Builder b = CodeBlock.builder();
        String row = ctx.locals.newName("row");
        String len = ctx.locals.newName("len");
        String step = ctx.locals.newName("step");
        String t = ctx.locals.newName("t");
        String j = ctx.locals.newName("j");
        String k = ctx.locals.newName("k");
        String acc = ctx.locals.newName("acc");
        String xBase = ctx.locals.newName("xBase");
        for (int d = 0; d < dirs; d++) {
            boolean reverse = direction.equals("reverse") || d == 1;
            List<String> dirActs = acts.subList(d * acts.size() / dirs, (d + 1) * acts.size() / dirs);
            b.add("// direction $L ($L)\n", d, reverse ? "reverse" : "forward");
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", row, row, batch, row);
            if (n.hasInput(4)) {
                boolean ints = EmitContext.type(n.input(4)).element().equals(com.palantir.javapoet.TypeName.INT);
                b.addStatement("int $N = $L$L", len, ints ? "" : "(int) ", ctx.in(4).at(CodeBlock.of("$N", row)));
            } else {
                b.addStatement("int $N = $L", len, seq);
            }
            for (int st = 0; st < states; st++) {
                int init = st == 0 ? 5 : 6;
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                CodeBlock value = n.hasInput(init)
                        ? CodeBlock.of("$L", ctx.in(init).at(stateIndex(batchFirst, dirs, batch, hidden, d, row, j)))
                        : CodeBlock.of("0f");
                b.addStatement("$N[$L + $N] = $L", s, st == 0 ? h0 : c0, j, value);
                b.endControlFlow();
            }
            b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", step, step, len, step);
            b.addStatement("int $N = $L", t, reverse ? CodeBlock.of("$N - 1 - $N", len, step) : CodeBlock.of("$N", step));
            b.addStatement("int $N = $L", xBase, x.plus(batchFirst ? CodeBlock.of("($N * ($L) + $N) * $L", row, seq, t, input)
                    : CodeBlock.of("($N * ($L) + $N) * $L", t, batch, row, input)));
            Linear lin = new Linear(ctx, n, w, r, x, xBase, s, acc, k, j, d, gates, hidden, input);
            if (lstm) {
                String gi = ctx.locals.newName("gi");
                String go = ctx.locals.newName("go");
                String gf = ctx.locals.newName("gf");
                String gc = ctx.locals.newName("gc");
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                b.add(lin.gate(0, h0, gi));
                b.add(lin.gate(1, h0, go));
                b.add(lin.gate(2, h0, gf));
                b.add(lin.gate(3, h0, gc));
                if (n.hasInput(7)) {
                    TensorRef p = ctx.in(7);
                    b.addStatement("$N += $L * $N[$L + $N]", gi, p.at(CodeBlock.of("$L + $N", d * 3 * hidden, j)), s, c0, j);
                    b.addStatement("$N += $L * $N[$L + $N]", gf, p.at(CodeBlock.of("$L + $N", d * 3 * hidden + 2 * hidden, j)),
                            s, c0, j);
                }
                b.addStatement("$N = $L", gi, act(dirActs.get(0), clip(gi, clip)));
                b.addStatement("$N = $L", gf, inputForget ? CodeBlock.of("1 - $N", gi) : act(dirActs.get(0), clip(gf, clip)));
                b.addStatement("$N = $L", gc, act(dirActs.get(1), clip(gc, clip)));
                String cNext = ctx.locals.newName("cNext");
                b.addStatement("double $N = $N * $N[$L + $N] + $N * $N", cNext, gf, s, c0, j, gi, gc);
                if (n.hasInput(7)) {
                    b.addStatement("$N += $L * $N", go, ctx.in(7).at(CodeBlock.of("$L + $N", d * 3 * hidden + hidden, j)), cNext);
                }
                b.addStatement("$N = $L", go, act(dirActs.get(0), clip(go, clip)));
                b.addStatement("$N[$L + $N] = (float) $N", s, nc, j, cNext);
                b.addStatement("$N[$L + $N] = (float) ($N * $L)", s, nh, j, go, act(dirActs.get(2), CodeBlock.of("$N", cNext)));
                b.endControlFlow();
            } else if (gru) {
                String gz = ctx.locals.newName("gz");
                String gr = ctx.locals.newName("gr");
                String gh = ctx.locals.newName("gh");
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                b.add(lin.gate(0, h0, gz));
                b.add(lin.gate(1, h0, gr));
                b.addStatement("$N[$L + $N] = (float) ($L)", s, zr, j, act(dirActs.get(0), clip(gz, clip)));
                b.addStatement("$N[$L + $N] = (float) ($L)", s, rr, j, act(dirActs.get(0), clip(gr, clip)));
                b.addStatement("$N[$L + $N] = $N[$L + $N] * $N[$L + $N]", s, rh, j, s, rr, j, s, h0, j);
                b.endControlFlow();
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                if (lbr) {
                    String rec = ctx.locals.newName("rec");
                    b.add(lin.input(2, gh));
                    b.add(lin.recurrent(2, h0, rec));
                    b.addStatement("$N += $N[$L + $N] * $N", gh, s, rr, j, rec);
                } else {
                    b.add(lin.gate(2, rh, gh));
                }
                b.addStatement("$N = $L", gh, act(dirActs.get(1), clip(gh, clip)));
                b.addStatement("$N[$L + $N] = (float) ((1 - $N[$L + $N]) * $N + $N[$L + $N] * $N[$L + $N])", s, nh, j, s, zr,
                        j, gh, s, zr, j, s, h0, j);
                b.endControlFlow();
            } else {
                String gi = ctx.locals.newName("gi");
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                b.add(lin.gate(0, h0, gi));
                b.addStatement("$N[$L + $N] = (float) ($L)", s, nh, j, act(dirActs.get(0), clip(gi, clip)));
                b.endControlFlow();
            }
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, s, nh, s, h0, hidden);
            if (lstm) {
                b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, s, nc, s, c0, hidden);
            }
            if (n.hasOutput(0)) {
                TensorRef y = ctx.out(0);
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                b.addStatement("$L = $L", y.at(yIndex(batchFirst, dirs, seq, batch, hidden, d, t, row, j)),
                        narrow(ctx, CodeBlock.of("$N[$L + $N]", s, h0, j)));
                b.endControlFlow();
            }
            b.endControlFlow();
            if (n.hasOutput(0)) {
                TensorRef y = ctx.out(0);
                b.beginControlFlow("for (int $N = $N; $N < $L; $N++)", t, len, t, seq, t);
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                b.addStatement("$L = 0", y.at(yIndex(batchFirst, dirs, seq, batch, hidden, d, t, row, j)));
                b.endControlFlow();
                b.endControlFlow();
            }
            for (int st = 0; st < states; st++) {
                if (n.hasOutput(st + 1)) {
                    TensorRef out = ctx.out(st + 1);
                    b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, hidden, j);
                    b.addStatement("$L = $N > 0 ? $L : 0", out.at(stateIndex(batchFirst, dirs, batch, hidden, d, row, j)), len,
                            narrow(ctx, CodeBlock.of("$N[$L + $N]", s, st == 0 ? h0 : c0, j)));
                    b.endControlFlow();
                }
            }
            b.endControlFlow();
        }
        return b.build();
    }

    /** W, R and B terms of one gate row of direction {@code d}: rows {@code gate * H + j} of its matrices. */
    private record Linear(EmitContext ctx, Node n, TensorRef w, TensorRef r, TensorRef x, String xBase, String s, String acc,
                          String k, String j, int d, int gates, int hidden, int input) {
        /** {@code double target = Wx + Rh + Wb + Rb}, h read from the scratch region at {@code hRegion}. */
        CodeBlock gate(int gate, int hRegion, String target) {
            CodeBlock.Builder b = CodeBlock.builder();
            b.add(input(gate, target));
            String rec = ctx.locals.newName("rec");
            b.add(recurrent(gate, hRegion, rec));
            b.addStatement("$N += $N", target, rec);
            return b.build();
        }

        /** {@code double target = Wx + Wb} (B's first half). */
        CodeBlock input(int gate, String target) {
            CodeBlock.Builder b = CodeBlock.builder();
            int rows = gates * hidden;
            b.addStatement("double $N = $L", target, n.hasInput(3)
                    ? CodeBlock.of("$L", ctx.in(3).at(CodeBlock.of("$L + $L + $N", d * 2 * rows, gate * hidden, j))) : "0");
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, input, k);
            b.addStatement("$N += (double) $L * $N[$N + $N]", target,
                    w.at(CodeBlock.of("($L + $N) * $L + $N", d * rows + gate * hidden, j, input, k)), x.array(), xBase, k);
            b.endControlFlow();
            return b.build();
        }

        /** {@code double target = R h + Rb} (B's second half), h from the scratch region at {@code hRegion}. */
        CodeBlock recurrent(int gate, int hRegion, String target) {
            CodeBlock.Builder b = CodeBlock.builder();
            int rows = gates * hidden;
            b.addStatement("double $N = $L", target, n.hasInput(3)
                    ? CodeBlock.of("$L", ctx.in(3).at(CodeBlock.of("$L + $L + $N", d * 2 * rows + rows, gate * hidden, j))) : "0");
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, hidden, k);
            b.addStatement("$N += (double) $L * $N[$L + $N]", target,
                    r.at(CodeBlock.of("($L + $N) * $L + $N", d * rows + gate * hidden, j, hidden, k)), s, hRegion, k);
            b.endControlFlow();
            return b.build();
        }
    }

    private static CodeBlock stateIndex(boolean batchFirst, int dirs, CodeBlock batch, int hidden, int d, String row, String j) {
        return batchFirst ? CodeBlock.of("($N * $L + $L) * $L + $N", row, dirs, d, hidden, j)
                : CodeBlock.of("($L * ($L) + $N) * $L + $N", d, batch, row, hidden, j);
    }

    private static CodeBlock yIndex(boolean batchFirst, int dirs, CodeBlock seq, CodeBlock batch, int hidden, int d, String t,
                                    String row, String j) {
        return batchFirst ? CodeBlock.of("(($N * ($L) + $N) * $L + $L) * $L + $N", row, seq, t, dirs, d, hidden, j)
                : CodeBlock.of("(($N * $L + $L) * ($L) + $N) * $L + $N", t, dirs, d, batch, row, hidden, j);
    }

    private static CodeBlock narrow(EmitContext ctx, CodeBlock floatValue) {
        return EmitContext.type(ctx.node.output(0)).narrow(floatValue);
    }

    private static CodeBlock clip(String v, Double clip) {
        return clip == null ? CodeBlock.of("$N", v)
                : CodeBlock.of("$T.min($T.max($N, $L), $L)", Math.class, Math.class, v, -clip, clip);
    }

    /** The activations of every direction, spelled in lower case; only the ones without alpha or beta. */
    private static List<String> activations(EmitContext ctx, Node n, int dirs) {
        List<String> defaults = defaults(n.op());
        if (n.attributes().has("activation_alpha") || n.attributes().has("activation_beta")) {
            throw ctx.unsupported(n.op() + " with activation_alpha or activation_beta");
        }
        List<String> acts;
        if (n.attributes().has("activations")) {
            acts = ((Attr.Strs) n.attributes().get("activations").orElseThrow()).values();
        } else {
            acts = new java.util.ArrayList<>();
            for (int d = 0; d < dirs; d++) {
                acts.addAll(defaults);
            }
        }
        if (acts.size() != defaults.size() * dirs) {
            throw ctx.unsupported(n.op() + " with activations " + acts);
        }
        List<String> lower = acts.stream().map(a -> a.toLowerCase(Locale.ROOT)).toList();
        for (String a : lower) {
            if (!List.of("sigmoid", "tanh", "relu").contains(a)) {
                throw ctx.unsupported(n.op() + " with activation " + a);
            }
        }
        return lower;
    }

    /** Sigmoid, Tanh or Relu of a double expression (exp(-v) overflowing to infinity gives sigmoid 0, as it should). */
    private static CodeBlock act(String name, CodeBlock v) {
        return switch (name) {
            case "sigmoid" -> CodeBlock.of("1.0 / (1.0 + $T.exp(-($L)))", Math.class, v);
            case "tanh" -> CodeBlock.of("$T.tanh($L)", Math.class, v);
            default -> CodeBlock.of("$T.max($L, 0.0)", Math.class, v);
        };
    }
}
