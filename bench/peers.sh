# Origin and peer proxies for the proxy workloads; source after $BENCH_LIB.
# Everything listens on 127.0.0.1 on a free port, keeps its files in $WORK
# and is stopped by PID at exit (bench_track). Proxies run under
# $PIN_SERVER (CPU 0), load generators under $PIN_CLIENT (CPU 1).
#
#   peers_origin                 nginx: /small (100 B), /1m, /100m; sets ORIGIN_PORT
#   peers_start NAME             start one proxy; sets PEER_PORT and PEER_PID
#   peers_stop                   stop the last started proxy (by PID)
#   peers_start_all NAME...      start several (a proxy that fails to start is
#                                reported on stderr and left out); then
#                                PEERS_UP lists them and peer_port NAME,
#                                peer_socks_port NAME, peer_pid NAME say where
#   peers_cpu PID                CPU seconds used so far by PID + children
#   peers_per_unit C0 C1 N SCALE (C1 - C0) * SCALE / N, 2 decimals
#
# Proxy names and what they serve (PEERS_HTTP, PEERS_SOCKS, PEERS_TCP):
#   proxyd      g3c proxyd: HTTP proxy (forward + CONNECT) on PEER_PORT,
#               SOCKS5 on PEER_SOCKS_PORT
#   squid       HTTP proxy (forward + CONNECT), no cache
#   ats         Apache Traffic Server as a forward proxy, no cache
#   tinyproxy   HTTP proxy (forward + CONNECT)
#   dante       danted SOCKS5
#   microsocks  SOCKS5
#   haproxy-tcp haproxy as a plain TCP relay to the origin (the ceiling)
PEERS_HTTP="proxyd squid ats tinyproxy"
PEERS_CONNECT="proxyd squid ats tinyproxy"
PEERS_SOCKS="proxyd dante microsocks"
PEERS_TCP="haproxy-tcp"
PEERS_TOOL="/usr/bin/python3 $TOP/bench/peertool.py"

# peers_free_port: a TCP port free on 127.0.0.1 right now.
peers_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# peers_wait_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts.
peers_wait_port() {
	$PEERS_TOOL waitport "$1" "${2:-20}"
}

peers_origin() {
	_pd=$WORK/origin
	mkdir -p "$_pd/www" "$_pd/tmp"
	head -c 100 /dev/zero | tr '\0' 'x' > "$_pd/www/small"
	head -c 1048576 /dev/urandom > "$_pd/www/1m"
	head -c 104857600 /dev/zero > "$_pd/www/100m"
	chmod -R a+rX "$_pd"
	ORIGIN_PORT=$(peers_free_port)
	cat > "$_pd/nginx.conf" <<EOC
daemon off;
master_process off;
worker_processes 1;
pid $_pd/nginx.pid;
error_log $_pd/error.log error;
events { worker_connections 20000; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 600s;
	keepalive_requests 100000000;
	client_body_temp_path $_pd/tmp;
	proxy_temp_path $_pd/tmp;
	fastcgi_temp_path $_pd/tmp;
	uwsgi_temp_path $_pd/tmp;
	scgi_temp_path $_pd/tmp;
	types { }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$ORIGIN_PORT reuseport backlog=4096;
		root $_pd/www;
	}
}
EOC
	# The origin shares the client core: it is part of the fixed cost
	# every path pays, the proxy core stays the proxy's alone.
	$PIN_CLIENT nginx -c "$_pd/nginx.conf" -e "$_pd/error.log" &
	ORIGIN_PID=$!
	bench_track $ORIGIN_PID
	peers_wait_port "$ORIGIN_PORT"
	export ORIGIN_PORT
}

peers_start() {
	PEER_PORT=$(peers_free_port)
	PEER_SOCKS_PORT=""
	_pd=$WORK/$1
	mkdir -p "$_pd"
	case "$1" in
	proxyd) peers_proxyd "$_pd" ;;
	squid) peers_squid "$_pd" ;;
	ats) peers_ats "$_pd" ;;
	tinyproxy) peers_tinyproxy "$_pd" ;;
	dante) peers_dante "$_pd" ;;
	microsocks)
		$PIN_SERVER microsocks -i 127.0.0.1 -p "$PEER_PORT" > "$_pd/log" 2>&1 &
		PEER_PID=$!
		;;
	haproxy-tcp) peers_haproxy "$_pd" ;;
	*) echo "peers: unknown proxy $1" >&2; return 1 ;;
	esac
	bench_track "$PEER_PID"
	if ! peers_wait_port "$PEER_PORT" 30; then
		echo "peers: $1 did not start; its files:" >&2
		tail -n 20 "$_pd"/*.log "$_pd"/log 2>/dev/null >&2
		return 1
	fi
	[ -z "$PEER_SOCKS_PORT" ] || peers_wait_port "$PEER_SOCKS_PORT"
	# Traffic Server sets its net thread's affinity to every CPU after
	# start: pin every thread of every process of the proxy again (threads
	# created later inherit it).
	if [ -n "$PIN_SERVER" ]; then
		for _pp in $($PEERS_TOOL tree "$PEER_PID"); do
			taskset -a -p -c "${PIN_SERVER##* }" "$_pp" > /dev/null 2>&1 || true
		done
	fi
	# Each must really relay before it is measured.
	peers_check "$1" || return 1
}

peers_var() { printf '%s_%s' "$1" "$2" | tr -c 'a-zA-Z0-9_' '_'; }
peer_port() { eval "echo \$$(peers_var PORT "$1")"; }
peer_socks_port() { eval "echo \$$(peers_var SOCKS "$1")"; }
peer_pid() { eval "echo \$$(peers_var PID "$1")"; }

peers_start_all() {
	PEERS_UP=""
	for _sa_name in "$@"; do
		if peers_start "$_sa_name"; then
			eval "$(peers_var PORT "$_sa_name")=$PEER_PORT"
			eval "$(peers_var SOCKS "$_sa_name")=$PEER_SOCKS_PORT"
			eval "$(peers_var PID "$_sa_name")=$PEER_PID"
			PEERS_UP="$PEERS_UP $_sa_name"
		else
			echo "peers: $_sa_name left out of this workload" >&2
			peers_stop
		fi
	done
}

peers_cpu() { $PEERS_TOOL cpu "$1"; }

# peers_pick NAME...: the names to measure: all of them, or with QUICK=1
# only proxyd, ATS (the fastest peer), dante and the haproxy relay.
peers_pick() {
	for _pp in "$@"; do
		case "$QUICK:$_pp" in
		1:proxyd | 1:ats | 1:dante | 1:haproxy-tcp | 0:*) printf '%s ' "$_pp" ;;
		esac
	done
}
peers_per_unit() {
	awk -v a="$1" -v b="$2" -v n="$3" -v s="$4" 'BEGIN { if (n > 0) printf "%.2f\n", (b - a) * s / n; else print "nan" }'
}

peers_stop() {
	[ -n "${PEER_PID:-}" ] || return 0
	kill -TERM "$PEER_PID" 2>/dev/null || true
	_ps_i=0
	while kill -0 "$PEER_PID" 2>/dev/null && [ $_ps_i -lt 100 ]; do
		sleep 0.1
		_ps_i=$((_ps_i + 1))
	done
	kill -KILL "$PEER_PID" 2>/dev/null || true
	wait "$PEER_PID" 2>/dev/null || true
	bench_untrack "$PEER_PID"
	PEER_PID=""
}

# peers_check NAME: one small GET through the proxy, or fail loudly.
peers_check() {
	case "$1" in
	dante | microsocks) _pc_opt="--socks5 127.0.0.1:$PEER_PORT" ;;
	haproxy-tcp) _pc_opt="--connect-to 127.0.0.1:$ORIGIN_PORT:127.0.0.1:$PEER_PORT" ;;
	*) _pc_opt="-x http://127.0.0.1:$PEER_PORT" ;;
	esac
	# shellcheck disable=SC2086
	if ! _pc_body=$(curl -sf --max-time 10 $_pc_opt "http://127.0.0.1:$ORIGIN_PORT/small"); then
		echo "peers: $1 does not relay a GET" >&2
		return 1
	fi
	[ ${#_pc_body} -eq 100 ] || { echo "peers: $1 relayed ${#_pc_body} bytes, not 100" >&2; return 1; }
}

peers_proxyd() {
	PEER_SOCKS_PORT=$(peers_free_port)
	cat > "$1/proxyd.yaml" <<EOC
# Like deploy/proxyd.yaml, with loopback egress allowed (the origin is
# local) and one worker (the proxy gets one core, like every peer).
runtime: {server_offline_delay: 0, task_wait_delay: 0}
worker: {thread_number: 1}
log: discard
resolver:
  - name: default
    type: c_ares
escaper:
  - name: default
    type: direct_fixed
    resolver: default
    resolve_strategy: Ipv4First
    egress_network_filter:
      default: allow
      allow: [127.0.0.1]
server:
  - name: http
    type: http_proxy
    listen: 127.0.0.1:$PEER_PORT
    escaper: default
  - name: socks
    type: socks_proxy
    listen: 127.0.0.1:$PEER_SOCKS_PORT
    escaper: default
EOC
	# -C: its control socket in WORK (another proxyd may own /run/g3c).
	$PIN_SERVER "$BUILD_DIR/bin/proxyd" -c "$1/proxyd.yaml" -C "$1" > "$1/log" 2>&1 &
	PEER_PID=$!
}

peers_squid() {
	# Squid drops root for cache_effective_user: give it its directory.
	chmod 755 "$WORK"
	cat > "$1/squid.conf" <<EOC
http_port 127.0.0.1:$PEER_PORT
workers 1
cache deny all
cache_mem 0 MB
access_log none
cache_store_log none
cache_log $1/cache.log
pid_filename $1/squid.pid
coredump_dir $1
http_access allow localhost
http_access deny all
acl SSL_ports port 1-65535
acl Safe_ports port 1-65535
http_access deny CONNECT !SSL_ports
max_filedescriptors 20000
forwarded_for delete
via off
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
EOC
	if [ "$(id -u)" = 0 ]; then chown -R proxy "$1" 2>/dev/null || true; fi
	$PIN_SERVER squid -N -f "$1/squid.conf" > "$1/log" 2>&1 &
	PEER_PID=$!
}

peers_ats() {
	# A private runroot: configuration, logs and run files in $1.
	mkdir -p "$1/etc" "$1/logs" "$1/run" "$1/cache"
	cp -r /etc/trafficserver/. "$1/etc/"
	: > "$1/etc/remap.config"
	: > "$1/etc/plugin.config"
	: > "$1/etc/storage.config"
	cat > "$1/runroot.yaml" <<EOC
prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $1/etc
datadir: /usr/share/trafficserver
includedir: /usr/include
libdir: /usr/lib/x86_64-linux-gnu
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $1/run
runtimedir: $1/run
logdir: $1/logs
cachedir: $1/cache
EOC
	cat > "$1/etc/records.config" <<EOC
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.http.server_ports STRING $PEER_PORT:ip-in=127.0.0.1
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 1
CONFIG proxy.config.exec_thread.affinity INT 0
CONFIG proxy.config.accept_threads INT 0
CONFIG proxy.config.task_threads INT 1
CONFIG proxy.config.cache.threads_per_disk INT 1
CONFIG proxy.config.url_remap.remap_required INT 0
CONFIG proxy.config.reverse_proxy.enabled INT 0
CONFIG proxy.config.http.cache.http INT 0
CONFIG proxy.config.http.connect_ports STRING 1-65535
CONFIG proxy.config.http.insert_request_via_str INT 0
CONFIG proxy.config.http.insert_response_via_str INT 0
CONFIG proxy.config.http.insert_client_ip INT 0
CONFIG proxy.config.http.insert_squid_x_forwarded_for INT 0
CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 600
CONFIG proxy.config.http.keep_alive_no_activity_timeout_out INT 600
CONFIG proxy.config.http.accept_no_activity_timeout INT 600
CONFIG proxy.config.net.connections_throttle INT 30000
CONFIG proxy.config.log.logging_enabled INT 0
CONFIG proxy.config.diags.debug.enabled INT 0
CONFIG proxy.config.dns.nameservers STRING 127.0.0.1
CONFIG proxy.config.http.server_session_sharing.match STRING ip
CONFIG proxy.config.http.server_session_sharing.pool STRING thread
EOC
	$PIN_SERVER traffic_server --run-root="$1/runroot.yaml" > "$1/log" 2>&1 &
	PEER_PID=$!
}

peers_tinyproxy() {
	cat > "$1/tinyproxy.conf" <<EOC
Port $PEER_PORT
Listen 127.0.0.1
Timeout 600
MaxClients 2000
LogLevel Critical
PidFile "$1/tinyproxy.pid"
Allow 127.0.0.1
DisableViaHeader Yes
EOC
	# -d: stay in the foreground (tinyproxy 1.11 serves from one process).
	$PIN_SERVER tinyproxy -d -c "$1/tinyproxy.conf" > "$1/log" 2>&1 &
	PEER_PID=$!
}

peers_dante() {
	cat > "$1/danted.conf" <<EOC
logoutput: $1/dante.log
errorlog: $1/dante.log
internal: 127.0.0.1 port = $PEER_PORT
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: root
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
EOC
	# -N 1: one request-handling process set, -f: configuration.
	$PIN_SERVER danted -N 1 -f "$1/danted.conf" -p "$1/danted.pid" > "$1/log" 2>&1 &
	PEER_PID=$!
}

peers_haproxy() {
	cat > "$1/haproxy.cfg" <<EOC
global
	nbthread 1
	maxconn 8000
defaults
	mode tcp
	timeout connect 5s
	timeout client 600s
	timeout server 600s
listen relay
	bind 127.0.0.1:$PEER_PORT
	server origin 127.0.0.1:$ORIGIN_PORT
EOC
	$PIN_SERVER haproxy -db -f "$1/haproxy.cfg" > "$1/log" 2>&1 &
	PEER_PID=$!
}

# peers_wrk PORT TARGET CONNECTIONS SECONDS [env...]: wrk on the client core
# against 127.0.0.1:PORT with request target TARGET (bench/wrk.lua), one
# JSON line out. Extra VAR=value arguments go to the script (WRK_CLOSE=1).
peers_wrk() {
	_wk_port=$1 _wk_target=$2 _wk_conns=$3 _wk_secs=$4
	shift 4
	env WRK_PATH="$_wk_target" WRK_HOST="127.0.0.1:$ORIGIN_PORT" "$@" \
		$PIN_CLIENT wrk -t1 -c"$_wk_conns" -d"${_wk_secs}s" --timeout 5s -s "$TOP/bench/wrk.lua" \
		"http://127.0.0.1:$_wk_port/" | tail -n 1
}

# peers_target NAME: how wrk addresses the origin through NAME: the port to
# connect to and the request target (absolute-form for HTTP proxies).
peers_target() {
	case "$1" in
	direct) echo "$ORIGIN_PORT /small" ;;
	haproxy-tcp) echo "$(peer_port "$1") /small" ;;
	*) echo "$(peer_port "$1") http://127.0.0.1:$ORIGIN_PORT/small" ;;
	esac
}

# peers_json JSON KEY...: the values of KEYs of a one-line JSON object,
# space-separated, in one python call.
peers_json() {
	_pj_in=$1
	shift
	printf '%s\n' "$_pj_in" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(str(d[k]) for k in sys.argv[1:]))' "$@"
}

# peers_warn_errors SUBJECT JSON: say on stderr when a run had errors (the
# value is still what completed; a proxy that fails requests is slower).
peers_warn_errors() {
	# shellcheck disable=SC2046
	set -- "$1" $(peers_json "$2" errors status_errors)
	_we_e=$2 _we_s=$3
	if [ "$_we_e" != 0 ] || [ "$_we_s" != 0 ]; then
		echo "bench: $1: $_we_e socket errors, $_we_s non-2xx responses" >&2
	fi
}

# peers_wrk_runs WORKLOAD UNIT CONNS SECS SUBJECTS [VAR=value...]: RUNS
# rounds, each running wrk once against every subject in turn (interleaved,
# so drift on a shared machine hits all alike). Emits WORKLOAD as UNIT/s with
# the subject's CPU per UNIT (us), and WORKLOAD-p50 / -p99 latency in us.
# "direct" is nginx itself; its CPU column is the origin's.
peers_wrk_runs() {
	_r_wl=$1 _r_unit=$2 _r_conns=$3 _r_secs=$4 _r_subjects=$5
	shift 5
	_r_env="$*" # VAR=value words without spaces; "$@" is reused below
	for _ in $(seq "$RUNS"); do
		for _r_s in $_r_subjects; do
			_r_tgt=$(peers_target "$_r_s")
			_r_pid=$ORIGIN_PID
			[ "$_r_s" = direct ] || _r_pid=$(peer_pid "$_r_s")
			_r_c0=$(peers_cpu "$_r_pid")
			_r_out=$(peers_wrk "${_r_tgt% *}" "${_r_tgt#* }" "$_r_conns" "$_r_secs" $_r_env)
			_r_c1=$(peers_cpu "$_r_pid")
			# shellcheck disable=SC2046
			set -- $(peers_json "$_r_out" requests duration_us p50_us p99_us errors status_errors)
			[ "$5$6" = 00 ] || echo "bench: $_r_s $_r_wl: $5 socket errors, $6 non-2xx responses" >&2
			bench_result_cpu "$_r_s" "$_r_wl" "$(peers_per_unit 0 "$1" "$2" 1000000)" "$_r_unit/s" direct \
				"$(peers_per_unit "$_r_c0" "$_r_c1" "$1" 1000000)" "us/$_r_unit"
			bench_result "$_r_s" "$_r_wl-p50" "$3" us direct
			bench_result "$_r_s" "$_r_wl-p99" "$4" us direct
		done
	done
}
