package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns every batch-major LSTM and GRU ({@code layout=1}: X [batch, seq, input], Y [batch, seq, dirs, hidden],
 * Y_h and Y_c [batch, dirs, hidden], initial_h and initial_c likewise) into the same node in sequence-major form
 * (layout 0) between Transposes: X, initial_h and initial_c are transposed into it, and each output something reads
 * is transposed back into the value it was, so every reader and graph output is unchanged. Only the order of
 * elements in memory differs; every gate sees the same numbers. The weights, B and sequence_lens do not depend on the
 * layout.
 *
 * <p>Not in any {@link Pipeline} level: training runs it ({@code KilnCompiler.simplifyForTraining}), so the generated
 * trainer's recurrent kernels, written for layout 0, and the reference trainer both see the layout-0 node and its
 * Transposes, which autodiff differentiates like any other. Inference keeps layout-1 nodes as they are.
 */
public final class SequenceMajorRecurrence implements Pass {
    /** Transposes of X [N, T, I] -> [T, N, I] and of a state [N, D, H] <-> [D, N, H]. */
    private static final long[] SWAP_FIRST_TWO = {1, 0, 2};
    /** Y [T, D, N, H] -> [N, T, D, H]. */
    private static final long[] Y_TO_BATCH_MAJOR = {2, 0, 1, 3};

    @Override
    public String name() { return "sequence-major-recurrence"; }

    @Override
    public Graph apply(Graph g) {
        if (g.nodes().stream().noneMatch(SequenceMajorRecurrence::batchMajor)) {
            return g;
        }
        Set<Value> read = g.readValues();
        Rewriter rw = new Rewriter(g);
        // One Transpose of a value however many nodes read it (layers sharing X, or initial_h = initial_c).
        Map<Value, Value> transposed = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            if (!batchMajor(n)) {
                rw.keep(n);
                continue;
            }
            boolean lstm = n.op().equals("LSTM");
            List<Value> in = new ArrayList<>(n.inputs());
            for (int i : new int[] {0, 5, 6}) {
                if ((lstm || i < 6) && n.hasInput(i)) {
                    in.set(i, transposed.computeIfAbsent(rw.map(n.input(i)), v -> transpose(rw, n, v)));
                }
            }
            List<Value> out = new ArrayList<>();
            List<Node> back = new ArrayList<>();
            for (int i = 0; i < n.outputs().size(); i++) {
                Value o = n.output(i);
                if (!n.hasOutput(i) || !read.contains(o)) {
                    out.add(Value.ABSENT);
                    continue;
                }
                long[] perm = i == 0 ? Y_TO_BATCH_MAJOR : SWAP_FIRST_TWO;
                Value seqMajor = rw.newValue(o.name() + "_seq_major", new TensorType(o.dtype(),
                        permute(o.shape(), inverse(perm))));
                out.add(seqMajor);
                back.add(transposeNode(n, seqMajor, o, perm));
            }
            rw.emit(new Node(n.op(), n.domain(), n.name(), in, out, n.attributes().without("layout")));
            back.forEach(rw::emit);
        }
        return rw.finish();
    }

    private static boolean batchMajor(Node n) {
        return n.domain().isEmpty() && (n.op().equals("LSTM") || n.op().equals("GRU"))
                && n.attributes().get("layout").map(a -> ((Attr.Int) a).value() != 0).orElse(false);
    }

    /** A new value {@code Transpose(v)} swapping its first two axes, emitted now. */
    private static Value transpose(Rewriter rw, Node n, Value v) {
        Value t = rw.newValue(v.name() + "_seq_major", new TensorType(v.dtype(), permute(v.shape(), SWAP_FIRST_TWO)));
        rw.emit(transposeNode(n, v, t, SWAP_FIRST_TWO));
        return t;
    }

    private static Node transposeNode(Node n, Value from, Value to, long[] perm) {
        return new Node("Transpose", "", n.name(), List.of(from), List.of(to),
                Attributes.builder().ints("perm", perm).build());
    }

    /** Dims of {@code s} in the order {@code perm} takes them, as Transpose's output. */
    private static Shape permute(Shape s, long[] perm) {
        Dim[] dims = new Dim[perm.length];
        for (int i = 0; i < perm.length; i++) {
            dims[i] = s.dim((int) perm[i]);
        }
        return Shape.of(dims);
    }

    private static long[] inverse(long[] perm) {
        long[] inv = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inv[(int) perm[i]] = i;
        }
        return inv;
    }
}
