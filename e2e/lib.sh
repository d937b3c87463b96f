# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for the e2e scripts; sourced, not run.
# Every path and the address prefix can be overridden through OBSBOX_E2E_* variables.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/.." && pwd)

CACHE=${OBSBOX_E2E_CACHE:-/var/cache/obsbox-e2e}
ROOTFS_MARKER=.obsbox-rootfs-complete
KEY=$CACHE/id_ed25519
MIRROR_DIR=$CACHE/mirror
TOOLS_DIR=$CACHE/bin
DEBIAN_MIRROR=${OBSBOX_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}

STATE=${OBSBOX_E2E_STATE:-/run/obsbox-e2e}
RUN_LOCK=${OBSBOX_E2E_LOCK:-/run/obsbox-e2e.lock}
MACHINES=${OBSBOX_E2E_MACHINES:-/var/tmp/obsbox-e2e/machines}
PREFIX=${OBSBOX_E2E_PREFIX:-10.99.0}
BRIDGE=${OBSBOX_E2E_BRIDGE:-obsbr0}
# Prepended to each host's machine name (its veth is vb-<machine>), so that
# another host set can run beside this one on the same bridge.
MACHINE_PREFIX=${OBSBOX_E2E_MACHINE_PREFIX:-}
# The last octet of h1's address; h2 gets the next one, and so on.
FIRST_HOST=${OBSBOX_E2E_FIRST_HOST:-11}
# Every host set on this machine shares the bridge: it is made, given its
# first members and removed under this lock.
BRIDGE_LOCK=${OBSBOX_E2E_BRIDGE_LOCK:-/run/obsbox-e2e-bridge.lock}

# Packages the hosts' root filesystem is bootstrapped with (see shared TESTING.md).
ROOTFS_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,ifupdown,sudo,ca-certificates,curl,procps

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# go may live outside PATH in a non-login shell (CI).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
fi

# Host flavours: Debian releases a test host can run. The first is the default.
# bookworm has systemd 252, trixie systemd 257.
FLAVOURS=(bookworm trixie)
DEFAULT_FLAVOUR=bookworm

is_flavour() {
	local f
	for f in "${FLAVOURS[@]}"; do [ "$f" = "$1" ] && return 0; done
	return 1
}

# rootfs_of FLAVOUR: the cached root filesystem of that flavour.
rootfs_of() { printf '%s/rootfs-%s\n' "$CACHE" "$1"; }

# bootstrap_rootfs FLAVOUR builds one cached root filesystem under its own flock
# (bookworm keeps the historic rootfs.lock), so a build in progress elsewhere is
# waited for rather than repeated.
bootstrap_rootfs() {
	local flavour=$1 dir lockname=rootfs-$1.lock fd
	dir=$(rootfs_of "$flavour")
	[ "$flavour" = bookworm ] && lockname=rootfs.lock
	exec {fd}>"$CACHE/$lockname"
	if ! flock -n "$fd"; then
		log "waiting for another $flavour rootfs build ($CACHE/$lockname)"
		flock "$fd"
	fi
	if [ ! -e "$dir/$ROOTFS_MARKER" ]; then
		log "bootstrapping Debian $flavour into $dir (once, 1-2 minutes)"
		rm -rf "$dir.tmp" "$dir"
		if ! debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" \
			"$flavour" "$dir.tmp" "$DEBIAN_MIRROR" >"$CACHE/debootstrap-$flavour.log" 2>&1; then
			tail -n 20 "$CACHE/debootstrap-$flavour.log" >&2
			exec {fd}>&-
			log "error: debootstrap of $dir.tmp failed (full log: $CACHE/debootstrap-$flavour.log)"
			return 1
		fi
		touch "$dir.tmp/$ROOTFS_MARKER"
		mv "$dir.tmp" "$dir"
	fi
	exec {fd}>&-
}

# ensure_rootfs builds the cached root filesystems that are missing: the named
# flavours (all of them when none is named), in parallel, because first-run time
# counts (two debootstraps on two cores take little more than one).
ensure_rootfs() {
	local f want=("$@") pids=() bad=0 p
	[ ${#want[@]} -gt 0 ] || want=("${FLAVOURS[@]}")
	for f in "${want[@]}"; do
		is_flavour "$f" || die "unknown host flavour '$f' (have: ${FLAVOURS[*]})"
	done
	local missing=()
	for f in "${want[@]}"; do
		[ -e "$(rootfs_of "$f")/$ROOTFS_MARKER" ] || missing+=("$f")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	command -v debootstrap >/dev/null || die "debootstrap is missing (run e2e/prereqs.sh)"
	mkdir -p "$CACHE"
	for f in "${missing[@]}"; do
		bootstrap_rootfs "$f" 9>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || bad=1
	done
	[ "$bad" = 0 ] || die "could not bootstrap every host flavour (${missing[*]})"
}

# ensure_key creates the harness key pair once, under a lock: host sets
# starting together must not each make their own.
ensure_key() {
	[ -s "$KEY" ] && [ -s "$KEY.pub" ] && return 0
	mkdir -p "$CACHE"
	local fd
	exec {fd}>"$CACHE/key.lock"
	flock "$fd"
	if ! [ -s "$KEY" ] || ! [ -s "$KEY.pub" ]; then
		rm -f "$KEY" "$KEY.pub"
		ssh-keygen -q -t ed25519 -N '' -C obsbox-e2e-harness -f "$KEY" </dev/null >/dev/null ||
			die "cannot create the harness key $KEY"
	fi
	exec {fd}>&-
}

# proc_starttime prints a process's start time (clock ticks since boot), which
# together with its PID names it uniquely; nothing when it is gone.
proc_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	# Fields after the command name, which sits in parentheses and may hold spaces.
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	# A zombie has exited already; nobody may have reaped it yet.
	[ "$1" = Z ] && return 0
	printf '%s\n' "${20}"
}

# proc_is PID STARTTIME: is that very process still alive?
proc_is() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$(proc_starttime "$1")" = "$2" ]
}
