package dev.kiln.bench;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

/** Look-ups into the results of a suite run by benchmark, mode and parameters; figures in the run's unit (µs). */
final class Results {
    private final List<RunResult> runs;

    Results(List<RunResult> runs) {
        this.runs = runs;
    }

    /** The result of {@code Class.method} in {@code mode} whose parameters include all of {@code params}. */
    Optional<RunResult> find(Class<?> bench, String method, Mode mode, Map<String, String> params) {
        String name = bench.getName() + "." + method;
        return runs.stream()
                .filter(r -> r.getParams().getBenchmark().equals(name) && r.getParams().getMode() == mode)
                .filter(r -> params.entrySet().stream().allMatch(e -> e.getValue().equals(r.getParams().getParam(e.getKey()))))
                .findFirst();
    }

    /** Every SampleTime result of {@code Class.method}, in run order. */
    List<RunResult> all(Class<?> bench, String method) {
        String name = bench.getName() + "." + method;
        return runs.stream()
                .filter(r -> r.getParams().getBenchmark().equals(name) && r.getParams().getMode() == Mode.SampleTime)
                .toList();
    }

    /** Median of the samples of a SampleTime result. */
    OptionalDouble median(Class<?> bench, String method, Map<String, String> params) {
        return find(bench, method, Mode.SampleTime, params)
                .map(r -> OptionalDouble.of(r.getPrimaryResult().getStatistics().getPercentile(50)))
                .orElse(OptionalDouble.empty());
    }

    /** JMH's 99.9 % error of the mean relative to the mean, in percent. */
    OptionalDouble relativeError(Class<?> bench, String method, Map<String, String> params) {
        return find(bench, method, Mode.SampleTime, params).map(r -> {
            Result<?> p = r.getPrimaryResult();
            double err = p.getScoreError();
            return Double.isNaN(err) || p.getScore() == 0 ? OptionalDouble.empty()
                    : OptionalDouble.of(100 * err / p.getScore());
        }).orElse(OptionalDouble.empty());
    }

    /** Bytes allocated per operation from the gc profiler, in the given mode. */
    OptionalDouble bytesPerOp(Class<?> bench, String method, Mode mode, Map<String, String> params) {
        return find(bench, method, mode, params).map(r -> {
            Map<String, Result> sec = r.getSecondaryResults();
            for (String key : List.of("gc.alloc.rate.norm", "\u00b7gc.alloc.rate.norm")) {
                if (sec.containsKey(key)) {
                    return OptionalDouble.of(sec.get(key).getScore());
                }
            }
            return OptionalDouble.empty();
        }).orElse(OptionalDouble.empty());
    }
}
