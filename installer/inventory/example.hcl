# obsbox inventory: the hosts to monitor and how the stack runs on them.
# Check it with "obsbox validate", preview with "obsbox plan", install with "obsbox apply".
# Secrets come from the environment or from files, never written here:
#   env("NAME") fails when NAME is unset; env("NAME", "") falls back to "".
#   file("path") reads a file (relative to this one); trimspace() drops its newline.

# How obsbox reaches the hosts. Every attribute can be overridden in a host's own ssh block.
ssh {
  user = "root"
  port = 22
  # private_key        = "~/.ssh/id_ed25519"    # default: ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa
  # known_hosts        = "./known_hosts"        # default: ~/.ssh/known_hosts
  accept_new_host_keys = false # true: trust a host's key on first contact and record it
  # bastion            = "jump.example.com:22"  # reach the hosts through a jump host
  sudo_password = env("OBSBOX_SUDO_PASSWORD", "") # empty: sudo must be passwordless (not needed as root)
}

# Versions to install. Leave out to use obsbox's built-in catalog;
# "obsbox upgrade" rewrites this block.
versions {
  prometheus    = "3.16.0"
  alertmanager  = "0.35.0"
  grafana       = "11.2.2"
  node_exporter = "1.12.1"
  # victoriametrics = "1.151.0"   # for hosts with the victoriametrics role
}

# Where release tarballs come from. "obsbox bundle pull" downloads them once, on this machine.
bundles {
  # dir   = "./bundles"                     # default: $XDG_CACHE_HOME/obsbox/bundles
  # mirror = "https://mirror.example.com/"  # laid out like the upstream release pages
  offline = false # true: never download; import with "obsbox bundle import"
}

# One block per host. Roles: prometheus, alertmanager, grafana, victoriametrics.
# node_exporter runs on every host unless the host sets node_exporter = false.
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
  labels  = { env = "prod" } # added to every series scraped from this host
  # ssh { user = "ubuntu" }  # per-host ssh settings
}

host "web-1" {
  address = "10.0.1.10"
  labels  = { env = "prod", team = "web" }
}

prometheus {
  retention       = "15d"
  scrape_interval = "15s"
  # port          = 9090

  # Extra scrape jobs, beside the ones obsbox builds from the hosts.
  # scrape "app" {
  #   targets = ["10.0.1.10:8080"]
  #   labels  = { service = "shop" }
  # }

  # Your own rule files, checked with promtool before use. Their names may
  # hold only letters, digits, '.', '_' and '-', not starting with '.' or '-'.
  # rule_files = ["rules/*.yml"]

  # remote_write "longterm" {
  #   url      = env("REMOTE_WRITE_URL")
  #   username = "prometheus"
  #   password = env("REMOTE_WRITE_PASSWORD")
  # }
}

alertmanager {
  # Where alerts go. Each receiver has exactly one of: pagerduty, slack, webhook, email.
  # Without receivers, alerts are kept in Alertmanager and sent nowhere.
  #
  # receiver "oncall" {
  #   pagerduty {
  #     routing_key = env("PD_KEY")
  #   }
  # }
  # receiver "team" {
  #   slack {
  #     api_url = env("SLACK_URL")
  #     channel = "#alerts"
  #   }
  # }
  # receiver "mail" {
  #   email {
  #     to            = "ops@example.com"
  #     from          = "alertmanager@example.com"
  #     smarthost     = "smtp.example.com:587"
  #     auth_username = "alertmanager@example.com"
  #     auth_password = env("SMTP_PASSWORD")
  #   }
  # }
  #
  # Built-in rules carry severity "page" (wake someone) or "ticket" (look at it soon).
  # route {
  #   severity = "page"
  #   receiver = "oncall"
  # }
  # route {
  #   severity = "ticket"
  #   receiver = "team"
  # }
  # default_receiver = "team"
  #
  # Watchdog always fires; sent every watchdog_interval (default 5m) to a dead man's
  # switch outside this stack, it pages someone when the stack itself goes silent.
  # receiver "deadman" {
  #   webhook { url = env("DEADMAN_URL") }
  # }
  # watchdog_receiver = "deadman"
}

grafana {
  admin_user     = "admin"
  admin_password = env("GRAFANA_ADMIN_PASSWORD", "") # empty: generated and kept in .obsbox-grafana-admin-password (0600)
}

# Probes, run from every Prometheus host: each target becomes the series
# probe_success{probe="<name>", instance="<target>"}. Modules: http_2xx (the
# default when every target is an http(s) URL), tcp_connect (host:port),
# icmp (host), dns (the resolver to ask: host or host:port).
# probe "shop" {
#   targets  = ["https://shop.example.com/health"]
#   interval = "30s"            # default: the prometheus scrape_interval
#   labels   = { team = "web" }
# }

# Service level objectives: recording rules, multi-window burn-rate alerts
# (ErrorBudgetBurn: page at 14.4x over 1h and 5m or 6x over 6h and 30m, ticket
# at 3x over 1d and 2h or 1x over 3d and 6h) and a Grafana "SLOs" dashboard.
# slo "shop-availability" {
#   objective = 99.9             # percent of good events over the window
#   window    = "30d"
#   probe     = "shop"           # or errors + total PromQL with $window as the range
#   labels    = { team = "web" }
# }

# Every endpoint serves HTTPS with a certificate from obsbox's CA (made beside
# this file by the first apply: obsbox-ca.crt) and asks for the user obsbox
# (password in .obsbox-web-password). Turning either off is printed as a warning.
# security {
#   tls           = true
#   basic_auth    = true
#   cert_validity = "2160h"      # apply renews a certificate with a third left
#   ca_cert       = "./my-ca.crt" # your own CA instead, with ca_key
#   ca_key        = "./my-ca.key"
# }

# Long-term storage: VictoriaMetrics on the hosts with the victoriametrics role.
# Every Prometheus remote-writes to each of them, and Grafana reads the first by default.
# victoriametrics { retention = "12M" }   # h, d, w, M (months) or y; the default is 12M

# The built-in alert rules: HostDown, FilesystemFillingUp, FilesystemAlmostFull,
# InodesAlmostExhausted, MemoryPressure, ClockSkew, SystemdUnitFailed,
# PrometheusConfigReloadFailed, PrometheusRuleEvaluationFailures,
# PrometheusNotificationsFailing, AlertmanagerNotificationsFailing, Watchdog.
rules {
  disable = [] # for example ["ClockSkew"]

  # Tune a rule: for, severity (page, ticket, none), threshold.
  rule "HostDown" {
    for = "1m"
  }
}
