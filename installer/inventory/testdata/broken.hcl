# An inventory with one mistake of each kind; validate must report them all at once.
ssh {
	user = "deploy"
	port = 0 # out of range
}

versions {
  prometheus = "2.53"   # not MAJOR.MINOR.PATCH
  grafna     = "11.2.2" # unknown component
}

host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanger"]
  labels  = { env = "prod", instance = "x" }
}

host "Web_1" {
  address = "10.0.0.5"
}

host "mon-1" {
  address = "10.0.0.7"
  colour  = "blue"
}

prometheus {
  retention       = "30 days"
  scrape_interval = "15s"
  rule_files      = ["rules/*.yml"]
}

alertmanager {
  receiver "team" {
  }
  route {
    severity = "urgent"
    receiver = "oncall"
  }
}

grafana {
  port = "three thousand"
}

rules {
  disable = ["ClockSkew", "DiskFull"]
}
