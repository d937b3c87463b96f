package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/obsbox/obsbox/e2e/harness"
)

// floorUnit is the transient unit the fresh-install floor starts on each host.
const floorUnit = "obsbox-bench-floor"

// floor measures what the network and systemd alone cost, with the system's
// own ssh and scp, as a user would do it by hand.
type floor struct {
	key        string
	knownHosts string
}

func (f *floor) opts() []string {
	return []string{"-F", "/dev/null", "-i", f.key,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + f.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
}

func (f *floor) ssh(h harness.Host, command string) error {
	args := append(f.opts(), "root@"+h.Address, command)
	out, err := exec.Command("ssh", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh root@%s %q: %v: %s", h.Name, command, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (f *floor) scp(h harness.Host, files []string, dir string) error {
	args := append(append([]string{"-q"}, f.opts()...), files...)
	args = append(args, "root@"+h.Address+":"+dir+"/")
	out, err := exec.Command("scp", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scp to %s: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sshTrue is the floor of a run with nothing to do: one `ssh host true` per
// host, all hosts at once.
func (f *floor) sshTrue(hosts []harness.Host) (took, error) {
	return parallel(hosts, func(h harness.Host) error { return f.ssh(h, "true") })
}

// install is the floor of a fresh install: per host, one scp of the tarballs
// obsbox would send it, then one unit started; all hosts at once. What it
// leaves is removed afterwards, outside the timing.
func (f *floor) install(hosts []harness.Host, files func(harness.Host) []string) (took, error) {
	const dir = "/var/tmp"
	t, err := parallel(hosts, func(h harness.Host) error {
		if err := f.scp(h, files(h), dir); err != nil {
			return err
		}
		return f.ssh(h, "systemd-run --quiet --collect --unit="+floorUnit+" sleep infinity")
	})
	_, cerr := parallel(hosts, func(h harness.Host) error {
		rm := []string{"rm", "-f"}
		for _, p := range files(h) {
			rm = append(rm, dir+"/"+filepath.Base(p))
		}
		return f.ssh(h, "systemctl stop "+floorUnit+" 2>/dev/null; "+strings.Join(rm, " "))
	})
	return t, errors.Join(err, cerr)
}

// parallel runs do on every host at once and measures until the last one
// finished.
func parallel(hosts []harness.Host, do func(harness.Host) error) (took, error) {
	return timed(func() error {
		errs := make([]error, len(hosts))
		var wg sync.WaitGroup
		for i, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = do(h)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

// sizeOf sums file sizes; a missing file counts as an error, not zero.
func sizeOf(files []string) (int64, error) {
	var n int64
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}
