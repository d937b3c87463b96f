package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The stale-lock cleanup runs against a scratch /etc: locks of dead
// processes go, a lock whose process lives stays.
func TestClearStaleShadowLocks(t *testing.T) {
	etc := t.TempDir()
	alive := strconv.Itoa(os.Getpid())
	const dead = "999999999"
	files := map[string]string{
		"passwd.lock":       dead,
		"passwd." + dead:    dead,
		"gshadow.999999998": "",
		"group.lock":        alive,
		"group." + alive:    alive,
		"passwd-":           "backup",
	}
	for name, content := range files {
		os.WriteFile(filepath.Join(etc, name), []byte(content), 0o600)
	}
	script := strings.ReplaceAll(clearStaleShadowLocks(), "/etc/", etc+"/")
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for name, wantKept := range map[string]bool{
		"passwd.lock": false, "passwd." + dead: false, "gshadow.999999998": false,
		"group.lock": true, "group." + alive: true, "passwd-": true,
	} {
		_, err := os.Stat(filepath.Join(etc, name))
		if kept := err == nil; kept != wantKept {
			t.Errorf("%s: kept=%v, want %v", name, kept, wantKept)
		}
	}
}
