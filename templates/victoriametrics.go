package templates

// VictoriaMetricsRemoteWriteName is the remote_write name of the queue from
// a Prometheus to the VictoriaMetrics host called host.
func VictoriaMetricsRemoteWriteName(host string) string { return "victoriametrics-" + host }

// VictoriaMetricsAlertRules are the long-term store's rules. A Prometheus
// whose remote_write falls behind or drops samples opens a ticket: the
// history in VictoriaMetrics gets a gap, while Prometheus itself (and its
// alerts) still works. The metric names are those of 2.42 to 3.x alike.
func VictoriaMetricsAlertRules() RuleGroup {
	return RuleGroup{Name: "obsbox-victoriametrics", Rules: []AlertRule{
		{
			Name:             "RemoteWriteFailing",
			Severity:         "ticket",
			For:              "15m",
			ThresholdMeaning: "seconds a remote_write queue lags behind the newest sample; fires above it (and whenever samples are dropped)",
			Threshold:        120,
			CheckThreshold:   ThresholdAbove(0),
			Expr: func(t string) string {
				return "(\n" +
					"  max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds[5m])\n" +
					"  - ignoring(remote_name, url) group_right\n" +
					"  max_over_time(prometheus_remote_storage_queue_highest_sent_timestamp_seconds[5m])\n" +
					") > " + t + "\n" +
					"or\n" +
					"  rate(prometheus_remote_storage_samples_failed_total[5m]) > 0"
			},
			Summary: `Remote write {{ $labels.remote_name }} of {{ $labels.instance }} is failing`,
			Description: `Prometheus {{ $labels.instance }} has not delivered its samples to {{ $labels.remote_name }} ` +
				`for more than <FOR>: it lags more than <T> s behind, or drops samples the store refuses ` +
				`(value {{ printf "%.0f" $value }}); ` +
				`the long-term store misses that history until the queue catches up.`,
		},
	}}
}
