#!/usr/bin/env bash
# `make fuzz`: every libFuzzer target under tests/fuzz for FUZZ_SECONDS each (default 300),
# two at a time, on the fuzz build. Each target starts from the repository's seed corpus and
# the corpus its earlier runs grew in build/fuzz/tests/fuzz/work/<target>/corpus. Prints the
# executions per target and in all, and exits 1 if any target left a finding
# (crash-*, leak-*, timeout-*, oom-*) in its work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-2}
build=build/fuzz/tests/fuzz
targets=(frame_decoder message_decoder chunk_ranges swarm_name units scenario tracker_session
         peer_session)

run_one() {
  local t=$1 work=$build/work/$1
  mkdir -p "$work/corpus"
  "$build/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict=tests/fuzz/swarmlab.dict -print_final_stats=1 -artifact_prefix="$work/" \
    "$work/corpus" "tests/fuzz/corpus/$t" >"$work/fuzz.log" 2>&1 || true
}
export -f run_one
export build seconds

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'

total=0
findings=0
printf '%-18s %14s %10s %8s  %s\n' target executions exec/s corpus findings
for t in "${targets[@]}"; do
  work=$build/work/$t
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  execs=${execs:-0}
  found=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  corpus=$(find "$work/corpus" -type f | wc -l)
  printf '%-18s %14d %10d %8d  %s\n' "$t" "$execs" $((execs / seconds)) "$corpus" "$found"
  if [ "$found" -gt 0 ]; then
    find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
      -o -name 'oom-*' \) -printf '    %p\n'
    grep -m1 -E 'ERROR: |invariant broken' "$work/fuzz.log" | sed 's/^/    /' || true
  fi
  total=$((total + execs))
  findings=$((findings + found))
done
echo "fuzz: ${total} executions in all, ${findings} findings"
[ "$findings" -eq 0 ]
