package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Subgraphs;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Optimizes control flow (If, Loop, Scan): inlines an If whose condition is a constant (only the branch taken
 * remains), moves the constant operands a body captures into the body as initializers, drops captured operands no
 * body reads any more, and runs the level's pipeline over every body (this pass included, so nested bodies too).
 * Bodies are closed (see {@link Subgraphs}), so the other passes already treat a control-flow node as one opaque
 * node whose operands are all its uses; this pass is what optimizes inside it.
 */
public final class SubgraphOptimization implements Pass {
    private final OptLevel level;

    public SubgraphOptimization(OptLevel level) {
        this.level = level;
    }

    @Override
    public String name() { return "subgraphs"; }

    /** True for the default-domain ops whose bodies this pass optimizes. */
    static boolean isControlFlow(Node n) {
        return n.domain().isEmpty() && List.of("If", "Loop", "Scan").contains(n.op());
    }

    @Override
    public Graph apply(Graph g) {
        if (g.nodes().stream().noneMatch(SubgraphOptimization::isControlFlow)) {
            return g;
        }
        Rewriter rw = new Rewriter(g);
        Map<Value, Tensor> constants = new IdentityHashMap<>(g.initializers());
        boolean changed = false;
        for (Node n : g.nodes()) {
            if (!isControlFlow(n)) {
                rw.keep(n);
                continue;
            }
            List<Value> in = n.inputs().stream().map(v -> v.isAbsent() ? v : rw.map(v)).toList();
            Optional<Tensor> cond = n.op().equals("If") ? Optional.ofNullable(constants.get(in.get(0))) : Optional.empty();
            if (cond.isPresent() && cond.get().size() == 1) {
                inline(n, in, cond.get().getBool(0) ? "then_branch" : "else_branch", rw, constants);
                changed = true;
                continue;
            }
            Node optimized = optimizeBodies(n, in, constants);
            if (optimized == n) {
                rw.keep(n);
            } else {
                rw.emit(optimized);
                changed = true;
            }
        }
        return changed ? rw.finish() : g;
    }

    // If(true, c...){then_branch=g} -> g's nodes on c... (likewise for false and else_branch)
    private static void inline(Node n, List<Value> in, String branch, Rewriter rw, Map<Value, Tensor> constants) {
        List<Value> operands = in.subList(1, in.size());
        Subgraphs.Typed typed = Subgraphs.specialize(n.attributes().get(branch).map(a -> ((Attr.GraphValue) a).value())
                        .orElseThrow(), operands.stream().map(Value::type).toList(),
                operands.stream().map(v -> Optional.ofNullable(constants.get(v))).toList(), n.describe() + ", " + branch);
        Graph body = typed.graph();
        Map<Value, Value> renamed = new IdentityHashMap<>();
        for (int i = 0; i < body.inputs().size(); i++) {
            renamed.put(body.inputs().get(i), operands.get(i));
        }
        body.initializers().forEach((v, t) -> {
            Value copy = rw.addInitializer(v.name(), t);
            renamed.put(v, copy);
            constants.put(copy, t);
        });
        for (Node inner : body.nodes()) {
            List<Value> ins = inner.inputs().stream().map(v -> v.isAbsent() ? v : renamed.get(v)).toList();
            List<Value> outs = new ArrayList<>();
            for (Value o : inner.outputs()) {
                Value copy = o.isAbsent() ? o : rw.newValue(o.name(), o.type());
                renamed.put(o, copy);
                outs.add(copy);
            }
            String name = inner.name().isEmpty() ? n.name() : inner.name();
            rw.emit(new Node(inner.op(), inner.domain(), name, ins, outs, inner.attributes()));
        }
        for (int i = 0; i < n.outputs().size(); i++) {
            if (!n.output(i).isAbsent()) {
                rw.replace(n.output(i), renamed.get(body.outputs().get(i)));
            }
        }
    }

    /**
     * The node with constant captured operands moved into its bodies, unread captures dropped and every body run
     * through the pipeline; {@code n} itself when nothing changed.
     */
    private Node optimizeBodies(Node n, List<Value> in, Map<Value, Tensor> constants) {
        int captures = n.op().equals("If") ? in.size() - 1 : Math.toIntExact(
                ((Attr.Int) n.attributes().get(ControlFlowOps.CAPTURES).orElse(new Attr.Int(0))).value());
        int first = in.size() - captures;
        Map<String, Graph> bodies = Subgraphs.of(n.attributes());
        // Per body: its inputs are the node's formal ones (which keep their types), then one per capture.
        Map<String, Graph> specialized = new LinkedHashMap<>();
        for (Map.Entry<String, Graph> e : bodies.entrySet()) {
            Graph body = e.getValue();
            int formals = body.inputs().size() - captures;
            List<TensorType> types = new ArrayList<>();
            List<Optional<Tensor>> values = new ArrayList<>();
            for (int i = 0; i < body.inputs().size(); i++) {
                Value operand = i < formals ? null : in.get(first + i - formals);
                types.add(operand == null ? body.inputs().get(i).type() : operand.type());
                values.add(operand == null ? Optional.empty() : Optional.ofNullable(constants.get(operand)));
            }
            specialized.put(e.getKey(), sinkConstants(Subgraphs.specialize(body, types, values,
                    n.describe() + ", " + e.getKey()).graph(), formals, in.subList(first, in.size()), constants));
        }
        Map<String, Graph> optimized = new LinkedHashMap<>();
        specialized.forEach((name, body) -> optimized.put(name, optimize(body)));
        // Each body now takes its formal inputs, then one input per captured operand that is not a constant; those
        // no body reads are operands no more.
        List<Value> live = in.subList(first, in.size()).stream().filter(v -> !constants.containsKey(v)).toList();
        List<Value> kept = new ArrayList<>();
        List<Integer> unread = new ArrayList<>();
        for (int c = 0; c < live.size(); c++) {
            boolean read = false;
            for (Graph body : optimized.values()) {
                read |= isRead(body, body.inputs().get(body.inputs().size() - live.size() + c));
            }
            if (read) {
                kept.add(live.get(c));
            } else {
                unread.add(c);
            }
        }
        if (!unread.isEmpty()) {
            optimized.replaceAll((name, body) -> {
                int formals = body.inputs().size() - live.size();
                List<Value> inputs = new ArrayList<>(body.inputs().subList(0, formals));
                for (int c = 0; c < live.size(); c++) {
                    if (!unread.contains(c)) {
                        inputs.add(body.inputs().get(formals + c));
                    }
                }
                return new Graph(body.name(), inputs, body.initializers(), body.nodes(), body.outputs());
            });
        }
        List<Value> operands = new ArrayList<>(in.subList(0, first));
        operands.addAll(kept);
        Attributes attrs = n.attributes();
        for (Map.Entry<String, Graph> e : optimized.entrySet()) {
            attrs = attrs.with(e.getKey(), new Attr.GraphValue(e.getValue()));
        }
        if (!n.op().equals("If")) {
            attrs = kept.isEmpty() ? attrs.without(ControlFlowOps.CAPTURES)
                    : attrs.with(ControlFlowOps.CAPTURES, new Attr.Int(kept.size()));
        }
        boolean same = operands.equals(n.inputs());
        for (Map.Entry<String, Graph> e : optimized.entrySet()) {
            same &= e.getValue() == bodies.get(e.getKey());
        }
        return same ? n : new Node(n.op(), n.domain(), n.name(), operands, n.outputs(), attrs);
    }

    /** The body through the level's pipeline (which holds this pass, so nested bodies are optimized too). */
    private Graph optimize(Graph body) {
        Graph g = body;
        for (Pass p : Pipeline.forLevel(level)) {
            g = p.apply(g);
        }
        return g;
    }

    /** The body with its captured inputs that receive constants turned into initializers holding them. */
    private static Graph sinkConstants(Graph body, int formals, List<Value> captured, Map<Value, Tensor> constants) {
        List<Value> inputs = new ArrayList<>(body.inputs().subList(0, formals));
        Map<Value, Tensor> initializers = new LinkedHashMap<>(body.initializers());
        for (int c = 0; c < captured.size(); c++) {
            Value input = body.inputs().get(formals + c);
            Tensor t = constants.get(captured.get(c));
            if (t != null && t.type().equals(input.type())) {
                initializers.put(input, t);
            } else if (t != null) {
                throw new IllegalStateException("capture '" + input.name() + "' is typed " + input.type()
                        + " but receives " + t.type());
            } else {
                inputs.add(input);
            }
        }
        if (inputs.size() == body.inputs().size()) {
            return body;
        }
        return new Graph(body.name(), inputs, initializers, body.nodes(), body.outputs());
    }

    private static boolean isRead(Graph body, Value v) {
        return body.outputs().contains(v) || body.nodes().stream().anyMatch(x -> x.inputs().contains(v));
    }
}
