package dev.kiln.bench;

import ai.onnxruntime.OrtEnvironment;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * What the figures were measured on: cores, CPU model and its vector flags (from /proc/cpuinfo), the JDK, the
 * ONNX Runtime version, and the load average before and after (the machine is shared, so a high load explains
 * noisy figures).
 *
 * @param cores processors available to the JVM
 * @param cpuModel /proc/cpuinfo "model name", or "unknown"
 * @param vectorFlags the SIMD-related flags of /proc/cpuinfo (sse*, avx*, fma, f16c), space-separated
 * @param jdk vendor, VM and version of the JVM that ran the suite (its forks use the same one)
 * @param ortVersion ONNX Runtime's native library version
 * @param loadBefore /proc/loadavg when the suite started
 * @param loadAfter /proc/loadavg when it ended
 */
public record Machine(int cores, String cpuModel, String vectorFlags, String jdk, String ortVersion,
                      String loadBefore, String loadAfter) implements Serializable {

    /** The machine as seen now; {@code loadAfter} is filled in by {@link #finished()}. */
    public static Machine describe() {
        List<String> cpuinfo = readLines(Path.of("/proc/cpuinfo"));
        String model = field(cpuinfo, "model name").orElse("unknown");
        String flags = field(cpuinfo, "flags").map(f -> Arrays.stream(f.split("\\s+"))
                .filter(x -> x.startsWith("sse") || x.startsWith("avx") || x.equals("fma") || x.equals("f16c"))
                .collect(Collectors.joining(" "))).orElse("unknown");
        String jdk = System.getProperty("java.vm.vendor") + " " + System.getProperty("java.vm.name") + " "
                + System.getProperty("java.runtime.version");
        String ort;
        try {
            ort = OrtEnvironment.getEnvironment().getVersion();
        } catch (RuntimeException | LinkageError e) {
            ort = "unknown (" + e.getMessage() + ")";
        }
        return new Machine(Runtime.getRuntime().availableProcessors(), model, flags, jdk, ort, loadAverage(), "");
    }

    /** This description with the current load average as {@code loadAfter}. */
    public Machine finished() {
        return new Machine(cores, cpuModel, vectorFlags, jdk, ortVersion, loadBefore, loadAverage());
    }

    private static String loadAverage() {
        List<String> lines = readLines(Path.of("/proc/loadavg"));
        if (lines.isEmpty()) {
            return "unknown";
        }
        String[] parts = lines.get(0).split("\\s+");
        return parts.length >= 3 ? parts[0] + " " + parts[1] + " " + parts[2] : lines.get(0);
    }

    private static Optional<String> field(List<String> cpuinfo, String name) {
        return cpuinfo.stream().filter(l -> l.startsWith(name)).findFirst()
                .map(l -> l.substring(l.indexOf(':') + 1).trim());
    }

    private static List<String> readLines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException e) {
            return List.of(); // not Linux: the report says "unknown"
        }
    }
}
