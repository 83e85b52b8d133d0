package dev.kiln.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs the whole benchmark suite and writes docs/BENCHMARKS.md and its chart (what bench/run.sh calls).
 *
 * <p>Order matters on a shared machine: Kiln and ONNX Runtime run back to back per model and batch, so each
 * ratio compares figures taken minutes, not the whole run, apart. The FMA peak runs first, next to the GEMMs; the
 * training steps (Kiln only: PyTorch's figures come from ../shared/baseline/MACHINE.md) after the models.
 *
 * <pre>
 * java -cp benchmarks.jar dev.kiln.bench.Suite --out docs/BENCHMARKS.md --svg docs/benchmarks-ratios.svg
 *      [--results FILE.ser] [--report-only FILE.ser] [--quick]
 * </pre>
 * {@code --quick} is the smoke run of the tests: in-process, one short iteration of one configuration each (the
 * training step: mlp at one thread).
 */
public final class Suite {
    private static final String[] MODELS = {"mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru"};

    private final boolean quick;
    private final int forks;
    private final int warmups;
    private final int measurements;
    private final TimeValue iterationTime;
    private final TimeValue trainWarmupTime;

    private Suite(boolean quick) {
        this.quick = quick;
        this.forks = quick ? 0 : 1;
        this.warmups = quick ? 0 : 2;
        // 3 x 1 s: with 2, one disturbed second on the shared machine moved a median by up to 30 %.
        this.measurements = quick ? 1 : 3;
        this.iterationTime = quick ? TimeValue.milliseconds(30) : TimeValue.seconds(1);
        this.trainWarmupTime = quick ? iterationTime : TimeValue.seconds(2);
    }

    public static void main(String[] args) throws IOException, RunnerException {
        Path out = Path.of("docs/BENCHMARKS.md");
        Path svg = Path.of("docs/benchmarks-ratios.svg");
        Path results = Path.of("bench/target/bench-results.ser");
        Path reportOnly = null;
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(value(args, ++i));
                case "--svg" -> svg = Path.of(value(args, ++i));
                case "--results" -> results = Path.of(value(args, ++i));
                case "--report-only" -> reportOnly = Path.of(value(args, ++i));
                case "--quick" -> quick = true;
                default -> usage("unknown argument " + args[i]);
            }
        }
        SuiteRun run;
        if (reportOnly != null) {
            run = SuiteRun.load(reportOnly);
        } else {
            run = new Suite(quick).run();
            run.save(results);
            System.out.println("suite: results saved in " + results);
        }
        Report.write(run, out, svg);
        System.out.println("suite: wrote " + out + " and " + svg);
    }

    /** Measures everything, in the order described in the class comment. */
    public SuiteRun run() throws RunnerException, IOException {
        String date = LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME).substring(0, 16);
        Machine machine = Machine.describe();
        long t0 = System.nanoTime();
        List<RunResult> all = new ArrayList<>();
        Path allocLog = Files.createTempFile("kiln-bench-alloc", ".txt");
        if (quick) {
            System.setProperty(KilnModelBench.ALLOC_LOG, allocLog.toString()); // no fork: same JVM
        }
        all.addAll(run(Mode.SampleTime, Map.of(), FmaPeakBench.class));
        all.addAll(run(Mode.SampleTime, Map.of("threads", new String[] {"1"}), GemmBench.class));
        all.addAll(run(twoThreads(options(Mode.SampleTime, Map.of("threads", new String[] {"2"},
                "shape", new String[] {"64x784x512", "1024x1024x1024"}), GemmBench.class))));
        for (String model : quick ? new String[] {"mlp"} : MODELS) {
            for (String batch : quick ? new String[] {"1"} : new String[] {"1", "64"}) {
                for (String threads : quick ? new String[] {"1"} : new String[] {"1", "2"}) {
                    Map<String, String[]> params = Map.of("model", new String[] {model}, "batch",
                            new String[] {batch}, "threads", new String[] {threads});
                    // One more warm-up for Kiln: its kernels are C2-compiled Java (ORT's are native), and on a
                    // loaded machine C2 was seen to need more than 2 s to settle.
                    ChainedOptionsBuilder kiln = options(Mode.SampleTime, params, KilnModelBench.class)
                            .warmupIterations(warmups + 1)
                            .jvmArgsAppend("--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g",
                                    "-D" + KilnModelBench.ALLOC_LOG + "=" + allocLog);
                    ChainedOptionsBuilder ort = options(Mode.SampleTime, params, OrtModelBench.class);
                    boolean two = threads.equals("2");
                    all.addAll(run(two ? twoThreads(kiln) : kiln));
                    all.addAll(run(two ? twoThreads(ort) : ort));
                }
            }
        }
        // Training steps take milliseconds (mnist_cnn tens of them under load), so a 1 s warm-up iteration is only
        // tens of calls, run by C1 code that boxes every vector: mnist_cnn's step was seen to settle only in the
        // third or fourth 2 s warm-up on a loaded machine.
        for (String threads : quick ? new String[] {"1"} : new String[] {"1", "2"}) {
            ChainedOptionsBuilder train = options(Mode.SampleTime, Map.of("threads", new String[] {threads}),
                    KilnTrainBench.class).warmupIterations(warmups + 2).warmupTime(trainWarmupTime)
                    .jvmArgsAppend("--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g",
                            "-D" + KilnModelBench.ALLOC_LOG + "=" + allocLog);
            all.addAll(run(threads.equals("2") ? twoThreads(train) : train));
        }
        // The reference evaluator is a floor, not a contest: fewer iterations (cifar_cnn takes ~40 ms a call).
        all.addAll(run(options(Mode.SampleTime, Map.of(), ReferenceBench.class)
                .warmupIterations(Math.min(1, warmups)).measurementIterations(Math.min(1, measurements))));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        String settings = String.format("JMH %s, %s fork%s per benchmark, %d warm-up and %d measured iterations of %s "
                        + "(Kiln's models: %d warm-ups; training steps: %d warm-ups of %s; reference evaluator: %d "
                        + "and %d), gc profiler on, at %s; the suite took %d s",
                org.openjdk.jmh.util.Version.getPlainVersion(),
                forks == 0 ? "no" : String.valueOf(forks), forks == 1 ? "" : "s", warmups, measurements, iterationTime,
                warmups + 1, warmups + 2, trainWarmupTime, Math.min(1, warmups), Math.min(1, measurements),
                System.getProperty("kiln.bench.priority", "normal priority"), seconds);
        Map<String, Double> callerBytes = new LinkedHashMap<>();
        for (String line : Files.readAllLines(allocLog)) {
            String[] f = line.trim().split(" ");
            if (f.length == 4) {
                callerBytes.put(SuiteRun.key(f[0], f[1], f[2]), Double.parseDouble(f[3]));
            }
        }
        Files.deleteIfExists(allocLog);
        return new SuiteRun(date, machine.finished(), settings, all, callerBytes);
    }

    /**
     * Two-thread forks at normal priority when bench/run.sh names a launcher for it
     * ({@value #TWO_THREAD_JVM}): under real-time priority (SCHED_RR) two threads that spin while they wait for
     * each other, Kiln's and ONNX Runtime's pools alike, ran per JVM at one speed or up to twice as slow (lstm at
     * batch 1: 67-77 µs or 114-156 µs per call, 6 JVMs each way), where at normal priority they did not.
     */
    private static ChainedOptionsBuilder twoThreads(ChainedOptionsBuilder options) {
        String jvm = System.getProperty(TWO_THREAD_JVM);
        return jvm == null || jvm.isEmpty() ? options : options.jvm(jvm);
    }

    /** System property naming the java launcher of the two-thread forks. */
    static final String TWO_THREAD_JVM = "kiln.bench.twoThreadJvm";

    private Collection<RunResult> run(Mode mode, Map<String, String[]> params, Class<?>... benches)
            throws RunnerException {
        return run(options(mode, params, benches));
    }

    /**
     * Options for {@code benches} with the suite's forks and iterations and the gc profiler. JMH's
     * {@code param} adds values, so each parameter is set exactly once here; the quick run narrows every model
     * benchmark to mlp, batch 1, one thread, and the GEMMs to one shape (JMH ignores parameters a benchmark does
     * not declare).
     */
    private ChainedOptionsBuilder options(Mode mode, Map<String, String[]> params, Class<?>... benches) {
        StringBuilder include = new StringBuilder("^(");
        for (int i = 0; i < benches.length; i++) {
            include.append(i == 0 ? "" : "|").append(benches[i].getName().replace(".", "\\."));
        }
        include.append(")\\.");
        ChainedOptionsBuilder b = new OptionsBuilder().include(include.toString())
                .mode(mode).timeUnit(TimeUnit.MICROSECONDS)
                .forks(forks).warmupIterations(warmups).warmupTime(iterationTime)
                .measurementIterations(measurements).measurementTime(iterationTime)
                .addProfiler(GCProfiler.class).shouldFailOnError(true);
        Map<String, String[]> all = new LinkedHashMap<>(params);
        if (quick) {
            b.verbosity(VerboseMode.SILENT); // the smoke run inside `mvn verify` keeps the build log readable
            all.put("model", new String[] {"mlp"});
            all.put("batch", new String[] {"1"});
            all.putIfAbsent("threads", new String[] {"1"});
            all.put("shape", new String[] {"64x784x512"});
        }
        all.forEach(b::param);
        return b;
    }

    private static Collection<RunResult> run(ChainedOptionsBuilder options) throws RunnerException {
        return new Runner(options.build()).run();
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            usage(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("suite: " + problem);
        System.err.println("usage: Suite [--out BENCHMARKS.md] [--svg CHART.svg] [--results FILE.ser] "
                + "[--report-only FILE.ser] [--quick]");
        System.exit(2);
    }
}
