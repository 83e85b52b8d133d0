package dev.kiln.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import dev.kiln.passes.Pipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kiln test-onnx}: runs ONNX backend test cases and prints one line per case and a summary line. */
@Command(name = "test-onnx", mixinStandardHelpOptions = true,
        description = {
            "Runs ONNX backend test cases (a folder with model.onnx and test_data_set_*/input_*.pb, output_*.pb)"
                    + " on the reference evaluator, or through generated code with --backend codegen.",
            "Prints one line per case (PASS, FAIL with the error, SKIP with what is unsupported), then exactly"
                    + " 'N passed, M failed, K skipped'.",
            "Floating outputs pass when |actual - expected| <= 1e-7 + 1e-3 * |expected| elementwise (ONNX's"
                    + " backend-test tolerance), NaN equal to NaN; integer, bool and string outputs must match exactly."},
        footer = {"", "Exit codes: 0 no case failed, 1 some case failed (or internal error), 2 bad input or usage."})
public final class TestOnnxCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "PATH",
            description = "A case folder, or a folder searched recursively for case folders.")
    private List<Path> paths = new ArrayList<>();

    @Mixin
    private EngineOptions engine;

    @Option(names = "--report", paramLabel = "FILE",
            description = "Also write a Markdown report: totals per suite and per op, failed and skipped cases.")
    private Path report;

    @Option(names = "--verify",
            description = "After every optimization pass (see -O), check the outputs on the case's first data set against the unoptimized graph's.")
    private boolean verify;

    @Option(names = {"-v", "--verbose"}, description = "Print the tolerance first and stack traces of internal errors.")
    private boolean verbose;

    @Override
    public Integer call() {
        engine.requireAvailable();
        for (Path p : paths) {
            if (!Files.isDirectory(p)) {
                throw new dev.kiln.ir.KilnException("test path '" + p + "' is not a folder"
                        + (Files.exists(p) ? "" : " (it does not exist)"));
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        ConformanceRunner runner = new ConformanceRunner(Tolerance.ONNX_BACKEND, Pipeline.forLevel(engine.optLevel()),
                verify, engine.codegen() ? ConformanceRunner.Backend.CODEGEN : ConformanceRunner.Backend.REFERENCE);
        if (verbose) {
            out.println("tolerance: " + runner.tolerance().describe() + " for floating outputs; exact otherwise");
        }
        List<CaseResult> results = runner.runAll(paths, r -> {
            out.println(r.line());
            out.flush();
        });
        ConformanceSummary summary = ConformanceSummary.of(results);
        if (report != null && engine.codegen()) {
            // The report always leads with the reference evaluator; generated code is compared against it.
            List<CaseResult> reference = new ConformanceRunner(Tolerance.ONNX_BACKEND, Pipeline.forLevel(engine.optLevel()),
                    verify).runAll(paths, r -> { });
            ConformanceReport.write(report, commandLine(), runner.tolerance(), reference, results);
        } else if (report != null) {
            ConformanceReport.write(report, commandLine(), runner.tolerance(), results, List.of());
        }
        out.println(summary.line());
        return summary.failed() == 0 ? Kiln.OK : Kiln.INTERNAL_ERROR;
    }

    /** The command as the user could retype it, for the report's header. */
    private String commandLine() {
        List<String> parts = new ArrayList<>(List.of("kiln", "test-onnx"));
        if (engine.codegen()) {
            parts.addAll(List.of("--backend", "codegen"));
        }
        if (engine.optLevel() != dev.kiln.passes.OptLevel.O0) {
            parts.add("-" + engine.optLevel());
        }
        if (report != null) {
            parts.add("--report");
            parts.add(report.toString());
        }
        paths.forEach(p -> parts.add(p.toString()));
        return String.join(" ", parts);
    }
}
