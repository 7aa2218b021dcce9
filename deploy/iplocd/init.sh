#!/bin/sh
# First-run setup for iplocd under `make run`: small demo MaxMind DB files
# at RUN_DIR/iplocd/ (deploy/iplocd/default.yaml points there), written by
# deploy/mmdb/build-demo-db.pl with Debian's libmaxmind-db-writer-perl.
# They cover only loopback, private and documentation ranges, with made-up
# countries, ASNs and ISPs. Idempotent: existing files are kept. Never
# committed. To serve real data instead, point deploy/iplocd/default.yaml's
# geoip_db at GeoLite2 or DB-IP downloads (doc/iplocd.md).
# Usage: deploy/iplocd/init.sh BUILD_DIR RUN_DIR
set -eu
rundir=${2:?usage: deploy/iplocd/init.sh BUILD_DIR RUN_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir="$rundir/iplocd"

if ! perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null; then
	echo "iplocd-init: perl's MaxMind::DB::Writer is missing (Debian: libmaxmind-db-writer-perl);" \
		"run 'make deps'" >&2
	exit 1
fi
mkdir -p "$dir"
for kind in country isp; do
	f="$dir/demo-$kind.mmdb"
	[ -s "$f" ] && continue
	# the builder writes f.tmp and renames it: never a half file
	perl "$top/deploy/mmdb/build-demo-db.pl" --kind "$kind" "$f"
	echo "iplocd-init: made the demo database $f"
done
