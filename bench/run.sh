#!/bin/sh
# `make bench`: run every workload in bench/workloads/*.sh, each measuring
# g3c against a reference measured in the same run, RUNS times; print the
# medians as a table with ratios and write them as JSON to bench/results/.
# Usage: bench/run.sh BUILD_DIR   (env: QUICK=1 for a short run (1 round), RUNS=N,
#        ONLY="name ..." to run only the named workloads)
set -u
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
quick=${QUICK:-0}
# QUICK=1 is a smoke run: one round unless RUNS says otherwise.
if [ "$quick" = 1 ]; then runs=${RUNS:-1}; else runs=${RUNS:-3}; fi
results="$top/bench/results"
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="$results/raw-$stamp.tsv"
: > "$raw"

ncpu=$(nproc 2>/dev/null || echo 1)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
	# Daemon under test on CPU 0, load generators on CPU 1.
	PIN_SERVER="taskset -c 0"
	PIN_CLIENT="taskset -c 1"
	echo "bench: $ncpu CPUs: daemons pinned to CPU 0, load generators to CPU 1"
else
	PIN_SERVER=""
	PIN_CLIENT=""
	echo "bench: $ncpu CPU: no pinning"
fi
export BUILD_DIR="$build" TOP="$top" RUNS="$runs" QUICK="$quick" PIN_SERVER PIN_CLIENT
export BENCH_LIB="$top/bench/lib.sh"

status=0
for w in "$top"/bench/workloads/*.sh; do
	name=$(basename "$w" .sh)
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	echo "bench: workload $name ($runs runs)"
	tmp=$(mktemp -d "/tmp/g3c-bench-$name.XXXXXX")
	t0=$(date +%s)
	if ! WORK="$tmp" sh "$w" >> "$raw"; then
		echo "bench: workload $name failed" >&2
		status=1
	fi
	echo "bench: workload $name took $(($(date +%s) - t0)) s"
	rm -rf "$tmp"
done

/usr/bin/python3 "$top/bench/report.py" "$raw" "$results/bench-$stamp.json"
rm -f "$raw"
exit $status
