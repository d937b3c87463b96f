package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := map[string]time.Duration{
		"0": 0, "0s": 0, "15s": 15 * time.Second, "1m30s": 90 * time.Second, "30d": 30 * 24 * time.Hour,
		"2h": 2 * time.Hour, "1y2w3d4h5m6s7ms": 365*24*time.Hour + 14*24*time.Hour + 3*24*time.Hour + 4*time.Hour + 5*time.Minute + 6*time.Second + 7*time.Millisecond,
		"500ms": 500 * time.Millisecond, "1m30s250ms": 90*time.Second + 250*time.Millisecond, "1w": 7 * 24 * time.Hour,
	}
	for s, want := range good {
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1", "1h1d", "1m1m", "1.5h", "-1s", "15", "30m1h", "5 m", "1h 30m", "30days", " 1s", "1S", "99999999999999999999y", "300000y"} {
		if d, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", s, d)
		}
	}
	if _, err := Positive("0s"); err == nil {
		t.Error("Positive(0s) accepted")
	}
}

func TestFormatReadsBack(t *testing.T) {
	for _, s := range []string{"1s", "2m30s", "5m", "1h30m", "1d2h", "500ms"} {
		d, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Format(d); got != s {
			t.Errorf("Format(Parse(%q)) = %q", s, got)
		}
	}
}
