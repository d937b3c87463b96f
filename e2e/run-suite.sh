#!/usr/bin/env bash
# Runs the end-to-end suite on two host sets side by side, on the one test
# bridge: set 1 (addresses from .111, machines s1-h1…, its own lock and state)
# takes the two cases that spend most of their time waiting for Prometheus and
# Alertmanager (burn windows, repeat intervals) and one more to even the two
# out, set 0 (the defaults) every other case. Both print as they go, each line
# tagged with its set; the full logs are e2e-test.log and e2e-test-s1.log.
# E2E_SETS=1 runs one set only.
#
#   run-suite.sh [test binary flags...]   one set, e.g. -test.run 'TestInstall$'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
SETS=${E2E_SETS:-2}
# Set 1's cases: about as long together as all the others (20 minutes each
# in a full run here).
SET1=${E2E_SET1:-TestSLO|TestHA|TestSecurityConversion}
FILTER='^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:'

"$GO" test -tags e2e -c -o bin/e2e.test ./e2e/

# run_set TAG LOG ARGS...: one set's cases; its status is the test binary's.
run_set() {
	local tag=$1 log=$2
	shift 2
	set +e
	(cd e2e && exec ../bin/e2e.test -test.count=1 -test.timeout 80m -test.v "$@") 2>&1 |
		tee "$log" | grep --line-buffered -E "$FILTER" | sed -u "s/^/[$tag] /"
	local rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

if [ "$SETS" = 1 ] || [ $# -gt 0 ]; then
	run_set s0 e2e-test.log "$@"
	exit
fi

rc0=0 rc1=0
run_set s0 e2e-test.log -test.skip "^($SET1)\$" &
p0=$!
OBSBOX_E2E_STATE=/run/obsbox-e2e-s1 \
	OBSBOX_E2E_LOCK=/run/obsbox-e2e-s1.lock \
	OBSBOX_E2E_MACHINES=/var/tmp/obsbox-e2e/machines-s1 \
	OBSBOX_E2E_MACHINE_PREFIX=s1- \
	OBSBOX_E2E_FIRST_HOST=111 \
	run_set s1 e2e-test-s1.log -test.run "^($SET1)\$" &
p1=$!
wait "$p0" || rc0=$?
wait "$p1" || rc1=$?
echo "end-to-end suite: set 0 exit $rc0, set 1 exit $rc1"
[ "$rc0" = 0 ] && [ "$rc1" = 0 ]
