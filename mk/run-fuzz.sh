#!/bin/sh
# Run each libFuzzer target for SECONDS, starting from a scratch copy of its
# checked-in corpus (new inputs stay under build-fuzz/, never in the tree).
# Arguments: BINDIR SECONDS NAME:CORPUS_DIR ...
set -e
bindir=$1
secs=$2
shift 2
for spec in "$@"; do
	name=${spec%%:*}
	corpus=${spec#*:}
	work="$bindir/corpus/$name"
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	"$bindir/$name" -max_total_time="$secs" -print_final_stats=1 "$work"
done
