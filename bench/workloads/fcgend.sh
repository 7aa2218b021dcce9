# fcgend forging over RPC (64 in flight, one serving thread) against the
# in-process minimal minting loop (fresh P-256 key, build, sign) measured in
# the same run: cold cache (a new host per call) and cache hits.
. "$BENCH_LIB"
set -eu
bin=$BUILD_DIR/bin
n_cold=4000
n_hot=40000
n_base=2000
if [ "$QUICK" = 1 ]; then n_cold=1000; n_hot=10000; n_base=500; fi

"$bin/mkcert" --root --common-name "g3c bench CA" --output-cert "$WORK/ca.crt" \
	--output-key "$WORK/ca.key" >/dev/null
cat > "$WORK/fcgend.yaml" <<EOC
runtime: {server_offline_delay: 0, task_wait_delay: 0}
worker: {thread_number: 1}
log: discard
backend:
  ca_certificate: ca.crt
  ca_private_key: ca.key
rpc:
  listen: ipc://$WORK/fcgend.rpc
EOC
$PIN_SERVER "$bin/fcgend" -c "$WORK/fcgend.yaml" -C "$WORK" &
bench_track $!
bench_wait_file "$WORK/fcgend.rpc"
url="ipc://$WORK/fcgend.rpc"

for _ in $(seq "$RUNS"); do
	base=$($PIN_CLIENT "$bin/fcgen-load" --baseline "$n_base" --ca-cert "$WORK/ca.crt" \
		--ca-key "$WORK/ca.key")
	bench_result in-process-minimal forge-cold "$(bench_json_field "$base" baseline_minimal_per_s)" certs/s in-process-minimal
	cold=$($PIN_CLIENT "$bin/fcgen-load" --url "$url" --count "$n_cold" --concurrency 64 --unique)
	bench_result fcgend-rpc forge-cold "$(bench_json_field "$cold" rate)" certs/s in-process-minimal
	hot=$($PIN_CLIENT "$bin/fcgen-load" --url "$url" --count "$n_hot" --concurrency 64)
	bench_result in-process-minimal forge-cached "$(bench_json_field "$base" baseline_minimal_per_s)" certs/s in-process-minimal
	bench_result fcgend-rpc forge-cached "$(bench_json_field "$hot" rate)" certs/s in-process-minimal
done
