# The load generator itself: g3bench against wrk on the direct small-object
# keep-alive workload (100 B from a loopback nginx, 50 connections, one
# client thread). Reports requests/s (goal: g3bench >= 1.0x wrk) and the
# client's CPU time per request (lower is better: the fair figure when
# nginx, not the client, saturates first).
. "$BENCH_LIB"
set -eu
bin=$BUILD_DIR/bin
dur=10
conns=50
if [ "$QUICK" = 1 ]; then dur=3; fi

ngx=$WORK/nginx
mkdir -p "$ngx/www" "$ngx/tmp"
head -c 100 /dev/zero | tr '\0' 's' > "$ngx/www/small.html"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$ngx/nginx.conf" <<EOC
daemon off;
master_process off;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $ngx/tmp;
    proxy_temp_path $ngx/tmp;
    fastcgi_temp_path $ngx/tmp;
    uwsgi_temp_path $ngx/tmp;
    scgi_temp_path $ngx/tmp;
    server { listen 127.0.0.1:$port; root $ngx/www; }
}
EOC
$PIN_SERVER nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" </dev/null >/dev/null 2>&1 &
bench_track $!
i=0
until /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "loadgen: nginx did not start" >&2; exit 1; }
	sleep 0.1
done
url="http://127.0.0.1:$port/small.html"

# cpu_run OUT CMD...: run CMD with stdout to OUT; print its CPU seconds.
cpu_run() {
	/usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{ru.ru_utime + ru.ru_stime:.3f}")
PY
}

for _ in $(seq "$RUNS"); do
	wcpu=$(cpu_run "$WORK/wrk.out" $PIN_CLIENT wrk -t1 -c$conns -d${dur}s "$url")
	wrps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
	wreq=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
	gcpu=$(cpu_run "$WORK/g3bench.out" $PIN_CLIENT "$bin/g3bench" --json -c $conns -t ${dur}s h1 "$url")
	g=$(cat "$WORK/g3bench.out")
	grps=$(bench_json_field "$g" ok_rps)
	greq=$(bench_json_field "$g" ok)
	wper=$(echo "$wcpu $wreq" | awk '{printf "%.3f", $1 * 1e6 / $2}')
	gper=$(echo "$gcpu $greq" | awk '{printf "%.3f", $1 * 1e6 / $2}')
	bench_result_cpu wrk small-keepalive-rps "$wrps" req/s wrk "$wper" us/req
	bench_result_cpu g3bench small-keepalive-rps "$grps" req/s wrk "$gper" us/req
	bench_result wrk client-cpu-per-req "$wper" us/req wrk
	bench_result g3bench client-cpu-per-req "$gper" us/req wrk
done
