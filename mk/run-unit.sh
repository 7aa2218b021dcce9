#!/bin/sh
# Run every cmocka test binary given as an argument; print one closing line.
# Exit non-zero when any binary fails.
passed=0
failed=0
failed_names=""
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names $(basename "$t")"
	fi
done
[ -z "$failed_names" ] || echo "failed unit test binaries:$failed_names"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
