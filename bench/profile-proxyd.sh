#!/bin/sh
# Where proxyd spends its time under one proxy workload: starts the bench
# origin and proxyd (bench/peers.sh, same pinning), runs the load for SECONDS
# while `perf record -g` samples proxyd, and prints the top of the flat
# (self time) report. Usage:
#   bench/profile-proxyd.sh BUILD_DIR keepalive|newconn|tunnel|socks5|bulk [SECONDS]
# perf.data is kept in bench/results/perf-<workload>.data for perf report.
set -eu
BUILD_DIR=$(cd "$1" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
mode=$2 secs=${3:-8}
WORK=$(mktemp -d /tmp/g3c-profile.XXXXXX)
BENCH_LIB=$TOP/bench/lib.sh
PIN_SERVER="taskset -c 0" PIN_CLIENT="taskset -c 1"
[ "$(nproc)" -ge 2 ] || PIN_SERVER="" PIN_CLIENT=""
export BUILD_DIR TOP WORK PIN_SERVER PIN_CLIENT
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
# bench_cleanup stops the daemons and exits; a closed output pipe
# (| head) must end the script through it too.
trap 'rm -rf "$WORK"; bench_cleanup' EXIT
trap 'exit 141' PIPE
mkdir -p "$TOP/bench/results"
data=$TOP/bench/results/perf-$mode.data

peers_origin
peers_start_all proxyd
pid=$(peer_pid proxyd) port=$(peer_port proxyd)
case "$mode" in
tunnel | socks5) cc -std=c11 -D_GNU_SOURCE -O2 -o "$WORK/tunload" "$TOP/bench/tunload.c" ;;
esac
perf record -g -F 999 -p "$pid" -o "$data" -- sleep "$((secs + 1))" 2> "$WORK/perf.log" &
perf_pid=$!
sleep 0.5
case "$mode" in
keepalive) peers_wrk "$port" "http://127.0.0.1:$ORIGIN_PORT/small" 50 "$secs" ;;
newconn) peers_wrk "$port" "http://127.0.0.1:$ORIGIN_PORT/small" 50 "$secs" WRK_CLOSE=1 ;;
tunnel) $PIN_CLIENT "$WORK/tunload" connect "$port" "$ORIGIN_PORT" 50 "$secs" ;;
socks5) $PIN_CLIENT "$WORK/tunload" socks5 "$(peer_socks_port proxyd)" "$ORIGIN_PORT" 50 "$secs" ;;
bulk)
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		$PIN_CLIENT curl -s --max-time 30 -o /dev/null --proxytunnel -x "http://127.0.0.1:$port" \
			"http://127.0.0.1:$ORIGIN_PORT/100m"
	done
	;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
wait "$perf_pid" || true
perf report -i "$data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null | grep "%" | head -40
echo "profile: perf.data in $data (perf report -i $data)"
