package dev.kiln.tests;

/** Class names for the reference models, as the compiler derives them from file names. */
final class ReferenceNames {
    private ReferenceNames() {}

    /** {@code mnist_cnn} -> {@code MnistCnn}. */
    static String className(String model) {
        StringBuilder sb = new StringBuilder();
        for (String part : model.split("[^A-Za-z0-9]+")) {
            if (!part.isEmpty()) {
                sb.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        return sb.toString();
    }
}
