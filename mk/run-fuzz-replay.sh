#!/bin/sh
# Replay each fuzzer's checked-in corpus through the gcc-built replayer.
# Arguments: BINDIR NAME:CORPUS_DIR ...
bindir=$1
shift
passed=0
failed=0
for spec in "$@"; do
	name=${spec%%:*}
	corpus=${spec#*:}
	if [ ! -d "$corpus" ]; then
		echo "fuzz-replay: $name has no corpus at $corpus"
		failed=$((failed + 1))
		continue
	fi
	if "$bindir/$name" "$corpus"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
