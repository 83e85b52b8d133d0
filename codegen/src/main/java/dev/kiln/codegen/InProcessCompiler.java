package dev.kiln.codegen;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Compiles generated sources in memory with the flags a user's build uses ({@code --release 25
 * --add-modules jdk.incubator.vector}, all lint warnings as errors except the incubator notice) and loads
 * them with their weights resource, as a user's class path would provide it. Used by {@code kiln run
 * --backend codegen} and the tests; needs a JDK (not a JRE) and {@code kiln-runtime} on the class path.
 */
public final class InProcessCompiler {
    private InProcessCompiler() {}

    /** The compiled main class of {@code model}; {@link IllegalStateException} with javac's messages on failure. */
    public static Class<?> load(GeneratedModel model) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("no Java compiler in this runtime: run Kiln on a JDK 25, not a JRE");
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        StandardJavaFileManager std = javac.getStandardFileManager(diagnostics, null, null);
        Map<String, ByteArrayOutputStream> classes = new HashMap<>();
        ForwardingJavaFileManager<StandardJavaFileManager> fm = new ForwardingJavaFileManager<>(std) {
            @Override
            public JavaFileObject getJavaFileForOutput(Location location, String className, JavaFileObject.Kind kind,
                                                       FileObject sibling) {
                return new SimpleJavaFileObject(URI.create("mem:///" + className.replace('.', '/') + kind.extension), kind) {
                    @Override
                    public OutputStream openOutputStream() {
                        ByteArrayOutputStream out = new ByteArrayOutputStream();
                        classes.put(className, out);
                        return out;
                    }
                };
            }
        };
        List<JavaFileObject> units = new ArrayList<>();
        model.sources().forEach(f -> units.add(f.toJavaFileObject()));
        List<String> options = List.of("--release", "25", "--add-modules", "jdk.incubator.vector", "-Xlint:all",
                "-Xlint:-incubating", "-Werror", "-classpath", System.getProperty("java.class.path"));
        boolean ok = javac.getTask(null, fm, diagnostics, options, null, units).call();
        if (!ok) {
            StringBuilder sb = new StringBuilder("generated code does not compile:\n");
            for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                sb.append(d.getKind()).append(" line ").append(d.getLineNumber()).append(": ").append(d.getMessage(null))
                        .append('\n');
            }
            sb.append(model.mainSource());
            throw new IllegalStateException(sb.toString());
        }
        String pkg = model.sources().get(0).packageName();
        String resource = (pkg.isEmpty() ? "" : pkg.replace('.', '/') + "/") + model.weightsResource();
        ClassLoader loader = new ClassLoader(InProcessCompiler.class.getClassLoader()) {
            @Override
            protected Class<?> findClass(String name) throws ClassNotFoundException {
                ByteArrayOutputStream b = classes.get(name);
                if (b == null) {
                    throw new ClassNotFoundException(name);
                }
                byte[] bytes = b.toByteArray();
                return defineClass(name, bytes, 0, bytes.length);
            }

            @Override
            public InputStream getResourceAsStream(String name) {
                return name.equals(resource) ? new ByteArrayInputStream(model.weights()) : super.getResourceAsStream(name);
            }
        };
        String main = (pkg.isEmpty() ? "" : pkg + ".") + model.sources().get(0).typeSpec().name();
        try {
            return loader.loadClass(main);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("compiled classes lack " + main, e);
        }
    }
}
