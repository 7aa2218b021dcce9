# Small-object (100 B) HTTP forwarding over keep-alive connections (50 of
# them): wrk with absolute-form requests to each HTTP proxy, origin-form to
# the haproxy TCP relay and to nginx directly (the reference). Requests/s,
# p50/p99 latency, the proxy's own CPU time per request.
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
secs=4
if [ "$QUICK" = 1 ]; then secs=1; fi
peers_origin
# shellcheck disable=SC2046
peers_start_all $(peers_pick $PEERS_HTTP $PEERS_TCP)
peers_wrk_runs small-keepalive req 50 "$secs" "direct $PEERS_UP"
