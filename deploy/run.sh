#!/bin/sh
# `make run`: start every built daemon of the constellation on loopback with
# the bundled configs deploy/<daemon>/default.yaml, control sockets under ./run/, in the
# foreground. Ctrl-C (or SIGTERM) stops each daemon this script started, by PID.
# Usage: deploy/run.sh BUILD_DIR
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
rundir="$top/run"
mkdir -p "$rundir"

pids=""
stop_all() {
	trap - INT TERM
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	echo "run: stopped"
	exit 0
}
trap stop_all INT TERM

# Order matters: helpers first, proxyd last (it is their client).
for d in fcgend iplocd keymessd tilesd proxyd; do
	bin="$build/bin/$d"
	conf="$top/deploy/$d/default.yaml"
	[ -x "$bin" ] && [ -f "$conf" ] || continue
	# deploy/<daemon>/init.sh prepares first-run state under $rundir (a demo
	# CA, a demo database, ...); it must be idempotent.
	init="$top/deploy/$d/init.sh"
	if [ -f "$init" ] && ! sh "$init" "$build" "$rundir"; then
		echo "run: $init failed; not starting $d" >&2
		continue
	fi
	"$bin" -c "$conf" -C "$rundir" &
	pids="$pids $!"
	echo "run: started $d (pid $!) with $conf, control socket in $rundir"
done

if [ -z "$pids" ]; then
	echo "run: no daemon built under $build/bin" >&2
	exit 1
fi
echo "run: admin CLI: $build/bin/g3ctl -C $rundir -d proxyd status"
echo "run: press Ctrl-C to stop"
# Exit when any daemon exits on its own, stopping the others.
while :; do
	for p in $pids; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "run: pid $p exited" >&2
			stop_all
		fi
	done
	sleep 1
done
