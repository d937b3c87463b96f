ssh {
  user                 = "deploy"             # default: root
  port                 = 22
  private_key          = "~/.ssh/id_ed25519"  # default: ssh-agent, then ~/.ssh/id_ed25519, id_rsa
  known_hosts          = "./known_hosts"      # default ~/.ssh/known_hosts
  accept_new_host_keys = false                # true: trust on first use, recorded in known_hosts
  bastion              = "jump.example.com:22" # optional jump host
  sudo_password        = env("OBSBOX_SUDO_PASSWORD") # optional; else sudo must be passwordless
}

versions {            # optional: defaults come from the built-in catalog
  prometheus    = "2.53.2"
  alertmanager  = "0.27.0"
  grafana       = "11.2.2"
  node_exporter = "1.8.2"
}

bundles {
  dir     = "./bundles"     # default $XDG_CACHE_HOME/obsbox/bundles
  mirror  = ""              # base URL laid out like the upstream release pages
  offline = false           # true: never download; missing bundle = clear error
}

host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
  labels  = { env = "prod" }
  ssh { user = "ubuntu" }   # any ssh attribute may be overridden per host
}
host "web-1" { address = "10.0.1.10" }   # node_exporter runs on every host unless node_exporter = false

prometheus {
  retention       = "30d"
  scrape_interval = "15s"
  scrape "app" { targets = ["10.0.1.10:8080"] }   # extra jobs
  rule_files      = ["rules/*.yml"]               # checked with promtool before use
  remote_write "longterm" { url = "https://..." }
}

alertmanager {
  receiver "oncall" {
    pagerduty { routing_key = env("PD_KEY") }
  }
  receiver "team" {
    slack {
      api_url = env("SLACK_URL")
      channel = "#alerts"
    }
  }
  receiver "hook" {
    webhook { url = "http://10.0.0.9:5001/" }
  }
  receiver "deadman" {
    webhook { url = env("DEADMAN_URL") }   # e.g. a dead man's switch service
  }
  route {
    severity = "page"
    receiver = "oncall"
  }
  route {
    severity = "ticket"
    receiver = "team"
  }
  default_receiver  = "team"
}

grafana { admin_password = env("GRAFANA_ADMIN_PASSWORD") }  # else generated, kept 0600 beside the inventory

rules {                                  # the built-in alert rules
  disable = ["ClockSkew"]                # switched off by name
  rule "HostDown" { for = "1m" }         # per rule: for, severity, threshold
}

probe "shop" {                   # probes, run from every Prometheus host
  module   = "http_2xx"          # http_2xx (default for URLs), tcp_connect, icmp, dns
  targets  = ["https://shop.example.com/health", "10.0.1.10:5432"]
  interval = "30s"
  labels   = { team = "web" }
}

# SPEC.md's first inventory example as written there, and its probe block;
# left out: alertmanager.watchdog_receiver (not implemented yet).
