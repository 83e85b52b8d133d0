package dev.kiln.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the whole benchmark suite and writes docs/BENCHMARKS.md and its chart (what bench/run.sh calls).
 *
 * <p>Order matters on a shared machine: Kiln and ONNX Runtime run back to back per model and batch, so each
 * ratio compares figures taken minutes, not the whole run, apart. The FMA peak runs first, next to the GEMMs.
 *
 * <pre>
 * java -cp benchmarks.jar dev.kiln.bench.Suite --out docs/BENCHMARKS.md --svg docs/benchmarks-ratios.svg
 *      [--results FILE.ser] [--report-only FILE.ser] [--quick]
 * </pre>
 * {@code --quick} is the smoke run of the tests: in-process, one short iteration of one configuration each.
 */
public final class Suite {
    private static final String[] MODELS = {"mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru"};

    private final boolean quick;
    private final int forks;
    private final int warmups;
    private final int measurements;
    private final TimeValue iterationTime;

    private Suite(boolean quick) {
        this.quick = quick;
        this.forks = quick ? 0 : 1;
        this.warmups = quick ? 0 : 2;
        this.measurements = quick ? 1 : 3;
        this.iterationTime = quick ? TimeValue.milliseconds(30) : TimeValue.seconds(1);
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
    public SuiteRun run() throws RunnerException {
        String date = LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME).substring(0, 16);
        Machine machine = Machine.describe();
        long t0 = System.nanoTime();
        List<RunResult> all = new ArrayList<>();
        all.addAll(run(base(FmaPeakBench.class)));
        ChainedOptionsBuilder gemm1 = base(GemmBench.class).param("threads", "1");
        ChainedOptionsBuilder gemm2 = base(GemmBench.class).param("threads", "2")
                .param("shape", "64x784x512", "1024x1024x1024");
        if (quick) {
            gemm1.param("shape", "64x784x512");
            gemm2.param("shape", "64x784x512");
        }
        all.addAll(run(gemm1));
        all.addAll(run(gemm2));
        for (String model : quick ? new String[] {"mlp"} : MODELS) {
            for (String batch : quick ? new String[] {"1"} : new String[] {"1", "64"}) {
                all.addAll(run(base(KilnModelBench.class, OrtModelBench.class)
                        .param("model", model).param("batch", batch)));
            }
        }
        // The reference evaluator is a floor, not a contest: fewer iterations (cifar_cnn takes ~0.1 s a call).
        ChainedOptionsBuilder ref = base(ReferenceBench.class)
                .warmupIterations(Math.min(1, warmups)).measurementIterations(Math.min(2, measurements));
        if (quick) {
            ref.param("model", "mlp");
        }
        all.addAll(run(ref));
        // Allocation per call in AverageTime mode: SampleTime's own timing records allocate a few bytes per
        // call, which would blur the "zero allocation" figure of the fast batch-1 calls.
        ChainedOptionsBuilder alloc = base(KilnModelBench.class).mode(Mode.AverageTime)
                .warmupIterations(quick ? 0 : 2).warmupTime(TimeValue.milliseconds(500))
                .measurementIterations(1);
        if (quick) {
            alloc.param("model", "mlp").param("batch", "1").param("threads", "1");
        }
        all.addAll(run(alloc));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        String settings = String.format("JMH %s, %s fork%s per benchmark, %d warm-up and %d measured iterations of %s "
                        + "(reference evaluator: %d and %d; allocation run: AverageTime, %d x 500 ms warm-up, 1 x %s); "
                        + "the suite took %d s",
                org.openjdk.jmh.util.Version.getPlainVersion(), forks == 0 ? "no" : String.valueOf(forks),
                forks == 1 ? "" : "s", warmups, measurements, iterationTime, Math.min(1, warmups),
                Math.min(2, measurements), quick ? 0 : 2, iterationTime, seconds);
        return new SuiteRun(date, machine.finished(), settings, all);
    }

    private ChainedOptionsBuilder base(Class<?>... benches) {
        StringBuilder include = new StringBuilder("^(");
        for (int i = 0; i < benches.length; i++) {
            include.append(i == 0 ? "" : "|").append(benches[i].getName().replace(".", "\\."));
        }
        include.append(")\\.");
        ChainedOptionsBuilder b = new OptionsBuilder().include(include.toString())
                .mode(Mode.SampleTime).timeUnit(TimeUnit.MICROSECONDS)
                .forks(forks).warmupIterations(warmups).warmupTime(iterationTime)
                .measurementIterations(measurements).measurementTime(iterationTime)
                .addProfiler(GCProfiler.class).shouldFailOnError(true);
        if (quick) {
            b.param("model", "mlp").param("batch", "1").param("threads", "1");
        }
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
