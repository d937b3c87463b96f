#!/usr/bin/env bash
# make demo: three local test hosts, the whole stack installed on them by obsbox,
# then the URLs. The hosts stay up until `make demo-down` (e2e/hosts.sh down).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"

demo=${OBSBOX_DEMO_DIR:-/var/tmp/obsbox-demo}
obsbox="$root/bin/obsbox"
mirror="$CACHE/mirror"
key="$CACHE/id_ed25519"

if bash "$here/hosts.sh" status 2>/dev/null | grep -q '^h1'; then
	echo "test hosts are already up: using them (make demo-down removes them)"
else
	bash "$here/hosts.sh" up 3 >/dev/null
fi
mkdir -p "$demo"
cp "$STATE/known_hosts" "$demo/known_hosts"
p=$PREFIX
cat >"$demo/obsbox.hcl" <<HCL
# The demo inventory written by make demo.
ssh {
  user        = "root"
  private_key = "$key"
  known_hosts = "$demo/known_hosts"
}

versions {
  prometheus        = "3.16.0"
  alertmanager      = "0.35.0"
  grafana           = "11.2.2" # the test-only Grafana stand-in (real Grafana cannot be fetched here)
  node_exporter     = "1.12.1"
  blackbox_exporter = "0.27.0"
}

bundles {
  dir     = "$demo/bundles"
  offline = true # bundles come from the local test mirror through 'obsbox bundle import'
}

host "h1" {
  address = "$p.11"
  roles   = ["prometheus", "alertmanager", "grafana"]
}

host "h2" {
  address = "$p.12"
  ssh { user = "deploy" } # passwordless sudo
}

host "h3" {
  address = "$p.13"
  ssh {
    user          = "secure"
    sudo_password = trimspace(file("sudo-password")) # sudo asks for a password here; the file is 0600
  }
}

grafana { admin_password = "obsbox-demo" }

# blackbox_exporter on the Prometheus host probes these.
probe "ssh" {
  module   = "tcp_connect"
  targets  = ["$p.12:22", "$p.13:22"]
  interval = "15s"
}
HCL
(umask 077 && echo obsbox-secure-pw >"$demo/sudo-password")

files=()
for c in prometheus/prometheus/releases/download/v3.16.0/prometheus-3.16.0 \
	prometheus/alertmanager/releases/download/v0.35.0/alertmanager-0.35.0 \
	prometheus/node_exporter/releases/download/v1.12.1/node_exporter-1.12.1 \
	prometheus/blackbox_exporter/releases/download/v0.27.0/blackbox_exporter-0.27.0; do
	files+=("$mirror/$c.linux-amd64.tar.gz")
done
files+=("$mirror/oss/release/grafana-11.2.2.linux-amd64.tar.gz")
"$obsbox" -i "$demo/obsbox.hcl" bundle import "${files[@]}"
"$obsbox" -i "$demo/obsbox.hcl" apply

cat <<EOT

The stack is up (inventory: $demo/obsbox.hcl), every endpoint https with basic auth:
  Prometheus    https://$p.11:9090   (targets: https://$p.11:9090/api/v1/targets)
  Alertmanager  https://$p.11:9093
  Grafana       https://$p.11:3000   (admin / obsbox-demo; a test-only stand-in, not the real Grafana)
  node_exporter https://$p.11:9100/metrics, https://$p.12:9100/metrics, https://$p.13:9100/metrics
  probes        probe_success{probe="ssh"} in Prometheus (blackbox_exporter on h1, 127.0.0.1:9115 only)
  trust         $demo/obsbox-ca.crt (the CA obsbox made)
  web user      obsbox, password in $demo/.obsbox-web-password
  e.g.          curl --cacert $demo/obsbox-ca.crt -u obsbox:\$(cat $demo/.obsbox-web-password) https://$p.11:9090/api/v1/targets

Try: $obsbox -i $demo/obsbox.hcl status
     $obsbox -i $demo/obsbox.hcl plan      (nothing to do)
Stop the hosts: make demo-down
EOT
