#!/bin/sh
# First-run setup for fcgend under `make run`: a demo interception CA made
# with mkcert at RUN_DIR/fcgend/ca.crt and ca.key (deploy/fcgend/default.yaml points
# there). Idempotent: an existing CA is kept. The CA is a throwaway for
# trying g3c on this machine; it is never committed.
# Usage: deploy/fcgend/init.sh BUILD_DIR RUN_DIR
set -eu
build=${1:?usage: deploy/fcgend/init.sh BUILD_DIR RUN_DIR}
rundir=${2:?usage: deploy/fcgend/init.sh BUILD_DIR RUN_DIR}
dir="$rundir/fcgend"
crt="$dir/ca.crt"
key="$dir/ca.key"

if [ -s "$crt" ] && [ -s "$key" ]; then
	exit 0
fi
mkcert="$build/bin/mkcert"
if [ ! -x "$mkcert" ]; then
	echo "fcgend-init: $mkcert is not built; cannot make the demo CA" >&2
	exit 1
fi
mkdir -p "$dir"
# Made aside and moved in place, so an interrupted run leaves no half CA.
rm -f "$crt.tmp" "$key.tmp"
"$mkcert" --root --ec256 --common-name "g3c demo interception CA ($(hostname))" \
	--organization "g3c make run" --days 825 \
	--output-cert "$crt.tmp" --output-key "$key.tmp" >/dev/null
chmod 600 "$key.tmp"
mv "$key.tmp" "$key"
mv "$crt.tmp" "$crt"
echo "fcgend-init: made the demo CA $crt (trust it to accept intercepted sites)"
