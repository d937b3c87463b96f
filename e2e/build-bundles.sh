#!/usr/bin/env bash
# Builds the release bundles the e2e tests install, in the upstream download
# layout, so that the folder can be served as obsbox's bundles.mirror:
#
#   prometheus/prometheus/releases/download/v2.42.0/prometheus-2.42.0.linux-amd64.tar.gz
#                                                  /sha256sums.txt
#   prometheus/alertmanager/releases/download/v0.27.0/...      (same shape)
#   prometheus/node_exporter/releases/download/v1.8.2/...      (same shape)
#   VictoriaMetrics/VictoriaMetrics/releases/download/v1.151.0/victoria-metrics-linux-amd64-v1.151.0.tar.gz
#                                                  /victoria-metrics-linux-amd64-v1.151.0_checksums.txt
#   oss/release/grafana-11.2.2.linux-amd64.tar.gz(.sha256)     (a TEST-ONLY stand-in)
#
# The binaries are real (Debian packages, go install from the module proxy) except
# Grafana's and the broken node_exporter 9.9.9 fixture. A bundle that exists and
# matches its checksum is kept as it is, so its sha256 stays the same across runs;
# a missing one is rebuilt. promtool and amtool are also left in $TOOLS_DIR.
set -euo pipefail

# shellcheck source=e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_VERSIONS=("2.42.0:apt" "2.53.3:trixie" "3.5.3:sid" "3.16.0:go")
ALERTMANAGER_VERSIONS=("0.25.0:go" "0.27.0:go" "0.35.0:src")
NODE_EXPORTER_VERSIONS=("1.5.0:apt" "1.8.2:go" "1.12.1:go" "9.9.9:broken")
GRAFANA_VERSIONS=(11.2.2 11.3.0)
BLACKBOX_VERSIONS=(0.27.0)
# The second one is there for upgrade and rollback tests.
VICTORIAMETRICS_VERSIONS=(1.151.0 1.150.0)

WORK=$CACHE/build  # scratch, emptied at start and end
DEBS=$CACHE/debs   # downloaded Debian packages, kept
STAMPS=$CACHE/stamps
STANDIN_DIR=$E2E_DIR/grafana-standin
# Fixed metadata so that a rebuild packs the same bytes.
TAR_FLAGS=(--sort=name --mtime=@1577836800 --owner=0 --group=0 --numeric-owner --format=gnu)
VERSION_LDFLAG=-X=github.com/prometheus/common/version.Version

command -v go >/dev/null || die "go is missing (needed to build alertmanager, node_exporter and the Grafana stand-in)"
mkdir -p "$MIRROR_DIR" "$TOOLS_DIR" "$DEBS" "$STAMPS"
exec {lockfd}>"$CACHE/mirror.lock"
if ! flock -n "$lockfd"; then
	log "waiting for another bundle build ($CACHE/mirror.lock)"
	flock "$lockfd"
fi
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
began=$SECONDS

# ---- helpers ---------------------------------------------------------------

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# bundle_ok DIR FILE: the tarball exists and the checksum beside it vouches for it.
bundle_ok() {
	local dir=$1 file=$2 want
	[ -s "$dir/$file" ] || return 1
	if [ -f "$dir/$file.sha256" ]; then
		want=$(tr -d ' \n' <"$dir/$file.sha256")
	elif [ -f "$dir/sha256sums.txt" ]; then
		want=$(awk -v f="$file" '$2 == f { print $1 }' "$dir/sha256sums.txt")
	else
		return 1
	fi
	[ "$want" = "$(sha256 "$dir/$file")" ] && return 0
	log "$dir/$file does not match its checksum; rebuilding it"
	return 1
}

# pack STAGE TOP OUT: a gzip tarball of STAGE/TOP with normalized metadata.
pack() {
	local stage=$1 top=$2 out=$3
	find "$stage/$top" -type d -exec chmod 755 {} +
	find "$stage/$top" -type f ! -perm -u+x -exec chmod 644 {} +
	find "$stage/$top" -type f -perm -u+x -exec chmod 755 {} +
	mkdir -p "$(dirname "$out")"
	tar -C "$stage" "${TAR_FLAGS[@]}" -cf - "$top" | gzip -n >"$out.tmp"
	mv "$out.tmp" "$out"
}

# add_sum DIR FILE: records FILE in DIR/sha256sums.txt ("<hex>  <name>" lines).
add_sum() {
	local dir=$1 file=$2 sums=$1/sha256sums.txt
	{
		[ -f "$sums" ] && awk -v f="$file" '$2 != f' "$sums"
		printf '%s  %s\n' "$(sha256 "$dir/$file")" "$file"
	} | sort -k2 >"$sums.tmp"
	mv "$sums.tmp" "$sums"
}

# tool_from TARBALL MEMBER DEST: leaves one binary of a bundle in $TOOLS_DIR.
tool_from() {
	local tarball=$1 member=$2 dest=$TOOLS_DIR/$3
	[ -x "$dest" ] && return 0
	tar -xzOf "$tarball" "$member" >"$dest.tmp"
	chmod 755 "$dest.tmp"
	mv "$dest.tmp" "$dest"
}

# check_version BINARY VERSION: the binary runs here and reports VERSION.
check_version() {
	local out
	out=$("$1" --version 2>&1) || die "$1 --version failed: $out"
	grep -q "version $2" <<<"$out" || die "$1 reports '$(head -n1 <<<"$out")', want version $2"
}

# upstream_is DEBVERSION VERSION: Debian version 2.42.0+ds-5 carries upstream 2.42.0.
upstream_is() {
	local v=${1#*:}
	[[ $v == "$2" || $v == "$2"[+~-]* ]]
}

# deb_from_apt PKG VERSION: this machine's apt candidate (bookworm), via apt-get download.
deb_from_apt() {
	local pkg=$1 version=$2 deb tmp
	for deb in "$DEBS/${pkg}_"*_amd64.deb; do
		[ -f "$deb" ] && upstream_is "$(dpkg-deb -f "$deb" Version)" "$version" && {
			echo "$deb"
			return 0
		}
	done
	tmp=$WORK/apt-$pkg
	mkdir -p "$tmp"
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" </dev/null >&2); then
		log "apt-get download $pkg failed; refreshing the package lists once"
		apt-get update -qq </dev/null >&2 || true
		(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" </dev/null >&2) || die "apt-get download $pkg failed"
	fi
	deb=$(find "$tmp" -name "${pkg}_*.deb" | head -n1)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $tmp"
	local have
	have=$(dpkg-deb -f "$deb" Version)
	upstream_is "$have" "$version" || die "apt offers $pkg $have, want upstream version $version (Debian bookworm)"
	mv "$deb" "$DEBS/${pkg}_${have#*:}_amd64.deb"
	echo "$DEBS/${pkg}_${have#*:}_amd64.deb"
}

# deb_from_suite PKG VERSION SUITE: another Debian release's package, found
# through its Packages index on the Debian mirror and checked against its SHA256.
deb_from_suite() {
	local pkg=$1 version=$2 suite=$3 index=$WORK/Packages-$3 deb
	for deb in "$DEBS/${pkg}_"*_amd64.deb; do
		[ -f "$deb" ] && upstream_is "$(dpkg-deb -f "$deb" Version)" "$version" && {
			echo "$deb"
			return 0
		}
	done
	if [ ! -s "$index" ]; then
		curl -fsS "$DEBIAN_MIRROR/dists/$suite/main/binary-amd64/Packages.xz" | xz -d >"$index.tmp" ||
			die "cannot read $DEBIAN_MIRROR/dists/$suite/main/binary-amd64/Packages.xz"
		mv "$index.tmp" "$index"
	fi
	local fields have filename sum
	fields=$(awk -v p="$pkg" '
		/^Package: / { inpkg = ($2 == p) }
		inpkg && /^Version: / { v = $2 }
		inpkg && /^Filename: / { f = $2 }
		inpkg && /^SHA256: / { s = $2 }
		/^$/ && inpkg { print v, f, s; exit }
		END { if (inpkg) print v, f, s }' "$index" | head -n1)
	read -r have filename sum <<<"$fields"
	[ -n "$filename" ] || die "package $pkg is not in $suite's Packages index"
	upstream_is "$have" "$version" || die "$suite has $pkg $have, want upstream version $version"
	deb=$DEBS/$(basename "$filename")
	curl -fsS "$DEBIAN_MIRROR/$filename" -o "$deb.tmp" || die "cannot download $DEBIAN_MIRROR/$filename"
	[ "$(sha256 "$deb.tmp")" = "$sum" ] || die "$DEBIAN_MIRROR/$filename does not match the SHA256 in $suite's index"
	mv "$deb.tmp" "$deb"
	echo "$deb"
}

fetch_deb() { # PKG VERSION SOURCE(apt|SUITE)
	if [ "$3" = apt ]; then deb_from_apt "$1" "$2"; else deb_from_suite "$1" "$2" "$3"; fi
}

# go_install GOBIN VERSION PACKAGE@VERSION...: a static build from the module proxy,
# with the version stamped in as upstream's release builds do.
go_install() {
	local gobin=$1 version=$2
	shift 2
	mkdir -p "$gobin"
	(cd "$WORK" && GOBIN=$gobin CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local \
		go install -trimpath -ldflags "$VERSION_LDFLAG=$version" "$@") >&2 ||
		die "go install $* failed"
}

modcache() { echo "$(go env GOMODCACHE)/$1"; }

# module_dir MODULE@VERSION: the module's source folder in the module cache,
# downloaded when missing (go install refuses some modules here, go mod download works).
module_dir() {
	local dir
	dir=$(cd "$WORK" && GOFLAGS='' GOTOOLCHAIN=local go mod download -json "$1" | awk -F'"' '$2 == "Dir" { print $4 }') ||
		die "go mod download $1 failed"
	[ -d "$dir" ] || die "go mod download $1 gave no folder"
	echo "$dir"
}

notice() { # what a test bundle is made of, for anyone who opens one
	printf 'Test bundle for obsbox end-to-end tests, in the upstream release layout.\n%s\n' "$1"
}

# ---- components ------------------------------------------------------------

build_prometheus() {
	local version=${1%%:*} source=${1#*:}
	local dir=$MIRROR_DIR/prometheus/prometheus/releases/download/v$version
	local top=prometheus-$version.linux-amd64 file=prometheus-$version.linux-amd64.tar.gz
	if ! bundle_ok "$dir" "$file" && [ "$source" = go ]; then
		# Prometheus 3.x's Go module versions are v0.3MM.P for 3.MM.P.
		local x=$WORK/prometheus-$version mod=github.com/prometheus/prometheus minor=${version#*.}
		local modver
		modver=$(printf 'v0.%d%02d.%s' "${version%%.*}" "${minor%%.*}" "${version##*.}")
		log "building $file with go install of $mod $modver (module proxy; several minutes)"
		go_install "$x/bin" "$version" "$mod/cmd/prometheus@$modver" "$mod/cmd/promtool@$modver"
		mkdir -p "$x/stage/$top"
		install -m 755 "$x/bin/prometheus" "$x/bin/promtool" "$x/stage/$top/"
		check_version "$x/stage/$top/prometheus" "$version"
		check_version "$x/stage/$top/promtool" "$version"
		cp "$(modcache "$mod@$modver")/LICENSE" "$x/stage/$top/LICENSE"
		notice "prometheus and promtool are built from $mod@$modver (CGO_ENABLED=0, version stamped, no web UI assets)." >"$x/stage/$top/NOTICE"
		printf 'global:\n  scrape_interval: 15s\n' >"$x/stage/$top/prometheus.yml"
		pack "$x/stage" "$top" "$dir/$file"
		add_sum "$dir" "$file"
		rm -f "$TOOLS_DIR/promtool-$version"
	elif ! bundle_ok "$dir" "$file"; then
		log "building $file from Debian's prometheus package ($source)"
		local deb x=$WORK/prometheus-$version
		deb=$(fetch_deb prometheus "$version" "$source")
		mkdir -p "$x/deb"
		dpkg-deb -x "$deb" "$x/deb"
		local debs
		debs=$(basename "$deb")
		if [ ! -e "$x/deb/usr/bin/promtool" ]; then
			# Since trixie promtool is a package of its own.
			deb=$(fetch_deb promtool "$version" "$source")
			dpkg-deb -x "$deb" "$x/deb"
			debs="$debs and $(basename "$deb")"
		fi
		mkdir -p "$x/stage/$top"
		install -m 755 "$x/deb/usr/bin/prometheus" "$x/deb/usr/bin/promtool" "$x/stage/$top/"
		check_version "$x/stage/$top/prometheus" "$version"
		check_version "$x/stage/$top/promtool" "$version"
		cp "$x/deb/usr/share/doc/prometheus/copyright" "$x/stage/$top/LICENSE"
		notice "prometheus and promtool come from Debian: $debs." >"$x/stage/$top/NOTICE"
		cat >"$x/stage/$top/prometheus.yml" <<-'EOF'
			global:
			  scrape_interval: 15s
			scrape_configs:
			  - job_name: prometheus
			    static_configs:
			      - targets: ["localhost:9090"]
		EOF
		pack "$x/stage" "$top" "$dir/$file"
		add_sum "$dir" "$file"
		rm -f "$TOOLS_DIR/promtool-$version"
	fi
	tool_from "$dir/$file" "$top/promtool" "promtool-$version"
}

build_alertmanager() {
	local version=${1%%:*} source=${1#*:}
	local dir=$MIRROR_DIR/prometheus/alertmanager/releases/download/v$version
	local top=alertmanager-$version.linux-amd64 file=alertmanager-$version.linux-amd64.tar.gz
	if ! bundle_ok "$dir" "$file"; then
		local x=$WORK/alertmanager-$version mod=github.com/prometheus/alertmanager
		if [ "$source" = src ]; then
			# 0.32 and later embed a web UI build the module does not ship:
			# a one-page placeholder stands in for it (TESTING.md).
			log "building $file from its module source, with a placeholder web UI"
			local src
			src=$(module_dir "$mod@v$version")
			mkdir -p "$x"
			cp -r "$src" "$x/src"
			chmod -R u+w "$x/src"
			for ui in elm mantine; do
				mkdir -p "$x/src/ui/app/dist/$ui"
				echo '<!doctype html><title>Alertmanager (obsbox test build: no web UI)</title>' >"$x/src/ui/app/dist/$ui/index.html"
			done
			mkdir -p "$x/bin"
			(cd "$x/src" && CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local go build -trimpath -tags netgo \
				-ldflags "$VERSION_LDFLAG=$version" -o "$x/bin/" ./cmd/alertmanager ./cmd/amtool) >&2 ||
				die "go build of $mod@v$version failed"
		else
			log "building $file with go install (module proxy)"
			go_install "$x/bin" "$version" "$mod/cmd/alertmanager@v$version" "$mod/cmd/amtool@v$version"
		fi
		mkdir -p "$x/stage/$top"
		install -m 755 "$x/bin/alertmanager" "$x/bin/amtool" "$x/stage/$top/"
		check_version "$x/stage/$top/alertmanager" "$version"
		check_version "$x/stage/$top/amtool" "$version"
		cp "$(modcache "$mod@v$version")/LICENSE" "$x/stage/$top/LICENSE"
		notice "alertmanager and amtool are built from $mod@v$version (CGO_ENABLED=0, version stamped)." >"$x/stage/$top/NOTICE"
		cat >"$x/stage/$top/alertmanager.yml" <<-'EOF'
			route:
			  receiver: default
			receivers:
			  - name: default
		EOF
		pack "$x/stage" "$top" "$dir/$file"
		add_sum "$dir" "$file"
		rm -f "$TOOLS_DIR/amtool-$version"
	fi
	tool_from "$dir/$file" "$top/amtool" "amtool-$version"
}

build_node_exporter() {
	local version=${1%%:*} source=${1#*:}
	local dir=$MIRROR_DIR/prometheus/node_exporter/releases/download/v$version
	local top=node_exporter-$version.linux-amd64 file=node_exporter-$version.linux-amd64.tar.gz
	bundle_ok "$dir" "$file" && return 0
	local x=$WORK/node_exporter-$version mod=github.com/prometheus/node_exporter
	mkdir -p "$x/stage/$top"
	case $source in
	apt)
		log "building $file from Debian's prometheus-node-exporter package"
		local deb
		deb=$(fetch_deb prometheus-node-exporter "$version" apt)
		mkdir -p "$x/deb"
		dpkg-deb -x "$deb" "$x/deb"
		install -m 755 "$x/deb/usr/bin/prometheus-node-exporter" "$x/stage/$top/node_exporter"
		cp "$x/deb/usr/share/doc/prometheus-node-exporter/copyright" "$x/stage/$top/LICENSE"
		notice "node_exporter is Debian's prometheus-node-exporter binary from $(basename "$deb")." >"$x/stage/$top/NOTICE"
		check_version "$x/stage/$top/node_exporter" "$version"
		;;
	go)
		log "building $file with go install (module proxy)"
		go_install "$x/bin" "$version" "$mod@v$version"
		install -m 755 "$x/bin/node_exporter" "$x/stage/$top/node_exporter"
		cp "$(modcache "$mod@v$version")/LICENSE" "$x/stage/$top/LICENSE"
		notice "node_exporter is built from $mod@v$version (CGO_ENABLED=0, version stamped)." >"$x/stage/$top/NOTICE"
		check_version "$x/stage/$top/node_exporter" "$version"
		;;
	broken)
		log "building $file: a broken fixture whose node_exporter exits 1 at once"
		cat >"$x/stage/$top/node_exporter" <<-EOF
			#!/bin/sh
			# Broken test fixture for obsbox's e2e tests: exits at once, like a bad release.
			echo "node_exporter $version: broken test fixture, exiting" >&2
			exit 1
		EOF
		chmod 755 "$x/stage/$top/node_exporter"
		notice "BROKEN FIXTURE: node_exporter is a shell script that exits 1 at once." >"$x/stage/$top/NOTICE"
		;;
	*) die "unknown node_exporter source '$source'" ;;
	esac
	pack "$x/stage" "$top" "$dir/$file"
	add_sum "$dir" "$file"
}

# blackbox_exporter from its module source: `go install …@v0.27.0` is refused
# here (the proxy will not list the module's versions), `go mod download` of the
# exact version works (TESTING.md).
build_blackbox_exporter() {
	local version=$1
	local dir=$MIRROR_DIR/prometheus/blackbox_exporter/releases/download/v$version
	local top=blackbox_exporter-$version.linux-amd64 file=blackbox_exporter-$version.linux-amd64.tar.gz
	bundle_ok "$dir" "$file" && return 0
	log "building $file from its module source (module proxy)"
	local x=$WORK/blackbox_exporter-$version mod=github.com/prometheus/blackbox_exporter src
	src=$(module_dir "$mod@v$version")
	mkdir -p "$x/stage/$top"
	cp -r "$src" "$x/src"
	chmod -R u+w "$x/src"
	(cd "$x/src" && CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local go build -trimpath -tags netgo \
		-ldflags "$VERSION_LDFLAG=$version" -o "$x/stage/$top/blackbox_exporter" .) >&2 ||
		die "go build of $mod@v$version failed"
	check_version "$x/stage/$top/blackbox_exporter" "$version"
	cp "$x/src/LICENSE" "$x/stage/$top/LICENSE"
	cp "$x/src/blackbox.yml" "$x/stage/$top/blackbox.yml"
	notice "blackbox_exporter is built from $mod@v$version (CGO_ENABLED=0, netgo, version stamped)." >"$x/stage/$top/NOTICE"
	pack "$x/stage" "$top" "$dir/$file"
	add_sum "$dir" "$file"
}

# VictoriaMetrics' single-node build: upstream's tarball holds victoria-metrics-prod
# at its top level (no versioned folder), and its checksum file names the tarball
# and the binary. Built with go install, the version stamped in upstream's form
# (-version and vm_app_version report it).
build_victoriametrics() {
	local version=$1
	local dir=$MIRROR_DIR/VictoriaMetrics/VictoriaMetrics/releases/download/v$version
	local file=victoria-metrics-linux-amd64-v$version.tar.gz sums=victoria-metrics-linux-amd64-v${version}_checksums.txt
	if [ -s "$dir/$file" ] && [ -f "$dir/$sums" ] &&
		[ "$(awk -v f="$file" '$2 == f { print $1 }' "$dir/$sums")" = "$(sha256 "$dir/$file")" ]; then
		return 0
	fi
	local x=$WORK/victoriametrics-$version mod=github.com/VictoriaMetrics/VictoriaMetrics
	local stamp=victoria-metrics-20260101-000000-tags-v$version-0-g0000000000
	log "building $file with go install (module proxy; several minutes)"
	mkdir -p "$x/bin" "$x/stage"
	(cd "$WORK" && GOBIN=$x/bin CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local \
		go install -trimpath -ldflags "-X $mod/lib/buildinfo.Version=$stamp" "$mod/app/victoria-metrics@v$version") >&2 ||
		die "go install $mod/app/victoria-metrics@v$version failed"
	install -m 755 "$x/bin/victoria-metrics" "$x/stage/victoria-metrics-prod"
	"$x/stage/victoria-metrics-prod" -version 2>&1 | grep -q -- "-v$version-" ||
		die "victoria-metrics-prod -version does not report v$version"
	mkdir -p "$dir"
	find "$x/stage" -type f -exec chmod 755 {} +
	tar -C "$x/stage" "${TAR_FLAGS[@]}" -cf - victoria-metrics-prod | gzip -n >"$dir/$file.tmp"
	mv "$dir/$file.tmp" "$dir/$file"
	(cd "$x/stage" && printf '%s  %s\n%s  %s\n' "$(sha256 "$dir/$file")" "$file" \
		"$(sha256 victoria-metrics-prod)" victoria-metrics-prod) >"$dir/$sums"
}

# The Grafana bundle holds a TEST-ONLY stand-in (e2e/grafana-standin), rebuilt
# when its source changes.
build_grafana() {
	local version=$1
	local dir=$MIRROR_DIR/oss/release top=grafana-v$version file=grafana-$version.linux-amd64.tar.gz
	local source stamp=$STAMPS/grafana-$version.source
	source=$(cd "$STANDIN_DIR" && find . -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name '*.ini' \) -print0 |
		sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	if bundle_ok "$dir" "$file" && [ "$(cat "$stamp" 2>/dev/null)" = "$source" ]; then
		return 0
	fi
	log "building $file around the Grafana STAND-IN (e2e/grafana-standin; not real Grafana)"
	local x=$WORK/grafana-$version
	mkdir -p "$x/stage/$top/bin" "$x/stage/$top/conf/provisioning" "$x/stage/$top/public"
	(cd "$REPO_DIR" && CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local go build -trimpath -buildvcs=false \
		-ldflags "-X main.version=$version" -o "$x/stage/$top/bin/grafana" ./e2e/grafana-standin) >&2 ||
		die "go build of the Grafana stand-in failed"
	[ "$("$x/stage/$top/bin/grafana" --version)" = "grafana version $version" ] ||
		die "the Grafana stand-in does not report version $version"
	cp "$STANDIN_DIR/defaults.ini" "$x/stage/$top/conf/defaults.ini"
	echo "Static files of the obsbox Grafana stand-in: none are served." >"$x/stage/$top/public/README.txt"
	echo "$version" >"$x/stage/$top/VERSION"
	notice "TEST-ONLY GRAFANA STAND-IN: bin/grafana is obsbox's e2e/grafana-standin, not Grafana. It serves /api/health, /metrics and a few API calls." >"$x/stage/$top/README.md"
	pack "$x/stage" "$top" "$dir/$file"
	printf '%s' "$(sha256 "$dir/$file")" >"$dir/$file.sha256"
	echo "$source" >"$stamp"
}

# ---- main ------------------------------------------------------------------

# Two builds at a time: most of a first run is go builds, and two keep both
# cores busy. Each build has folders of its own; a failed one fails the run.
jobs=()
run_build() {
	while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 1; done
	("$@") &
	jobs+=("$!:$*")
}
for v in "${PROMETHEUS_VERSIONS[@]}"; do run_build build_prometheus "$v"; done
for v in "${ALERTMANAGER_VERSIONS[@]}"; do run_build build_alertmanager "$v"; done
for v in "${NODE_EXPORTER_VERSIONS[@]}"; do run_build build_node_exporter "$v"; done
for v in "${GRAFANA_VERSIONS[@]}"; do run_build build_grafana "$v"; done
for v in "${BLACKBOX_VERSIONS[@]}"; do run_build build_blackbox_exporter "$v"; done
for v in "${VICTORIAMETRICS_VERSIONS[@]}"; do run_build build_victoriametrics "$v"; done
failed=()
for j in "${jobs[@]}"; do
	wait "${j%%:*}" || failed+=("${j#*:}")
done
[ ${#failed[@]} -eq 0 ] || die "bundle builds failed: ${failed[*]}"

log "bundles ready in $MIRROR_DIR after $((SECONDS - began))s"
(cd "$MIRROR_DIR" && find . -name '*.tar.gz' | sort) >&2
