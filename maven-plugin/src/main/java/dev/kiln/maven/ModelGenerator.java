package dev.kiln.maven;

import dev.kiln.compiler.KilnCompiler;
import dev.kiln.ir.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.Log;

/**
 * Brings the generated sources and weights of a {@link GenerationRequest} up to date: nothing happens when the
 * fingerprint (Kiln version, configuration, model contents) matches the last successful run and its outputs are
 * all there; otherwise every model is regenerated through {@link KilnCompiler} (each written whole or not at
 * all) and the outputs of models no longer configured are deleted.
 */
final class ModelGenerator {
    /** What a run did. */
    enum Outcome { UP_TO_DATE, GENERATED, NO_MODELS }

    /** The fingerprint of a state written before a run finished: equal to none. */
    private static final String UNFINISHED = "unfinished";

    private final GenerationRequest request;
    private final String kilnVersion;
    private final ModelCompiler compiler;
    private final Log log;

    ModelGenerator(GenerationRequest request, String kilnVersion, ModelCompiler compiler, Log log) {
        this.request = request;
        this.kilnVersion = kilnVersion;
        this.compiler = compiler;
        this.log = log;
    }

    Outcome run() throws MojoFailureException, MojoExecutionException {
        Path stateFile = BuildState.file(request.sourceRoot(), request.executionId());
        Optional<BuildState> previous = BuildState.read(stateFile);
        if (request.models().isEmpty() && previous.isEmpty()) {
            return Outcome.NO_MODELS;
        }
        String fingerprint = fingerprint();
        String reason;
        if (previous.isEmpty()) {
            reason = "no previous Kiln output";
        } else if (previous.get().fingerprint().equals(UNFINISHED)) {
            reason = "the last run did not finish";
        } else if (!previous.get().fingerprint().equals(fingerprint)) {
            reason = "models or configuration changed";
        } else if (!previous.get().outputs().stream().allMatch(o -> Files.isRegularFile(resolve(o)))) {
            reason = "generated files are missing";
        } else {
            log.info("Kiln: " + count(request.models().size()) + " up to date (models and configuration unchanged), "
                    + "nothing regenerated");
            return Outcome.UP_TO_DATE;
        }
        log.info("Kiln: generating " + count(request.models().size()) + " (" + reason + ") into "
                + request.sourceRoot() + " and " + request.resourceRoot());
        // Until every model is written the state matches no fingerprint but still lists every file Kiln may have
        // written, so a failed or interrupted run is redone in full and its stale files are still found later.
        Set<String> tracked = new LinkedHashSet<>(previous.map(BuildState::outputs).orElse(List.of()));
        String trackedResources = previous.map(BuildState::resourceRoot).orElse(relative(request.resourceRoot()));
        List<String> outputs = new ArrayList<>();
        try {
            new BuildState(UNFINISHED, trackedResources, List.copyOf(tracked)).write(stateFile);
            try {
                for (ModelSpec model : request.models()) {
                    outputs.addAll(generate(model));
                }
            } catch (MojoFailureException | MojoExecutionException e) {
                tracked.addAll(outputs);
                new BuildState(UNFINISHED, trackedResources, List.copyOf(tracked)).write(stateFile);
                throw e;
            }
            Set<String> stale = new LinkedHashSet<>(tracked);
            outputs.forEach(stale::remove);
            Optional<Path> oldResources = Optional.of(resolve(trackedResources));
            for (String s : stale) {
                deleteStale(s, oldResources);
            }
            new BuildState(fingerprint, relative(request.resourceRoot()), outputs).write(stateFile);
        } catch (IOException e) {
            throw new MojoExecutionException("Kiln cannot update " + request.sourceRoot() + ": " + e.getMessage(), e);
        }
        return Outcome.GENERATED;
    }

    /**
     * Hash of everything the outputs depend on. Paths enter relative to the sources root, so a moved project is
     * still up to date.
     */
    String fingerprint() {
        Fingerprint f = new Fingerprint()
                .add("kiln", kilnVersion)
                .add("package", request.packageName())
                .add("level", request.level().name())
                .add("threads", Integer.toString(request.threads()))
                .add("train", request.training().map(TrainingConfig::describe).orElse("no"))
                .add("dims", request.dims().toString())
                .add("resources", relative(request.resourceRoot()));
        Set<Path> dataFolders = new LinkedHashSet<>();
        for (ModelSpec m : request.models()) {
            f.add("model", m.fileName()).add("class", m.className()).addFile("content", m.file());
            dataFolders.add(m.file().toAbsolutePath().getParent());
        }
        // ONNX external data lives in files beside the model; any non-model file there may be one.
        for (Path folder : dataFolders) {
            for (Path data : ModelFiles.externalDataCandidates(folder)) {
                f.add("data", data.getFileName().toString()).addFile("content", data);
            }
        }
        return f.hex();
    }

    /** Compiles one model and writes its outputs whole; returns them relative to the sources root. */
    private List<String> generate(ModelSpec model) throws MojoFailureException, MojoExecutionException {
        long start = System.nanoTime();
        ModelCompiler.Written written;
        try {
            written = compiler.compile(model.file(), request.packageName(), model.className(), request.level(),
                    request.threads(), request.training(), request.dims(), request.sourceRoot(), request.resourceRoot());
        } catch (KilnException e) {
            throw new MojoFailureException(failureMessage(model, e), e);
        } catch (RuntimeException | StackOverflowError e) {
            throw new MojoExecutionException("Kiln failed on " + model.file() + " (internal error, please report): " + e, e);
        }
        String qualified = (request.packageName().isEmpty() ? "" : request.packageName() + ".") + model.className();
        log.info(String.format(Locale.ROOT, "Kiln: %s -> %s (-%s, %d thread%s): %d source file%s, %,d bytes of weights, %.1f s",
                model.fileName(), qualified, request.level().name(), request.threads(), request.threads() == 1 ? "" : "s",
                written.sourceCount(), written.sourceCount() == 1 ? "" : "s", written.weightBytes(),
                (System.nanoTime() - start) / 1e9));
        return written.files().stream().map(this::relative).toList();
    }

    /** One message naming the model file and whatever the compiler named (node, op, shapes). */
    static String failureMessage(ModelSpec model, KilnException e) {
        String file = model.file().toString();
        String message = String.valueOf(e.getMessage());
        return "Kiln cannot compile " + (message.contains(file) ? message : file + ": " + message);
    }

    /** Deletes an output of the last run, and the package folders it leaves empty. */
    private void deleteStale(String output, Optional<Path> oldResourceRoot) throws IOException {
        Path p = resolve(output);
        // The state file is plain text: never let an edited one delete anything outside Kiln's own folders.
        Optional<Path> root = Stream.concat(Stream.of(request.sourceRoot(), request.resourceRoot()), oldResourceRoot.stream())
                .filter(r -> p.startsWith(r) && !p.equals(r)).findFirst();
        if (root.isEmpty()) {
            log.warn("Kiln: not deleting " + p + ": outside the generated-sources and generated-resources folders");
            return;
        }
        if (Files.deleteIfExists(p)) {
            log.info("Kiln: removed stale " + p);
        }
        pruneEmptyFolders(p.getParent(), root.get());
    }

    private static void pruneEmptyFolders(Path from, Path root) throws IOException {
        for (Path dir = from; dir.startsWith(root) && !dir.equals(root); dir = dir.getParent()) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    break;
                }
            }
            Files.delete(dir);
        }
    }

    private Path resolve(String output) {
        return request.sourceRoot().resolve(output).normalize();
    }

    private String relative(Path p) {
        return request.sourceRoot().relativize(p.toAbsolutePath().normalize()).toString().replace('\\', '/');
    }

    private static String count(int models) {
        return models + (models == 1 ? " model" : " models");
    }
}
