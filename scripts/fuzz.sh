#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME each, prints how many inputs each one
# executed, and fails when one executed fewer than FUZZMIN: a fuzz run that
# stalls (a slow input, a stuck minimizer) must not pass as a fuzz run.
#
# -fuzzminimizetime bounds how long a worker may shrink each new interesting
# input. Go's default (60s, with an O(n^2) pass over the input's bytes) is
# longer than the whole run: the worker minimized the first input it found
# and executed nothing else (issue 11, finding 10).
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
FUZZMIN=${FUZZMIN:-2000}
FUZZMINIMIZE=${FUZZMINIMIZE:-100x}
# "package target [time]": a target whose every input costs more (a tarball
# written to disk and read back) gets longer, so it still runs thousands.
targets=(
	"./installer/inventory/ FuzzLoadSource"
	"./installer/hoststate/ FuzzParseProbe"
	"./installer/hoststate/ FuzzParseRecord"
	"./installer/hoststate/ FuzzParseRemoval"
	"./bundles/ FuzzExtractTarGz ${FUZZTIME_EXTRACT:-25s}"
)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
summary=()
fuzz_one() {
	"$GO" test -run='^$' -fuzz="^$name\$" -fuzztime="$time" -fuzzminimizetime="$FUZZMINIMIZE" "$pkg" 2>&1 | tee "$log"
}
for t in "${targets[@]}"; do
	read -r pkg name time <<<"$t"
	time=${time:-$FUZZTIME}
	echo "--- fuzz $name ($pkg) for $time"
	again=
	if ! fuzz_one; then
		# Go 1.26's coordinator can report its own -fuzztime deadline as a
		# failure (go.dev/issue/75804, fixed in 1.27): a bare "context deadline
		# exceeded", no failing input written. That, and only that, runs once more.
		if ! grep -qx '    context deadline exceeded' "$log" || grep -qE 'Failing input written|^panic:|_test\.go:[0-9]+:' "$log"; then
			summary+=("$name: FAILED (see above)")
			failed=1
			continue
		fi
		echo "--- fuzz $name: the fuzzing engine's own deadline race, no failing input: once more"
		again=" (second run: the engine's deadline race)"
		if ! fuzz_one; then
			summary+=("$name: FAILED (see above)")
			failed=1
			continue
		fi
	fi
	# The last progress line: "fuzz: elapsed: 10s, execs: 31337 (3133/sec), ..."
	execs=$(sed -n 's/^fuzz: elapsed: .*, execs: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	if [ -z "$execs" ]; then
		summary+=("$name: no exec count in the output")
		failed=1
	elif [ "$execs" -lt "$FUZZMIN" ]; then
		summary+=("$name: $execs execs, fewer than $FUZZMIN: the fuzzer stalled")
		failed=1
	else
		summary+=("$name: $execs execs$again")
	fi
done
echo "--- fuzz summary (FUZZTIME=$FUZZTIME each unless given, at least $FUZZMIN execs)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
