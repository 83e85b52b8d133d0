#!/usr/bin/env bash
# Builds the benchmarks jar and runs the whole JMH suite (Kiln's generated models vs ONNX Runtime Java vs the
# reference evaluator, GEMM kernels vs the FMA peak; about 9 minutes on 2 cores), then writes docs/BENCHMARKS.md
# and docs/benchmarks-ratios.svg. The full JMH log goes to bench/target/bench-run.log.
#
#   bench/run.sh                      build, measure, write the report
#   bench/run.sh --no-build           reuse bench/target/benchmarks.jar
#   bench/run.sh --report-only        re-render the report from the last run's saved results
# Extra Maven flags (e.g. -o) can be passed in MVN_FLAGS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
java_home="${JAVA_HOME:-}"
if [ -z "$java_home" ] || ! "$java_home/bin/java" -version 2>&1 | grep -q 'version "\(2[5-9]\|[3-9][0-9]\)'; then
  java_home=/usr/lib/jvm/temurin-25-jdk-amd64
fi
if [ ! -x "$java_home/bin/java" ]; then
  echo "bench/run.sh: needs JDK 25 or newer: set JAVA_HOME (tried $java_home)" >&2
  exit 2
fi
build=1
suite_args=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --report-only) build=0; suite_args+=(--report-only bench/target/bench-results.ser) ;;
    *) echo "bench/run.sh: unknown argument $arg (expected --no-build or --report-only)" >&2; exit 2 ;;
  esac
done
jar=bench/target/benchmarks.jar
if [ "$build" = 1 ]; then
  echo "bench/run.sh: building $jar (the models are compiled by Kiln at generate-sources)"
  # shellcheck disable=SC2086
  JAVA_HOME="$java_home" mvn -B -q ${MVN_FLAGS:-} package -DskipTests -pl bench -am
fi
if [ ! -f "$jar" ]; then
  echo "bench/run.sh: $jar is missing: run without --no-build" >&2
  exit 2
fi
log=bench/target/bench-run.log
# Real-time priority (SCHED_RR 1, inherited by JMH's forks) where the user may set it: the benchmark's threads then
# get the cores ahead of every other process on the machine, which halves the spread of repeated runs on a shared
# machine; the kernel's RT throttling still leaves 5 % of each second to the others. KILN_BENCH_RT=0 turns it off.
# Two-thread forks run at normal priority (chrt -o 0, through a launcher the suite hands JMH): two real-time threads
# spinning for each other made whole JVMs up to twice as slow (docs/BENCHMARKS.md, session 11).
priority=(); priority_note="normal priority"; two_thread_jvm=""
if [ "${KILN_BENCH_RT:-1}" != 0 ] && command -v chrt >/dev/null && chrt -r 1 true 2>/dev/null; then
  priority=(chrt -r 1)
  priority_note="real-time priority (chrt -r 1) for 1 thread, normal priority for 2 threads"
  two_thread_jvm="$root/bench/target/java-normal-priority"
  printf '#!/bin/sh\nexec chrt -o 0 "%s" "$@"\n' "$java_home/bin/java" > "$two_thread_jvm"
  chmod +x "$two_thread_jvm"
fi
echo "bench/run.sh: running the suite at $priority_note (progress below, full log in $log)"
set +e
"${priority[@]}" "$java_home/bin/java" --add-modules=jdk.incubator.vector -Dkiln.bench.priority="$priority_note" \
    -Dkiln.bench.twoThreadJvm="$two_thread_jvm" \
    -cp "$jar" dev.kiln.bench.Suite \
    --out docs/BENCHMARKS.md --svg docs/benchmarks-ratios.svg --results bench/target/bench-results.ser \
    "${suite_args[@]}" 2>&1 \
  | tee "$log" \
  | grep --line-buffered -E '^# (Benchmark|Parameters):|^suite:|Exception|Error'
status=${PIPESTATUS[0]}
set -e
exit "$status"
