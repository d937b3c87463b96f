#!/usr/bin/env bash
# Test hosts for obsbox's end-to-end suite: Debian machines (bookworm or trixie)
# booted with systemd-nspawn (systemd as PID 1, sshd, own network namespace) on
# bridge obsbr0.
#
#   hosts.sh up N [FL]   boot fresh hosts h1..hN at PREFIX.11, PREFIX.12, ...;
#                        FL: one flavour for all (bookworm, the default, or
#                        trixie) or one per host, comma-separated: bookworm,trixie
#   hosts.sh down        stop the hosts this harness started, remove them and the bridge
#   hosts.sh status      list the hosts and what systemd says on each
#   hosts.sh stop NAME   power one host off (its disk is kept)
#   hosts.sh start NAME  boot it again
#   hosts.sh reboot NAME stop, then start
#
# A host set (its state folder, addresses and machine names) is one run's: a run
# holds flock on $RUN_LOCK for its whole life. By hand, `up` leaves a small holder
# process with the lock and `down` ends it. The Go harness holds the lock itself
# and calls this script with OBSBOX_E2E_LOCKED=1 and OBSBOX_E2E_OWNER_PID=<its pid>.
# Several sets can share the bridge, each with its own OBSBOX_E2E_STATE, _LOCK,
# _MACHINES, _MACHINE_PREFIX and _FIRST_HOST (e2e/run-suite.sh runs two); the
# bridge itself changes only under $BRIDGE_LOCK.
set -euo pipefail

# shellcheck source=e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECURE_PASSWORD=obsbox-secure-pw
LOCK_WAIT=${OBSBOX_E2E_LOCK_WAIT:-1800}
BOOT_TIMEOUT=${OBSBOX_E2E_BOOT_TIMEOUT:-180}
RUN_ENV=$STATE/run.env

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn, bridges and mounts need it)"
	command -v systemd-nspawn >/dev/null || die "systemd-nspawn is missing (run e2e/prereqs.sh)"
}

locked_by_caller() { [ "${OBSBOX_E2E_LOCKED:-}" = 1 ]; }

# ---- run state ---------------------------------------------------------------

OWNER_PID='' OWNER_START='' HOLDER_PID='' HOLDER_START=''

load_run() {
	[ -f "$RUN_ENV" ] || return 1
	# shellcheck disable=SC1090
	. "$RUN_ENV"
}

save_run() {
	mkdir -p "$STATE/hosts"
	{
		printf 'OWNER_PID=%q\nOWNER_START=%q\n' "$OWNER_PID" "$OWNER_START"
		printf 'HOLDER_PID=%q\nHOLDER_START=%q\n' "$HOLDER_PID" "$HOLDER_START"
		printf 'PREFIX=%q\nBRIDGE=%q\nMACHINES=%q\n' "$PREFIX" "$BRIDGE" "$MACHINES"
	} >"$RUN_ENV.tmp"
	mv "$RUN_ENV.tmp" "$RUN_ENV"
}

describe_owner() {
	if ! load_run; then
		echo "an unknown process (no $RUN_ENV)"
		return
	fi
	if proc_is "$HOLDER_PID" "$HOLDER_START"; then
		echo "hosts started by hand with 'hosts.sh up' (lock holder PID $HOLDER_PID)"
	elif proc_is "$OWNER_PID" "$OWNER_START"; then
		echo "PID $OWNER_PID: $(tr '\0' ' ' <"/proc/$OWNER_PID/cmdline" 2>/dev/null | cut -c1-160)"
	else
		echo "a process that has exited (PID $OWNER_PID)"
	fi
}

# take_run_lock opens fd 9 on the run lock and waits for it, unless the caller
# (the Go harness) already holds it.
take_run_lock() {
	if locked_by_caller; then
		[ -n "${OBSBOX_E2E_OWNER_PID:-}" ] || die "OBSBOX_E2E_LOCKED=1 needs OBSBOX_E2E_OWNER_PID"
		if flock -n "$RUN_LOCK" true 2>/dev/null; then
			die "OBSBOX_E2E_LOCKED=1 but no process holds $RUN_LOCK"
		fi
		return 0
	fi
	mkdir -p "$(dirname "$RUN_LOCK")"
	exec 9>"$RUN_LOCK"
	flock -n 9 && return 0
	if load_run && proc_is "$HOLDER_PID" "$HOLDER_START"; then
		die "test hosts from an earlier 'hosts.sh up' are still running (lock holder PID $HOLDER_PID); run 'e2e/hosts.sh down' first"
	fi
	log "waiting up to ${LOCK_WAIT}s for $RUN_LOCK, held by $(describe_owner)"
	flock -w "$LOCK_WAIT" 9 || die "gave up after ${LOCK_WAIT}s waiting for $RUN_LOCK, held by $(describe_owner)"
}

# check_may_change refuses to touch hosts that belong to another live run.
check_may_change() {
	load_run || die "no test hosts are up ($RUN_ENV missing)"
	if locked_by_caller; then
		[ "${OBSBOX_E2E_OWNER_PID:-}" = "$OWNER_PID" ] ||
			die "the hosts belong to $(describe_owner), not to PID ${OBSBOX_E2E_OWNER_PID:-?}"
		return 0
	fi
	proc_is "$HOLDER_PID" "$HOLDER_START" && return 0
	if proc_is "$OWNER_PID" "$OWNER_START"; then
		die "the hosts belong to a running test, $(describe_owner); it tears them down itself"
	fi
	return 1 # stale: the run that started them is gone
}

# ---- one host --------------------------------------------------------------

host_names() {
	[ -d "$STATE/hosts" ] || return 0
	find "$STATE/hosts" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V
}

host_get() { cat "$STATE/hosts/$1/$2" 2>/dev/null || true; }

# machine_of NAME: the host's machine name (hosts recorded before there was
# one are named as the host).
machine_of() {
	local m
	m=$(host_get "$1" machine)
	echo "${m:-$1}"
}

host_running() {
	proc_is "$(host_get "$1" pid)" "$(host_get "$1" start)"
}

# host_ssh ADDR CMD [strict]: root shell on a host with the harness key.
host_ssh() {
	local hostkey_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
	if [ "${3:-}" = strict ]; then
		hostkey_opts=(-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$STATE/known_hosts")
	fi
	ssh -F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=2 \
		-o GlobalKnownHostsFile=/dev/null "${hostkey_opts[@]}" -o LogLevel=ERROR \
		"root@$1" "$2" </dev/null 9>&-
}

# mount_root DIR LOWER: the host's disk, an overlay on its flavour's rootfs.
mount_root() {
	local dir=$1 lower=$2
	mountpoint -q "$dir/root" && return 0
	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
}

unmount_root() {
	local dir=$1 i
	for i in 1 2 3 4 5; do
		mountpoint -q "$dir/root" || return 0
		umount "$dir/root" 2>/dev/null && return 0
		sleep 0.5
	done
	umount -l "$dir/root" || die "cannot unmount $dir/root"
}

remove_machine_dir() {
	local dir=$1
	[ -d "$dir" ] || return 0
	unmount_root "$dir"
	rm -rf --one-file-system "$dir"
}

# prepare_host makes a host's root filesystem: an overlay on the cached rootfs
# (a full copy where overlayfs is not available), then its identity and users.
prepare_host() {
	local name=$1 addr=$2 flavour=$3 dir=$MACHINES/$1 mode=overlay lower
	lower=$(rootfs_of "$flavour")
	remove_machine_dir "$dir"
	mkdir -p "$dir/upper" "$dir/work" "$dir/root" "$STATE/hosts/$name"
	if [ "${OBSBOX_E2E_NO_OVERLAY:-}" = 1 ] || ! mount_root "$dir" "$lower" 2>/dev/null; then
		mode=copy
		rm -rf "$dir/upper" "$dir/work"
		cp -a --reflink=auto "$lower/." "$dir/root/"
	fi
	echo "$addr" >"$STATE/hosts/$name/address"
	echo "$mode" >"$STATE/hosts/$name/mode"
	echo "$dir" >"$STATE/hosts/$name/dir"
	echo "$flavour" >"$STATE/hosts/$name/flavour"
	echo "$lower" >"$STATE/hosts/$name/rootfs"
	echo "$MACHINE_PREFIX$name" >"$STATE/hosts/$name/machine"

	local root=$dir/root
	echo "$name" >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$root/etc/hosts"
	tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
	# No gateway: the hosts talk to the bridge and to each other, nowhere else.
	cat >"$root/etc/network/interfaces" <<-EOF
		# written by obsbox e2e/hosts.sh
		source /etc/network/interfaces.d/*
		auto lo
		iface lo inet loopback
		auto host0
		iface host0 inet static
		    address $addr/24
	EOF

	# Fresh host keys per host, so known_hosts and host-key tests mean something.
	rm -f "$root"/etc/ssh/ssh_host_*
	chroot "$root" ssh-keygen -A >/dev/null
	[ -e "$root/etc/systemd/system/multi-user.target.wants/ssh.service" ] ||
		chroot "$root" systemctl enable ssh >/dev/null 2>&1
	local pub
	for pub in "$root"/etc/ssh/ssh_host_*_key.pub; do
		awk -v a="$addr" '{print a, $1, $2}' "$pub"
	done >"$STATE/hosts/$name/known_hosts"

	install -d -m 700 "$root/root/.ssh"
	install -m 600 "$KEY.pub" "$root/root/.ssh/authorized_keys"
	# deploy: passwordless sudo; secure: sudo asks for its password every time.
	chroot "$root" useradd -m -s /bin/bash -p '*' deploy
	chroot "$root" useradd -m -s /bin/bash -G sudo secure
	echo "secure:$SECURE_PASSWORD" | chroot "$root" chpasswd
	local u
	for u in deploy secure; do
		install -d -m 700 "$root/home/$u/.ssh"
		install -m 600 "$KEY.pub" "$root/home/$u/.ssh/authorized_keys"
		chroot "$root" chown -R "$u:$u" "/home/$u/.ssh"
	done
	echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/obsbox-e2e-deploy"
	echo 'Defaults:secure timestamp_timeout=0' >"$root/etc/sudoers.d/obsbox-e2e-secure"
	chmod 440 "$root"/etc/sudoers.d/obsbox-e2e-*
}

boot_host() {
	local name=$1 dir mode pid
	dir=$(host_get "$name" dir)
	mode=$(host_get "$name" mode)
	[ "$mode" = overlay ] && mount_root "$dir" "$(host_get "$name" rootfs)"
	# A background job of a non-interactive shell is no process-group leader, so
	# setsid does not fork and $! is systemd-nspawn's own PID.
	setsid systemd-nspawn -D "$dir/root" -b -M "$(machine_of "$name")" --hostname="$name" --register=no --keep-unit \
		--network-bridge="$BRIDGE" --link-journal=no --console=read-only \
		</dev/null >"$STATE/hosts/$name/console.log" 2>&1 8>&- 9>&- &
	pid=$!
	echo "$pid" >"$STATE/hosts/$name/pid"
	proc_starttime "$pid" >"$STATE/hosts/$name/start"
}

# wait_host prints how the host came up: running, degraded: UNITS, or why not.
wait_host() {
	local name=$1 check=$2 addr pid start deadline out failed
	addr=$(host_get "$name" address)
	pid=$(host_get "$name" pid)
	start=$(host_get "$name" start)
	deadline=$(($(date +%s) + BOOT_TIMEOUT))
	while :; do
		if ! proc_is "$pid" "$start"; then
			echo "systemd-nspawn exited; console log ends with: $(tail -n 5 "$STATE/hosts/$name/console.log" | tr '\n' ' ')"
			return 1
		fi
		out=$(host_ssh "$addr" 'systemctl is-system-running --wait' "$check" 2>&1) || true
		case $out in
		running)
			echo running
			return 0
			;;
		degraded)
			failed=$(host_ssh "$addr" 'systemctl list-units --failed --plain --no-legend --no-pager' "$check" 2>&1 | awk '{print $1}' | tr '\n' ' ')
			echo "degraded: failed units: $failed"
			return 1
			;;
		esac
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "not up after ${BOOT_TIMEOUT}s; last answer: ${out:-none}"
			return 1
		fi
		sleep 0.3
	done
}

# wait_hosts waits for all named hosts at once; fails naming each host not running.
# OBSBOX_E2E_ALLOW_DEGRADED=1 accepts hosts whose systemd reports failed units.
wait_hosts() {
	local check=$1 name bad=0 result pids=()
	shift
	for name in "$@"; do
		wait_host "$name" "$check" >"$STATE/hosts/$name/boot" 2>&1 8>&- 9>&- &
		pids+=($!)
	done
	# Only these jobs: the hosts and the lock holder are children too.
	wait "${pids[@]}" || true
	for name in "$@"; do
		result=$(cat "$STATE/hosts/$name/boot")
		case $result in
		running) ;;
		degraded:*)
			log "$name: $result"
			[ "${OBSBOX_E2E_ALLOW_DEGRADED:-}" = 1 ] || bad=1
			;;
		*)
			log "$name: $result"
			bad=1
			;;
		esac
	done
	return "$bad"
}

# stop_host powers a host off: SIGTERM makes systemd-nspawn shut the machine down
# in order; SIGKILL if that takes too long. Only the recorded PID is signalled.
stop_host() {
	local name=$1 pid start i
	pid=$(host_get "$name" pid)
	start=$(host_get "$name" start)
	if proc_is "$pid" "$start"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			proc_is "$pid" "$start" || break
			sleep 0.1
		done
		if proc_is "$pid" "$start"; then
			log "$name: no orderly shutdown within 30s, killing systemd-nspawn $pid"
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do
				proc_is "$pid" "$start" || break
				sleep 0.1
			done
			proc_is "$pid" "$start" && die "$name: systemd-nspawn $pid survives SIGKILL"
		fi
	fi
	rm -f "$STATE/hosts/$name/pid" "$STATE/hosts/$name/start"
	# systemd-nspawn removes its veth when it exits; a killed one may not.
	local veth
	veth=vb-$(machine_of "$name")
	if [[ $(ip link show "$veth" 2>/dev/null) == *"master $BRIDGE "* ]]; then
		ip link del "$veth" || true
	fi
	[ "$(host_get "$name" mode)" = overlay ] && unmount_root "$(host_get "$name" dir)"
	return 0
}

write_known_hosts() {
	local name
	for name in $(host_names); do
		cat "$STATE/hosts/$name/known_hosts"
	done >"$STATE/known_hosts.tmp"
	mv "$STATE/known_hosts.tmp" "$STATE/known_hosts"
}

# ---- the bridge ------------------------------------------------------------

# hold_bridge takes the bridge lock on fd 8 (the hosts do not inherit it);
# taking it again while held does nothing.
BRIDGE_HELD=0
hold_bridge() {
	[ "$BRIDGE_HELD" = 1 ] && return 0
	exec 8>"$BRIDGE_LOCK"
	flock 8
	BRIDGE_HELD=1
}

release_bridge() {
	[ "$BRIDGE_HELD" = 1 ] || return 0
	exec 8>&-
	BRIDGE_HELD=0
}

setup_bridge() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
	fi
	# Read whole, not piped into grep -q: with pipefail, ip's SIGPIPE when grep
	# stops at the first match reads as "no address" (the bridge another set
	# keeps has more than one line).
	if [[ $(ip -o addr show dev "$BRIDGE") != *" $PREFIX.1/24 "* ]]; then
		ip addr add "$PREFIX.1/24" dev "$BRIDGE" || die "cannot add $PREFIX.1/24 to $BRIDGE"
	fi
	ip link set "$BRIDGE" up
}

# remove_bridge_if_unused leaves a bridge another host set still uses.
remove_bridge_if_unused() {
	local held=$BRIDGE_HELD
	hold_bridge
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		:
	elif [ -n "$(ip -o link show master "$BRIDGE" 2>/dev/null)" ]; then
		log "bridge $BRIDGE still has members; leaving it"
	else
		ip link del "$BRIDGE"
	fi
	[ "$held" = 1 ] || release_bridge
}

# ---- whole runs ------------------------------------------------------------

# teardown stops and removes every recorded host, the bridge if unused and the
# lock holder; what it removes is only what the state directory says we started.
teardown() {
	local name
	for name in $(host_names); do
		stop_host "$name"
		remove_machine_dir "$(host_get "$name" dir)"
		rm -rf "${STATE:?}/hosts/$name"
	done
	rmdir "$MACHINES" 2>/dev/null || true
	remove_bridge_if_unused
	if proc_is "$HOLDER_PID" "$HOLDER_START"; then
		kill "$HOLDER_PID" 2>/dev/null || true
	fi
	rm -rf "$STATE"
}

# parse_flavours N SPEC fills HOST_FLAVOURS with one flavour per host: SPEC is
# empty (all the default), one flavour (all hosts) or N comma-separated ones.
HOST_FLAVOURS=()
parse_flavours() {
	local n=$1 spec=$2 f i
	HOST_FLAVOURS=()
	[ -n "$spec" ] || spec=$DEFAULT_FLAVOUR
	IFS=, read -r -a HOST_FLAVOURS <<<"$spec"
	for f in "${HOST_FLAVOURS[@]}"; do
		is_flavour "$f" || die "unknown host flavour '$f' in '$spec' (have: ${FLAVOURS[*]})"
	done
	if [ ${#HOST_FLAVOURS[@]} -eq 1 ]; then
		f=${HOST_FLAVOURS[0]}
		for ((i = 1; i < n; i++)); do HOST_FLAVOURS+=("$f"); done
	fi
	[ ${#HOST_FLAVOURS[@]} -eq "$n" ] ||
		die "up $n needs one flavour or $n comma-separated flavours, got '$spec'"
}

cmd_up() {
	local n=${1:-}
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 50 ]; then
		die "up needs a host count from 1 to 50, got '${n}'"
	fi
	parse_flavours "$n" "${2:-}"
	[[ $PREFIX =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "OBSBOX_E2E_PREFIX must look like 10.99.0, got '$PREFIX'"
	if ! [[ $FIRST_HOST =~ ^[0-9]+$ ]] || [ "$FIRST_HOST" -lt 2 ] || [ $((FIRST_HOST + n - 1)) -gt 254 ]; then
		die "OBSBOX_E2E_FIRST_HOST=$FIRST_HOST leaves no room for $n hosts (addresses $PREFIX.2 to $PREFIX.254)"
	fi
	need_root
	take_run_lock
	local began=$SECONDS
	if load_run; then
		log "removing leftover test hosts of $(describe_owner)"
		teardown
	fi
	OWNER_PID='' OWNER_START='' HOLDER_PID='' HOLDER_START=''
	PREFIX=${OBSBOX_E2E_PREFIX:-10.99.0} BRIDGE=${OBSBOX_E2E_BRIDGE:-obsbr0}
	MACHINES=${OBSBOX_E2E_MACHINES:-/var/tmp/obsbox-e2e/machines}
	# On a fresh machine build every flavour at once: the suite needs them all and
	# two debootstraps in parallel cost little more than one.
	local f
	for f in "${HOST_FLAVOURS[@]}"; do
		[ -e "$(rootfs_of "$f")/$ROOTFS_MARKER" ] || {
			ensure_rootfs
			break
		}
	done
	ensure_key

	if locked_by_caller; then
		OWNER_PID=$OBSBOX_E2E_OWNER_PID
		OWNER_START=$(proc_starttime "$OWNER_PID")
		[ -n "$OWNER_START" ] || die "owner PID $OWNER_PID is not running"
	else
		# The holder inherits fd 9 and with it the lock, after this script exits.
		setsid bash -c 'exec -a obsbox-e2e-lock-holder sleep infinity' </dev/null >/dev/null 2>&1 &
		HOLDER_PID=$!
		HOLDER_START=$(proc_starttime "$HOLDER_PID")
		OWNER_PID=$HOLDER_PID OWNER_START=$HOLDER_START
	fi
	save_run
	trap 'log "up failed; removing the hosts it started"; teardown' EXIT

	# From the bridge's making until the hosts are on it, no other set may remove it.
	hold_bridge
	setup_bridge
	local i name names=()
	for ((i = 1; i <= n; i++)); do
		name=h$i
		prepare_host "$name" "$PREFIX.$((FIRST_HOST - 1 + i))" "${HOST_FLAVOURS[$((i - 1))]}"
		boot_host "$name"
		names+=("$name")
	done
	write_known_hosts
	local booted=$SECONDS
	wait_hosts strict "${names[@]}" || die "test hosts did not come up"
	release_bridge
	trap - EXIT
	log "$n host(s) (${HOST_FLAVOURS[*]}) running after $((SECONDS - began))s (setup $((booted - began))s, boot $((SECONDS - booted))s); known_hosts: $STATE/known_hosts"
	for name in "${names[@]}"; do
		printf '%s %s %s\n' "$name" "$(host_get "$name" address)" "$(host_get "$name" flavour)"
	done
}

cmd_down() {
	need_root
	if ! load_run; then
		log "no test hosts are up"
		remove_bridge_if_unused
		return 0
	fi
	if ! check_may_change; then
		# The run that started them is gone; take the lock so no new run races us.
		take_run_lock
		log "removing test hosts left behind by $(describe_owner)"
	fi
	teardown
}

cmd_stop() {
	local name=${1:-}
	need_root
	[ -n "$name" ] || die "stop needs a host name"
	check_may_change || die "the run that started the hosts has exited; use 'hosts.sh down'"
	[ -d "$STATE/hosts/$name" ] || die "no test host named '$name' (have: $(host_names | tr '\n' ' '))"
	stop_host "$name"
}

cmd_start() {
	local name=${1:-}
	need_root
	[ -n "$name" ] || die "start needs a host name"
	check_may_change || die "the run that started the hosts has exited; use 'hosts.sh down'"
	[ -d "$STATE/hosts/$name" ] || die "no test host named '$name' (have: $(host_names | tr '\n' ' '))"
	host_running "$name" && die "$name is already running"
	hold_bridge
	setup_bridge
	boot_host "$name"
	# Tests may have changed the host's key on purpose: no strict check here.
	wait_hosts loose "$name" || die "$name did not come up"
	release_bridge
}

cmd_status() {
	if ! load_run; then
		echo "no test hosts are up"
		return 0
	fi
	echo "owner: $(describe_owner)"
	local name addr state
	for name in $(host_names); do
		addr=$(host_get "$name" address)
		if host_running "$name"; then
			state=$(host_ssh "$addr" 'systemctl is-system-running' 2>/dev/null || true)
			state="pid $(host_get "$name" pid), systemd: ${state:-no ssh answer}"
		else
			state=stopped
		fi
		printf '%-4s %-15s %-9s %s\n' "$name" "$addr" "$(host_get "$name" flavour)" "$state"
	done
}

case ${1:-} in
up) cmd_up "${2:-}" "${3:-}" ;;
down) cmd_down ;;
status) cmd_status ;;
stop) cmd_stop "${2:-}" ;;
start) cmd_start "${2:-}" ;;
reboot)
	cmd_stop "${2:-}"
	cmd_start "${2:-}"
	;;
*) usage ;;
esac
