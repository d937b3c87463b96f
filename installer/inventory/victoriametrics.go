package inventory

import (
	"fmt"
	"regexp"
	"strconv"
)

// ReservedRemoteWritePrefix starts the names of obsbox's remote_write queues
// to the VictoriaMetrics hosts (templates.VictoriaMetricsRemoteWriteName).
const ReservedRemoteWritePrefix = "victoriametrics-"

var vmRetention = regexp.MustCompile(`^([0-9]+)([hdwMy])$`)

// hours per unit of a VictoriaMetrics retention, for the one-day minimum.
var vmRetentionHours = map[string]int64{"h": 1, "d": 24, "w": 24 * 7, "M": 24 * 31, "y": 24 * 365}

// VictoriaMetricsRetentionFlag turns a retention as the inventory writes it
// into -retentionPeriod's value. Months are written without their suffix
// (a bare number counts in months): every 1.9x release reads that, where
// releases before the M suffix would refuse "12M". VictoriaMetrics keeps at
// least a day.
func VictoriaMetricsRetentionFlag(r string) (string, error) {
	m := vmRetention.FindStringSubmatch(r)
	if m == nil {
		return "", fmt.Errorf(`want a whole number and a unit, one of h, d, w, M (months), y, e.g. "12M" or "1y"`)
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil || n == 0 {
		return "", fmt.Errorf("the number must be from 1 to %d", int64(1<<31-1))
	}
	if n*vmRetentionHours[m[2]] < 24 {
		return "", fmt.Errorf("VictoriaMetrics keeps at least a day (24h or 1d)")
	}
	if m[2] == "M" {
		return m[1], nil
	}
	return m[1] + m[2], nil
}
