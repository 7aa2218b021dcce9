# Tunnels set up per second: bench/tunload.c (built here) keeps 50
# connections busy; each one opens a tunnel to the origin (HTTP CONNECT and
# its 2xx, or the SOCKS5 greeting and CONNECT), sends one GET /small with
# Connection: close through it and reads to EOF. Reference: the same GET on
# new direct connections to nginx. The proxy's CPU time per tunnel next to it.
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
secs=4
if [ "$QUICK" = 1 ]; then secs=1; fi
cc -std=c11 -D_GNU_SOURCE -O2 -o "$WORK/tunload" "$TOP/bench/tunload.c"
peers_origin
# shellcheck disable=SC2046
peers_start_all $(peers_pick $PEERS_CONNECT dante microsocks)

# tunnel SUBJECT MODE PORT PID
tunnel() {
	_t_c0=$(peers_cpu "$4")
	_t_out=$($PIN_CLIENT "$WORK/tunload" "$2" "$3" "$ORIGIN_PORT" 50 "$secs") || true
	_t_c1=$(peers_cpu "$4")
	if [ -z "$_t_out" ]; then
		echo "bench: $1 tunnels: no result" >&2
		return 0
	fi
	_t_n=$(bench_json_field "$_t_out" tunnels)
	_t_e=$(bench_json_field "$_t_out" errors)
	[ "$_t_e" = 0 ] || echo "bench: $1 tunnels: $_t_e failed" >&2
	bench_result_cpu "$1" tunnel-setup "$(bench_json_field "$_t_out" rate)" tunnels/s direct \
		"$(peers_per_unit "$_t_c0" "$_t_c1" "$_t_n" 1000000)" us/tunnel
}

for _ in $(seq "$RUNS"); do
	tunnel direct direct "$ORIGIN_PORT" "$ORIGIN_PID"
	for s in $PEERS_UP; do
		case "$s" in
		dante | microsocks) tunnel "$s-socks5" socks5 "$(peer_port "$s")" "$(peer_pid "$s")" ;;
		*) tunnel "$s-connect" connect "$(peer_port "$s")" "$(peer_pid "$s")" ;;
		esac
		if [ "$s" = proxyd ]; then
			tunnel proxyd-socks5 socks5 "$(peer_socks_port proxyd)" "$(peer_pid proxyd)"
		fi
	done
done
