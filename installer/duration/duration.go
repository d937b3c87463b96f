// Package duration is obsbox's one parser of Prometheus durations (15s,
// 1m30s, 30d, 2h, …), used by the inventory's validation and by everything
// that later reads such a value back. It imports nothing of obsbox.
package duration

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
)

// Prometheus's (and Alertmanager's) syntax: units largest first, each at most once.
var re = regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)

var units = []time.Duration{365 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second, time.Millisecond}

// Parse parses a Prometheus duration such as 15s, 1m30s, 30d or 1y2w3d4h5m6s7ms;
// "0" alone is zero. What it accepts, Prometheus accepts too.
func Parse(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit (ms, s, m, h, d, w, y), largest unit first, for example 30s, 1h30m or 15d", s)
	}
	var total time.Duration
	for i, unit := range units {
		n := m[2*i+2]
		if n == "" {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(v)*unit {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
		total += time.Duration(v) * unit
	}
	return total, nil
}

// Positive is Parse for values that must be longer than zero.
func Positive(s string) (time.Duration, error) {
	d, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be longer than zero", s)
	}
	return d, nil
}

// Format writes d in Prometheus's syntax, largest unit first (90s -> 1m30s);
// what it writes, Parse reads back as d.
func Format(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var out string
	names := []string{"y", "w", "d", "h", "m", "s", "ms"}
	for i, unit := range units {
		if n := d / unit; n > 0 {
			out += strconv.FormatInt(int64(n), 10) + names[i]
			d -= n * unit
		}
	}
	return out
}
