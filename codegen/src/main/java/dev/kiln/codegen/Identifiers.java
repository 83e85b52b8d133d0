package dev.kiln.codegen;

import dev.kiln.ir.Node;

/** Java identifiers derived from ONNX names ({@code /conv1/Conv} -> {@code conv1Conv}), readable and valid. */
final class Identifiers {
    private Identifiers() {}

    /** lowerCamelCase from the name's letters and digits; {@code fallback} when nothing usable remains. */
    static String camel(String name, String fallback) {
        StringBuilder sb = new StringBuilder();
        boolean upper = false;
        for (char c : name.toCharArray()) {
            if (Character.isLetterOrDigit(c) && c < 128) {
                if (sb.isEmpty() && Character.isDigit(c)) {
                    sb.append(fallback);
                    upper = true;
                }
                sb.append(sb.isEmpty() ? Character.toLowerCase(c) : upper ? Character.toUpperCase(c) : c);
                upper = false;
            } else {
                upper = !sb.isEmpty();
            }
        }
        String s = sb.toString();
        if (s.isEmpty() || !javax.lang.model.SourceVersion.isIdentifier(s) || javax.lang.model.SourceVersion.isKeyword(s)) {
            return fallback + (s.isEmpty() ? "" : Character.toUpperCase(s.charAt(0)) + s.substring(1));
        }
        return s;
    }

    /**
     * A method name for a node: PyTorch-style path names drop their last segment, which names the op
     * ({@code /fc1/Gemm} -> {@code fc1}, {@code /layer1/conv/Conv} -> {@code layer1Conv}); other names are
     * used whole; unnamed nodes are named after their op.
     */
    static String method(Node n) {
        // A fused node joins its parts' names with '+'; parts that all name the same thing name it once.
        String[] fused = n.name().split("\\+");
        if (fused.length > 1 && java.util.Arrays.stream(fused).map(Identifiers::pathName).distinct().count() == 1) {
            String m = camel(pathName(fused[0]), "");
            return m.isEmpty() ? camel(n.op(), "step") : m;
        }
        String m = camel(pathName(n.name()), "");
        return m.isEmpty() ? camel(n.op(), "step") : m;
    }

    /** A node name without its last path segment, which names the op ({@code /fc1/Gemm} -> {@code /fc1}). */
    private static String pathName(String name) {
        String[] parts = java.util.Arrays.stream(name.split("/")).filter(p -> !p.isEmpty()).toArray(String[]::new);
        if (parts.length > 1) {
            name = String.join("/", java.util.Arrays.copyOf(parts, parts.length - 1));
        }
        return name;
    }

    /** UpperCamelCase, for class names derived from file names ({@code mnist_cnn} -> {@code MnistCnn}). */
    static String upperCamel(String name) {
        String c = camel(name, "Model");
        return Character.toUpperCase(c.charAt(0)) + c.substring(1);
    }
}
