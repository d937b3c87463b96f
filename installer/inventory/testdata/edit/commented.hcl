# Production monitoring.   Owner: ops@example.com
#   (edited by hand; keep the odd spacing below)

ssh {
  user    = "deploy"   # the deploy user
  port = 22
}

versions {
  # pinned after the 2024 upgrade
  prometheus    = "2.53.2"   # LTS
  grafana = "11.2.2"
}

/* the monitoring host */
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
}

# web tier
host "web-1" { address = "10.0.1.10" }   # frontend
host "web-2" {
  address = "10.0.1.11"
  labels = {
    env = "prod"   # production
  }
}

prometheus {
  retention = "30d"     # keep a month
}
