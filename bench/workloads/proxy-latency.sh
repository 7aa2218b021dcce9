# Latency added per request at low load: one keep-alive connection, one
# request at a time, for each HTTP proxy, the haproxy TCP relay and nginx
# directly. latency-added = the subject's p50 minus direct's p50 of the same
# round (us); latency-c1-p50/p99 are the raw figures.
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
secs=2
if [ "$QUICK" = 1 ]; then secs=1; fi
peers_origin
# shellcheck disable=SC2046
peers_start_all $(peers_pick $PEERS_HTTP $PEERS_TCP)
rounds=$RUNS
RUNS=1
for _ in $(seq "$rounds"); do
	peers_wrk_runs latency-c1 req 1 "$secs" "direct $PEERS_UP" > "$WORK/round"
	cat "$WORK/round"
	direct=$(awk -F '\t' '$1 == "direct" && $2 == "latency-c1-p50" { print $3 }' "$WORK/round")
	awk -F '\t' -v d="$direct" -v OFS='\t' '$2 == "latency-c1-p50" && $1 != "direct" {
		print $1, "latency-added", $3 - d, "us", "direct" }' "$WORK/round"
done
