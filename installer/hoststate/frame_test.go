package hoststate

import (
	"strings"
	"testing"
)

// TestFinding3_HostScriptsShareOneFraming: every read-only host script ends
// with the one end tag, and every parser refuses output cut short or going
// on after its end alike. The diff's file reader once had no end at all: a
// cut-off answer read as "no such file" and the diff was silently dropped.
func TestFinding3_HostScriptsShareOneFraming(t *testing.T) {
	scripts := map[string]string{
		"state probe":   ProbeRequest{StagingDir: "/s"}.Script(),
		"removal probe": RemovalRequest{Record: &Record{}, StagingDir: "/s"}.Script(),
		"file reader":   FilesScript([]string{"/etc/obsbox/x"}),
	}
	for name, s := range scripts {
		if !strings.Contains(s, "\n"+printEnd+"\n") {
			t.Errorf("%s does not print the end tag:\n%s", name, s)
		}
	}
	parsers := map[string]func([]byte) error{
		"state probe":   func(b []byte) error { _, err := ParseProbe(b); return err },
		"removal probe": func(b []byte) error { _, err := ParseRemoval(b); return err },
		"file reader":   func(b []byte) error { _, err := ParseFiles(b, 1); return err },
	}
	body := map[string]string{
		"state probe":   fields("@@obsbox arch", "x86_64"),
		"removal probe": fields("@@obsbox kind", "d", "/opt/obsbox"),
		"file reader":   fields("@@obsbox file", "0", "eAo="),
	}
	for name, parse := range parsers {
		if err := parse([]byte(body[name] + fields("@@obsbox end"))); err != nil {
			t.Errorf("%s: a whole answer is refused: %v", name, err)
		}
		for what, out := range map[string]string{
			"empty":           "",
			"no end":          body[name],
			"cut in a field":  body[name] + "@@obsbox e",
			"after its end":   body[name] + fields("@@obsbox end", "@@obsbox end"),
			"an unknown tag":  body[name] + fields("@@obsbox what", "@@obsbox end"),
			"old line format": strings.ReplaceAll(body[name]+fields("@@obsbox end"), "\x00", "\n"),
		} {
			if err := parse([]byte(out)); err == nil {
				t.Errorf("%s: accepted %s", name, what)
			} else if !strings.Contains(err.Error(), name) && !strings.Contains(err.Error(), "the host's answer") {
				t.Errorf("%s: %s: the error does not say whose output: %v", name, what, err)
			}
		}
	}
}
