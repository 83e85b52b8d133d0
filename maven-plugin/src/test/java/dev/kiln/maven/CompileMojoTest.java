package dev.kiln.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.project.MavenProject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The compile goal run as Maven would run it (fields set as Maven injects them) on a project in a temp folder. */
class CompileMojoTest {
    /** An old timestamp put on generated files: a regenerated file gets a new one, an untouched file keeps it. */
    private static final FileTime OLD = FileTime.fromMillis(1_000_000_000_000L);

    @TempDir
    Path base;
    Path onnx;
    Path sources;
    Path resources;
    RecordingLog log;

    @BeforeEach
    void setUp() {
        onnx = base.resolve("src/main/onnx");
        sources = base.resolve("target/generated-sources/kiln");
        resources = base.resolve("target/generated-resources/kiln");
    }

    /** A mojo configured as Maven would with the POM defaults, package com.acme. */
    private CompileMojo mojo() {
        CompileMojo m = new CompileMojo();
        MavenProject project = new MavenProject();
        project.setFile(base.resolve("pom.xml").toFile());
        m.project = project;
        m.packageName = "com.acme";
        m.outputDirectory = sources.toFile();
        m.resourcesDirectory = resources.toFile();
        m.optimizationLevel = "3";
        m.threads = 1;
        m.kilnVersion = "1.0-test";
        log = new RecordingLog();
        m.setLog(log);
        return m;
    }

    private Path source(String cls) {
        return sources.resolve("com/acme/" + cls + ".java");
    }

    private Path weights(String cls) {
        return resources.resolve("com/acme/" + cls + ".weights");
    }

    private static void age(Path... files) throws Exception {
        for (Path f : files) {
            Files.setLastModifiedTime(f, OLD);
        }
    }

    private static boolean regenerated(Path f) throws Exception {
        return !Files.getLastModifiedTime(f).equals(OLD);
    }

    @Test
    void generatesEveryModelOfTheDefaultFolderAndAddsBothRootsToTheProject() throws Exception {
        TestModels.affine(onnx.resolve("mnist_cnn.onnx"), 0.5f);
        TestModels.affine(onnx.resolve("second.onnx"), 2f);
        Files.writeString(onnx.resolve("README.txt"), "notes beside the models");
        CompileMojo m = mojo();
        m.execute();

        assertTrue(Files.readString(source("MnistCnn")).contains("public final class MnistCnn"));
        assertTrue(Files.size(weights("MnistCnn")) > 0);
        assertTrue(Files.isRegularFile(source("Second")));
        assertTrue(Files.isRegularFile(weights("Second")));
        assertFalse(Files.exists(sources.resolve("com/acme/MnistCnn.weights")), "weights go to the resources root");
        assertTrue(Files.isRegularFile(sources.resolve(".kiln-default.state")));
        assertEquals(List.of(), stagingLeftovers(), "no staging folder left");
        assertTrue(m.project.getCompileSourceRoots().contains(sources.toString()));
        assertEquals(1, m.project.getResources().stream().filter(r -> r.getDirectory().equals(resources.toString())).count());
        assertTrue(log.contains("mnist_cnn.onnx -> com.acme.MnistCnn (-O3, 1 thread)"), log.lines.toString());

        // Maven may run the goal twice in one build (e.g. two lifecycles): the roots are added once.
        m.execute();
        assertEquals(1, m.project.getCompileSourceRoots().stream().filter(r -> r.equals(sources.toString())).count());
        assertEquals(1, m.project.getResources().stream().filter(r -> r.getDirectory().equals(resources.toString())).count());
    }

    @Test
    void nothingIsRegeneratedWhenModelsAndConfigurationAreUnchanged() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        String text = Files.readString(source("Net"));
        age(source("Net"), weights("Net"));

        CompileMojo again = mojo();
        again.execute();
        assertFalse(regenerated(source("Net")));
        assertFalse(regenerated(weights("Net")));
        assertEquals(text, Files.readString(source("Net")));
        assertTrue(log.contains("1 model up to date"), log.lines.toString());
        assertTrue(again.project.getCompileSourceRoots().contains(sources.toString()), "roots are added when up to date too");
    }

    @Test
    void aChangedModelRegeneratesEverything() throws Exception {
        TestModels.affine(onnx.resolve("a.onnx"), 0.5f);
        TestModels.affine(onnx.resolve("b.onnx"), 0.5f);
        mojo().execute();
        String before = Files.readString(source("A")) + java.util.Arrays.toString(Files.readAllBytes(weights("A")));
        age(source("A"), weights("A"), source("B"), weights("B"));

        TestModels.affine(onnx.resolve("a.onnx"), 0.25f);
        mojo().execute();
        assertTrue(log.contains("models or configuration changed"), log.lines.toString());
        for (Path f : List.of(source("A"), weights("A"), source("B"), weights("B"))) {
            assertTrue(regenerated(f), f + " regenerated");
        }
        assertFalse(before.equals(Files.readString(source("A")) + java.util.Arrays.toString(Files.readAllBytes(weights("A")))),
                "the new scale is in the new outputs");
    }

    @Test
    void aChangedFileBesideTheModelsRegenerates() throws Exception {
        // ONNX external data lives beside the model, so any non-model file there counts as input.
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        Files.write(onnx.resolve("net.data"), new byte[] {1, 2, 3});
        mojo().execute();
        age(source("Net"));
        Files.write(onnx.resolve("net.data"), new byte[] {1, 2, 4});
        mojo().execute();
        assertTrue(regenerated(source("Net")));
    }

    @Test
    void eachConfigurationChangeRegenerates() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        List<java.util.function.Consumer<CompileMojo>> changes = List.of(
                m -> m.optimizationLevel = "1",
                m -> m.threads = 2,
                m -> m.classNames = Map.of("net", "Network"),
                m -> m.kilnVersion = "1.1-test",
                m -> m.resourcesDirectory = base.resolve("target/weights").toFile());
        for (var change : changes) {
            mojo().execute(); // back to the defaults
            mojo().execute();
            assertTrue(log.contains("up to date"), "settled before the change");
            Stream.of(sources, resources, base.resolve("target/weights")).filter(Files::isDirectory).forEach(root -> {
                try (Stream<Path> files = Files.walk(root)) {
                    for (Path f : files.filter(Files::isRegularFile).toList()) {
                        age(f);
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            CompileMojo changed = mojo();
            change.accept(changed);
            changed.execute();
            assertTrue(log.contains("models or configuration changed"), log.lines.toString());
            assertTrue(log.lines.stream().noneMatch(l -> l.contains("up to date")), log.lines.toString());
        }
    }

    @Test
    void outputsOfRenamedOrRemovedModelsAreDeleted() throws Exception {
        TestModels.affine(onnx.resolve("keep.onnx"), 0.5f);
        TestModels.affine(onnx.resolve("drop.onnx"), 0.5f);
        mojo().execute();
        assertTrue(Files.isRegularFile(source("Drop")));

        Files.delete(onnx.resolve("drop.onnx"));
        mojo().execute();
        assertFalse(Files.exists(source("Drop")));
        assertFalse(Files.exists(weights("Drop")));
        assertTrue(Files.isRegularFile(source("Keep")));
        assertTrue(log.contains("removed stale " + source("Drop")), log.lines.toString());

        // A new package moves everything: the old package folders are emptied and pruned.
        CompileMojo moved = mojo();
        moved.packageName = "org.example.nets";
        moved.execute();
        assertTrue(Files.isRegularFile(sources.resolve("org/example/nets/Keep.java")));
        assertTrue(Files.isRegularFile(resources.resolve("org/example/nets/Keep.weights")));
        assertFalse(Files.exists(sources.resolve("com")), "empty com/acme pruned");
        assertFalse(Files.exists(resources.resolve("com")), "empty com/acme pruned");
    }

    @Test
    void aNewResourcesFolderTakesTheWeightsAlong() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        CompileMojo moved = mojo();
        moved.resourcesDirectory = base.resolve("target/weights").toFile();
        moved.execute();
        assertTrue(Files.isRegularFile(base.resolve("target/weights/com/acme/Net.weights")));
        assertFalse(Files.exists(weights("Net")), "the old weights are stale");
        assertFalse(Files.exists(resources.resolve("com")));
    }

    @Test
    void aDeletedGeneratedFileIsRegenerated() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        Files.delete(weights("Net"));
        mojo().execute();
        assertTrue(log.contains("generated files are missing"), log.lines.toString());
        assertTrue(Files.isRegularFile(weights("Net")));
    }

    @Test
    void explicitFilesFoldersAndClassNamesAreHonoured() throws Exception {
        Path one = TestModels.affine(base.resolve("models/one.onnx"), 0.5f);
        TestModels.affine(base.resolve("more/x_two.onnx"), 0.5f);
        TestModels.affine(onnx.resolve("ignored.onnx"), 0.5f);
        CompileMojo m = mojo();
        m.models = List.of(one.toFile(), base.resolve("more").toFile());
        m.classNames = Map.of("one.onnx", "First");
        m.execute();
        assertTrue(Files.isRegularFile(source("First")));
        assertTrue(Files.isRegularFile(source("XTwo")));
        assertFalse(Files.exists(source("Ignored")), "the default folder is used only when <models> is not set");
    }

    @Test
    void skipGeneratesNothingAndAddsNoRoot() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        CompileMojo m = mojo();
        m.skip = true;
        m.execute();
        assertFalse(Files.exists(sources));
        assertFalse(m.project.getCompileSourceRoots().contains(sources.toString()));
    }

    @Test
    void aProjectWithoutModelsWarnsAndGeneratesNothing() throws Exception {
        CompileMojo m = mojo();
        m.execute();
        assertFalse(Files.exists(sources));
        assertTrue(log.contains("no ONNX models to compile in " + onnx), log.lines.toString());
    }

    @Test
    void configurationErrorsSayWhatToChange() throws Exception {
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        assertConfigError(m -> m.packageName = "com.1acme", "'com.1acme' is not a valid Java package name");
        assertConfigError(m -> m.packageName = "com.acme.class", "'com.acme.class' is not a valid Java package name");
        assertConfigError(m -> m.optimizationLevel = "4", "<optimizationLevel>: unknown optimization level '4' (use 0, 1, 2 or 3)");
        assertConfigError(m -> m.threads = 0, "threads must be at least 1, got 0");
        assertConfigError(m -> m.models = List.of(base.resolve("nowhere/net.onnx").toFile()),
                "model path " + base.resolve("nowhere/net.onnx") + " does not exist");
        assertConfigError(m -> m.train = true, "<train>true</train> needs <loss>: ce, nll or mse");
        assertConfigError(m -> {
            m.train = true;
            m.loss = "hinge";
        }, "<loss>: unknown loss 'hinge'");
        assertConfigError(m -> {
            m.train = true;
            m.loss = "ce";
            m.optimizer = "adam:lr=fast";
        }, "<optimizer>: ");
        assertConfigError(m -> {
            m.train = true;
            m.loss = "ce";
            m.freeze = List.of("fc.weight", " ");
        }, "<freeze>: an empty name");
        assertConfigError(m -> m.classNames = Map.of("net", "my-net"), "'my-net' is not a valid Java class name (model "
                + onnx.resolve("net.onnx") + ")");
        assertConfigError(m -> m.dims = Map.of("S", "many"), "<dims>: <S> must be a whole number of at least 1, got"
                + " 'many'");
        assertConfigError(m -> m.classNames = Map.of("nett", "Net"), "<classNames> names [nett], which match no model "
                + "(models: [net.onnx])");
    }

    @Test
    void trainGeneratesATrainerBesideTheNetAndRegeneratesWhenTheTrainingConfigurationChanges() throws Exception {
        TestModels.dense(onnx.resolve("net.onnx"));
        CompileMojo m = mojo();
        m.train = true;
        m.loss = "ce";
        m.optimizer = "adam:lr=1e-2";
        m.execute();
        String trainer = Files.readString(source("NetTrainer"));
        assertTrue(trainer.contains("public final class NetTrainer"), trainer);
        assertTrue(trainer.contains("public float step(float[] x, int[] labels, int batch)"), trainer);
        assertTrue(trainer.contains("\"adam:lr=1e-2\""), "the configured optimizer is create(net)'s default");
        assertTrue(log.contains("2 source files"), log.lines.toString());
        age(source("Net"), source("NetTrainer"));

        CompileMojo sgd = mojo();
        sgd.train = true;
        sgd.loss = "ce";
        sgd.optimizer = "sgd:lr=0.1";
        sgd.execute();
        assertTrue(regenerated(source("NetTrainer")), "another optimizer is another configuration");
        assertTrue(Files.readString(source("NetTrainer")).contains("\"sgd:lr=0.1\""));
        age(source("Net"), source("NetTrainer"));

        // Freezing is configuration too, and reaches the child JVM (one argument per name).
        CompileMojo frozen = mojo();
        frozen.train = true;
        frozen.loss = "ce";
        frozen.optimizer = "sgd:lr=0.1";
        frozen.freeze = List.of("fc.weight");
        frozen.alwaysFork = true;
        frozen.execute();
        assertTrue(regenerated(source("NetTrainer")), "freezing a parameter is another configuration");
        String frozenTrainer = Files.readString(source("NetTrainer"));
        assertTrue(frozenTrainer.contains("Frozen (read from the weights, never trained): fc.weight")
                && frozenTrainer.contains("PARAMETER_NAMES = List.of(\"fc.bias\")"), frozenTrainer);

        mojo().execute();
        assertFalse(Files.exists(source("NetTrainer")), "without <train> the trainer is a stale output, removed");
    }

    @Test
    void dimsFixSymbolicDimsInProcessAndInTheChildJvmAndAreConfiguration() throws Exception {
        Path model = TestModels.sequence(onnx.resolve("seq.onnx"));
        MojoFailureException unfixed = assertThrows(MojoFailureException.class, () -> mojo().execute());
        assertTrue(unfixed.getMessage().contains("S") && unfixed.getMessage().contains("batch"), unfixed.getMessage());

        CompileMojo m = mojo();
        m.dims = Map.of("S", "6");
        m.execute();
        String source = Files.readString(source("Seq"));
        assertTrue(source.contains("input {@code x} (x): float32 [batch,6,4]"), source);
        age(source("Seq"), weights("Seq"));

        CompileMojo forked = mojo();
        forked.dims = Map.of("S", "5");
        forked.alwaysFork = true;
        forked.execute();
        assertTrue(regenerated(source("Seq")), "other dims are another configuration");
        assertTrue(Files.readString(source("Seq")).contains("float32 [batch,5,4]"));

        CompileMojo typo = mojo();
        typo.dims = Map.of("T", "5");
        MojoFailureException e = assertThrows(MojoFailureException.class, typo::execute);
        assertTrue(e.getMessage().contains(model + ": cannot fix dims {T=5}: the model's inputs have no symbolic dim 'T'"
                + " (they have N, S)"), e.getMessage());
    }

    @Test
    void twoModelsWithOneClassNameAreAConfigurationError() throws Exception {
        TestModels.affine(onnx.resolve("my_net.onnx"), 0.5f);
        TestModels.affine(onnx.resolve("my-net.onnx"), 0.5f);
        MojoFailureException e = assertThrows(MojoFailureException.class, () -> mojo().execute());
        assertTrue(e.getMessage().contains("would both generate class MyNet; give one another name in <classNames>"),
                e.getMessage());
    }

    private void assertConfigError(java.util.function.Consumer<CompileMojo> change, String expected) {
        CompileMojo m = mojo();
        change.accept(m);
        MojoFailureException e = assertThrows(MojoFailureException.class, m::execute);
        assertTrue(e.getMessage().startsWith("Kiln"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertFalse(Files.exists(sources), "a configuration error writes nothing");
    }

    @Test
    void aModelErrorNamesFileNodeAndOpAndLeavesEarlierOutputsAsTheyWere() throws Exception {
        Path model = TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        String source = Files.readString(source("Net"));
        byte[] weights = Files.readAllBytes(weights("Net"));

        TestModels.uncompilable(model);
        MojoFailureException e = assertThrows(MojoFailureException.class, () -> mojo().execute());
        String message = e.getMessage();
        assertTrue(message.contains(model.toString()), message);
        assertTrue(message.contains("to_text"), message);
        assertTrue(message.contains("Cast"), message);
        assertFalse(message.contains("\n"), "one line: " + message);

        assertEquals(source, Files.readString(source("Net")), "the failed model's old outputs are untouched");
        assertEquals(java.util.Arrays.toString(weights), java.util.Arrays.toString(Files.readAllBytes(weights("Net"))));
        assertEquals(List.of(), stagingLeftovers());

        TestModels.affine(model, 0.5f);
        mojo().execute();
        assertTrue(log.contains("generating 1 model (the last run did not finish)"), log.lines.toString());
    }

    @Test
    void aFailedRunStillRemovesStaleOutputsOnceTheModelsCompile() throws Exception {
        TestModels.affine(onnx.resolve("gone.onnx"), 0.5f);
        Path net = TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        Files.delete(onnx.resolve("gone.onnx"));
        TestModels.uncompilable(net);
        assertThrows(MojoFailureException.class, () -> mojo().execute());
        assertTrue(Files.isRegularFile(source("Gone")), "a failed run deletes nothing");
        assertThrows(MojoFailureException.class, () -> mojo().execute());

        TestModels.affine(net, 0.5f);
        mojo().execute();
        assertFalse(Files.exists(source("Gone")));
        assertFalse(Files.exists(weights("Gone")));
        assertTrue(Files.isRegularFile(source("Net")));
    }

    @Test
    void theChildJvmThatMavenUsuallyNeedsWritesTheSameFiles() throws Exception {
        // Maven's JVM usually lacks jdk.incubator.vector; the plugin then compiles in a child JVM.
        TestModels.affine(onnx.resolve("net.onnx"), 0.5f);
        mojo().execute();
        String source = Files.readString(source("Net"));
        byte[] weights = Files.readAllBytes(weights("Net"));
        Files.delete(sources.resolve(".kiln-default.state"));
        age(source("Net"), weights("Net"));

        CompileMojo forked = mojo();
        forked.alwaysFork = true;
        forked.execute();
        assertTrue(regenerated(source("Net")));
        assertEquals(source, Files.readString(source("Net")));
        assertEquals(java.util.Arrays.toString(weights), java.util.Arrays.toString(Files.readAllBytes(weights("Net"))));
        assertTrue(log.contains("net.onnx -> com.acme.Net (-O3, 1 thread): 1 source file, " + weights.length
                + " bytes of weights"), log.lines.toString());
        mojo().execute();
        assertTrue(log.contains("1 model up to date"), "the child's outputs are recorded: " + log.lines);
    }

    @Test
    void aModelErrorInTheChildJvmHasTheSameMessage() throws Exception {
        Path model = TestModels.uncompilable(onnx.resolve("text.onnx"));
        MojoFailureException inProcess = assertThrows(MojoFailureException.class, () -> mojo().execute());
        CompileMojo forked = mojo();
        forked.alwaysFork = true;
        MojoFailureException child = assertThrows(MojoFailureException.class, forked::execute);
        assertEquals(inProcess.getMessage(), child.getMessage());
        assertTrue(child.getMessage().contains(model + ": node 'to_text' (Cast)"), child.getMessage());
    }

    private List<Path> stagingLeftovers() throws Exception {
        try (Stream<Path> files = Stream.concat(Files.list(sources), Files.list(resources))) {
            return files.filter(p -> p.getFileName().toString().startsWith(".kiln-staging")).toList();
        }
    }
}
