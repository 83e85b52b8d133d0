package dev.kiln.passes;

import java.io.PrintStream;
import java.util.Set;

/**
 * How the pass manager reports and checks its work.
 *
 * @param printAfter pass names after which to print the graph; {@code "all"} for every pass
 * @param verbose print per-pass time and node counts
 * @param verify run the reference evaluator before and after every pass and fail on divergence
 * @param log where printing goes
 */
public record PassOptions(Set<String> printAfter, boolean verbose, boolean verify, PrintStream log) {
    public PassOptions {
        printAfter = Set.copyOf(printAfter);
    }

    public static PassOptions quiet() {
        return new PassOptions(Set.of(), false, false, System.err);
    }

    boolean printsAfter(String pass) {
        return printAfter.contains("all") || printAfter.contains(pass);
    }
}
