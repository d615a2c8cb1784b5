#!/usr/bin/env bash
# The time a test subset takes at two commits, measured alternately (old, new, old,
# new...) so both meet the same load on a shared machine. Each commit's tree is
# exported whole (code and tests together) and run with PYTHONPATH pointing at it.
#
#   benchmarks/bench_test_suite.sh OLD_REV NEW_REV ROUNDS [PYTEST ARGS...]
#   benchmarks/bench_test_suite.sh 393c619 HEAD 2 tests/engine -m "not slow"
#
# Prints a markdown table; each run's failures and slowest tests go to
# $BENCH_LOG_DIR (default /tmp) as test_suite-ROUND-REV.log.
set -u
old=$1 new=$2 rounds=$3
shift 3
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d /tmp/bench_test_suite.XXXXXX)
for rev in "$old" "$new"; do
  mkdir -p "$work/$rev"
  git -C "$repo" archive "$rev" | tar -x -C "$work/$rev"
done
echo "| round | commit | wall s | after the summary s | result |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  for rev in "$old" "$new"; do
    cd "$work/$rev"
    start=$(date +%s.%N)
    log="${BENCH_LOG_DIR:-/tmp}/test_suite-$round-$rev.log"
    PYTHONPATH="$work/$rev" python -m pytest -q -p no:cacheprovider -rfE --durations=15 \
      "$@" >"$log" 2>&1
    result=$(tail -1 "$log")
    end=$(date +%s.%N)
    # The log's last write is pytest's summary line: what follows it is the process's
    # exit (atexit hooks, pytest removing old numbered temp folders shared by every
    # session of this user), outside the time pytest reports.
    summary=$(date -r "$log" +%s.%N)
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '| %s | %s | %.0f | %.0f | %s (load %s after) |\n' "$round" "$rev" \
      "$(echo "$end - $start" | bc)" "$(echo "$end - $summary" | bc)" "$result" "$load"
  done
done
rm -rf "$work"
