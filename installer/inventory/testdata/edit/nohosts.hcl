# Just started: no hosts yet.
ssh {
  user = "deploy"
}

prometheus {
  retention = "30d"
}
