# Bulk throughput: curl downloads the origin's 100 MiB file to /dev/null
# through each proxy — CONNECT tunnels (curl --proxytunnel), SOCKS5 tunnels,
# plain forwarded GETs, the haproxy TCP relay — and directly (the reference).
# MiB/s and the proxy's own CPU time per GiB moved.
. "$BENCH_LIB"
. "$TOP/bench/peers.sh"
set -eu
# Downloads per measurement: the CPU figures come from clock ticks (10 ms),
# so the full run moves 200 MiB per measurement. QUICK: one download, and
# not the slowest peers.
reps=2
if [ "$QUICK" = 1 ]; then reps=1; fi
peers_origin
# shellcheck disable=SC2046
peers_start_all $(peers_pick proxyd squid ats tinyproxy dante microsocks haproxy-tcp)
url="http://127.0.0.1:$ORIGIN_PORT/100m"
size=104857600

# bulk SUBJECT WORKLOAD PID CURL_OPTION...
bulk() {
	_b_s=$1 _b_w=$2 _b_pid=$3
	shift 3
	_b_c0=$(peers_cpu "$_b_pid")
	_b_n=0 _b_t=0
	for _ in $(seq "$reps"); do
		_b_out=$($PIN_CLIENT curl -s --max-time 60 -o /dev/null \
			-w '%{size_download} %{time_total}' "$@" "$url") || true
		if [ "${_b_out% *}" != "$size" ]; then
			echo "bench: $_b_s $_b_w: got ${_b_out% *} bytes of $size" >&2
			return 0
		fi
		_b_n=$((_b_n + size))
		_b_t=$(echo "$_b_t + ${_b_out#* }" | bc)
	done
	_b_c1=$(peers_cpu "$_b_pid")
	bench_result_cpu "$_b_s" "$_b_w" "$(peers_per_unit 0 "$_b_n" "$_b_t" "$(echo 'scale=12; 1/1048576' | bc)")" \
		MiB/s direct "$(peers_per_unit "$_b_c0" "$_b_c1" "$_b_n" 1073741824000)" ms/GiB
}

for _ in $(seq "$RUNS"); do
	for w in connect-bulk socks5-bulk get-bulk; do
		bulk direct "$w" "$ORIGIN_PID"
	done
	for s in $PEERS_UP; do
		pid=$(peer_pid "$s") port=$(peer_port "$s")
		case "$s" in
		dante | microsocks) bulk "$s" socks5-bulk "$pid" --socks5 "127.0.0.1:$port" ;;
		haproxy-tcp)
			for w in connect-bulk socks5-bulk get-bulk; do
				bulk "$s" "$w" "$pid" --connect-to "127.0.0.1:$ORIGIN_PORT:127.0.0.1:$port"
			done
			;;
		*)
			bulk "$s" connect-bulk "$pid" --proxytunnel -x "http://127.0.0.1:$port"
			bulk "$s" get-bulk "$pid" -x "http://127.0.0.1:$port"
			;;
		esac
		if [ "$s" = proxyd ]; then
			bulk proxyd socks5-bulk "$pid" --socks5 "127.0.0.1:$(peer_socks_port proxyd)"
		fi
	done
done
