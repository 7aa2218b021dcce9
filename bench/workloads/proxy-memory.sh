# Memory: the proxy's resident set (all its processes) idle, and with 1000
# idle client connections held open, each after one small request: HTTP
# proxies an absolute-form GET kept alive (tinyproxy closes those, so it is
# measured with CONNECT tunnels), CONNECT: a tunnel to the origin with one GET
# through it, SOCKS5 the same, the haproxy relay one GET through it.
# mem-per-idle-conn = (RSS loaded - RSS idle) / connections still open.
# Connections are opened 100 at a time, each step in lockstep (peertool.py).
# Every measurement uses a freshly started proxy (no heap left by the last).
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
n=1000 settle=1
# QUICK: fewer connections, and only proxyd, ATS and haproxy.
if [ "$QUICK" = 1 ]; then n=300 settle=0.5; fi
peers_origin

# mem SUBJECT PROXY MODE
mem() {
	if ! peers_start "$2"; then
		peers_stop
		return 0
	fi
	_m_port=$PEER_PORT
	[ "$1" != proxyd-socks5 ] || _m_port=$PEER_SOCKS_PORT
	if ! _m_out=$($PIN_CLIENT $PEERS_TOOL idle "$PEER_PID" "$3" "$_m_port" "$ORIGIN_PORT" "$n" "$settle"); then
		echo "bench: $1 memory: not all $n connections held: ${_m_out:-no result}" >&2
	else
		bench_result "$1" rss-idle "$(bench_json_field "$_m_out" idle_rss)" bytes direct
		bench_result "$1" mem-per-idle-conn "$(bench_json_field "$_m_out" bytes_per_conn)" bytes direct
	fi
	peers_stop
}

for _ in $(seq "$RUNS"); do
	mem proxyd proxyd http
	mem proxyd-connect proxyd connect
	mem proxyd-socks5 proxyd socks5
	mem ats ats http
	mem haproxy-tcp haproxy-tcp tcp
	[ "$QUICK" = 1 ] && continue
	mem squid squid http
	mem tinyproxy-connect tinyproxy connect
	mem dante dante socks5
	mem microsocks microsocks socks5
done
