# New client connections per second: like proxy-keepalive, but every
# request says "Connection: close", so each one is a new TCP connection to
# the proxy (and from it to the origin). Connections/s, latency, the proxy's
# own CPU time per connection.
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
secs=4
if [ "$QUICK" = 1 ]; then secs=1; fi
peers_origin
# shellcheck disable=SC2046
peers_start_all $(peers_pick $PEERS_HTTP $PEERS_TCP)
peers_wrk_runs newconn-close conn 50 "$secs" "direct $PEERS_UP" WRK_CLOSE=1
