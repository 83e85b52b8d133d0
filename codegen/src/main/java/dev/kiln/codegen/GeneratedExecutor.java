package dev.kiln.codegen;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.InputException;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs an optimized graph through generated code: generates the class, compiles it in process, and calls its
 * {@code run} on the given tensors. What {@code kiln run --backend codegen} and the conformance runner use to
 * check generated code against expected outputs.
 */
public final class GeneratedExecutor {
    private final Graph graph;
    private final Object instance;
    private final Method run;

    private GeneratedExecutor(Graph graph, Object instance, Method run) {
        this.graph = graph;
        this.instance = instance;
        this.run = run;
    }

    /** Generates and compiles the class for {@code graph} (already optimized). */
    public static GeneratedExecutor compile(Graph graph, int threads) {
        Class<?> cls = InProcessCompiler.load(CodeGenerator.generate(graph,
                new CodegenOptions("kiln.generated", "Model", threads, graph.name())));
        Class<?>[] params = new Class<?>[graph.inputs().size() + 1 + graph.outputs().size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = i == graph.inputs().size() ? int.class : float[].class;
        }
        try {
            return new GeneratedExecutor(graph, cls.getMethod("load").invoke(null), cls.getMethod("run", params));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("generated class lacks load() or run" + java.util.Arrays.toString(params)
                    + ": " + e, e);
        }
    }

    /** Output name -> tensor, as {@link dev.kiln.ir.ReferenceEvaluator#run} returns. */
    public Map<String, Tensor> run(Map<String, Tensor> feeds) {
        Map<String, Long> bindings = new LinkedHashMap<>();
        List<Object> args = new ArrayList<>();
        for (Value v : graph.inputs()) {
            Tensor t = feeds.get(v.name());
            if (t == null) {
                throw new InputException("input '" + v.name() + "' (" + v.type() + ") is missing");
            }
            for (int d = 0; d < v.type().rank() && d < t.rank(); d++) {
                Dim dim = v.shape().dim(d);
                if (!dim.isStatic() && dim.symbols().size() == 1) {
                    bindings.putIfAbsent(dim.symbols().firstKey(), (long) t.dim(d));
                }
            }
            args.add(t.toFloatArray());
        }
        if (bindings.size() > 1) {
            throw new UnsupportedOpException("generated code takes one dynamic dim (the batch); inputs bind " + bindings);
        }
        int batch = bindings.isEmpty() ? 1 : Math.toIntExact(bindings.values().iterator().next());
        args.add(batch);
        List<float[]> outs = new ArrayList<>();
        for (Value v : graph.outputs()) {
            int[] shape = v.shape().evaluate(bindings);
            float[] o = new float[Tensor.sizeOf(shape)];
            outs.add(o);
            args.add(o);
        }
        try {
            run.invoke(instance, args.toArray());
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) {
                throw new InputException(iae.getMessage());
            }
            throw new KilnException("generated code failed: " + e.getCause(), e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        Map<String, Tensor> result = new LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) {
            Value v = graph.outputs().get(i);
            result.put(v.name(), Tensor.ofFloats(v.shape().evaluate(bindings), outs.get(i)));
        }
        return result;
    }
}
