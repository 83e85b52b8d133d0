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
        List<Class<?>> types = new ArrayList<>();
        graph.inputs().forEach(v -> types.add(arrayClass(v)));
        types.add(int.class);
        graph.outputs().forEach(v -> types.add(arrayClass(v)));
        Class<?>[] params = types.toArray(Class<?>[]::new);
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
            args.add(toArray(v, t));
        }
        if (bindings.size() > 1) {
            throw new UnsupportedOpException("generated code takes one dynamic dim (the batch); inputs bind " + bindings);
        }
        int batch = bindings.isEmpty() ? 1 : Math.toIntExact(bindings.values().iterator().next());
        if (batch < 1) {
            // The generated API's batch is at least 1 (run throws IllegalArgumentException otherwise): an empty batch
            // is a form it does not take, not a wrong result.
            throw new UnsupportedOpException("generated code runs batches of at least 1, but the inputs bind "
                    + bindings.keySet().iterator().next() + " = " + batch);
        }
        args.add(batch);
        List<Object> outs = new ArrayList<>();
        for (Value v : graph.outputs()) {
            int n = Tensor.sizeOf(v.shape().evaluate(bindings));
            Object o = switch (arrayClass(v).getSimpleName()) {
                case "float[]" -> new float[n];
                case "double[]" -> new double[n];
                case "long[]" -> new long[n];
                case "int[]" -> new int[n];
                case "String[]" -> new String[n];
                default -> new boolean[n];
            };
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
            result.put(v.name(), toTensor(v, v.shape().evaluate(bindings), outs.get(i)));
        }
        return result;
    }

    /** The Java array generated code takes for v ({@link ElementType}). */
    private static Class<?> arrayClass(Value v) {
        com.palantir.javapoet.TypeName e = ElementType.of(v.dtype()).element();
        if (e.equals(com.palantir.javapoet.TypeName.FLOAT)) {
            return float[].class;
        }
        if (e.equals(com.palantir.javapoet.TypeName.DOUBLE)) {
            return double[].class;
        }
        if (e.equals(com.palantir.javapoet.TypeName.LONG)) {
            return long[].class;
        }
        if (ElementType.of(v.dtype()).isString()) {
            return String[].class;
        }
        return e.equals(com.palantir.javapoet.TypeName.INT) ? int[].class : boolean[].class;
    }

    private static Object toArray(Value v, Tensor t) {
        if (t.dtype() != v.dtype()) {
            throw new InputException("input '" + v.name() + "' must be " + v.type() + ", got " + t.type());
        }
        Class<?> c = arrayClass(v);
        if (c == float[].class) {
            return t.toFloatArray();
        }
        if (c == double[].class) {
            return t.toDoubleArray();
        }
        if (c == long[].class) {
            return t.longs().clone();
        }
        if (c == int[].class) {
            return t.toIntArray();
        }
        if (c == String[].class) {
            return t.strings().clone();
        }
        return t.bools().clone();
    }

    private static Tensor toTensor(Value v, int[] shape, Object array) {
        return switch (array) {
            case float[] a -> {
                double[] d = new double[a.length];
                for (int i = 0; i < a.length; i++) {
                    d[i] = a[i];
                }
                yield Tensor.wrapDoubles(v.dtype(), shape, d);
            }
            case double[] a -> Tensor.wrapDoubles(v.dtype(), shape, a);
            case long[] a -> Tensor.wrapLongs(v.dtype(), shape, a);
            case int[] a -> {
                long[] l = new long[a.length];
                for (int i = 0; i < a.length; i++) {
                    l[i] = a[i];
                }
                yield Tensor.wrapLongs(v.dtype(), shape, l);
            }
            case boolean[] a -> Tensor.wrapBools(shape, a);
            case String[] a -> Tensor.wrapStrings(shape, a);
            default -> throw new IllegalStateException(String.valueOf(array));
        };
    }
}
