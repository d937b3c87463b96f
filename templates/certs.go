package templates

// CertificateAlertRules watch the certificates obsbox issued (node_exporter's
// textfile collector exports their validity) and those the probes see.
// obsbox's own fire when apply has not renewed one in time: renewal is due
// with a third of its life left, the ticket comes below a quarter (and
// below the threshold in days).
func CertificateAlertRules() RuleGroup {
	return RuleGroup{Name: "obsbox-certificates", Rules: []AlertRule{{
		Name:             "CertificateExpiringSoon",
		Severity:         "ticket",
		For:              "15m",
		ThresholdMeaning: "days left before a certificate expires; fires below it",
		Threshold:        14,
		CheckThreshold:   ThresholdAbove(0),
		Expr: func(t string) string {
			return "(\n" +
				"  (probe_ssl_earliest_cert_expiry" + blackboxProbeSeries + " - time()) / 86400 < " + t + "\n" +
				")\nor\n(\n" +
				"  (obsbox_certificate_not_after_seconds - time()) / 86400 < " + t + "\n" +
				"  and\n" +
				"  (obsbox_certificate_not_after_seconds - time())\n" +
				"    < (obsbox_certificate_not_after_seconds - obsbox_certificate_not_before_seconds) / 4\n" +
				")"
		},
		Summary: `Certificate of {{ $labels.instance }} expires soon`,
		Description: `A certificate of {{ $labels.instance }} expires in {{ printf "%.1f" $value }} days, fewer than <T>. ` +
			`For a probe target: renew it before clients refuse the connection. For the certificate obsbox issued ` +
			`(job node): obsbox apply renews it with a third of its life left, so no apply has reached this host since; run it.`,
	}}}
}
