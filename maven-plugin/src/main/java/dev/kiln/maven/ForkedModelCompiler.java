package dev.kiln.maven;

import dev.kiln.ir.KilnException;
import dev.kiln.passes.OptLevel;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.apache.maven.plugin.logging.Log;

/**
 * Runs {@link ModelCompiler#inProcess()} in a child JVM started with {@code --add-modules jdk.incubator.vector}: Maven's
 * own JVM usually runs without the Vector API, which the code generator needs (it packs weights with the
 * runtime's kernels). The child uses the same JDK and the plugin's own class path.
 */
final class ForkedModelCompiler implements ModelCompiler {
    private final Log log;

    ForkedModelCompiler(Log log) {
        this.log = log;
    }

    @Override
    public Written compile(Path model, String packageName, String className, OptLevel level, int threads,
            Optional<TrainingConfig> training, Map<String, Long> dims, Path sourceRoot, Path resourceRoot) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow", "-cp", classPath(),
                ForkedCompilerMain.class.getName(), model.toString(), sourceRoot.toString(), resourceRoot.toString(),
                packageName.isEmpty() ? "-" : packageName, className, level.name(), Integer.toString(threads),
                training.map(t -> t.loss().cliName()).orElse("-"),
                training.flatMap(TrainingConfig::optimizer).orElse("-"), ForkedCompilerMain.formatDims(dims)));
        training.ifPresent(t -> command.addAll(t.frozen()));
        log.debug("Kiln: " + String.join(" ", command));
        List<Path> files = new ArrayList<>();
        int sources = -1;
        long weights = -1;
        String error = null;
        String internal = null;
        List<String> other = new ArrayList<>();
        int exit;
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith(ForkedCompilerMain.PREFIX)) {
                        other.add(line);
                        continue;
                    }
                    String[] kv = line.substring(ForkedCompilerMain.PREFIX.length()).split(" ", 2);
                    switch (kv[0]) {
                        case "file" -> files.add(Path.of(kv[1]));
                        case "sources" -> sources = Integer.parseInt(kv[1]);
                        case "weights" -> weights = Long.parseLong(kv[1]);
                        case "error" -> error = kv[1];
                        case "internal" -> internal = kv[1];
                        default -> other.add(line);
                    }
                }
            }
            exit = p.waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a JVM to compile " + model + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while compiling " + model, e);
        }
        other.forEach(log::debug);
        if (exit == 2 && error != null) {
            throw new KilnException(error);
        }
        if (exit != 0 || sources < 0 || weights < 0) {
            throw new IllegalStateException("the forked Kiln compiler exited with code " + exit
                    + (internal != null ? ": " + internal : "") + "\n" + String.join("\n", other));
        }
        return new Written(files, sources, weights);
    }

    /** The plugin's class path: its class realm's jars in Maven; the test class path elsewhere. */
    private static String classPath() {
        if (ForkedModelCompiler.class.getClassLoader() instanceof URLClassLoader realm && realm.getURLs().length > 0) {
            List<String> entries = new ArrayList<>();
            for (URL url : realm.getURLs()) {
                try {
                    entries.add(Path.of(url.toURI()).toString());
                } catch (URISyntaxException | IllegalArgumentException e) {
                    throw new IllegalStateException("plugin class path entry " + url + " is not a file", e);
                }
            }
            return entries.stream().collect(Collectors.joining(File.pathSeparator));
        }
        return System.getProperty("java.class.path");
    }
}
