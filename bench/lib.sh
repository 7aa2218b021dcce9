# Helpers sourced by bench workloads. Every process a workload starts is
# recorded with bench_track and stopped by PID on exit.
BENCH_PIDS=""
bench_track() { BENCH_PIDS="$BENCH_PIDS $1"; }
# The workload's own exit status survives the cleanup (a daemon that dies
# of the SIGTERM sent here must not turn success into status 143).
bench_cleanup() {
	_bc_rc=$?
	for p in $BENCH_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $BENCH_PIDS; do wait "$p" 2>/dev/null || true; done
	BENCH_PIDS=""
	exit $_bc_rc
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_wait_file PATH: wait up to 10 s for PATH to exist.
bench_wait_file() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}

# bench_json_field JSON KEY: a numeric field of a one-line JSON object.
bench_json_field() {
	printf '%s\n' "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# bench_result SUBJECT WORKLOAD VALUE UNIT REFERENCE_SUBJECT
# One measurement; the report takes medians per subject and workload and
# divides each by the reference subject's median of the same workload.
bench_result() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5"; }

# bench_result_cpu SUBJECT WORKLOAD VALUE UNIT REFERENCE CPU CPU_UNIT
# Like bench_result, plus the subject's own CPU time per unit of work
# (e.g. "23.1 us/req"), shown next to the ratios.
bench_result_cpu() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"; }

# bench_untrack PID: PID was stopped (and waited for) by the workload itself.
bench_untrack() {
	_bu_left=""
	for p in $BENCH_PIDS; do [ "$p" = "$1" ] || _bu_left="$_bu_left $p"; done
	BENCH_PIDS=$_bu_left
}
