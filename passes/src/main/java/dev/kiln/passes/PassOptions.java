package dev.kiln.passes;

import dev.kiln.ir.Tensor;
import java.io.PrintStream;
import java.util.Map;
import java.util.Set;

/**
 * How the pass manager reports and checks its work.
 *
 * @param printAfter pass names after which to print the graph; {@code "all"} for every pass
 * @param verbose print per-pass time and node counts
 * @param verify run the reference evaluator before and after every pass and fail on divergence
 * @param log where printing goes
 * @param verifyInputs inputs for {@code verify} (e.g. a test case's real data); empty for seeded random ones
 */
public record PassOptions(Set<String> printAfter, boolean verbose, boolean verify, PrintStream log,
                          Map<String, Tensor> verifyInputs) {
    public PassOptions {
        printAfter = Set.copyOf(printAfter);
        verifyInputs = Map.copyOf(verifyInputs);
    }

    public PassOptions(Set<String> printAfter, boolean verbose, boolean verify, PrintStream log) {
        this(printAfter, verbose, verify, log, Map.of());
    }

    /** These options, verifying on the given inputs instead of random ones. */
    public PassOptions withVerifyInputs(Map<String, Tensor> inputs) {
        return new PassOptions(printAfter, verbose, verify, log, inputs);
    }

    public static PassOptions quiet() {
        return new PassOptions(Set.of(), false, false, System.err);
    }

    boolean printsAfter(String pass) {
        return printAfter.contains("all") || printAfter.contains(pass);
    }
}
