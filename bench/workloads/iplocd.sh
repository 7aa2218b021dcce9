# iplocd lookups over RPC (64 in flight; batches of 1 and 64 addresses, the
# latter as text and in binary as proxyd asks; and 256 in binary with 16
# in flight, the same 4096 addresses on the wire) against in-process
# libmaxminddb on the same file, the physical limit.
. "$BENCH_LIB"
set -eu
bin=$BUILD_DIR/bin
n=200000
if [ "$QUICK" = 1 ]; then n=50000; fi

perl "$TOP/deploy/mmdb/build-demo-db.pl" --kind country "$WORK/country.mmdb" >/dev/null
cat > "$WORK/iplocd.yaml" <<EOC
runtime: {server_offline_delay: 0, task_wait_delay: 0}
log: discard
geoip_db:
  country: country.mmdb
rpc:
  listen: ipc://$WORK/iplocd.rpc
EOC
$PIN_SERVER "$bin/iplocd" -c "$WORK/iplocd.yaml" -C "$WORK" &
bench_track $!
bench_wait_file "$WORK/iplocd.rpc"
url="ipc://$WORK/iplocd.rpc"

for _ in $(seq "$RUNS"); do
	local_=$($PIN_CLIENT "$bin/iplocd-load" local -n "$n" --raw "$WORK/country.mmdb" -- random4)
	lrate=$(bench_json_field "$local_" lookups_per_s)
	bench_result in-process-libmaxminddb lookup "$lrate" lookups/s in-process-libmaxminddb
	b1=$($PIN_CLIENT "$bin/iplocd-load" rpc "$url" -n $((n / 4)) -c 64 -b 1 random4)
	bench_result iplocd-rpc-batch1 lookup "$(bench_json_field "$b1" lookups_per_s)" lookups/s in-process-libmaxminddb
	b64=$($PIN_CLIENT "$bin/iplocd-load" rpc "$url" -n $((n / 16)) -c 64 -b 64 random4)
	bench_result iplocd-rpc-batch64 lookup "$(bench_json_field "$b64" lookups_per_s)" lookups/s in-process-libmaxminddb
	b64x=$($PIN_CLIENT "$bin/iplocd-load" rpc "$url" -n $((n / 16)) -c 64 -b 64 -x random4)
	bench_result iplocd-rpc-batch64-binary lookup "$(bench_json_field "$b64x" lookups_per_s)" lookups/s in-process-libmaxminddb
	b256x=$($PIN_CLIENT "$bin/iplocd-load" rpc "$url" -n $((n / 64)) -c 16 -b 256 -x random4)
	bench_result iplocd-rpc-batch256-binary lookup "$(bench_json_field "$b256x" lookups_per_s)" lookups/s in-process-libmaxminddb
done
