package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.cli.CaseResult;
import dev.kiln.cli.ConformanceRunner;
import dev.kiln.cli.Tolerance;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.Pipeline;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The optimizer never costs a conformance case: every ONNX backend case that passes at -O0 passes at -O3,
 * with each pass checked numerically on the case's own inputs ({@code --verify}).
 */
class OptimizedConformanceTest {
    @Test
    void everyCasePassingAtO0PassesAtO3WithVerifiedPasses() {
        List<java.nio.file.Path> suites = List.of(SharedData.onnxSuite("node"), SharedData.onnxSuite("simple"),
                SharedData.onnxSuite("pytorch-operator"));
        TreeSet<String> atO0 = passing(new ConformanceRunner(Tolerance.ONNX_BACKEND).runAll(suites, r -> { }));
        List<CaseResult> o3 = new ConformanceRunner(Tolerance.ONNX_BACKEND, Pipeline.forLevel(OptLevel.O3), true)
                .runAll(suites, r -> { });
        TreeSet<String> lost = new TreeSet<>(atO0);
        lost.removeAll(passing(o3));
        List<String> why = new ArrayList<>();
        for (CaseResult r : o3) {
            if (lost.contains(r.name())) {
                why.add(r.line());
            }
        }
        assertEquals(List.of(), why, "cases passing at -O0 but not at -O3");
    }

    private static TreeSet<String> passing(List<CaseResult> results) {
        TreeSet<String> names = new TreeSet<>();
        results.stream().filter(r -> r.status() == CaseResult.Status.PASS).forEach(r -> names.add(r.name()));
        return names;
    }
}
