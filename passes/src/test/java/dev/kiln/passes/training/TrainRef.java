package dev.kiln.passes.training;

import dev.kiln.ir.Tensor;
import dev.kiln.onnx.TensorProtos;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/** PyTorch's training references in {@code ../shared/models/train_ref/<case>} and the ONNX models they train. */
record TrainRef(Path dir) {
    static Path shared() {
        return Path.of(System.getProperty("kiln.shared.dir", "../../shared"));
    }

    /** The case, or a skipped test when the shared data is absent. */
    static TrainRef of(String name) {
        Path d = shared().resolve("models/train_ref").resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(d), "shared training reference missing: " + d);
        return new TrainRef(d);
    }

    static Path model(String name) {
        Path p = shared().resolve("models").resolve(name).resolve("model.onnx");
        Assumptions.assumeTrue(Files.exists(p), "shared model missing: " + p);
        return p;
    }

    Tensor x() { return TensorProtos.read(dir.resolve("x.pb")).tensor(); }

    Tensor target() { return TensorProtos.read(dir.resolve("target.pb")).tensor(); }

    /** Every tensor of a folder such as {@code params_init}, by file name without {@code .pb}. */
    Map<String, Tensor> tensors(String folder) {
        Map<String, Tensor> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir.resolve(folder))) {
            files.filter(p -> p.toString().endsWith(".pb")).forEach(p -> {
                String f = p.getFileName().toString();
                out.put(f.substring(0, f.length() - 3), TensorProtos.read(p).tensor());
            });
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** {@code loss_before_step} of losses.json. */
    List<Double> losses() {
        try {
            String json = Files.readString(dir.resolve("losses.json"));
            Matcher array = Pattern.compile("\"loss_before_step\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(json);
            if (!array.find()) {
                throw new IllegalStateException("no loss_before_step in " + dir);
            }
            List<Double> out = new ArrayList<>();
            for (String s : array.group(1).split(",")) {
                out.add(Double.parseDouble(s.trim()));
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        if (x.length != y.length) {
            throw new AssertionError("sizes differ: " + a.type() + " vs " + b.type());
        }
        double m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }
}
