package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.runtime.data.Idx;
import dev.kiln.runtime.data.IdxTensor;
import dev.kiln.runtime.data.IdxType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code kiln train} and {@code kiln compile --train}, run in process on the bundled digits model and data: the
 * step and epoch lines, learning, agreement of the generated and reference trainers, saved and exported weights,
 * and the one-line errors (exit 2) for bad data and options.
 */
class TrainCommandTest {
    static final Path DIGITS = Path.of("..", "examples", "digits");
    static final Path MODEL = DIGITS.resolve("model.onnx");
    static final Path TRAIN_X = DIGITS.resolve("data/train-images.idx");
    static final Path TRAIN_Y = DIGITS.resolve("data/train-labels.idx");
    static final Path TEST_X = DIGITS.resolve("data/test-images.idx");
    static final Path TEST_Y = DIGITS.resolve("data/test-labels.idx");
    static final Pattern STEP = Pattern.compile("step (\\d+) loss (\\S+)");

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
        List<String> lines() { return out.lines().toList(); }

        /** The losses of the 'step K loss L' lines, checking that K counts 1, 2, 3, ... */
        List<Double> losses() {
            List<Double> out = new ArrayList<>();
            for (String line : lines()) {
                Matcher m = STEP.matcher(line);
                if (m.matches()) {
                    assertEquals(out.size() + 1, Integer.parseInt(m.group(1)), "step numbering in: " + line);
                    out.add(Double.parseDouble(m.group(2)));
                }
            }
            return out;
        }
    }

    static Result kiln(Object... args) {
        String[] a = Stream.of(args).map(Object::toString).toArray(String[]::new);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Kiln.execute(o, e, a);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static void assertOneLineError(Result r, String... mustContain) {
        assertEquals(2, r.code(), "exit code; stdout: " + r.out() + " stderr: " + r.err());
        assertEquals(1, r.err().lines().count(), "exactly one line on stderr: " + r.err());
        assertTrue(r.err().startsWith("kiln: "), r.err());
        for (String s : mustContain) {
            assertTrue(r.err().contains(s), "'" + s + "' in: " + r.err());
        }
    }

    static Object[] train(Object... extra) {
        List<Object> a = new ArrayList<>(List.of("train", MODEL, "--x", TRAIN_X, "--labels", TRAIN_Y, "--loss", "ce"));
        a.addAll(List.of(extra));
        return a.toArray();
    }

    static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    @Test
    void generatedTrainerPrintsEveryStepAndEpochLearnsAndSavesAndExports() throws IOException {
        Path save = tmp.resolve("params");
        Path exported = tmp.resolve("trained.onnx");
        Result r = kiln(train("--optimizer", "adam:lr=1e-2", "--batch", 32, "--steps", 60, "--test-x", TEST_X,
                "--test-labels", TEST_Y, "--save", save, "--export", exported));
        assertEquals(0, r.code(), r.err());
        List<Double> losses = r.losses();
        assertEquals(60, losses.size(), r.out());
        // From ln(10) = 2.30 for a random start: the last ten steps average below half the first ten.
        assertTrue(mean(losses.subList(50, 60)) < 0.5 * mean(losses.subList(0, 10)), losses.toString());
        List<String> epochs = r.lines().stream().filter(l -> l.startsWith("epoch ")).toList();
        assertEquals(2, epochs.size(), "60 steps of 48 per epoch: one full epoch and a partial one: " + r.out());
        assertTrue(epochs.get(0).matches("epoch 1/2: loss \\d+\\.\\d{4}, train accuracy \\d+\\.\\d%, test accuracy "
                + "\\d+\\.\\d%, \\d+ samples/s"), epochs.get(0));
        Matcher heldOut = Pattern.compile("held-out accuracy (\\d+\\.\\d)% \\((\\d+) of 429\\) on .*")
                .matcher(r.lines().stream().filter(l -> l.startsWith("held-out")).findFirst().orElseThrow());
        assertTrue(heldOut.matches());
        assertTrue(Double.parseDouble(heldOut.group(1)) > 60, "60 Adam steps reach well past chance (10%): " + r.out());

        Graph original = OnnxImporter.load(MODEL);
        Graph trained = OnnxImporter.load(exported);
        List<String> parameters = List.of("conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias");
        for (String p : parameters) {
            Tensor saved = Npy.read(save.resolve(p + ".npy"));
            Tensor before = original.initializers().get(original.findValue(p).orElseThrow());
            Tensor after = trained.initializers().get(trained.findValue(p).orElseThrow());
            assertArrayEquals(before.shape(), saved.shape(), p);
            assertArrayEquals(saved.toFloatArray(), after.toFloatArray(), p + ": --save and --export hold the same values");
            assertTrue(!java.util.Arrays.equals(before.toFloatArray(), after.toFloatArray()), p + " was trained");
        }
        try (Stream<Path> files = Files.list(save)) {
            assertEquals(parameters.size(), files.count(), "one file per trained parameter, nothing else");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd:lr=0.05,momentum=0.9", "rmsprop:lr=1e-3,momentum=0.5",
        "adagrad:lr=0.05"})
    void generatedAndReferenceTrainersTakeTheSameSteps(String optimizer) {
        Object[] common = {"--optimizer", optimizer, "--batch", 16, "--steps", 4, "--no-shuffle"};
        Result generated = kiln(train(common));
        Result reference = kiln(train(append(common, "--backend", "reference")));
        assertEquals(0, generated.code(), generated.err());
        assertEquals(0, reference.code(), reference.err());
        List<Double> g = generated.losses();
        List<Double> ref = reference.losses();
        assertEquals(4, g.size());
        for (int i = 0; i < 4; i++) {
            // The generated float32 kernels against the reference evaluator's double arithmetic, 6 printed digits.
            assertEquals(ref.get(i), g.get(i), 1e-5 * Math.max(1, ref.get(i)) + 2e-6, "loss of step " + (i + 1));
        }
    }

    @Test
    void frozenParametersAreReadNeverTrainedAndExportedUnchanged() throws IOException {
        Path save = tmp.resolve("params");
        Path exported = tmp.resolve("tuned.onnx");
        Object[] common = {"--optimizer", "adam:lr=1e-2", "--batch", 16, "--steps", 4, "--no-shuffle", "--freeze",
            "conv1.weight,conv1.bias", "--freeze", "fc1.bias"};
        Result generated = kiln(train(append(common, "--save", save, "--export", exported)));
        Result reference = kiln(train(append(common, "--backend", "reference")));
        assertEquals(0, generated.code(), generated.err());
        assertEquals(0, reference.code(), reference.err());
        assertTrue(generated.out().contains("3 parameter tensors"), generated.out());
        for (int i = 0; i < 4; i++) {
            assertEquals(reference.losses().get(i), generated.losses().get(i),
                    1e-5 * Math.max(1, reference.losses().get(i)) + 2e-6, "loss of step " + (i + 1));
        }
        Graph original = OnnxImporter.load(MODEL);
        Graph tuned = OnnxImporter.load(exported);
        for (String p : List.of("conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")) {
            float[] before = original.initializers().get(original.findValue(p).orElseThrow()).toFloatArray();
            float[] after = tuned.initializers().get(tuned.findValue(p).orElseThrow()).toFloatArray();
            boolean frozen = p.startsWith("conv1") || p.equals("fc1.bias");
            assertEquals(frozen, java.util.Arrays.equals(before, after), p + (frozen ? " changed" : " was not trained"));
            assertEquals(!frozen, Files.exists(save.resolve(p + ".npy")), p + ": --save writes the trained parameters");
        }
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 8, "--steps", 1, "--freeze", "conv9.weight")),
                "frozen parameter 'conv9.weight' is not an initializer");
    }

    @Test
    void compileWithTrainAndFreezeDocumentsTheFrozenParameters() throws IOException {
        Path out = tmp.resolve("gen");
        Result r = kiln("compile", MODEL, "--out", out, "--package", "com.acme", "--class", "Digits", "--train", "--loss",
                "ce", "--freeze", "conv1.weight,conv1.bias");
        assertEquals(0, r.code(), r.err());
        String trainer = Files.readString(out.resolve("com/acme/DigitsTrainer.java"));
        assertTrue(trainer.contains("Frozen (read from the weights, never trained): conv1.weight, conv1.bias"), trainer);
        assertTrue(trainer.contains("List.of(\"fc1.weight\", \"fc1.bias\", \"fc2.weight\", \"fc2.bias\")"), trainer);
        assertOneLineError(kiln("compile", MODEL, "--out", tmp.resolve("gen2"), "--freeze", "conv1.weight"),
                "only with --train");
    }

    /**
     * A token classifier (int64 ids [N, 6] -> embedding [20, 10] -> mean over the tokens) trains from .npy ids: the
     * generated and the reference trainer take the same steps; a value that is not a whole number is refused.
     */
    @Test
    void aTokenModelTrainsFromIntegerIds() throws IOException {
        dev.kiln.ir.GraphBuilder b = new dev.kiln.ir.GraphBuilder("tokens");
        dev.kiln.ir.Value ids = b.input("ids", DType.INT64, dev.kiln.ir.Shape.parse("N,6"));
        float[] table = new float[200];
        for (int i = 0; i < table.length; i++) {
            table[i] = (float) Math.sin(i * 0.37) * 0.5f;
        }
        dev.kiln.ir.Value rows = b.op("Gather").inputs(b.initializer("embedding", Tensor.ofFloats(new int[] {20, 10},
                table)), ids).output();
        b.output(b.op("ReduceMean").inputs(rows, b.initializer("axes", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output());
        Path model = tmp.resolve("tokens.onnx");
        dev.kiln.onnx.OnnxExporter.save(b.build(), model);
        long[] tokens = new long[32 * 6];
        long[] classes = new long[32];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7 + i / 6) % 20;
        }
        for (int i = 0; i < classes.length; i++) {
            classes[i] = tokens[i * 6] % 10;
        }
        Path xs = tmp.resolve("ids.npy");
        Npy.write(xs, Tensor.ofLongs(DType.INT64, new int[] {32, 6}, tokens));
        Path ys = tmp.resolve("classes.npy");
        Npy.write(ys, Tensor.ofLongs(DType.INT64, new int[] {32}, classes));
        Object[] common = {"train", model, "--x", xs, "--labels", ys, "--loss", "ce", "--optimizer", "adam:lr=0.1",
            "--batch", 8, "--steps", 5, "--no-shuffle"};
        Result generated = kiln(common);
        Result reference = kiln(append(common, "--backend", "reference"));
        assertEquals(0, generated.code(), generated.err());
        assertEquals(0, reference.code(), reference.err());
        for (int i = 0; i < 5; i++) {
            assertEquals(reference.losses().get(i), generated.losses().get(i), 1e-5 * reference.losses().get(i) + 2e-6,
                    "loss of step " + (i + 1));
        }
        assertTrue(generated.losses().get(4) < generated.losses().get(0), generated.out());
        Path halves = tmp.resolve("halves.npy");
        float[] bad = new float[32 * 6];
        bad[13] = 2.5f;
        Npy.write(halves, Tensor.ofFloats(new int[] {32, 6}, bad));
        assertOneLineError(kiln("train", model, "--x", halves, "--labels", ys, "--loss", "ce", "--optimizer", "adam",
                "--batch", 8, "--steps", 1), "sample 2 holds 2.5", "'ids' is int64");
    }

    static Object[] append(Object[] a, Object... more) {
        List<Object> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(more));
        return l.toArray();
    }

    @Test
    void aNonFiniteLossStopsWithTheStepAndTheFirstNonFiniteTensor() throws IOException {
        float[] x = new float[8 * 64];
        x[70] = Float.NaN;
        Path xs = tmp.resolve("x.npy");
        Npy.write(xs, Tensor.ofFloats(new int[] {8, 1, 8, 8}, x));
        Path ys = tmp.resolve("y.npy");
        Npy.write(ys, Tensor.ofLongs(DType.INT64, new int[] {8}, 0, 1, 2, 3, 4, 5, 6, 7));
        Result r = kiln("train", MODEL, "--x", xs, "--labels", ys, "--loss", "ce", "--optimizer", "adam", "--batch", 4,
                "--steps", 2, "--no-shuffle");
        // The first batch holds the NaN (sample 1): step 1 fails and names the input.
        assertOneLineError(r, "step 1", "NaN", "image");
    }

    @Test
    void labelOutOfRangeIsOneLineNamingTheSampleAndTheClasses() throws IOException {
        int[] labels = Idx.readLabels(TEST_Y);
        labels[5] = 12;
        Path bad = tmp.resolve("labels.idx");
        Idx.write(bad, IdxTensor.ofInts(IdxType.UBYTE, new int[] {labels.length}, labels));
        assertOneLineError(kiln("train", MODEL, "--x", TEST_X, "--labels", bad, "--loss", "ce", "--optimizer", "adam",
                "--batch", 8, "--steps", 1), "label 5", "is 12", "10 classes");
    }

    @Test
    void inputsAndLabelsOfDifferentCountsAreRefused() {
        assertOneLineError(kiln("train", MODEL, "--x", TEST_X, "--labels", TRAIN_Y, "--loss", "ce", "--optimizer", "adam",
                "--batch", 8, "--steps", 1), "429 samples", "1514");
    }

    @Test
    void aBatchLargerThanTheDataIsRefused() {
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 5000, "--steps", 1)),
                "--batch 5000 is larger than the 1514 training samples");
    }

    @Test
    void badOptimizerSpecsAreUsageErrors() {
        assertOneLineError(kiln(train("--optimizer", "adam:lr=fast", "--batch", 8, "--steps", 1)), "--optimizer", "lr");
        assertOneLineError(kiln(train("--optimizer", "lbfgs:lr=0.1", "--batch", 8, "--steps", 1)),
                "unknown optimizer 'lbfgs'", "rmsprop, adagrad");
        assertOneLineError(kiln(train("--optimizer", "sgd", "--batch", 8, "--steps", 1)), "sgd needs lr");
    }

    @Test
    void missingFilesAndWrongShapesAreOneLine() throws IOException {
        assertOneLineError(kiln("train", MODEL, "--x", tmp.resolve("nope.idx"), "--labels", TRAIN_Y, "--loss", "ce",
                "--optimizer", "adam", "--batch", 8, "--steps", 1), "nope.idx", "does not exist");
        assertOneLineError(kiln("train", tmp.resolve("missing.onnx"), "--x", TRAIN_X, "--labels", TRAIN_Y, "--loss", "ce",
                "--optimizer", "adam", "--batch", 8, "--steps", 1), "missing.onnx");
        Path wide = tmp.resolve("wide.npy");
        Npy.write(wide, Tensor.ofFloats(new int[] {4, 10}, new float[40]));
        Path four = tmp.resolve("four.npy");
        Npy.write(four, Tensor.ofLongs(DType.INT64, new int[] {4}, 0, 1, 2, 3));
        assertOneLineError(kiln("train", MODEL, "--x", wide, "--labels", four, "--loss", "ce", "--optimizer", "adam",
                "--batch", 2, "--steps", 1), "10 values each", "takes 64 values per sample");
    }

    @Test
    void optionMistakesAreUsageErrors() {
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 8, "--steps", 1, "--epochs", 1)), "mutually exclusive");
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 8)), "--steps");
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 0, "--steps", 1)), "--batch must be at least 1");
        assertOneLineError(kiln("train", MODEL, "--x", TRAIN_X, "--labels", TRAIN_Y, "--loss", "hinge", "--optimizer",
                "adam", "--batch", 8, "--steps", 1), "unknown loss 'hinge'");
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 8, "--steps", 1, "--test-x", TEST_X)),
                "--test-x and --test-labels go together");
        assertOneLineError(kiln(train("--optimizer", "adam", "--batch", 8, "--steps", 1, "--backend", "gpu")),
                "unknown backend 'gpu'");
    }

    @Test
    void compileWithTrainWritesTheNetAndItsTrainer() throws IOException {
        Path out = tmp.resolve("gen");
        Result r = kiln("compile", MODEL, "--out", out, "--package", "com.acme", "--class", "Digits", "--train", "--loss",
                "ce", "--optimizer", "adam:lr=1e-3");
        assertEquals(0, r.code(), r.err());
        Path pkg = out.resolve("com/acme");
        assertTrue(Files.isRegularFile(pkg.resolve("Digits.java")));
        assertTrue(Files.isRegularFile(pkg.resolve("Digits.weights")));
        String trainer = Files.readString(pkg.resolve("DigitsTrainer.java"));
        assertTrue(trainer.contains("public float step(float[] image, int[] labels, int batch)"), trainer);
        assertTrue(trainer.contains("DEFAULT_OPTIMIZER = \"adam:lr=1e-3\""), trainer);
        assertTrue(r.out().contains("DigitsTrainer.java"), r.out());
    }

    @Test
    void compileTrainingOptionsNeedEachOther() {
        Path out = tmp.resolve("gen");
        assertOneLineError(kiln("compile", MODEL, "--out", out, "--loss", "ce"), "only with --train");
        assertOneLineError(kiln("compile", MODEL, "--out", out, "--train"), "--train needs --loss");
        assertOneLineError(kiln("compile", MODEL, "--out", out, "--train", "--loss", "ce", "--optimizer", "adam:lr=x"),
                "--optimizer");
        assertTrue(Files.notExists(out), "nothing written on a usage error");
    }
}
