#!/usr/bin/env bash
# Installs what the end-to-end suite needs, when missing.
# Exit 0: ready. Exit 3: cannot run here (reason printed), so `make test` skips
# the e2e part. With CI=true anything missing is a failure (exit 1): a pipeline
# that silently skips its real tests proves nothing.
set -euo pipefail

# shellcheck source=e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# command -> Debian package that provides it
declare -A NEEDED=(
	[systemd-nspawn]=systemd-container
	[debootstrap]=debootstrap
	[ip]=iproute2
	[ssh]=openssh-client
	[ssh-keygen]=openssh-client
	[curl]=curl
	[xz]=xz-utils
	[gzip]=gzip
	[tar]=tar
	[flock]=util-linux
	[setsid]=util-linux
	[mountpoint]=util-linux
	[dpkg-deb]=dpkg
	[apt-get]=apt
	[sha256sum]=coreutils
	[awk]=mawk
)

# Not the hosts': `make test` runs the unit tests under the race detector,
# which needs cgo, so a C compiler and the C library's headers.
race_ready() { command -v cc >/dev/null 2>&1 && [ -e /usr/include/stdlib.h ]; }

unavailable() {
	if [ "${CI:-}" = true ]; then
		printf 'prereqs.sh: error: %s (CI=true: a missing e2e prerequisite is a failure)\n' "$*" >&2
		exit 1
	fi
	printf 'prereqs.sh: skipping the e2e suite: %s\n' "$*" >&2
	exit 3
}

[ "$(uname -s)" = Linux ] || unavailable "the e2e hosts need Linux (this is $(uname -s))"
[ "$(id -u)" = 0 ] || unavailable "the e2e hosts need root (systemd-nspawn, a bridge, mounts)"
command -v go >/dev/null || unavailable "no Go toolchain in PATH or /usr/local/go/bin (bundles are built with go install)"

missing=()
for cmd in "${!NEEDED[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
race_ready || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	command -v apt-get >/dev/null || unavailable "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# update may complain about unrelated unreachable sources; install decides.
	apt-get update -qq </dev/null >/tmp/obsbox-e2e-apt.log 2>&1 || true
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >>/tmp/obsbox-e2e-apt.log 2>&1; then
		tail -n 20 /tmp/obsbox-e2e-apt.log >&2
		unavailable "apt-get could not install ${missing[*]} (log: /tmp/obsbox-e2e-apt.log)"
	fi
	for cmd in "${!NEEDED[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || unavailable "$cmd still missing after installing ${NEEDED[$cmd]}"
	done
	race_ready || unavailable "no C compiler or C headers after installing gcc libc6-dev (the race detector needs them)"
fi

# Every host flavour must be bootstrappable, unless its rootfs is cached already
# (an old debootstrap knows no trixie).
for flavour in "${FLAVOURS[@]}"; do
	[ -e "$(rootfs_of "$flavour")/$ROOTFS_MARKER" ] && continue
	[ -e "/usr/share/debootstrap/scripts/$flavour" ] ||
		unavailable "debootstrap cannot bootstrap Debian $flavour (no /usr/share/debootstrap/scripts/$flavour; upgrade debootstrap)"
done

# The hosts need a bridge and overlay (or room for copies); check the bridge now
# rather than fail halfway through booting.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
	probe=obsprobe$$
	ip link add "$probe" type bridge 2>/dev/null || unavailable "cannot create a network bridge here (ip link add type bridge failed)"
	ip link del "$probe"
fi
log "e2e prerequisites present"
